#!/usr/bin/env bash
# The Debian packages (debian/, scripts/build-deb). Always: every build
# dependency in debian/control is installed (scripts/install-deps lists
# them) and the maintainer scripts parse. With PROMSQLITE_LONG_TESTS=1 (a few
# minutes; needs root): builds the packages from a copy of the tree, installs
# them (dpkg -i, then apt-get -f for dependencies), checks the manual pages,
# has two members of the group promsqlite write /var/lib/promsqlite/metrics.db
# (one creates it with PROMSQLITE_MODE=0660 under umask 077) and a third
# through python3-promsqlite, checks that a
# user outside the group is refused with the hint, starts the installed
# server as the user promsqlite with the flags from
# /etc/default/promsqlite-server (containers run no systemd), scrapes it with
# check-exposition and a real Prometheus, builds examples/quickstart.cc
# against libpromsqlite-dev, and purges the packages.
set -euo pipefail
src=$1 tools=$2
cd "$src"
fail() { echo "FAIL: $*" >&2; exit 1; }

dpkg-checkbuilddeps debian/control || fail "build dependencies missing: add them to scripts/install-deps"
for script in debian/*.postinst debian/*.postrm; do sh -n "$script" || fail "$script does not parse"; done
echo "the build dependencies are installed and the maintainer scripts parse"
if [ "${PROMSQLITE_LONG_TESTS:-}" != 1 ]; then
  echo "(PROMSQLITE_LONG_TESTS=1 also builds, installs, serves and purges the packages)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || fail "installing the packages needs root"
packages=(libpromsqlite0 libpromsqlite-dev promsqlite promsqlite-server python3-promsqlite)
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "$p is installed on this machine already; the test does not touch it"
  fi
done
[ ! -e /var/lib/promsqlite/metrics.db ] || fail "/var/lib/promsqlite/metrics.db exists already"

work=$(mktemp -d)
chmod 755 "$work"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -f /var/lib/promsqlite/metrics.db /var/lib/promsqlite/metrics.db-wal /var/lib/promsqlite/metrics.db-shm \
    /var/lib/promsqlite/metrics.db-lock
  dpkg --purge "${packages[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Build: from a copy, leaving the source tree as it was.
before=$(git status --porcelain --ignored 2>/dev/null || true)
nice -n 10 scripts/build-deb "$work/debs" >"$work/build.log" 2>&1 || { tail -60 "$work/build.log"; fail "scripts/build-deb failed"; }
after=$(git status --porcelain --ignored 2>/dev/null || true)
[ "$before" = "$after" ] || fail "scripts/build-deb changed the source tree: $(diff <(echo "$before") <(echo "$after"))"
echo "lintian (no errors; warnings):"
grep -E '^[EWI]: ' "$work/build.log" || echo "  none"

# Install.
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
debs=()
for p in "${packages[@]}"; do debs+=("$work/debs/${p}_${version}_${arch}.deb"); done
if ! dpkg -i "${debs[@]}" >"$work/install.log" 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get -f install -y -q >>"$work/install.log" 2>&1 || true
fi
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || { cat "$work/install.log"; fail "$p is not installed"; }
done
echo "installed: ${packages[*]}"
for page in promsqlite promsqlite-server; do
  [ -f "/usr/share/man/man1/$page.1.gz" ] || fail "no manual page /usr/share/man/man1/$page.1.gz"
done

# What promsqlite-server's postinst set up.
getent passwd promsqlite >/dev/null || fail "no user promsqlite"
gid=$(getent group promsqlite | cut -d: -f3)
[ -n "$gid" ] || fail "no group promsqlite"
[ "$(stat -c '%a %U %G' /var/lib/promsqlite)" = "2775 root promsqlite" ] ||
  fail "/var/lib/promsqlite is $(stat -c '%a %U %G' /var/lib/promsqlite), not 2775 root promsqlite"
dpkg-query --control-show promsqlite-server conffiles | grep -qx /etc/default/promsqlite-server ||
  fail "/etc/default/promsqlite-server is not a conffile"
grep -qx 'ExecStart=/usr/bin/promsqlite-server $ARGS' /lib/systemd/system/promsqlite-server.service ||
  fail "the unit does not run the server with \$ARGS"
grep -qx 'User=promsqlite' /lib/systemd/system/promsqlite-server.service || fail "the unit does not run as promsqlite"
db=$(. /etc/default/promsqlite-server && set -- $ARGS && while [ $# -gt 1 ]; do
       if [ "$1" = --db ]; then echo "$2"; fi; shift; done)
[ "$db" = /var/lib/promsqlite/metrics.db ] || fail "/etc/default/promsqlite-server serves \"$db\""

# Two members of the group write; the first creates the file.
as() {
  local uid=$1 groups=(--clear-groups)
  [ -z "$2" ] || groups=(--groups="$2")
  shift 2
  setpriv --reuid="$uid" --regid="$uid" "${groups[@]}" -- "$@"
}
(umask 077 && as 61021 "$gid" env PROMSQLITE_MODE=0660 promsqlite --db "$db" inc deb_jobs 3 --label by=first \
   --help "Jobs done.") || fail "the first writer failed"
for f in "$db" "$db-wal" "$db-shm"; do
  [ "$(stat -c '%a %G' "$f")" = "660 promsqlite" ] || fail "$f is $(stat -c '%a %G' "$f"), not 660 promsqlite"
done
(umask 022 && as 61022 "$gid" promsqlite --db "$db" inc deb_jobs 2 --label by=second) || fail "the second writer failed"
set +e
refused=$(as 61023 "" promsqlite --db "$db" inc deb_jobs --label by=outsider 2>&1)
status=$?
set -e
[ "$status" -eq 1 ] || fail "a user outside the group exited $status: $refused"
grep -q "read-only for this process.*docs/permissions.md" <<<"$refused" || fail "unexpected refusal: $refused"
echo "members of the group wrote $db; an outsider was refused"

# python3-promsqlite: code written for prometheus_client, run by a third
# member with the system's interpreter, adds to the same counter.
as 61024 "$gid" env -u PYTHONPATH /usr/bin/python3 - "$db" <<'PY' || fail "python3-promsqlite could not write"
import sys
import promsqlite
assert promsqlite.__file__.startswith("/usr/lib/python3/dist-packages/promsqlite/"), promsqlite.__file__
promsqlite.setup(sqlite=sys.argv[1])
promsqlite.Counter("deb_jobs", "Jobs done.", ["by"]).labels("python").inc(4)
PY
echo "python3-promsqlite, as installed, wrote to $db"

# The installed server, as its user, with the flags from /etc/default (on a
# free port, changed there as an admin would).
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/127\.0\.0\.1:9186/127.0.0.1:$port/" /etc/default/promsqlite-server
(. /etc/default/promsqlite-server && exec setpriv --reuid=promsqlite --regid=promsqlite --init-groups -- \
   /usr/bin/promsqlite-server $ARGS) >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "the server exited"; }
  sleep 0.1
done
[ "$(ps -o user= -p "$server_pid")" = promsqlite ] || fail "the server runs as $(ps -o user= -p "$server_pid")"
curl -sf "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || { cat "$work/server.log"; fail "scrape failed"; }
grep -qx 'deb_jobs_total{by="first"} 3' "$work/metrics.txt" || { cat "$work/metrics.txt"; fail "first writer's count"; }
grep -qx 'deb_jobs_total{by="second"} 2' "$work/metrics.txt" || fail "second writer's count"
grep -qx 'deb_jobs_total{by="python"} 4' "$work/metrics.txt" || fail "the Python writer's count"
"$tools/check-exposition" --format text "$work/metrics.txt" || fail "check-exposition rejected the scrape"
"$tools/prom-scrape" --target "127.0.0.1:$port" 'sum(deb_jobs_total)' >"$work/prom.txt" 2>&1 ||
  { cat "$work/prom.txt"; fail "Prometheus could not scrape the server"; }
/usr/bin/python3 - "$work/prom.txt" <<'PY' || { cat "$work/prom.txt"; fail "Prometheus saw another sum"; }
import json, sys
first = json.loads(open(sys.argv[1]).readline())
assert float(first["result"][0]["value"]) == 9, first
PY
kill -TERM "$server_pid"
set +e
wait "$server_pid"
status=$?
set -e
server_pid=""
[ "$status" -eq 0 ] || { cat "$work/server.log"; fail "the server exited $status after SIGTERM"; }
echo "the installed server, as user promsqlite, served the group's file to Prometheus"

# libpromsqlite-dev: the README's example builds against the installed package.
g++ -std=c++17 -o "$work/quickstart" examples/quickstart.cc $(pkg-config --cflags --libs promsqlite)
out=$(cd "$work" && ./quickstart "$work/q.db")
grep -qx 'http_requests_total{code="200",method="GET"} 4000' <<<"$out" || { echo "$out"; fail "quickstart output"; }
echo "examples/quickstart.cc builds and runs against libpromsqlite-dev"

# Purge: the conffile and the (now empty) data folder go.
rm -f "$db" "$db-wal" "$db-shm" "$db-lock"  # the file and its companions (-lock: the write gate)
dpkg --purge "${packages[@]}" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in "" | *" not-installed") ;; *) fail "$p is still \"$status\" after the purge" ;; esac
done
[ ! -e /etc/default/promsqlite-server ] || fail "/etc/default/promsqlite-server survived the purge"
[ ! -e /var/lib/promsqlite ] || fail "/var/lib/promsqlite survived the purge"
echo "purged"
