"""Every error path of the package: invalid input raises ValueError with the
library's message (DeclarationConflict, a ValueError, for declarations that
disagree with the file), database failures raise DatabaseError (an
OSError), and a rejected call writes nothing."""
import os
import re
import sqlite3
import subprocess

import pytest
from prometheus_client import CollectorRegistry

import promsqlite
from conftest import exemplars, run_python, samples


def family_names(path):
    return sorted(spec[1] for spec, _ in promsqlite._core.Reader(path).snapshot())


@pytest.mark.parametrize("make, message", [
    (lambda: promsqlite.Counter("1bad", "x", registry=None),
     """metric '1bad': metric name "1bad" must match [a-zA-Z_:][a-zA-Z0-9_:]*"""),
    (lambda: promsqlite.Counter("ok", "x", ["bad-label"], registry=None),
     """metric 'ok': label name "bad-label" must match [a-zA-Z_][a-zA-Z0-9_]*"""),
    (lambda: promsqlite.Counter("ok", "x", ["__x"], registry=None),
     """metric 'ok': label name "__x" starts with "__", which is reserved"""),
    (lambda: promsqlite.Counter("ok", "x", ["a", "a"], registry=None),
     """metric 'ok': label name "a" is declared twice"""),
    (lambda: promsqlite.Counter("ok", "x", "abc", registry=None),
     "metric 'ok': labelnames must be a sequence of names, not the string 'abc'"),
    (lambda: promsqlite.Counter("ok", "x", _labelvalues=("a",), registry=None),
     "_labelvalues is internal to prometheus_client; use labels()"),
    (lambda: promsqlite.Counter("ok", "x", unit="bad unit", registry=None),
     """metric 'ok': unit "bad unit" must match [a-zA-Z_][a-zA-Z0-9_]*"""),
    (lambda: promsqlite.Histogram("h", "x", ["le"], registry=None),
     """metric 'h': a histogram cannot have a label named "le" (it names the buckets)"""),
    (lambda: promsqlite.Histogram("h", "x", buckets=[2, 1], registry=None),
     "metric 'h': bucket bounds must be strictly increasing, but 2 is followed by 1"),
    (lambda: promsqlite.Histogram("h", "x", buckets=[1, float("nan")], registry=None),
     "metric 'h': bucket bound 1 is NaN"),
    (lambda: promsqlite.Histogram("h", "x", buckets=[float("inf")], registry=None),
     "metric 'h': a histogram needs at least one finite bucket bound besides +Inf"),
    (lambda: promsqlite.Histogram("h", "x", buckets=[], registry=None),
     "metric 'h': a histogram needs at least one finite bucket bound besides +Inf"),
    (lambda: promsqlite.Histogram("h", "x", buckets=["a"], registry=None),
     "metric 'h': buckets must be numbers, got ['a']"),
    (lambda: promsqlite.Summary("s", "x", ["quantile"], registry=None),
     """metric 's': a summary cannot have a label named "quantile\""""),
    (lambda: promsqlite.Enum("e", "x", ["e"], states=["a"], registry=None),
     "metric 'e': an enum cannot have a label named like itself (it names the states)"),
    (lambda: promsqlite.Enum("e", "x", registry=None), "metric 'e': an Enum needs states=[...]"),
    (lambda: promsqlite.Enum("e", "x", states=["a", "a"], registry=None),
     """metric 'e': state "a" is declared twice"""),
    (lambda: promsqlite.Enum("e", "x", states="ab", registry=None),
     "metric 'e': states must be a sequence of names, not the string 'ab'"),
    (lambda: promsqlite.Enum("e", "x", unit="seconds", states=["a"], registry=None),
     "metric 'e': an enum cannot have a unit"),
    (lambda: promsqlite.Info("i", "x", unit="bytes", registry=None), "metric 'i': an info cannot have a unit"),
    (lambda: promsqlite.Gauge("g", "x", multiprocess_mode="bogus", registry=None),
     "metric 'g': invalid multiprocess_mode 'bogus' (known: all, liveall, sum, livesum, max, livemax, min, "
     "livemin, mostrecent, livemostrecent)"),
    (lambda: promsqlite.Gauge("g", "x", ["pid"], multiprocess_mode="all", registry=None),
     """metric 'g': a gauge in mode all cannot have a label named "pid" (it names the writer process)"""),
    (lambda: promsqlite.Gauge("g", "x" * 70000, registry=None),
     "metric 'g': help text is longer than 65536 bytes"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_declarations_raise_value_error_and_declare_nothing(db, make, message):
    with pytest.raises(ValueError) as raised:
        make()
    assert str(raised.value) == message
    assert family_names(db) == []


def test_invalid_declarations_raise_even_before_a_file_is_chosen():
    result = run_python("""
        import promsqlite
        try:
            promsqlite.Counter("bad name", "x", registry=None)
        except ValueError as e:
            print(e)
    """, env={"PROMSQLITE_DB": ""})
    assert result.stdout.strip() == """metric 'bad name': metric name "bad name" must match [a-zA-Z_:][a-zA-Z0-9_:]*"""


def test_invalid_values_raise_value_error_and_change_nothing(db):
    c = promsqlite.Counter("c", "x", registry=None)
    c.inc(2)
    for amount, message in [(-1, "metric 'c': Counter.Increment needs an amount >= 0, got -1"),
                            (float("nan"), "metric 'c': Counter.Increment does not accept NaN"),
                            (float("inf"), "metric 'c': Counter.Increment does not accept +Inf")]:
        with pytest.raises(ValueError) as raised:
            c.inc(amount)
        assert str(raised.value) == message
    g = promsqlite.Gauge("g", "x", registry=None)
    with pytest.raises(ValueError, match="metric 'g': Gauge.Increment does not accept NaN"):
        g.inc(float("nan"))
    with pytest.raises(ValueError, match="metric 'g': Gauge.Decrement does not accept NaN"):
        g.dec(float("nan"))
    g.set(float("nan"))  # a gauge may be set to NaN, as in prometheus_client
    h = promsqlite.Histogram("h", "x", registry=None)
    with pytest.raises(ValueError, match="metric 'h': Histogram.Observe does not accept NaN"):
        h.observe(float("nan"))
    s = promsqlite.Summary("s", "x", registry=None)
    with pytest.raises(ValueError, match="metric 's': Summary.Observe does not accept NaN"):
        s.observe(float("nan"))
    e = promsqlite.Enum("e", "x", states=["a", "b"], registry=None)
    with pytest.raises(ValueError) as raised:
        e.state("c")
    assert str(raised.value) == """metric 'e': state "c" is not declared (states: a, b)"""
    got = samples(promsqlite.generate_latest(db))
    assert got[("c_total", ())] == 2.0
    assert got[("h_count", ())] == 0.0
    assert got[("s_count", ())] == 0.0
    assert got[("e", (("e", "a"),))] == 1.0


def test_set_function_is_refused_with_value_error_naming_the_alternative(db):
    g = promsqlite.Gauge("queue_length", "x", registry=None)
    g.set(3)
    with pytest.raises(ValueError, match=r"metric 'queue_length': Gauge.set_function is not supported: .* "
                                         r"call set\(\) where the value changes"):
        g.set_function(lambda: 7)
    assert samples(promsqlite.generate_latest(db))[("queue_length", ())] == 3.0


def test_non_numbers_raise_type_error_as_python_does(db):
    c = promsqlite.Counter("c", "x", registry=None)
    with pytest.raises(TypeError):
        c.inc("1")
    with pytest.raises(TypeError):
        promsqlite.Gauge("g", "x", registry=None).set(None)
    with pytest.raises(TypeError, match=r"observe\(\) missing required argument 'amount'"):
        promsqlite.Histogram("h", "x", registry=None).observe()
    with pytest.raises(TypeError, match=r"inc\(\) got an unexpected keyword argument 'value'"):
        c.inc(value=1)
    with pytest.raises(TypeError, match=r"inc\(\) takes at most 2 arguments \(3 given\)"):
        c.inc(1, None, 3)


# Exemplars that are not a dict of str to str: the binding's message, after
# "inc(): " or "observe(): ". Invalid labels: the library's, after
# "metric 'NAME': Counter.Increment: " or "...Histogram.Observe: ".
BAD_EXEMPLARS = [
    ([("trace_id", "abc")], "binding", "exemplar must be a dict of label names to str values, not list"),
    ("trace_id=abc", "binding", "exemplar must be a dict of label names to str values, not str"),
    ({"trace_id": 123}, "binding",
     "exemplar must be a dict of label names to str values, but label 'trace_id' has the value 123 (int)"),
    ({1: "abc"}, "binding", "exemplar must be a dict of label names to str values, but it has the key 1 (int)"),
    ({"0bad": "abc"}, "library", 'exemplar label name "0bad" must match [a-zA-Z_][a-zA-Z0-9_]*'),
    ({"trace-id": "abc"}, "library", 'exemplar label name "trace-id" must match [a-zA-Z_][a-zA-Z0-9_]*'),
    ({"__x": "abc"}, "library", 'exemplar label name "__x" starts with "__", which is reserved'),
    ({"trace_id": "x" * 121}, "library",
     "exemplar labels have 129 characters (names and values together), more than the limit of 128"),
    ({"a": "x" * 64, "b": "y" * 63}, "library",
     "exemplar labels have 129 characters (names and values together), more than the limit of 128"),
    ({"trace_id": "\udc80"}, "library", 'value of exemplar label "trace_id" is not valid UTF-8'),
]


@pytest.mark.parametrize("write_mode", ["immediate", "batched"])
@pytest.mark.parametrize("exemplar, source, message", BAD_EXEMPLARS, ids=lambda v: repr(v)[:20])
def test_invalid_exemplars_raise_value_error_and_write_nothing(tmp_path, write_mode, exemplar, source, message):
    path = str(tmp_path / "exemplars.db")
    promsqlite.set_db(path, write_mode=write_mode)
    c = promsqlite.Counter("c", "x", registry=None)
    lc = promsqlite.Counter("lc", "x", ["k"], registry=None)
    h = promsqlite.Histogram("h", "x", buckets=[1], registry=None)
    good = {"trace_id": "good"}
    c.inc(2, good)
    lc.labels("a").inc(2, good)
    h.observe(0.5, good)
    h.observe(5, good)
    promsqlite.flush()
    before = promsqlite.generate_latest(path, openmetrics=True)
    calls = [("c", "Counter.Increment", "inc", lambda: c.inc(1, exemplar)),
             ("c", "Counter.Increment", "inc", lambda: c.inc(exemplar=exemplar)),
             ("lc", "Counter.Increment", "inc", lambda: lc.labels("a").inc(1, exemplar)),
             ("lc", "Counter.Increment", "inc", lambda: lc.labels(k="a").inc(exemplar=exemplar)),
             ("h", "Histogram.Observe", "observe", lambda: h.observe(0.5, exemplar)),
             ("h", "Histogram.Observe", "observe", lambda: h.observe(5, exemplar=exemplar))]
    for name, what, method, call in calls:
        with pytest.raises(ValueError) as raised:
            call()
        prefix = "%s(): " % method if source == "binding" else "metric '%s': %s: " % (name, what)
        assert str(raised.value) == prefix + message
    promsqlite.flush()
    after = promsqlite.generate_latest(path, openmetrics=True)
    assert after == before  # values and exemplars unchanged
    assert samples(after, openmetrics=True)[("c_total", ())] == 2.0
    assert samples(after, openmetrics=True)[("h_count", ())] == 2.0
    assert {k: v[:2] for k, v in exemplars(after).items()} == {
        ("c_total", ()): (good, 2.0), ("lc_total", (("k", "a"),)): (good, 2.0),
        ("h_bucket", (("le", "1.0"),)): (good, 0.5), ("h_bucket", (("le", "+Inf"),)): (good, 5.0)}


def test_the_exemplar_limit_counts_characters_as_prometheus_client_does(db):
    c = promsqlite.Counter("c", "x", registry=None)
    at_limit = {"trace_id": "\u00e9" * 120}  # 128 characters, 248 bytes of UTF-8
    c.inc(1, at_limit)
    with pytest.raises(ValueError, match="exemplar labels have 129 characters"):
        c.inc(1, {"trace_id": "\u00e9" * 121})
    om = promsqlite.generate_latest(db, openmetrics=True)
    assert exemplars(om)[("c_total", ())][:2] == (at_limit, 1.0)
    assert samples(om, openmetrics=True)[("c_total", ())] == 1.0


def test_label_mistakes_raise_value_error_naming_the_labels(db):
    plain = promsqlite.Counter("plain", "x", registry=None)
    with pytest.raises(ValueError, match=r"^metric 'plain' has no label names, so it has no labels\(\); update it directly$"):
        plain.labels("a")
    with pytest.raises(ValueError, match="metric 'plain' has no label names, so there is no child to remove"):
        plain.remove("a")
    c = promsqlite.Counter("l", "x", ["a", "b"], registry=None)
    cases = [
        (lambda: c.inc(), r"metric 'l' has label names \(a, b\): call .labels\(...\) first"),
        (lambda: c.labels("x"), r"metric 'l': expects 2 label values \(a, b\), got 1"),
        (lambda: c.labels("x", "y", "z"), r"metric 'l': expects 2 label values \(a, b\), got 3"),
        (lambda: c.labels(a="1", c="2"), r"metric 'l': label 'c' is not declared \(declared labels: a, b\)"),
        (lambda: c.labels(a="1"), r"metric 'l': label 'b' is missing \(declared labels: a, b\)"),
        (lambda: c.labels("1", b="2"), r"metric 'l': labels\(\) takes values by position or by name, not both"),
        (lambda: c.labels("\udc80", "x"), r"""metric 'l': value of label "a" is not valid UTF-8"""),
        (lambda: c.labels("x" * 70000, "y"), r"""metric 'l': value of label "a" is 70000 bytes, more than the limit of 65536"""),
        (lambda: c.remove("x"), r"metric 'l': expects 2 label values \(a, b\), got 1"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert samples(promsqlite.generate_latest(db)) == {("plain_total", ()): 0.0}


def test_info_mistakes_raise_value_error(db):
    i = promsqlite.Info("i", "x", ["k"], registry=None)
    with pytest.raises(ValueError, match="metric 'i': info keys k are also label names"):
        i.labels("1").info({"k": "v"})
    with pytest.raises(ValueError, match=r"metric 'i': info\(\) takes a dict of label names to values"):
        i.labels("1").info("v")
    i.labels("1").info({"version": "1"})
    with pytest.raises(ValueError, match=r"metric 'i': info keys \(other\) differ from the ones used before "
                                         r"\(version\); every info\(\) of a family must use the same keys"):
        i.labels("1").info({"other": "1"})
    with pytest.raises(ValueError, match=r"metric 'i' has label names \(k\): call .labels\(...\) first"):
        i.info({"version": "2"})
    assert samples(promsqlite.generate_latest(db)) == {("i_info", (("k", "1"), ("version", "1"))): 1.0}


def test_a_declaration_that_disagrees_with_the_file_is_a_declaration_conflict(db):
    subprocess.run([os.environ["PROMSQLITE_CLI"], "--db", db, "set", "shared_thing", "3"], check=True)
    with pytest.raises(promsqlite.DeclarationConflict) as raised:
        promsqlite.Counter("shared_thing", "x", registry=None)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == ("metric 'shared_thing' is declared as counter shared_thing{}, but %s already "
                                 "declares it as gauge shared_thing{}" % db)
    with pytest.raises(promsqlite.DeclarationConflict, match=r"declared as gauge shared_thing\{extra\}"):
        promsqlite.Gauge("shared_thing", "x", ["extra"], registry=None)
    promsqlite.Gauge("shared_thing", "x", registry=None).inc()  # the same declaration is fine
    assert samples(promsqlite.generate_latest(db)) == {("shared_thing", ()): 4.0}


def test_a_declaration_made_before_set_db_conflicts_on_first_use(tmp_path):
    path = str(tmp_path / "late.db")
    subprocess.run([os.environ["PROMSQLITE_CLI"], "--db", path, "set", "late", "1"], check=True)
    result = run_python("""
        import promsqlite
        c = promsqlite.Counter("late", "x", registry=None)   # no file yet: checked, not declared
        promsqlite.set_db(%r)
        try:
            c.inc()
        except promsqlite.DeclarationConflict as e:
            print("conflict:", e)
    """ % path, env={"PROMSQLITE_DB": ""})
    assert result.stdout.startswith("conflict: metric 'late' is declared as counter")


def test_registering_a_name_twice_in_one_registry_is_prometheus_client_s_value_error(db):
    registry = CollectorRegistry()
    promsqlite.Counter("twice", "x", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries in CollectorRegistry"):
        promsqlite.Counter("twice", "x", registry=registry)


@pytest.mark.parametrize("options, message", [
    ({"bogus": 1}, 'unknown option "bogus" (known: create_if_missing, synchronous, write_mode, pending_store, immediate_outside_regions, flush_interval_ms, '
                   'busy_timeout_ms, checkpoint_wal_pages, housekeeping_interval_ms, checkpoint_busy_timeout_ms, '
                   'file_mode, page_size, update_lock_wait_ms)'),
    ({"page_size": 1000}, "PATH: page_size 1000 must be a power of two from 512 to 65536"),
    ({"write_mode": "lazy"}, 'option write_mode: "lazy" is neither "immediate" nor "batched"'),
    ({"synchronous": "off"}, 'option synchronous: "off" is neither "normal" nor "full"'),
    ({"flush_interval_ms": 0}, "option flush_interval_ms: 0 is out of range (1 to 1000000000)"),
    ({"busy_timeout_ms": -1}, "option busy_timeout_ms: -1 is out of range (0 to 1000000000)"),
    ({"busy_timeout_ms": "1"}, "option busy_timeout_ms: expected an integer, got '1'"),
    ({"busy_timeout_ms": True}, "option busy_timeout_ms: expected an integer, got True"),
    ({"file_mode": 0o1777}, "option file_mode: 1023 is out of range (0 to 511)"),
    ({"file_mode": "0640"}, "option file_mode: expected an integer, got '0640'"),
])
def test_invalid_options_raise_value_error_and_create_no_file(tmp_path, options, message):
    path = str(tmp_path / "options.db")
    with pytest.raises(ValueError) as raised:
        promsqlite.set_db(path, **options)
    assert str(raised.value) == message.replace("PATH", path)
    assert not os.path.exists(path)


def test_setup_needs_a_sqlite_path():
    with pytest.raises(ValueError, match=r"promsqlite.setup\(\) needs sqlite=PATH"):
        promsqlite.setup()


def test_files_that_cannot_be_used_raise_database_error_an_os_error(tmp_path):
    not_ours = tmp_path / "text.db"
    not_ours.write_text("hello" * 1000)
    with pytest.raises(promsqlite.DatabaseError) as raised:
        promsqlite.set_db(str(not_ours))
    assert isinstance(raised.value, OSError)
    assert str(raised.value) == "%s: file is not a database (another program's file?): choose another path, " \
                                "or move it away" % not_ours
    with pytest.raises(promsqlite.DatabaseError, match=r"file is not a database \(another program's file\?\)"):
        promsqlite.generate_latest(str(not_ours))
    with pytest.raises(promsqlite.DatabaseError) as raised:
        promsqlite.set_db("/nonexistent/dir/x.db")  # the README's examples point at folders to create
    assert str(raised.value) == (
        "/nonexistent/dir/x.db: folder /nonexistent/dir does not exist: create it (mkdir -p /nonexistent/dir); for "
        "writers that run as different users, make it a setgid folder of their group (docs/permissions.md)")
    file_as_folder = str(not_ours) + "/x.db"
    with pytest.raises(promsqlite.DatabaseError, match="%s is a file, not a folder" % re.escape(str(not_ours))):
        promsqlite.set_db(file_as_folder)
    with pytest.raises(promsqlite.DatabaseError, match="is a directory, not a promsqlite database: give the path of a "
                                                       "file in it"):
        promsqlite.set_db(str(tmp_path))
    missing = str(tmp_path / "missing.db")
    with pytest.raises(promsqlite.DatabaseError, match="no such file \\(and create_if_missing is false\\)"):
        promsqlite.set_db(missing, create_if_missing=False)
    assert not os.path.exists(missing)


def test_another_program_s_sqlite_file_is_refused(tmp_path):
    other = str(tmp_path / "other.db")
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    with pytest.raises(promsqlite.DatabaseError, match=other):
        promsqlite.set_db(other)


def test_no_file_chosen_is_a_database_error_naming_the_remedy():
    result = run_python("""
        import promsqlite
        c = promsqlite.Counter("nowhere", "x", registry=None)
        for call in (c.inc, promsqlite.generate_latest):
            try:
                call()
            except promsqlite.DatabaseError as e:
                print(type(e).__mro__[1].__name__, e)
    """, env={"PROMSQLITE_DB": ""})
    assert result.stdout.splitlines() == [
        "OSError no promsqlite file chosen: call promsqlite.set_db(path) or set PROMSQLITE_DB"] * 2


def test_a_write_lock_held_too_long_is_a_database_error_when_asked_for(tmp_path):
    path = str(tmp_path / "locked.db")
    # update_lock_wait_ms=-1: an immediate update waits busy_timeout_ms for
    # the lock, then raises and is not applied.
    promsqlite.set_db(path, busy_timeout_ms=50, write_mode="immediate", update_lock_wait_ms=-1)
    c = promsqlite.Counter("locked", "x", registry=None)
    c.inc()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(promsqlite.DatabaseError, match=path):
            c.inc()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert samples(promsqlite.generate_latest(path)) == {("locked_total", ()): 1.0}


def test_a_failed_batched_flush_keeps_the_updates_pending(tmp_path):
    path = str(tmp_path / "pending.db")
    promsqlite.set_db(path, write_mode="batched", flush_interval_ms=3600000, busy_timeout_ms=50)
    c = promsqlite.Counter("pending", "x", registry=None)
    c.inc(3)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(promsqlite.DatabaseError, match="the updates stay pending"):
            promsqlite.flush()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    promsqlite.flush()
    assert samples(promsqlite.generate_latest(path)) == {("pending_total", ()): 3.0}


def test_by_default_a_held_write_lock_makes_no_update_raise_and_every_update_lands_once_it_is_free(tmp_path):
    path = str(tmp_path / "held.db")
    promsqlite.set_db(path, flush_interval_ms=3600 * 1000, update_lock_wait_ms=50)
    c = promsqlite.Counter("held_jobs", "x", registry=None)
    g = promsqlite.Gauge("held_inflight", "x", multiprocess_mode="livesum", registry=None)
    c.inc()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        for i in range(3):
            c.inc()  # into the region: never waits
            g.set(i)  # written at once: waits 50 ms, then kept for the flush
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    promsqlite.flush()
    text = promsqlite.generate_latest(path).decode()
    assert "held_jobs_total 4\n" in text and "held_inflight 2\n" in text


def _hold_lock(path):
    """Another process holding the file's write lock until killed."""
    holder = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "print('held', flush=True)\n"
         "time.sleep(600)\n", path],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.parametrize("write_mode", ["immediate", "batched"])
def test_inc_never_raises_for_a_lock_another_process_holds_and_every_update_lands_once(tmp_path, write_mode):
    path = str(tmp_path / "held.db")
    promsqlite.set_db(path, write_mode=write_mode, update_lock_wait_ms=20, flush_interval_ms=3600000)
    jobs = promsqlite.Counter("jobs", "Jobs.", registry=None)
    jobs.inc()
    holder = _hold_lock(path)
    try:
        # An existing series, a new one, a metric declared during the hold,
        # a per-process gauge, a histogram, an exemplar: no raise.
        late = promsqlite.Counter("late", "Declared during the hold.", ["k"], registry=None)
        peak = promsqlite.Gauge("peak", "x", registry=None, multiprocess_mode="max")
        lat = promsqlite.Histogram("lat", "x", registry=None)
        for i in range(20):
            jobs.inc()
            late.labels(str(i % 2)).inc(2)
            peak.set(i)
            lat.observe(0.25)
        jobs.inc(exemplar={"trace": "t"})
        waiting = promsqlite.waiting_for_lock()
        assert waiting["updates"] > 0 and waiting["since"] > 0
    finally:
        holder.kill()
        holder.wait()
    promsqlite.flush()
    assert promsqlite.waiting_for_lock() == {"updates": 0, "since": 0.0}
    got = samples(promsqlite.generate_latest(path))
    assert got[("jobs_total", ())] == 22.0
    assert got[("late_total", (("k", "0"),))] == 20.0
    assert got[("late_total", (("k", "1"),))] == 20.0
    assert got[("peak", ())] == 19.0
    assert got[("lat_count", ())] == 20.0


def test_a_process_killed_while_another_holds_the_lock_loses_no_update(tmp_path):
    path = str(tmp_path / "killed.db")
    promsqlite.set_db(path)
    promsqlite.Counter("jobs", "Jobs.", registry=None).inc()
    holder = _hold_lock(path)
    try:
        # Immediate mode, so every update would be a transaction; each is
        # kept in the process's region instead, and the process dies.
        result = run_python("""
            import os, signal, promsqlite
            promsqlite.set_db(%r, write_mode="immediate", update_lock_wait_ms=20)
            jobs = promsqlite.Counter("jobs", "Jobs.", registry=None)
            late = promsqlite.Counter("late", "Declared during the hold.", registry=None)
            for i in range(50):
                jobs.inc()
                late.inc(2)
            print(promsqlite.waiting_for_lock()["updates"] > 0, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        """ % path, check=False)
        assert result.returncode == -9, result.stderr
        assert result.stdout == "True\n"
    finally:
        holder.kill()
        holder.wait()
    report = promsqlite.housekeep()
    assert report["recovered_regions"] == 1
    got = samples(promsqlite.generate_latest(path))
    assert got[("jobs_total", ())] == 51.0
    assert got[("late_total", ())] == 100.0
