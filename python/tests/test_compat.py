"""Code written for prometheus_client (0.16, Debian's) and for
prometheus-distributed-client runs unchanged on promsqlite: each test runs
the same code through the official client's classes and through ours and
compares, as the original package tested itself. Where the two differ on
purpose, the test says so and the README's "Differences from
prometheus_client" table gives the reason."""
import asyncio
import inspect
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.request

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

import promsqlite
from conftest import check_exposition, run_python, samples, without_created

MODULES = [pytest.param(prometheus_client, id="prometheus_client"), pytest.param(promsqlite, id="promsqlite")]


def mask_created(body):
    return re.sub(rb"(?m)^(\w+_created(\{[^}]*\})?) \S+$", rb"\1 T", body)


def durations_masked(body):
    """The exposition with _sum values and _created timestamps masked (times differ run to run)."""
    return re.sub(rb"(?m)^(\w+_sum(\{[^}]*\})?) \S+$", rb"\1 S", mask_created(body))


# --- decorators keep the function's signature --------------------------------

def plain(x, y=1):
    """Adds."""
    return x + y


def rich(a, /, b: int, *rest, c: str = "c", d, **kw) -> tuple:
    """Everything a signature can hold."""
    return a, b, rest, c, d, kw


def decorators(module, registry):
    """name -> a fresh decorator of every kind, from `module`'s classes."""
    h = module.Histogram("deco_h", "H.", registry=registry)
    s = module.Summary("deco_s", "S.", registry=registry)
    g = module.Gauge("deco_g", "G.", registry=registry)
    c = module.Counter("deco_c", "C.", registry=registry)
    return {"Histogram.time": h.time, "Summary.time": s.time, "Gauge.time": g.time,
            "Gauge.track_inprogress": g.track_inprogress, "Counter.count_exceptions": c.count_exceptions}


@pytest.mark.parametrize("function", [plain, rich], ids=["plain", "rich"])
def test_decorators_keep_the_exact_signature_name_doc_and_wrapped_function(db, function):
    ours = decorators(promsqlite, CollectorRegistry())
    theirs = decorators(prometheus_client, CollectorRegistry())
    for kind in ours:
        wrapped, official = ours[kind]()(function), theirs[kind]()(function)
        assert inspect.getfullargspec(wrapped) == inspect.getfullargspec(function) == \
            inspect.getfullargspec(official), kind
        assert inspect.signature(wrapped) == inspect.signature(function) == inspect.signature(official), kind
        assert (wrapped.__name__, wrapped.__qualname__, wrapped.__doc__, wrapped.__module__) == \
            (function.__name__, function.__qualname__, function.__doc__, function.__module__), kind
        assert wrapped.__wrapped__ is function and official.__wrapped__ is function, kind


def test_decorated_functions_return_and_reject_arguments_as_the_official_client_s(db):
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        c = module.Counter("calls_failed", "Failed calls.", registry=registry)
        wrapped = c.count_exceptions()(rich)
        assert wrapped(1, 2, 3, d=4, e=5) == (1, 2, (3,), "c", 4, {"e": 5}), module.__name__
        # Arguments that do not fit are a TypeError before the function runs:
        # not an exception of the function's, so not counted.
        with pytest.raises(TypeError):
            wrapped(1, 2)
        with pytest.raises(TypeError):
            wrapped(a=1, b=2, d=3)
        assert registry.get_sample_value("calls_failed_total") == 0, module.__name__


def test_an_async_function_stays_a_coroutine_function_and_is_timed_until_it_finishes(db, registry):
    h = promsqlite.Histogram("async_seconds", "Async.", registry=registry)
    g = promsqlite.Gauge("async_inprogress", "In progress.", registry=registry)
    seen = []

    @h.time()
    @g.track_inprogress()
    async def handler(delay, *, tag="t"):
        seen.append(registry.get_sample_value("async_inprogress"))
        await asyncio.sleep(delay)
        return tag

    assert inspect.iscoroutinefunction(handler)
    assert str(inspect.signature(handler)) == "(delay, *, tag='t')"
    assert asyncio.run(handler(0.2, tag="x")) == "x"
    assert seen == [1.0]  # in progress while it ran, at its end no longer
    assert registry.get_sample_value("async_inprogress") == 0
    assert registry.get_sample_value("async_seconds_count") == 1
    assert registry.get_sample_value("async_seconds_sum") >= 0.2
    # prometheus_client's wrapper is a plain function: it times only the
    # creation of the coroutine (listed in the README's differences).
    official = prometheus_client.Histogram("async_seconds", "Async.", registry=CollectorRegistry())
    assert not inspect.iscoroutinefunction(official.time()(handler.__wrapped__))


# --- time(), count_exceptions(), track_inprogress() with labels --------------

@pytest.mark.parametrize("module", MODULES)
def test_the_timer_s_labels_pick_the_child_at_the_end_of_the_block(db, module):
    registry = CollectorRegistry()
    h = module.Histogram("timed_seconds", "Timed.", ["route"], registry=registry, buckets=[1])
    s = module.Summary("timed_summary_seconds", "Timed.", ["route"], registry=registry)
    g = module.Gauge("timed_last_seconds", "Timed.", ["route"], registry=registry)
    for metric in (h, s, g):
        with metric.time() as timer:
            timer.labels("/a")
        with metric.time() as timer:
            timer.labels(route="/b")
    assert registry.get_sample_value("timed_seconds_count", {"route": "/a"}) == 1
    assert registry.get_sample_value("timed_seconds_count", {"route": "/b"}) == 1
    assert registry.get_sample_value("timed_summary_seconds_count", {"route": "/a"}) == 1
    assert 0 <= registry.get_sample_value("timed_last_seconds", {"route": "/b"}) < 5


def test_the_timer_s_labels_give_the_official_exposition(db):
    bodies = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        h = module.Histogram("req_seconds", "Requests.", ["route", "code"], registry=registry)
        with h.time() as timer:
            timer.labels("/", "200")
        bodies.append(durations_masked(prometheus_client.generate_latest(registry)))
    check_exposition(bodies[0].replace(b" S\n", b" 0.001\n").replace(b" T\n", b" 1\n"))
    assert bodies[0] == bodies[1]


@pytest.mark.parametrize("module", MODULES)
def test_a_timer_of_a_labelled_metric_without_labels_is_a_value_error_at_the_end(db, module):
    h = module.Histogram("unlabelled_timer", "T.", ["route"], registry=None)
    with pytest.raises(ValueError):
        with h.time():
            pass


@pytest.mark.parametrize("module", MODULES)
def test_count_exceptions_and_track_inprogress_on_a_labelled_metric_fail_at_the_call(db, module):
    c = module.Counter("failures", "F.", ["kind"], registry=None)
    g = module.Gauge("busy", "B.", ["kind"], registry=None)
    with pytest.raises(ValueError):
        c.count_exceptions()
    with pytest.raises(ValueError):
        g.track_inprogress()
    # time() does not: its timer takes labels().
    with g.time() as timer:
        timer.labels("x")


def test_a_metric_never_replaces_the_exception_of_the_block(db, caplog):
    h = promsqlite.Histogram("block_seconds", "B.", ["route"], registry=None)
    with pytest.raises(KeyError, match="the caller's"):
        with h.time():  # no labels(): the observe at the end fails
            raise KeyError("the caller's")
    assert "metric update at the end of a block failed while KeyError was propagating" in caplog.text
    c = promsqlite.Counter("block_errors", "E.", registry=None)
    with pytest.raises(ZeroDivisionError):
        with c.count_exceptions(ArithmeticError):
            1 / 0
    with pytest.raises(KeyError):
        with c.count_exceptions(ArithmeticError):  # another type: not counted, not swallowed
            raise KeyError("x")
    assert promsqlite.generate_latest().count(b"block_errors_total 1\n") == 1


@pytest.mark.parametrize("module", MODULES)
def test_labels_of_a_child_is_a_value_error(db, module):
    c = module.Counter("chained", "C.", ["a"], registry=None)
    i = module.Info("chained_info", "I.", ["a"], registry=None)
    for parent in (c, i):
        with pytest.raises(ValueError):
            parent.labels("x").labels("y")


@pytest.mark.parametrize("module", MODULES)
def test_context_managers_give_what_the_official_ones_give(db, module):
    c = module.Counter("cm_errors", "E.", registry=None)
    g = module.Gauge("cm_busy", "B.", registry=None)
    h = module.Histogram("cm_seconds", "S.", registry=None)
    with c.count_exceptions() as a, g.track_inprogress() as b, h.time() as t:
        assert a is None and b is None and t is not None
        assert hasattr(t, "labels")


# --- Info, unregister ---------------------------------------------------------

def test_an_unlabelled_info_never_set_shows_one_sample_without_labels(db):
    bodies = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        module.Info("build", "Build.", registry=registry)
        bodies.append(prometheus_client.generate_latest(registry))
    assert bodies[0] == bodies[1] == b"# HELP build_info Build.\n# TYPE build_info gauge\nbuild_info 1.0\n"
    # Every reader of the file shows it: the C++ renderer (promsqlite-server) too.
    assert b"\nbuild_info 1\n" in promsqlite.generate_latest(db)


def test_an_unlabelled_info_may_change_its_keys_as_in_the_official_client(db):
    bodies = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        i = module.Info("release", "Release.", registry=registry)
        i.info({"version": "1.0"})
        i.info({"version": "1.1", "commit": "abc"})
        i.info({})
        i.info({"channel": "beta"})
        bodies.append(prometheus_client.generate_latest(registry))
    assert bodies[0] == bodies[1]
    assert samples(promsqlite.generate_latest(db)) == {("release_info", (("channel", "beta"),)): 1.0}


def test_another_process_setting_the_info_replaces_the_unset_one(db, registry):
    promsqlite.Info("deployed", "Deployed.", registry=registry)
    run_python("""
        import promsqlite
        promsqlite.set_db(%r)
        promsqlite.Info("deployed", "Deployed.", registry=None).info({"version": "7"})
    """ % db)
    assert without_created(samples(prometheus_client.generate_latest(registry))) == {
        ("deployed_info", (("version", "7"),)): 1.0}


def test_unregister_then_another_type_under_the_name_needs_remove_family(db):
    # The official client allows it: its metrics live in the registry alone.
    theirs = CollectorRegistry()
    old = prometheus_client.Counter("jobs", "Jobs.", registry=theirs)
    theirs.unregister(old)
    prometheus_client.Gauge("jobs", "Jobs.", registry=theirs)
    # Here the file keeps the family for every process: unregistering does
    # not remove it, so the other type is a DeclarationConflict...
    ours = CollectorRegistry()
    counter = promsqlite.Counter("jobs", "Jobs.", registry=ours)
    counter.inc()
    ours.unregister(counter)
    with pytest.raises(promsqlite.DeclarationConflict, match="jobs"):
        promsqlite.Gauge("jobs", "Jobs.", registry=ours)
    # ...until the family is removed from the file (as the README says).
    assert promsqlite.remove_family("jobs") is True
    promsqlite.Gauge("jobs", "Jobs.", registry=ours).set(3)
    assert without_created(samples(prometheus_client.generate_latest(ours))) == {("jobs", ()): 3.0}
    assert promsqlite.remove_family("no_such_family") is False


# --- the documented API, one by one ------------------------------------------

CLASSES = ["Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"]


@pytest.mark.parametrize("name", CLASSES)
def test_every_class_has_the_official_methods_and_constructor_arguments(name):
    ours, theirs = getattr(promsqlite, name), getattr(prometheus_client, name)
    official_methods = {n for n in dir(theirs) if not n.startswith("_")}
    assert official_methods <= {n for n in dir(ours) if not n.startswith("_")}
    official = list(inspect.signature(theirs.__init__).parameters)
    mine = list(inspect.signature(ours.__init__).parameters)
    assert mine[:len(official)] == official  # same names, same positions
    assert mine[len(official):] == ["ttl"]  # ours adds one keyword-only argument
    assert inspect.signature(ours.__init__).parameters["ttl"].kind is inspect.Parameter.KEYWORD_ONLY
    for parameter in official[2:]:  # same defaults, but for multiprocess_mode (see the README)
        if parameter != "multiprocess_mode":
            assert inspect.signature(ours.__init__).parameters[parameter].default == \
                inspect.signature(theirs.__init__).parameters[parameter].default, parameter


def test_the_module_has_the_official_exposition_names_or_works_with_them():
    # These live in prometheus_client and take a registry: ours register
    # into it, so the official functions are the ones to use (tested below).
    for name in ("CONTENT_TYPE_LATEST", "REGISTRY"):
        assert getattr(promsqlite, name) == getattr(prometheus_client, name)
    assert promsqlite.Histogram.DEFAULT_BUCKETS == prometheus_client.Histogram.DEFAULT_BUCKETS


@pytest.mark.parametrize("module", MODULES)
def test_registry_none_registers_nowhere(db, module):
    before = set(prometheus_client.REGISTRY._names_to_collectors)
    module.Counter("unregistered_total", "U.", registry=None).inc()
    assert set(prometheus_client.REGISTRY._names_to_collectors) == before


def test_namespace_subsystem_unit_and_total_give_the_official_names(db):
    bodies = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        module.Counter("requests_total", "R.", namespace="app", subsystem="http", registry=registry).inc()
        module.Gauge("temperature", "T.", unit="celsius", registry=registry).set(2)
        module.Histogram("latency_seconds", "L.", unit="seconds", registry=registry, buckets=[1]).observe(0.5)
        module.Summary("payload", "P.", namespace="app", unit="bytes", registry=registry).observe(3)
        bodies.append(mask_created(prometheus_client.generate_latest(registry)))
        for m in registry.collect():
            assert m.name in ("app_http_requests", "temperature_celsius", "latency_seconds", "app_payload_bytes")
    assert bodies[0] == bodies[1]


def test_created_samples_are_where_the_official_client_has_them(db):
    names = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        module.Counter("c", "C.", registry=registry).inc()
        module.Histogram("h", "H.", registry=registry).observe(1)
        module.Summary("s", "S.", registry=registry).observe(1)
        module.Gauge("g", "G.", registry=registry).set(1)
        found = {s.name for m in registry.collect() for s in m.samples if s.name.endswith("_created")}
        names.append(found)
        for m in registry.collect():
            for s in m.samples:
                if s.name.endswith("_created"):
                    assert abs(s.value - time.time()) < 60
    assert names[0] == names[1] == {"c_created", "h_created", "s_created"}


def populate(module, registry):
    c = module.Counter("api_requests", "Requests.", ["code"], registry=registry)
    c.labels("200").inc(3)
    module.Gauge("api_queue", "Queue.", registry=registry).set(4)
    module.Histogram("api_seconds", "Latency.", registry=registry, buckets=[0.1, 1]).observe(0.5)
    module.Enum("api_phase", "Phase.", states=["up", "down"], registry=registry).state("down")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get("Content-Type"), response.read()


def test_start_http_server_serves_the_same_as_for_official_metrics(db):
    answers = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        populate(module, registry)
        port = free_port()
        prometheus_client.start_http_server(port, addr="127.0.0.1", registry=registry)
        content_type, body = get("http://127.0.0.1:%d/metrics" % port)
        answers.append((content_type, mask_created(body)))
    check_exposition(answers[0][1].replace(b" T\n", b" 1\n"))
    assert answers[0] == answers[1]


def test_make_asgi_app_serves_the_same_as_for_official_metrics(db):
    async def call(app):
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/metrics", "query_string": b"", "headers": []}
        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    answers = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        populate(module, registry)
        status, body = asyncio.run(call(prometheus_client.make_asgi_app(registry)))
        answers.append((status, mask_created(body)))
    assert answers[0] == answers[1] and answers[0][0] == 200


def test_write_to_textfile_writes_the_same_as_for_official_metrics(db, tmp_path):
    bodies = []
    for module in (promsqlite, prometheus_client):
        registry = CollectorRegistry()
        populate(module, registry)
        path = str(tmp_path / (module.__name__ + ".prom"))
        prometheus_client.write_to_textfile(path, registry)
        with open(path, "rb") as f:
            bodies.append(mask_created(f.read()))
    assert bodies[0] == bodies[1]


def test_push_to_gateway_pushes_the_same_as_for_official_metrics(db, tmp_path):
    port = free_port()
    log = open(str(tmp_path / "pushgateway.log"), "wb")
    gateway = subprocess.Popen(["prometheus-pushgateway", "--web.listen-address=127.0.0.1:%d" % port],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                get("http://127.0.0.1:%d/-/ready" % port)
                break
            except OSError:
                assert time.monotonic() < deadline, "the Pushgateway did not start"
                time.sleep(0.1)
        for module in (promsqlite, prometheus_client):
            registry = CollectorRegistry()
            populate(module, registry)
            prometheus_client.push_to_gateway("127.0.0.1:%d" % port, job=module.__name__, registry=registry)
        _, body = get("http://127.0.0.1:%d/metrics" % port)
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)
        log.close()
    parsed = samples(body)
    per_job = {}
    for (name, labels), value in parsed.items():
        labels = dict(labels)
        job = labels.pop("job", None)
        if job in ("promsqlite", "prometheus_client") and not name.endswith("_created") and "push" not in name:
            per_job.setdefault(job, {})[(name, tuple(sorted(labels.items())))] = value
    assert per_job["promsqlite"] == per_job["prometheus_client"]
    assert per_job["promsqlite"][("api_requests_total", (("code", "200"), ("instance", "")))] == 3


# --- prometheus-distributed-client's setup() ---------------------------------

def test_setup_takes_a_sqlite3_connection_and_uses_its_file(tmp_path, registry):
    path = str(tmp_path / "app.db")
    connection = sqlite3.connect(path)  # the original README's example
    promsqlite.setup(sqlite=connection)
    assert promsqlite.get_db() == path
    promsqlite.Counter("setup_connection", "S.", registry=registry).inc()
    assert b"setup_connection_total 1\n" in promsqlite.generate_latest(path)
    connection.close()
    promsqlite.setup(None, sqlite3.connect(path))  # positional: setup(redis, sqlite), as in 2.1
    assert promsqlite.get_db() == path


@pytest.mark.parametrize("target", [":memory:", ""], ids=["memory", "temporary"])
def test_in_memory_and_temporary_databases_are_value_errors_that_say_why(tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)
    for call in (lambda: promsqlite.setup(sqlite=target), lambda: promsqlite.set_db(target),
                 lambda: promsqlite.setup(sqlite=sqlite3.connect(target))):
        with pytest.raises(ValueError, match="other processes cannot open"):
            call()
    assert os.listdir(str(tmp_path)) == []  # no file named :memory:
    monkeypatch.setenv("PROMSQLITE_DB", ":memory:")
    monkeypatch.setattr(promsqlite._state, "path", None)
    with pytest.raises(ValueError, match="PROMSQLITE_DB.*other processes cannot open"):
        promsqlite.Counter("from_env", "E.", registry=None).inc()


def test_a_closed_connection_or_another_object_is_a_value_error(tmp_path):
    connection = sqlite3.connect(str(tmp_path / "x.db"))
    connection.close()
    with pytest.raises(ValueError, match="sqlite3.Connection"):
        promsqlite.setup(sqlite=connection)
    with pytest.raises(ValueError, match="expected a file's path or a sqlite3.Connection, got int"):
        promsqlite.set_db(42)


def test_setup_with_redis_says_what_to_write_instead():
    with pytest.raises(ValueError, match=r"not in Redis; call setup\(sqlite="):
        promsqlite.setup(redis=object())
    with pytest.raises(ValueError, match="ttl=SECONDS"):
        promsqlite.setup(sqlite="x.db", redis_expire=60)
    with pytest.raises(ValueError, match="needs sqlite="):
        promsqlite.setup()


def test_file_collector_takes_multiprocess_collector_s_arguments_in_its_order(db):
    assert list(inspect.signature(promsqlite.FileCollector).parameters) == \
        list(inspect.signature(MultiProcessCollector).parameters) == ["registry", "path"]
    promsqlite.Counter("collected", "C.", registry=None).inc(2)
    for make in (lambda r: promsqlite.FileCollector(r, db), lambda r: promsqlite.FileCollector(r),
                 lambda r: promsqlite.FileCollector(registry=r, path=db), lambda r: promsqlite.FileCollector(db, r)):
        registry = CollectorRegistry()
        make(registry)
        assert registry.get_sample_value("collected_total") == 2


# --- expiry (prometheus-distributed-client's redis_expire) --------------------

def test_ttl_expires_series_not_updated_for_that_long(db, registry):
    short = promsqlite.Counter("short_lived", "S.", ["job"], registry=registry, ttl=0.5)
    kept = promsqlite.Counter("kept", "K.", registry=registry)
    short.labels("a").inc()
    kept.inc()
    promsqlite.flush()  # a batched update's TTL counts from its flush (at most flush_interval_ms later)
    assert registry.get_sample_value("short_lived_total", {"job": "a"}) == 1
    time.sleep(1.0)
    assert registry.get_sample_value("short_lived_total", {"job": "a"}) is None  # hidden once expired
    assert b"short_lived_total{" not in promsqlite.generate_latest(db)
    assert promsqlite.housekeep()["expired_series"] == 1  # and deleted
    assert registry.get_sample_value("kept_total") == 1
    short.labels("a").inc()  # updated again: back, from 0
    assert registry.get_sample_value("short_lived_total", {"job": "a"}) == 1


def test_set_db_ttl_is_the_default_of_every_family_declared_through_the_module(tmp_path, registry):
    promsqlite.set_db(str(tmp_path / "ttl.db"), ttl=0.5)
    default = promsqlite.Gauge("default_ttl", "D.", registry=registry)
    own = promsqlite.Gauge("own_ttl", "O.", registry=registry, ttl=3600)
    default.set(1)
    own.set(2)
    promsqlite.flush()  # a batched update's TTL counts from its flush (at most flush_interval_ms later)
    time.sleep(1.0)
    assert registry.get_sample_value("default_ttl") is None
    assert registry.get_sample_value("own_ttl") == 2
    # Every process must declare a family with the same ttl.
    result = run_python("""
        import promsqlite
        promsqlite.set_db(%r)
        promsqlite.Gauge("own_ttl", "O.", registry=None, ttl=60).set(1)
    """ % str(tmp_path / "ttl.db"), check=False)
    assert result.returncode != 0 and "DeclarationConflict" in result.stderr and "own_ttl" in result.stderr


@pytest.mark.parametrize("ttl", [-1, float("inf"), float("nan"), "60", True])
def test_an_invalid_ttl_is_a_value_error(db, ttl):
    with pytest.raises(ValueError, match="ttl"):
        promsqlite.Counter("bad_ttl", "B.", registry=None, ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        promsqlite.set_db(db, ttl=ttl)


# --- bad input: the official client's exception types ------------------------

SAME_ERRORS = {
    "negative inc": lambda m: m.Counter("e1", "d", registry=None).inc(-1),
    "label count": lambda m: m.Counter("e2", "d", ["x"], registry=None).labels("a", "b"),
    "undeclared label name": lambda m: m.Counter("e3", "d", ["x"], registry=None).labels(y="a"),
    "values and names": lambda m: m.Counter("e4", "d", ["x"], registry=None).labels("a", x="a"),
    "le on a histogram": lambda m: m.Histogram("e5", "d", ["le"], registry=None),
    "quantile on a summary": lambda m: m.Summary("e6", "d", ["quantile"], registry=None),
    "undeclared state": lambda m: m.Enum("e7", "d", states=["a", "b"], registry=None).state("c"),
    "labels without label names": lambda m: m.Counter("e8", "d", registry=None).labels("x"),
    "invalid name": lambda m: m.Counter("e-9", "d", registry=None),
    "reserved label name": lambda m: m.Counter("e10", "d", ["__x"], registry=None),
    "remove without label names": lambda m: m.Counter("e11", "d", registry=None).remove("x"),
    "remove with the wrong count": lambda m: m.Counter("e12", "d", ["x"], registry=None).remove("x", "y"),
    "unit on an info": lambda m: m.Info("e13", "d", unit="s", registry=None),
    "unsorted buckets": lambda m: m.Histogram("e14", "d", buckets=[2, 1], registry=None),
    "only +Inf": lambda m: m.Histogram("e15", "d", buckets=[float("inf")], registry=None),
    "enum label named like it": lambda m: m.Enum("e16", "d", ["e16"], states=["a"], registry=None),
    "info key that is a label": lambda m: m.Info("e17", "d", ["x"], registry=None).labels("1").info({"x": "2"}),
    "set to a non-number string": lambda m: m.Gauge("e18", "d", registry=None).set("abc"),
    "update of a parent": lambda m: m.Counter("e19", "d", ["x"], registry=None).inc(),
    "unknown multiprocess_mode": lambda m: m.Gauge("e20", "d", multiprocess_mode="x", registry=None),
    "inc of a string": lambda m: m.Counter("e21", "d", registry=None).inc("1"),
    "observe of None": lambda m: m.Histogram("e22", "d", registry=None).observe(None),
}


@pytest.mark.parametrize("case", sorted(SAME_ERRORS))
def test_bad_input_raises_the_official_client_s_exception_type(db, case):
    raised = []
    for module in (prometheus_client, promsqlite):
        with pytest.raises(Exception) as info:
            SAME_ERRORS[case](module)
        raised.append(type(info.value))
    assert raised[1] is raised[0] or issubclass(raised[1], raised[0]), raised


@pytest.mark.parametrize("module", MODULES)
def test_gauge_set_takes_what_float_takes(db, module):
    registry = CollectorRegistry()
    g = module.Gauge("float_like", "F.", ["k"], registry=registry)
    g.labels("str").set("2.5")
    g.labels("bytes").set(b"-1e3")
    g.labels("int").set(7)
    assert [registry.get_sample_value("float_like", {"k": k}) for k in ("str", "bytes", "int")] == [2.5, -1000, 7]


def test_where_promsqlite_is_stricter_it_says_why_with_a_value_error(db):
    # prometheus_client takes these silently (README: differences).
    with pytest.raises(ValueError, match="not the string"):
        promsqlite.Counter("strict1", "d", "abc", registry=None)  # would be labels a, b, c there
    with pytest.raises(ValueError, match="NaN"):
        promsqlite.Counter("strict2", "d", registry=None).inc(float("nan"))
    with pytest.raises(ValueError, match="dict"):
        promsqlite.Info("strict3", "d", registry=None).info("x")  # an AttributeError there
