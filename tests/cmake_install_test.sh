#!/usr/bin/env bash
# `meson install` gives a CMake user find_package(promsqlite CONFIG) with a
# version check and the targets promsqlite::promsqlite, promsqlite::push and
# promsqlite::prometheus_cpp (the last two when they were built): a CMake
# project (tests/cmake) against a temporary install builds and runs.
# PROMSQLITE_LONG_TESTS=1 also builds promsqlite with default_library=static
# (a few minutes) and links the same project statically against it.
# Usage: cmake_install_test.sh BUILD_DIR SOURCE_DIR PUSH(yes|no) PROMETHEUS_CPP(yes|no)
set -euo pipefail
build_dir=$1 source_dir=$2 push=$3 prometheus_cpp=$4
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

unset LD_LIBRARY_PATH  # meson test points it at the build tree; the install must stand alone
meson install -C "$build_dir" --destdir "$stage/root" --no-rebuild >/dev/null
config=$(find "$stage/root" -name promsqliteConfig.cmake)
[ -n "$config" ] || fail "no promsqliteConfig.cmake installed"
[ -f "$(dirname "$config")/promsqliteConfigVersion.cmake" ] || fail "no promsqliteConfigVersion.cmake installed"
case "$config" in */cmake/promsqlite/promsqliteConfig.cmake) ;; *) fail "not in <libdir>/cmake/promsqlite: $config" ;; esac
prefix=$(/usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))' \
         < <(meson introspect --buildoptions "$build_dir"))
root=$stage/root$prefix
libdir=$(dirname "$(find "$root" -name "libpromsqlite.so.*.*" | head -1)")

configure() {  # configure DIR [cmake args...]: a fresh consumer build
  local dir=$1; shift
  cmake -S "$source_dir/tests/cmake" -B "$dir" -G Ninja -DCMAKE_PREFIX_PATH="$root" \
    -DEXAMPLES_DIR="$source_dir/examples" "$@"
}

# The consumer as its README would have it: configure, build, run.
args=(-DWITH_PUSH=$([ "$push" = yes ] && echo ON || echo OFF)
      -DWITH_PROMETHEUS_CPP=$([ "$prometheus_cpp" = yes ] && echo ON || echo OFF))
configure "$stage/app" "${args[@]}" > "$stage/configure.log" 2>&1 || { cat "$stage/configure.log"; fail "cmake configure"; }
cmake --build "$stage/app" > "$stage/build.log" 2>&1 || { cat "$stage/build.log"; fail "cmake build"; }
# The temporary prefix is not in ld.so's search path (a real one such as
# /usr/local or /usr is): point it at the installed libraries, as for any
# library installed there. Nothing of the build tree is used.
export LD_LIBRARY_PATH=$libdir
out=$("$stage/app/quickstart" "$stage/q.db")
grep -qx 'http_requests_total{code="200",method="GET"} 4000' <<<"$out" || { echo "$out"; fail "quickstart output"; }
echo "promsqlite::promsqlite: examples/quickstart.cc builds and runs"

if [ "$push" = yes ]; then
  [ -f "$root/include/promsqlite/push.h" ] || fail "push.h not installed although promsqlite_push was built"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  out=$("$stage/app/push_check" "$stage/q.db" "http://127.0.0.1:$port/api/v1/write") || fail "push_check: $out"
  [ "$out" = "PushError status 0" ] || fail "push_check printed: $out"
  echo "promsqlite::push: links and runs"
else
  [ ! -e "$root/include/promsqlite/push.h" ] || fail "push.h installed although promsqlite_push was not built"
fi

if [ "$prometheus_cpp" = yes ]; then
  [ -f "$root/include/promsqlite/prometheus_cpp.h" ] || fail "prometheus_cpp.h not installed"
  out=$("$stage/app/collect_check" "$stage/q.db")
  grep -qx 'http_requests_total{code="200",method="GET"} 4000' <<<"$out" || { echo "$out"; fail "collect_check output"; }
  grep -qx 'http_request_duration_seconds_count 4000' <<<"$out" || { echo "$out"; fail "collect_check output"; }
  echo "promsqlite::prometheus_cpp: links with prometheus-cpp::core and collects the file"
else
  [ ! -e "$root/include/promsqlite/prometheus_cpp.h" ] || fail "prometheus_cpp.h installed although not built"
fi

# The version file: 0.1 is accepted (above), a newer minor version is not;
# an unknown component is refused.
version=$(meson introspect --projectinfo "$build_dir" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
mkdir -p "$stage/versions"
cat > "$stage/versions/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(versions CXX)
find_package(promsqlite 0.2 CONFIG QUIET)
if(promsqlite_FOUND)
  message(FATAL_ERROR "version 0.2 accepted")
endif()
find_package(promsqlite 0.1.0 CONFIG QUIET)
if(NOT promsqlite_FOUND OR NOT promsqlite_VERSION STREQUAL "$version")
  message(FATAL_ERROR "0.1.0 not accepted, or promsqlite_VERSION is not $version")
endif()
find_package(promsqlite CONFIG QUIET COMPONENTS no_such_component)
if(promsqlite_FOUND)
  message(FATAL_ERROR "an unknown component was accepted")
endif()
CMAKE
cmake -S "$stage/versions" -B "$stage/versions/build" -DCMAKE_PREFIX_PATH="$root" > "$stage/versions.log" 2>&1 \
  || { cat "$stage/versions.log"; fail "version or component checks"; }
echo "promsqliteConfigVersion.cmake: 0.1 accepted, 0.2 refused; unknown components refused"

[ "${PROMSQLITE_LONG_TESTS:-}" = 1 ] || exit 0
# Static libraries: the targets carry what the libraries link (SQLiteCpp,
# sqlite3; protobuf, snappy, cpp-httplib; prometheus-cpp), and nothing of
# promsqlite is needed at run time.
meson setup "$stage/static" "$source_dir" --wrap-mode=nodownload -Ddefault_library=static -Dtests=false \
  -Dbench=false > "$stage/static.log" 2>&1 || { cat "$stage/static.log"; fail "static configuration"; }
ninja -C "$stage/static" >> "$stage/static.log" 2>&1 || { tail -50 "$stage/static.log"; fail "static build"; }
meson install -C "$stage/static" --destdir "$stage/static-root" --no-rebuild > /dev/null
static_root=$stage/static-root$prefix
[ -z "$(find "$static_root" -name 'libpromsqlite*.so*')" ] || fail "a static build installed shared libraries"
cmake -S "$source_dir/tests/cmake" -B "$stage/static-app" -G Ninja -DCMAKE_PREFIX_PATH="$static_root" \
  -DEXAMPLES_DIR="$source_dir/examples" "${args[@]}" > "$stage/static-app.log" 2>&1 \
  && cmake --build "$stage/static-app" >> "$stage/static-app.log" 2>&1 || { cat "$stage/static-app.log"; fail "static consumer"; }
unset LD_LIBRARY_PATH
for exe in "$stage/static-app"/{quickstart,push_check,collect_check}; do
  [ -x "$exe" ] || continue
  if readelf -d "$exe" | grep -q 'NEEDED.*libpromsqlite'; then fail "$(basename "$exe") needs a shared promsqlite"; fi
done
out=$("$stage/static-app/quickstart" "$stage/static.db")
grep -qx 'http_requests_total{code="200",method="GET"} 4000' <<<"$out" || { echo "$out"; fail "static quickstart output"; }
if [ "$push" = yes ]; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  out=$("$stage/static-app/push_check" "$stage/static.db" "http://127.0.0.1:$port/api/v1/write") || fail "static push_check: $out"
  [ "$out" = "PushError status 0" ] || fail "static push_check printed: $out"
fi
if [ "$prometheus_cpp" = yes ]; then
  out=$("$stage/static-app/collect_check" "$stage/static.db")
  grep -qx 'http_request_duration_seconds_count 4000' <<<"$out" || { echo "$out"; fail "static collect_check output"; }
fi
echo "default_library=static: the same consumer links statically and runs"
