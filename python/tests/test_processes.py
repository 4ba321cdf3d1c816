"""Many processes, one file: multiprocessing pools (fork and spawn), gunicorn's
preload_app pattern (declare, then fork), batched updates flushed when
processes end, and the gauge modes across processes."""
import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

import promsqlite
from conftest import check_exposition, run_python, samples

WORKERS = 8
TASKS = 20000 if os.environ.get("PROMSQLITE_LONG_TESTS") == "1" else 200  # the long set: more tasks

_metrics = {}


def declare():
    """The pool's metrics, declared in the parent (before fork) as an app would at import."""
    _metrics.update(
        jobs=promsqlite.Counter("pool_jobs", "Jobs.", ["kind"], registry=None),
        seconds=promsqlite.Histogram("pool_job_seconds", "Job time.", buckets=[0.1, 1], registry=None),
        inflight=promsqlite.Gauge("pool_inflight", "Jobs in flight.", registry=None),
        workers_sum=promsqlite.Gauge("pool_workers_sum", "Workers.", ["pool"], multiprocess_mode="sum", registry=None),
        workers_live=promsqlite.Gauge("pool_workers_live", "Workers.", ["pool"], multiprocess_mode="livesum",
                                      registry=None),
        pids_all=promsqlite.Gauge("pool_worker_pids", "Workers.", ["pool"], multiprocess_mode="all", registry=None),
        pid_max=promsqlite.Gauge("pool_worker_pid_max", "Workers.", ["pool"], multiprocess_mode="max", registry=None),
        pid_min=promsqlite.Gauge("pool_worker_pid_min", "Workers.", ["pool"], multiprocess_mode="livemin",
                                 registry=None),
    )


def worker_init(all_started):
    pid = os.getpid()
    _metrics["workers_sum"].labels("p").set(1)
    _metrics["workers_live"].labels("p").set(1)
    _metrics["pids_all"].labels("p").set(pid)
    _metrics["pid_max"].labels("p").set(pid)
    _metrics["pid_min"].labels("p").set(pid)
    all_started.wait()  # every worker has set its gauges before any task runs


def work(i):
    with _metrics["inflight"].track_inprogress():
        _metrics["jobs"].labels("even" if i % 2 == 0 else "odd").inc()
        _metrics["seconds"].observe(0.25 if i % 4 else 2)
    return os.getpid()


def expected_job_totals():
    return {
        ("pool_jobs_total", (("kind", "even"),)): TASKS / 2,
        ("pool_jobs_total", (("kind", "odd"),)): TASKS / 2,
        ("pool_job_seconds_bucket", (("le", "0.1"),)): 0.0,
        ("pool_job_seconds_bucket", (("le", "1"),)): TASKS * 3 / 4,
        ("pool_job_seconds_bucket", (("le", "+Inf"),)): float(TASKS),
        ("pool_job_seconds_count", ()): float(TASKS),
        ("pool_job_seconds_sum", ()): TASKS / 4 * 2 + TASKS * 3 / 4 * 0.25,
        ("pool_inflight", ()): 0.0,
    }


def read(path):
    body = promsqlite.generate_latest(path)
    check_exposition(body)
    return {k: v for k, v in samples(body).items() if not k[0].endswith("_created")}


@pytest.mark.parametrize("write_mode", ["immediate", "batched"])
def test_a_pool_of_8_forked_workers_adds_up_exactly_in_every_gauge_mode(tmp_path, write_mode):
    path = str(tmp_path / "pool.db")
    promsqlite.set_db(path, write_mode=write_mode, flush_interval_ms=3600 * 1000)
    declare()
    context = multiprocessing.get_context("fork")
    pool = context.Pool(WORKERS, initializer=worker_init, initargs=(context.Barrier(WORKERS),))
    pids = set(pool.map(work, range(TASKS), chunksize=5))
    promsqlite.flush()
    if write_mode == "batched":
        # Nothing of the workers' is in the file before they end (1 h flush
        # interval); close() + join() end them normally, which flushes.
        pool.close()
        pool.join()
        values = read(path)
    else:
        values = read(path)  # the workers are alive: live modes count them
        worker_pids = sorted(int(dict(k[1])["pid"]) for k in values if k[0] == "pool_worker_pids")
        assert len(worker_pids) == WORKERS
        assert pids <= set(worker_pids)
        assert values[("pool_workers_live", (("pool", "p"),))] == WORKERS
        assert values[("pool_worker_pid_min", (("pool", "p"),))] == worker_pids[0]
        pool.close()
        pool.join()
        values = read(path)
        assert ("pool_workers_live", (("pool", "p"),)) not in values  # dead workers leave live modes
        assert ("pool_worker_pid_min", (("pool", "p"),)) not in values
    for key, value in expected_job_totals().items():
        assert values[key] == value, key
    worker_pids = sorted(int(dict(k[1])["pid"]) for k in values if k[0] == "pool_worker_pids")
    assert len(worker_pids) == WORKERS  # "all" keeps dead processes' values
    assert all(values[("pool_worker_pids", (("pid", str(p)), ("pool", "p")))] == p for p in worker_pids)
    assert values[("pool_workers_sum", (("pool", "p"),))] == WORKERS
    assert values[("pool_worker_pid_max", (("pool", "p"),))] == worker_pids[-1]


def spawned_work(i):
    # A spawned worker imported promsqlite afresh: $PROMSQLITE_DB chooses the file.
    promsqlite.Counter("spawned_jobs", "Jobs.", registry=None).inc()
    return i


def test_spawned_workers_find_the_file_through_the_environment(tmp_path):
    path = str(tmp_path / "spawn.db")
    script = tmp_path / "spawn_main.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, sys
        sys.path.insert(0, %r)
        import test_processes
        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(2) as pool:
                assert sorted(pool.map(test_processes.spawned_work, range(20))) == list(range(20))
    """ % os.path.dirname(os.path.abspath(__file__))))
    subprocess.run([sys.executable, str(script)], env=dict(os.environ, PROMSQLITE_DB=path), check=True,
                   timeout=120)
    assert read(path) == {("spawned_jobs_total", ()): 20.0}


def test_a_forked_worker_that_imports_the_package_late_still_flushes_at_its_end(tmp_path):
    path = str(tmp_path / "late.db")
    (tmp_path / "late_worker.py").write_text(textwrap.dedent("""
        def work(path):
            import promsqlite   # first imported here, in the running worker
            promsqlite.set_db(path, write_mode="batched", flush_interval_ms=3600000)
            promsqlite.Counter("late_jobs", "Jobs.", registry=None).inc(5)
    """))
    (tmp_path / "late_main.py").write_text(textwrap.dedent("""
        import multiprocessing, sys
        import late_worker
        if __name__ == "__main__":
            # The parent never imports promsqlite: the worker (which ends with
            # os._exit) registers its own flush when it imports it.
            process = multiprocessing.get_context("fork").Process(target=late_worker.work, args=(%r,))
            process.start()
            process.join()
            assert process.exitcode == 0
            assert "promsqlite" not in sys.modules
    """ % path))
    subprocess.run([sys.executable, str(tmp_path / "late_main.py")], check=True, timeout=120)
    assert read(path) == {("late_jobs_total", ()): 5.0}


def test_mostrecent_gauges_show_the_last_value_written_by_any_process(tmp_path):
    path = str(tmp_path / "recent.db")
    run_python("""
        import os
        import promsqlite
        promsqlite.set_db(%r)
        recent = promsqlite.Gauge("recent_value", "Last.", ["k"], multiprocess_mode="mostrecent")
        lowest = promsqlite.Gauge("lowest_value", "Min.", ["k"], multiprocess_mode="min")
        for value in (5, 2, 9):
            pid = os.fork()
            if pid == 0:
                recent.labels("a").set(value)
                lowest.labels("a").set(value)
                os._exit(0)
            assert os.waitpid(pid, 0)[1] == 0
    """ % path)
    assert read(path) == {("recent_value", (("k", "a"),)): 9.0, ("lowest_value", (("k", "a"),)): 2.0}


PRELOAD_APP = """
import os, sys
import promsqlite

# gunicorn --preload: the app (and its metrics) is imported once in the
# master, which then forks the workers.
promsqlite.set_db(DB, write_mode="batched", flush_interval_ms=3600000)
requests = promsqlite.Counter("preload_requests", "Requests.", ["who"])
latency = promsqlite.Histogram("preload_seconds", "Latency.", buckets=[1])
busy = promsqlite.Gauge("preload_busy", "Busy workers.", multiprocess_mode="livesum")
requests.labels("master").inc()      # pending in the master when it forks

workers = []
for n in range(4):
    pid = os.fork()
    if pid == 0:
        busy.set(1)
        for _ in range(1000):
            requests.labels("worker").inc()
            latency.observe(0.5)
        sys.exit(0)   # gunicorn's workers leave through sys.exit: atexit flushes
    workers.append(pid)
for pid in workers:
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
"""


def test_gunicorn_style_preload_forks_workers_that_each_write_their_own_updates_once(tmp_path):
    path = str(tmp_path / "preload.db")
    run_python("DB = %r\n" % path + PRELOAD_APP)
    values = read(path)
    assert values[("preload_requests_total", (("who", "master"),))] == 1.0  # not copied into the children
    assert values[("preload_requests_total", (("who", "worker"),))] == 4000.0
    assert values[("preload_seconds_count", ())] == 4000.0
    assert values[("preload_seconds_bucket", (("le", "1"),))] == 4000.0
    assert ("preload_busy", ()) not in values  # all workers have exited


def test_a_forked_child_writes_through_its_own_connection_in_immediate_mode(tmp_path):
    path = str(tmp_path / "fork.db")
    run_python("""
        import os
        import promsqlite
        promsqlite.set_db(%r)
        c = promsqlite.Counter("forked", "Forked.")
        c.inc()
        pid = os.fork()
        if pid == 0:
            for _ in range(100):
                c.inc()
            os._exit(0)   # immediate updates are in the file already
        assert os.waitpid(pid, 0)[1] == 0
        c.inc()
    """ % path)
    assert read(path) == {("forked_total", ()): 102.0}
