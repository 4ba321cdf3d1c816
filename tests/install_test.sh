#!/usr/bin/env bash
# `meson install` gives a user headers, the library and promsqlite.pc that
# are enough to build and run the README's example outside the project; the
# headers of the optional libraries are installed only with their library.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR [PUSH(yes|no) PROMETHEUS_CPP(yes|no) MAN(yes|no)]
set -euo pipefail
build_dir=$1 source_dir=$2 push=${3:-} prometheus_cpp=${4:-} man=${5:-}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
meson install -C "$build_dir" --destdir "$stage/root" --no-rebuild >/dev/null
pc=$(dirname "$(find "$stage/root" -name promsqlite.pc | head -1)")
export PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$stage/root
g++ -std=c++17 -o "$stage/quickstart" "$source_dir/examples/quickstart.cc" $(pkg-config --cflags --libs promsqlite)
libdir=$(dirname "$(find "$stage/root" -name "libpromsqlite.so*" | head -1)")
out=$(cd "$stage" && LD_LIBRARY_PATH=$libdir ./quickstart "$stage/q.db")
grep -qx 'http_requests_total{code="200",method="GET"} 4000' <<<"$out" || { echo "unexpected output:"; echo "$out"; exit 1; }
echo "installed library, headers and promsqlite.pc build and run examples/quickstart.cc"

# Manual pages (help2man, from --help and --version): installed exactly when
# made, each naming its tool, its version and its options.
for tool in promsqlite promsqlite-server; do
  page=$(find "$stage/root" -path "*/man1/$tool.1" | head -1)
  if [ "$man" = yes ]; then
    [ -n "$page" ] || { echo "$tool.1 not installed although the man option is enabled"; exit 1; }
    upper=$(tr '[:lower:]' '[:upper:]' <<<"$tool")
    grep -q "^\.TH $upper \"1\" .*\"$tool [0-9]" "$page" || { echo "$tool.1: no .TH line with the tool's version"; exit 1; }
    grep -q '^\\fB\\-\\-db\\fR' "$page" || { echo "$tool.1 does not describe --db"; exit 1; }
  elif [ "$man" = no ] && [ -n "$page" ]; then
    echo "$tool.1 installed although the man option is disabled"; exit 1
  fi
done
[ "$man" != yes ] || echo "promsqlite.1 and promsqlite-server.1 are installed, with the tools' versions and options"

# push.h and prometheus_cpp.h: with their libraries only.
include=$(dirname "$(find "$stage/root" -name promsqlite.h | head -1)")
for pair in "push.h:$push" "prometheus_cpp.h:$prometheus_cpp"; do
  header=${pair%%:*} built=${pair#*:}
  if [ "$built" = yes ] && [ ! -f "$include/$header" ]; then echo "$header not installed although built"; exit 1; fi
  if [ "$built" = no ] && [ -e "$include/$header" ]; then echo "$header installed although not built"; exit 1; fi
done
# A configuration without them (nothing built: the headers' install rules
# are all this needs) installs neither header, and every other one.
meson setup "$stage/without" "$source_dir" --wrap-mode=nodownload -Dpush=disabled -Dprometheus_cpp=disabled \
  -Dtests=false -Dbench=false > "$stage/without.log" 2>&1 || { cat "$stage/without.log"; exit 1; }
meson install -C "$stage/without" --tags devel --destdir "$stage/without-root" --no-rebuild > /dev/null
without=$(dirname "$(find "$stage/without-root" -name promsqlite.h | head -1)")
for header in "$source_dir"/lib/include/promsqlite/*.h; do
  name=$(basename "$header")
  case "$name" in
    push.h|prometheus_cpp.h) [ ! -e "$without/$name" ] || { echo "$name installed without its library"; exit 1; } ;;
    *) [ -f "$without/$name" ] || { echo "$name not installed"; exit 1; } ;;
  esac
done
echo "push.h and prometheus_cpp.h are installed exactly when their libraries are built"
