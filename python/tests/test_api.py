"""The promsqlite package's API: prometheus_client's classes and methods,
the registry integration, choosing the file, batched mode, the GIL."""
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest as om_generate_latest

import promsqlite
from conftest import check_exposition, exemplars, families, run_python, samples, without_created


def exposed(registry, openmetrics=False):
    body = om_generate_latest(registry) if openmetrics else prometheus_client.generate_latest(registry)
    check_exposition(body, openmetrics)
    return without_created(samples(body, openmetrics))


def mask_created(body):
    return re.sub(rb"(_created(\{[^}]*\})?) \S+", rb"\1 T", body)


def exercise(module, registry):
    """The same operations on every type, with `module`'s classes."""
    c = module.Counter("ops_requests_total", "Requests.", ["method", "code"], registry=registry)
    c.labels("GET", "200").inc()
    c.labels(method="POST", code="500").inc(2.5)
    module.Counter("ops_plain", "No labels.", registry=registry).inc(3)
    g = module.Gauge("ops_temperature", "Temperature.", unit="celsius", registry=registry)
    g.set(21.5)
    g.inc(0.5)
    g.dec(2)
    h = module.Histogram("ops_latency_seconds", "Latency.", ["route"], registry=registry)
    for v in (0.001, 0.07, 0.3, 0.3, 4, 11):
        h.labels("/").observe(v)
    h2 = module.Histogram("ops_size", "Size.", buckets=[10, 100], namespace="app", registry=registry)
    h2.observe(50)
    s = module.Summary("ops_payload_bytes", "Payload.", registry=registry)
    s.observe(100)
    s.observe(28)
    i = module.Info("ops_build", "Build.", registry=registry)
    i.info({"version": "1.2.3", "commit": "abc"})
    il = module.Info("ops_component", "Components.", ["name"], registry=registry)
    il.labels("db").info({"version": "9"})
    e = module.Enum("ops_phase", "Phase.", states=["starting", "running", "stopped"], registry=registry)
    e.state("running")
    el = module.Enum("ops_task_state", "Task.", ["task"], states=["a", "b"], registry=registry)
    el.labels("t1")
    el.labels("t2").state("b")


@pytest.mark.parametrize("openmetrics", [False, True], ids=["text", "openmetrics"])
def test_every_type_exposes_exactly_what_prometheus_client_writes_for_the_same_operations(db, openmetrics):
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    exercise(promsqlite, ours)
    exercise(prometheus_client, theirs)
    render = om_generate_latest if openmetrics else prometheus_client.generate_latest
    ours_body, theirs_body = render(ours), render(theirs)
    check_exposition(ours_body, openmetrics)
    assert mask_created(ours_body) == mask_created(theirs_body)


def test_counter_inc_labels_by_position_and_by_name_reach_one_series(db, registry):
    c = promsqlite.Counter("jobs", "Jobs.", ["queue", "kind"], registry=registry)
    c.labels("fast", "a").inc()
    c.labels(queue="fast", kind="a").inc(2)
    c.labels(kind="a", queue="fast").inc(0.5)
    c.labels("slow", 7).inc()  # label values are str()ed, as prometheus_client does
    assert exposed(registry) == {("jobs_total", (("kind", "a"), ("queue", "fast"))): 3.5,
                                 ("jobs_total", (("kind", "7"), ("queue", "slow"))): 1.0}
    assert c.labels("fast", "a") is c.labels("fast", "a")


def test_created_is_the_time_the_series_was_first_written(db, registry):
    before = time.time()
    promsqlite.Counter("made", "Made.", registry=registry).inc()
    created = samples(prometheus_client.generate_latest(registry))[("made_created", ())]
    assert before - 1 <= created <= time.time() + 1


def test_gauge_set_inc_dec_and_set_to_current_time(db, registry):
    g = promsqlite.Gauge("level", "Level.", ["tank"], registry=registry)
    g.labels("a").set(10)
    g.labels("a").inc(5)
    g.labels("a").dec()
    before = time.time()
    g.labels("b").set_to_current_time()
    values = exposed(registry)
    assert values[("level", (("tank", "a"),))] == 14.0
    assert before - 1 <= values[("level", (("tank", "b"),))] <= time.time() + 1


def test_gauge_helpers_track_inprogress_and_time_as_context_managers_and_decorators(db, registry):
    g = promsqlite.Gauge("busy", "Busy.", registry=registry)
    seen = []

    @g.track_inprogress()
    def work():
        seen.append(exposed(registry)[("busy", ())])

    with g.track_inprogress():
        seen.append(exposed(registry)[("busy", ())])
        work()
    assert seen == [1.0, 2.0]
    assert exposed(registry)[("busy", ())] == 0.0

    d = promsqlite.Gauge("duration", "Duration.", ["step"], registry=registry)
    with d.labels("x").time():
        pass

    @d.labels("y").time()
    def step():
        return 42

    assert step() == 42
    values = exposed(registry)
    assert values[("duration", (("step", "x"),))] >= 0
    assert values[("duration", (("step", "y"),))] >= 0


def test_histogram_defaults_to_the_python_client_s_buckets(db, registry):
    h = promsqlite.Histogram("wait_seconds", "Wait.", registry=registry)
    h.observe(0.07)
    les = sorted(float(dict(k[1])["le"]) for k in exposed(registry) if k[0] == "wait_seconds_bucket")
    assert les == sorted(prometheus_client.Histogram.DEFAULT_BUCKETS)
    assert tuple(promsqlite.DEFAULT_BUCKETS) == tuple(prometheus_client.Histogram.DEFAULT_BUCKETS)


def test_histogram_and_summary_time_observe_durations(db, registry):
    h = promsqlite.Histogram("call_seconds", "Calls.", ["fn"], buckets=[0.5, 60], registry=registry)
    s = promsqlite.Summary("block_seconds", "Blocks.", registry=registry)

    @h.labels("f").time()
    def f():
        return "r"

    assert f() == "r"
    assert f.__name__ == "f"
    with h.labels("g").time():
        pass
    with s.time():
        pass
    values = exposed(registry)
    assert values[("call_seconds_count", (("fn", "f"),))] == 1.0
    assert values[("call_seconds_bucket", (("fn", "g"), ("le", "60.0")))] == 1.0
    assert values[("block_seconds_count", ())] == 1.0
    assert values[("block_seconds_sum", ())] >= 0


def test_count_exceptions_counts_only_the_given_exception_type(db, registry):
    c = promsqlite.Counter("failures", "Failures.", registry=registry)
    with pytest.raises(KeyError):
        with c.count_exceptions(KeyError):
            raise KeyError("x")
    with pytest.raises(ValueError):
        with c.count_exceptions(KeyError):
            raise ValueError("not counted")

    labelled = promsqlite.Counter("errors", "Errors.", ["op"], registry=registry)

    @labelled.labels("parse").count_exceptions()
    def parse(text):
        return int(text)

    assert parse("3") == 3
    with pytest.raises(ValueError):
        parse("x")
    values = exposed(registry)
    assert values[("failures_total", ())] == 1.0
    assert values[("errors_total", (("op", "parse"),))] == 1.0


def test_info_sets_and_replaces_its_labels(db, registry):
    i = promsqlite.Info("app", "App.", registry=registry)
    i.info({"version": "1.0", "commit": "a"})
    i.info({"version": "1.1", "commit": "b"})
    assert exposed(registry) == {("app_info", (("commit", "b"), ("version", "1.1"))): 1.0}
    per = promsqlite.Info("plugin", "Plugins.", ["name"], registry=registry)
    per.labels("x").info({"version": "1"})
    per.labels(name="y").info({"version": "2"})
    per.labels("x").info({"version": "3"})
    values = exposed(registry)
    assert values[("plugin_info", (("name", "x"), ("version", "3")))] == 1.0
    assert values[("plugin_info", (("name", "y"), ("version", "2")))] == 1.0
    assert len([k for k in values if k[0] == "plugin_info"]) == 2
    per.remove("x")
    assert [k for k in exposed(registry) if k[0] == "plugin_info"] == [("plugin_info", (("name", "y"), ("version", "2")))]
    # Setting a removed value again brings it back.
    per.labels("x").info({"version": "3"})
    assert ("plugin_info", (("name", "x"), ("version", "3"))) in exposed(registry)


def test_enum_starts_in_its_first_state_and_switches(db, registry):
    e = promsqlite.Enum("door", "Door.", ["room"], states=["closed", "open"], registry=registry)
    e.labels("hall")
    e.labels("lab").state("open")
    values = exposed(registry)
    assert values[("door", (("door", "closed"), ("room", "hall")))] == 1.0
    assert values[("door", (("door", "open"), ("room", "hall")))] == 0.0
    assert values[("door", (("door", "open"), ("room", "lab")))] == 1.0
    assert families(prometheus_client.generate_latest(registry))["door"] == "gauge"
    assert families(om_generate_latest(registry), openmetrics=True)["door"] == "stateset"


def test_remove_and_clear_drop_series_from_the_file_and_labels_brings_them_back_at_zero(db, registry):
    c = promsqlite.Counter("hits", "Hits.", ["page"], registry=registry)
    c.labels("a").inc(5)
    c.labels("b").inc(1)
    c.remove("a")
    assert exposed(registry) == {("hits_total", (("page", "b"),)): 1.0}
    c.labels("a")
    assert exposed(registry)[("hits_total", (("page", "a"),))] == 0.0
    c.clear()
    assert exposed(registry) == {}
    c.labels("b").inc()
    assert exposed(registry) == {("hits_total", (("page", "b"),)): 1.0}


def test_an_unlabelled_metric_exposes_zero_from_its_declaration(db, registry):
    promsqlite.Counter("starts", "Starts.", registry=registry)
    promsqlite.Summary("sizes", "Sizes.", registry=registry)
    assert exposed(registry) == {("starts_total", ()): 0.0, ("sizes_count", ()): 0.0, ("sizes_sum", ()): 0.0}


def test_metrics_declared_before_set_db_declare_themselves_on_first_use(tmp_path):
    code = """
        import promsqlite, sys
        from prometheus_client import CollectorRegistry, generate_latest
        r = CollectorRegistry()
        early = promsqlite.Counter("early", "Declared at import.", ["k"], registry=r)  # no file chosen yet
        plain = promsqlite.Gauge("plain", "Plain.", registry=r)
        try:
            early.labels("x").inc()
        except promsqlite.DatabaseError as e:
            print("no file:", e)
        promsqlite.set_db(%r)
        early.labels("x").inc()
        plain.set(2)
        sys.stdout.write(generate_latest(r).decode())
    """ % str(tmp_path / "late.db")
    out = run_python(code).stdout
    assert "no file: no promsqlite file chosen: call promsqlite.set_db(path) or set PROMSQLITE_DB" in out
    assert 'early_total{k="x"} 1.0' in out
    assert "plain 2.0" in out


def test_set_db_switches_files_and_children_already_taken_stay_on_theirs(tmp_path):
    first, second = str(tmp_path / "1.db"), str(tmp_path / "2.db")
    promsqlite.set_db(first)
    c = promsqlite.Counter("switch", "Switch.", ["k"], registry=None)
    plain = promsqlite.Counter("switch_plain", "Switch.", registry=None)
    held = c.labels("a")
    held.inc()
    plain.inc()
    promsqlite.set_db(second)
    held.inc()            # still the first file
    c.labels("a").inc(10)  # the second file
    plain.inc(100)
    assert samples(promsqlite.generate_latest(first)) == {("switch_total", (("k", "a"),)): 2.0,
                                                          ("switch_plain_total", ()): 1.0}
    assert samples(promsqlite.generate_latest(second)) == {("switch_total", (("k", "a"),)): 10.0,
                                                           ("switch_plain_total", ()): 100.0}
    assert promsqlite.get_db() == second


def test_setup_sqlite_is_set_db(tmp_path):
    path = str(tmp_path / "setup.db")
    promsqlite.setup(sqlite=path, write_mode="immediate")
    promsqlite.Counter("via_setup", "Setup.", registry=None).inc()
    assert samples(promsqlite.generate_latest(path)) == {("via_setup_total", ()): 1.0}


def test_file_mode_gives_a_new_file_exactly_that_mode(tmp_path):
    path = str(tmp_path / "mode.db")
    try:
        promsqlite.set_db(path, file_mode=0o640)
    except ValueError as e:
        # Libraries without Options::file_mode (docs/permissions.md) say so.
        assert str(e) == "option file_mode: this build of the promsqlite library has no Options::file_mode"
        assert not os.path.exists(path)
        pytest.skip(str(e))
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_the_environment_variable_chooses_the_file(tmp_path):
    path = str(tmp_path / "env.db")
    run_python("""
        import promsqlite
        promsqlite.Counter("from_env", "Env.").inc(4)
    """, env={"PROMSQLITE_DB": path})
    assert samples(promsqlite.generate_latest(path)) == {("from_env_total", ()): 4.0}


def test_generate_latest_of_a_path_renders_the_whole_file_with_the_c_plus_plus_renderer(db):
    promsqlite.Counter("rendered", "Rendered.", ["k"], registry=None).labels("v").inc(2)
    promsqlite.Histogram("rendered_seconds", "Rendered.", buckets=[1], registry=None).observe(0.5)
    text = promsqlite.generate_latest()
    check_exposition(text)
    assert text == promsqlite.generate_latest(db)
    assert 'rendered_total{k="v"} 2\n' in text.decode()
    om = promsqlite.generate_latest(db, openmetrics=True)
    check_exposition(om, openmetrics=True)
    assert om.endswith(b"# EOF\n")
    assert without_created(samples(om, openmetrics=True))[("rendered_seconds_bucket", (("le", "1.0"),))] == 1.0


def test_generate_latest_of_a_registry_is_prometheus_client_s(db, registry):
    promsqlite.Gauge("delegated", "Delegated.", registry=registry).set(1)
    assert promsqlite.generate_latest(registry) == prometheus_client.generate_latest(registry)
    assert promsqlite.generate_latest(registry, openmetrics=True) == om_generate_latest(registry)


def test_file_collector_exposes_everything_any_process_wrote(db):
    # (with a help text: prometheus_client writes "# HELP name " for an empty
    # one, whose trailing space check-exposition rejects)
    subprocess.run([os.environ["PROMSQLITE_CLI"], "--db", db, "inc", "from_cli", "--label", "step=build",
                    "--help", "CLI steps."], check=True)
    promsqlite.Gauge("from_python", "Python.", registry=None).set(3)
    registry = CollectorRegistry()
    promsqlite.FileCollector(registry=registry)
    assert exposed(registry) == {("from_cli_total", (("step", "build"),)): 1.0, ("from_python", ()): 3.0}
    # MultiProcessCollector's spelling: the registry first.
    other = CollectorRegistry()
    promsqlite.FileCollector(other)
    assert exposed(other) == exposed(registry)
    explicit = CollectorRegistry()
    promsqlite.FileCollector(db, explicit)
    assert exposed(explicit) == exposed(registry)


def test_the_default_registry_serves_promsqlite_metrics_next_to_in_memory_ones(db):
    c = promsqlite.Counter("default_registry_hits", "Hits.")
    try:
        c.inc()
        body = prometheus_client.generate_latest()  # REGISTRY
        assert b"default_registry_hits_total 1.0" in body
        assert b"python_info" in body  # the official client's own collectors are still there
    finally:
        prometheus_client.REGISTRY.unregister(c)


def test_make_wsgi_app_serves_the_metrics(db, registry):
    promsqlite.Counter("wsgi_hits", "Hits.", registry=registry).inc(7)
    app = prometheus_client.make_wsgi_app(registry)
    statuses = []
    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/metrics", "QUERY_STRING": ""},
                        lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert samples(body)[("wsgi_hits_total", ())] == 7.0


@pytest.mark.parametrize("pending_store", ["process_memory", "shared_file"])
def test_batched_updates_reach_the_file_on_flush_and_collect(tmp_path, registry, pending_store):
    path = str(tmp_path / "batched.db")
    promsqlite.set_db(path, write_mode="batched", pending_store=pending_store, flush_interval_ms=3600 * 1000)
    c = promsqlite.Counter("batched_hits", "Hits.", ["k"], registry=registry)
    child = c.labels("a")
    for _ in range(1000):
        child.inc()
    assert child.get() == 1000.0  # this process's view includes what is pending
    # Other readers see pending updates at once in a shared region, only
    # once flushed from process memory.
    seen = 1000.0 if pending_store == "shared_file" else 0.0
    assert samples(promsqlite._core.Reader(path).render()) == {("batched_hits_total", (("k", "a"),)): seen}
    assert exposed(registry) == {("batched_hits_total", (("k", "a"),)): 1000.0}  # collect flushes first
    child.inc(5)
    promsqlite.flush()
    assert samples(promsqlite._core.Reader(path).render()) == {("batched_hits_total", (("k", "a"),)): 1005.0}


def test_batched_updates_are_flushed_at_interpreter_exit(tmp_path):
    path = str(tmp_path / "exit.db")
    run_python("""
        import promsqlite
        promsqlite.set_db(%r, write_mode="batched", flush_interval_ms=3600000)
        h = promsqlite.Histogram("exit_seconds", "Exit.", buckets=[1])
        for _ in range(500):
            h.observe(0.5)
    """ % path)
    assert samples(promsqlite.generate_latest(path))[("exit_seconds_count", ())] == 500.0


def test_a_call_waiting_for_the_file_lock_lets_other_threads_run(tmp_path):
    """The GIL is released while an update waits: the main thread runs Python
    code while another thread's inc() is stuck on a lock the main thread holds."""
    path = str(tmp_path / "gil.db")
    # An immediate update waits for the lock; a batched one (the default) never does.
    promsqlite.set_db(path, busy_timeout_ms=60000, write_mode="immediate")
    child = promsqlite.Counter("gil_hits", "Hits.", registry=None)
    child.inc()  # declared and created before the lock is taken
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # holds the write lock
    entered = threading.Event()
    errors = []

    def writer():
        entered.set()
        try:
            child.inc()  # waits for the lock
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    entered.wait()
    # Wait until the writer is inside inc(): its frame sits on that call.
    while thread.is_alive():
        frame = sys._current_frames().get(thread.ident)
        if frame is not None and frame.f_code.co_name == "writer" and frame.f_lineno == writer.__code__.co_firstlineno + 3:
            break
        time.sleep(0.001)
    # This thread runs Python while the writer waits: with the GIL held by
    # the writer, nothing here would run until inc() had failed.
    progress = sum(range(100000))
    still_waiting = thread.is_alive()
    blocker.execute("COMMIT")
    blocker.close()
    thread.join()
    assert progress == 4999950000
    assert still_waiting
    assert errors == []
    assert samples(promsqlite.generate_latest(path)) == {("gil_hits_total", ()): 2.0}


def test_threads_of_one_process_add_up_exactly(db, registry):
    c = promsqlite.Counter("threaded", "Threads.", ["t"], registry=registry)
    h = promsqlite.Histogram("threaded_seconds", "Threads.", buckets=[1], registry=registry)

    def work(i):
        child = c.labels(str(i % 2))
        for _ in range(200):
            child.inc()
            h.observe(0.5)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    values = exposed(registry)
    assert values[("threaded_total", (("t", "0"),))] == 400.0
    assert values[("threaded_total", (("t", "1"),))] == 400.0
    assert values[("threaded_seconds_count", ())] == 800.0


def test_exemplar_none_is_accepted_as_prometheus_client_s_default(db, registry):
    c = promsqlite.Counter("ex", "Ex.", registry=registry)
    c.inc(1, None)
    c.inc(exemplar=None)
    promsqlite.Histogram("ex_seconds", "Ex.", registry=registry).observe(1, exemplar=None)
    assert exposed(registry)[("ex_total", ())] == 2.0


def record_exemplars(module, registry):
    """The same updates with exemplars, with `module`'s classes."""
    c = module.Counter("ex_requests", "Requests.", ["method"], registry=registry)
    c.labels("GET").inc(exemplar={"trace_id": "a1"})
    c.labels(method="POST").inc(2.5, {"trace_id": "b2", "span_id": "s"})
    c.labels("PUT").inc(3)  # none
    module.Counter("ex_plain", "Plain.", registry=registry).inc(4, {"trace_id": "c3"})
    h = module.Histogram("ex_latency_seconds", "Latency.", ["route"], buckets=[0.1, 1], registry=registry)
    h.labels("/").observe(0.05, {"trace_id": "d4"})
    h.labels("/").observe(0.5)  # none: the 1.0 bucket has no exemplar
    h.labels("/").observe(7, exemplar={"trace_id": "e5"})  # +Inf
    module.Histogram("ex_size", "Size.", buckets=[10], registry=registry).observe(10, {"trace_id": "f6"})


# What record_exemplars() leaves: {sample: (exemplar labels, exemplar value)}.
RECORDED_EXEMPLARS = {
    ("ex_requests_total", (("method", "GET"),)): ({"trace_id": "a1"}, 1.0),
    ("ex_requests_total", (("method", "POST"),)): ({"span_id": "s", "trace_id": "b2"}, 2.5),
    ("ex_plain_total", ()): ({"trace_id": "c3"}, 4.0),
    ("ex_latency_seconds_bucket", (("le", "0.1"), ("route", "/"))): ({"trace_id": "d4"}, 0.05),
    ("ex_latency_seconds_bucket", (("le", "+Inf"), ("route", "/"))): ({"trace_id": "e5"}, 7.0),
    ("ex_size_bucket", (("le", "10.0"),)): ({"trace_id": "f6"}, 10.0),  # a bound holds what equals it
}


def check_exemplars(body, before, after):
    """The exemplars of `body` are RECORDED_EXEMPLARS, stamped between `before` and `after`."""
    got = exemplars(body)
    assert {k: (labels, value) for k, (labels, value, _) in got.items()} == RECORDED_EXEMPLARS
    for key, (_, _, timestamp) in got.items():
        assert before - 1 <= timestamp <= after + 1, (key, timestamp, before, after)


def test_exemplars_show_in_the_openmetrics_rendering_of_the_file(db):
    before = time.time()
    record_exemplars(promsqlite, None)
    after = time.time()
    body = promsqlite.generate_latest(db, openmetrics=True)
    check_exposition(body, openmetrics=True)
    check_exemplars(body, before, after)
    text = promsqlite.generate_latest(db)  # the text format 0.0.4 has no exemplars
    check_exposition(text)
    assert b"trace_id" not in text


def test_exemplars_reach_prometheus_client_s_openmetrics_exposition_as_its_own_do(db, registry):
    theirs = CollectorRegistry()
    before = time.time()
    record_exemplars(promsqlite, registry)
    record_exemplars(prometheus_client, theirs)
    after = time.time()
    body = om_generate_latest(registry)
    check_exposition(body, openmetrics=True)
    check_exemplars(body, before, after)
    assert promsqlite.generate_latest(registry, openmetrics=True) == body

    def mask(b):  # the _created values and the exemplars' timestamps
        return re.sub(rb"(# \{[^}]*\} \S+) \S+$", rb"\1 T", mask_created(b), flags=re.M)
    assert mask(body) == mask(om_generate_latest(theirs))
    assert b"trace_id" not in prometheus_client.generate_latest(registry)
    # FileCollector: the same exemplars, for the whole file.
    whole = CollectorRegistry()
    promsqlite.FileCollector(registry=whole)
    check_exemplars(om_generate_latest(whole), before, after)


def test_the_latest_exemplar_wins_whichever_process_wrote_it(tmp_path, registry):
    path = str(tmp_path / "exemplars.db")
    promsqlite.set_db(path, write_mode="batched", flush_interval_ms=3600 * 1000)
    c = promsqlite.Counter("ex_shared", "Shared.", registry=registry)
    h = promsqlite.Histogram("ex_shared_seconds", "Shared.", buckets=[1], registry=registry)
    c.inc(1, {"trace_id": "first"})
    c.inc(2, {"trace_id": "mine"})  # both pending: the later one is kept
    h.observe(0.5, {"trace_id": "mine"})
    key, bucket = ("ex_shared_total", ()), ("ex_shared_seconds_bucket", (("le", "1.0"),))
    got = exemplars(om_generate_latest(registry))  # collect flushes first
    assert (got[key][:2], got[bucket][:2]) == (({"trace_id": "mine"}, 2.0), ({"trace_id": "mine"}, 0.5))
    run_python("""
        import promsqlite
        promsqlite.set_db(%r)
        promsqlite.Counter("ex_shared", "Shared.").inc(5, {"trace_id": "other"})
        promsqlite.Histogram("ex_shared_seconds", "Shared.", buckets=[1]).observe(0.25, {"trace_id": "other"})
    """ % path)
    body = om_generate_latest(registry)
    got = exemplars(body)
    assert (got[key][:2], got[bucket][:2]) == (({"trace_id": "other"}, 5.0), ({"trace_id": "other"}, 0.25))
    assert samples(body, openmetrics=True)[key] == 8.0


def test_an_empty_exemplar_is_no_exemplar_as_in_prometheus_client(db, registry):
    c = promsqlite.Counter("ex_empty", "Empty.", ["k"], registry=registry)
    c.labels("a").inc(1, {})
    c.labels("a").inc(exemplar={})
    c.labels("a").inc(1, None)
    h = promsqlite.Histogram("ex_empty_seconds", "Empty.", buckets=[1], registry=registry)
    h.observe(0.5, {})
    h.observe(2, exemplar={})
    body = om_generate_latest(registry)
    assert exemplars(body) == {}
    assert b" # {" not in promsqlite.generate_latest(db, openmetrics=True)
    values = without_created(samples(body, openmetrics=True))
    assert values[("ex_empty_total", (("k", "a"),))] == 3.0
    assert values[("ex_empty_seconds_count", ())] == 2.0
    # Nor does an empty one replace the exemplar kept (prometheus_client's `if exemplar:`).
    c.labels("b").inc(2, {"trace_id": "kept"})
    c.labels("b").inc(1, {})
    c.labels("b").inc(1)
    got = exemplars(om_generate_latest(registry))
    assert list(got) == [("ex_empty_total", (("k", "b"),))]
    assert got[("ex_empty_total", (("k", "b"),))][:2] == ({"trace_id": "kept"}, 2.0)


def test_repr_and_version():
    assert promsqlite.__version__
    assert repr(promsqlite.Counter("r", "R.", registry=None)).endswith("Counter(r)")
