#!/usr/bin/env bash
# The README's first commands work as written on a fresh Debian 12 used as
# root (no sudo there), and scripts/demo builds only what it runs (the
# server and the example writer, not the tests) before it serves.
# Usage: demo_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1 source_dir=$2
tmp=$(mktemp -d)
demo_pid=
cleanup() {
  local status=$?
  if [ -n "$demo_pid" ]; then
    kill -TERM -- "-$demo_pid" 2>/dev/null || true  # the demo's whole process group
    wait "$demo_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 -- "-$demo_pid" 2>/dev/null || break; sleep 0.1; done  # server, writers
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/demo.log" ] && cat "$tmp/demo.log"; exit 1; }

# The README's first code block: no command starts with sudo.
first_block=$(awk '/^```/{n++; next} n==1' "$source_dir/README.md")
[ -n "$first_block" ] || fail "README has no first code block"
if grep -Eq '(^|&& *)sudo ' <<<"$first_block"; then fail "README's first commands use sudo: $first_block"; fi
grep -q '^scripts/install-deps && scripts/demo' <<<"$first_block" || fail "README's first command is not scripts/install-deps && scripts/demo"

# scripts/demo, with every ninja call recorded.
mkdir "$tmp/bin"
cat > "$tmp/bin/ninja" <<NINJA
#!/bin/sh
echo "\$*" >> "$tmp/ninja-calls"
exec $(command -v ninja) "\$@"
NINJA
chmod +x "$tmp/bin/ninja"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid env PATH="$tmp/bin:$PATH" BUILD_DIR="$build_dir" DEMO_DB="$tmp/demo.db" DEMO_LISTEN="127.0.0.1:$port" \
  "$source_dir/scripts/demo" > "$tmp/demo.log" 2>&1 &
demo_pid=$!

# Wait (bounded) until the server serves what the writers wrote.
body=
for _ in $(seq 1 600); do
  if body=$(curl -sf "http://127.0.0.1:$port/metrics") && grep -q '^demo_http_requests_total' <<<"$body"; then break; fi
  kill -0 "$demo_pid" 2>/dev/null || fail "scripts/demo exited"
  body=
  sleep 0.2
done
[ -n "$body" ] || fail "the demo server did not serve demo_http_requests_total"
"${PROMSQLITE_SHARED_TOOLS:-$source_dir/../shared/tools}/check-exposition" --format text - <<<"$body" \
  || fail "the demo's exposition is invalid"

calls=$(cat "$tmp/ninja-calls")
[ "$calls" = "-C $build_dir server/promsqlite-server examples/worker_pool" ] \
  || fail "scripts/demo ran ninja as: $calls (expected only the server and the example writer)"
echo "README's first commands need no sudo; scripts/demo builds only server/promsqlite-server and examples/worker_pool, then serves"
