"""A preforked WSGI pool in batched mode (pending updates in shared regions,
docs/pending-regions.md) whose workers are SIGKILLed mid-load: every request
the client got a 200 for is counted exactly once, visible while the pool runs
and in the file once the dead workers' regions are recovered.

Two pools serve the same app, preloaded in the master before it forks its
workers: gunicorn (Debian's gunicorn, `gunicorn --preload`; its master
replaces a killed worker) and a few lines of os.fork() around wsgiref.
"""
import http.client
import os
import sqlite3
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading

import pytest

import promsqlite
from conftest import check_exposition, samples

REQUESTS = 16000 if os.environ.get("PROMSQLITE_LONG_TESTS") == "1" else 4000
KILLS = 4
CLIENTS = 4
WORKERS = 3

# The app: one counter series per request id (so that each request's count
# can be checked, not only a total), a total and a histogram. The module is
# imported once, by the master, before it forks the workers.
APP = """
import os
import promsqlite

promsqlite.set_db(os.environ["APP_DB"], write_mode="batched", flush_interval_ms=3600 * 1000)
by_id = promsqlite.Counter("app_request", "Requests, by id.", ["id"])
total = promsqlite.Counter("app_requests", "Requests.")
latency = promsqlite.Histogram("app_seconds", "Latency.", buckets=[0.5, 1])


def app(environ, start_response):
    if environ["PATH_INFO"] != "/ping":  # /ping: is the pool up? (not counted)
        rid = int(environ["PATH_INFO"].strip("/"))
        by_id.labels(str(rid)).inc()
        total.inc()
        latency.observe(0.25 if rid % 2 else 0.75)  # odd ids in le=0.5, even ones in le=1
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""

# A preforking server of a few lines: the master imports the app, listens,
# forks WORKERS workers and replaces each that dies; SIGTERM ends the workers
# (through sys.exit: the module's exit hook flushes) and then the master.
FORK_POOL = """
import os, signal, sys
from wsgiref.simple_server import WSGIServer, WSGIRequestHandler
import app


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = WSGIServer(("127.0.0.1", 0), Quiet)
server.set_app(app.app)
workers = set()
stopping = False


def exit_worker(*_):
    sys.exit(0)


def spawn():
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, exit_worker)
        server.serve_forever()  # until SIGTERM
    workers.add(pid)


def stop(*_):
    global stopping
    stopping = True
    for pid in workers:
        os.kill(pid, signal.SIGTERM)


signal.signal(signal.SIGTERM, stop)
for _ in range(%(workers)d):
    spawn()
print(server.server_address[1], flush=True)
while workers:
    pid, _ = os.wait()
    workers.discard(pid)
    if not stopping:
        spawn()
"""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class Load:
    """CLIENTS threads sending GET /<id> for ids 0..REQUESTS-1, each id once,
    each on a new connection: `acked` holds the ids answered 200 (with the
    worker's pid, None when the body was cut off), `failed` those whose
    connection broke before a status (their worker was killed: they may or
    may not have been counted)."""

    def __init__(self, connect):
        self.connect = connect
        self.lock = threading.Lock()
        self.next_id = 0
        self.acked = {}
        self.failed = set()
        self.progress = threading.Condition(self.lock)
        self.threads = [threading.Thread(target=self.run) for _ in range(CLIENTS)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()

    def run(self):
        while True:
            with self.lock:
                rid = self.next_id
                if rid >= REQUESTS:
                    return
                self.next_id += 1
            status = pid = None
            try:
                conn = self.connect()
                try:
                    conn.request("GET", "/%d" % rid)
                    response = conn.getresponse()
                    status = response.status
                    pid = int(response.read())
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException, ValueError):
                pass  # the worker died with the connection (after its status line, or before)
            with self.lock:
                if status == 200:  # the app's updates returned before its status was sent
                    self.acked[rid] = pid
                else:
                    self.failed.add(rid)
                self.progress.notify_all()

    def wait_for(self, acked):
        """Waits until `acked` requests were answered (or all were sent);
        returns a copy of the answered ones."""
        with self.lock:
            self.progress.wait_for(lambda: len(self.acked) >= acked or
                                   len(self.acked) + len(self.failed) >= REQUESTS)
            return dict(self.acked)


def counts(path):
    """The app's samples in the file: ({id: count}, total, histogram samples)."""
    body = promsqlite.generate_latest(path)
    check_exposition(body)
    values = samples(body)
    by_id = {int(dict(labels)["id"]): v for (name, labels), v in values.items() if name == "app_request_total"}
    histogram = {name + ("" if not labels else dict(labels)["le"]): v for (name, labels), v in values.items()
                 if name.startswith("app_seconds") and not name.endswith("_created")}
    return by_id, values.get(("app_requests_total", ())), histogram


def check_acknowledged_are_visible(path, acked):
    """Every acknowledged request shows once in a scrape; none twice."""
    by_id, _, histogram = counts(path)
    missing = sorted(rid for rid in acked if by_id.get(rid) != 1)
    assert not missing, "acknowledged requests not counted once: %r" % missing[:20]
    assert max(by_id.values(), default=0) <= 1
    assert histogram["app_seconds_bucket+Inf"] == histogram["app_seconds_count"]


def run_pool_with_kills(path, load, worker_pids_alive):
    """Drives the load, SIGKILLs KILLS workers mid-way (each one that just
    answered), checking before and after each kill that every acknowledged
    request is visible; returns the killed pids."""
    killed = []
    load.start()
    try:
        for k in range(1, KILLS + 1):
            acked = load.wait_for(REQUESTS * k // (KILLS + 2))
            check_acknowledged_are_visible(path, acked)
            # The worker that answered last and is not killed yet: it is
            # serving requests right now.
            victim = next(pid for pid in reversed(list(acked.values())) if pid is not None and pid not in killed)
            assert victim in worker_pids_alive()
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            # Its region outlives it: its acknowledged requests still show.
            check_acknowledged_are_visible(path, acked)
    finally:
        load.join()
    return killed


def check_exactly_once(path, load):
    by_id, total, histogram = counts(path)
    assert len(load.acked) + len(load.failed) == REQUESTS
    assert len(load.acked) > REQUESTS // 2  # the pool served most requests
    assert not set(by_id) - set(range(REQUESTS))
    # Every acknowledged request once; a broken one at most once.
    assert sorted(rid for rid in load.acked if by_id.get(rid) != 1) == []
    assert sorted(rid for rid in load.failed if by_id.get(rid, 0) not in (0, 1)) == []
    counted = sorted(rid for rid, v in by_id.items() if v == 1)
    assert total == len(counted)
    odd = sum(1 for rid in counted if rid % 2)
    assert histogram == {
        "app_seconds_bucket0.5": odd,
        "app_seconds_bucket1": len(counted),
        "app_seconds_bucket+Inf": len(counted),
        "app_seconds_count": len(counted),
        "app_seconds_sum": 0.25 * odd + 0.75 * (len(counted) - odd),
    }


def regions(path):
    folder = path + "-pending"
    return sorted(n for n in os.listdir(folder) if n.endswith(".region")) if os.path.isdir(folder) else []


def children_of(pid):
    """The pids of the processes whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    return tmp_path


def pool_env(app_dir, path):
    env = dict(os.environ, APP_DB=path)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(app_dir), env.get("PYTHONPATH", "")] if p)
    return env


def end_pool(master):
    """SIGKILLs whatever is left of the pool (its own session)."""
    try:
        os.killpg(master.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    master.wait()


def test_gunicorn_preload_workers_sigkilled_mid_load_lose_and_double_no_acknowledged_request(app_dir):
    pytest.importorskip("gunicorn")  # Debian's gunicorn (scripts/install-deps)
    path = str(app_dir / "app.db")
    socket_dir = tempfile.mkdtemp(prefix="psq-")  # a unix socket's path must be short
    sock = os.path.join(socket_dir, "app.sock")
    log_path = app_dir / "gunicorn.log"
    with open(log_path, "w") as log:
        master = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--preload", "--workers", str(WORKERS), "--bind", "unix:" + sock,
             "--graceful-timeout", "60", "--timeout", "120", "--log-level", "warning", "app:app"],
            env=pool_env(app_dir, path), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # Ready once its socket answers (gunicorn prints nothing at warning level).
        for _ in range(1200):
            assert master.poll() is None, log_path.read_text()
            try:
                conn = UnixHTTPConnection(sock)
                conn.request("GET", "/ping")
                assert conn.getresponse().status == 200
                conn.close()
                break
            except (OSError, http.client.HTTPException):
                threading.Event().wait(0.05)
        else:
            pytest.fail("gunicorn did not answer: " + log_path.read_text())
        load = Load(lambda: UnixHTTPConnection(sock))
        killed = run_pool_with_kills(path, load, lambda: children_of(master.pid))
        check_acknowledged_are_visible(path, load.acked)
        # The workers end normally (sys.exit): each flushes and removes its
        # region; a replacement worker's flush also recovers the regions of
        # the killed workers dead by then.
        master.send_signal(signal.SIGTERM)
        assert master.wait(timeout=120) == 0, log_path.read_text()
    finally:
        end_pool(master)
        shutil.rmtree(socket_dir, ignore_errors=True)
    assert len(set(killed)) == KILLS
    assert len(regions(path)) <= KILLS
    check_acknowledged_are_visible(path, load.acked)  # read through what is left
    left = regions(path)
    promsqlite.set_db(path, write_mode="batched")
    assert promsqlite.housekeep()["recovered_regions"] == len(left)
    assert regions(path) == []
    check_exactly_once(path, load)


@pytest.mark.parametrize("recovery", ["housekeep", "first flush"])
def test_forked_wsgi_workers_sigkilled_mid_load_and_at_the_end_lose_and_double_no_acknowledged_request(
        app_dir, recovery):
    path = str(app_dir / "app.db")
    (app_dir / "pool.py").write_text(FORK_POOL % {"workers": WORKERS})
    master = subprocess.Popen([sys.executable, str(app_dir / "pool.py")], env=pool_env(app_dir, path),
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        port = int(master.stdout.readline())
        load = Load(lambda: http.client.HTTPConnection("127.0.0.1", port, timeout=60))
        run_pool_with_kills(path, load, lambda: children_of(master.pid))
        check_acknowledged_are_visible(path, load.acked)
    finally:
        # The whole pool SIGKILLed (a container stopped after its grace
        # period): no worker ever flushed (1 h interval), nothing recovered.
        end_pool(master)
        master.stdout.close()
    left = regions(path)
    assert KILLS <= len(left) <= KILLS + WORKERS
    check_acknowledged_are_visible(path, load.acked)
    promsqlite.set_db(path, write_mode="batched")
    if recovery == "housekeep":
        report = promsqlite.housekeep()
        assert report["recovered_regions"] == len(left)
        assert report["recovered_updates"] > 0
        assert regions(path) == []
    else:
        # A new batched writer's first flush; its own region stays.
        promsqlite.Counter("recoverer_runs", "Runs.", registry=None).inc()
        promsqlite.flush()
        assert [name.split("-")[1] for name in regions(path)] == [str(os.getpid())]
    check_exactly_once(path, load)


def test_by_default_updates_wait_in_a_region_and_what_a_region_cannot_hold_is_written_at_once(tmp_path):
    path = str(tmp_path / "default.db")
    # Defaults but for the flush interval: batched, shared regions,
    # immediate outside them.
    promsqlite.set_db(path, flush_interval_ms=3600 * 1000)
    jobs = promsqlite.Counter("default_jobs", "Jobs.", registry=None)
    live = promsqlite.Gauge("default_inflight", "In flight.", multiprocess_mode="livesum", registry=None)
    jobs.inc(2)
    live.set(3)
    assert len(regions(path)) == 1
    # The file's rows hold the per-process gauge's update (written at once);
    # the counter's waits in the region...
    with sqlite3.connect(path) as raw:
        values = dict(raw.execute("SELECT f.name, s.value FROM series s JOIN families f ON f.id = s.family_id"))
    assert values == {"default_jobs": 0.0, "default_inflight": 3.0}
    # ...and readers see both at once.
    text = subprocess.run([sys.executable, "-c", "import promsqlite, sys; "
                           "sys.stdout.write(promsqlite.generate_latest(sys.argv[1]).decode())", path],
                          check=True, capture_output=True, text=True).stdout
    assert "default_jobs_total 2\n" in text and "default_inflight 3\n" in text
    with pytest.raises(ValueError, match="immediate_outside_regions"):
        promsqlite.set_db(path, immediate_outside_regions=1)
