#!/usr/bin/env bash
# `meson install` gives a user headers, the library and promsqlite.pc that
# are enough to build and run the README's example outside the project.
set -euo pipefail
build_dir=$1 source_dir=$2
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
