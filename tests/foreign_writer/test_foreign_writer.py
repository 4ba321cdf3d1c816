"""The file as a contract (docs/schema.md): a writer in Python's standard library only, built from the
page alone (reference_writer.py), writes one file beside the C++ library and the promsqlite CLI.
Exact totals of every type, a valid exposition, no checkpoint outside the page's rules, and readers
that still read after it closed the file last, also without write access to the folder."""
import math
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import reference_writer as rw  # noqa: E402
import workload  # noqa: E402

CLI = os.environ.get("PROMSQLITE_CLI", "promsqlite")
CPP_WRITER = os.environ.get("FOREIGN_CPP_WRITER", "foreign_cpp_writer")
DOC = os.environ.get("FOREIGN_SCHEMA_DOC", os.path.join(HERE, "..", "..", "docs", "schema.md"))
SHARED_TOOLS = os.environ.get("PROMSQLITE_SHARED_TOOLS", os.path.join(HERE, "..", "..", "..", "shared", "tools"))
PYTHON = "/usr/bin/python3"
OUTSIDER = 61002  # a uid with no entry in /etc/passwd, as tests/permissions_test.cc uses
STATEMENTS = rw.schema_statements(DOC)


# --- helpers -----------------------------------------------------------------------------------

def cli(db, *args, check=True):
    r = subprocess.run([CLI, "--db", db, *args], capture_output=True)
    if check:
        assert r.returncode == 0, "promsqlite %s: exit %d: %s" % (args, r.returncode, r.stderr.decode())
    return r


def dump(db, fmt="text"):
    return cli(db, "dump", "--format", fmt).stdout


def check_exposition(body, openmetrics=False):
    r = subprocess.run([os.path.join(SHARED_TOOLS, "check-exposition"), "--format",
                        "openmetrics" if openmetrics else "text", "-"], input=body, capture_output=True)
    assert r.returncode == 0, "check-exposition rejected:\n%s\n%s" % (r.stderr.decode(), body.decode())


def samples(body, openmetrics=False):
    """{(name, ((label, value), ...)): value}, and {same key: exemplar} as the official parser reads it."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    values, exemplars = {}, {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in values, "duplicate sample %r" % (key,)
            values[key] = s.value
            if getattr(s, "exemplar", None) is not None:
                exemplars[key] = s.exemplar
    return values, exemplars


class CheckpointMonitor(threading.Thread):
    """Counts the checkpoints that copied frames into the database file, whoever ran them, by
    sampling SQLite's WAL-index in the -shm (sqlite.org/walformat.html): nBackfill (offset 96)
    grows only when a checkpoint copies frames, and a restart of the WAL (salt-1 of the header,
    offset 32, changes) follows a checkpoint that copied every frame. A lower bound: checkpoints
    between two samples count as one.

    The -shm descriptor is closed only by close(), after the caller closed its connections to the
    file (closing a descriptor drops this process's locks on the file, SQLite's included)."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.fd = os.open(db + "-shm", os.O_RDONLY | os.O_CLOEXEC)
        self.stopping = threading.Event()
        self.checkpoints = 0
        self.restarts = 0
        self.most_frames = 0  # the longest the WAL was, in frames (mxFrame)

    def sample(self):
        page = os.pread(self.fd, 100, 0)
        self.most_frames = max(self.most_frames, struct.unpack_from("=I", page, 16)[0])
        return struct.unpack_from("=I", page, 32)[0], struct.unpack_from("=I", page, 96)[0]

    def run(self):
        salt, backfilled = self.sample()
        copied = 0  # checkpoints seen in this generation of the WAL
        while not self.stopping.is_set():
            time.sleep(0.0002)
            now_salt, now_backfilled = self.sample()
            if now_salt != salt:
                self.restarts += 1
                self.checkpoints += max(copied, 1) - copied  # the one that let it restart, if unseen
                copied = 0
                backfilled = 0
                salt = now_salt
            if now_backfilled > backfilled:
                self.checkpoints += 1
                copied += 1
            backfilled = now_backfilled

    def stop(self):
        self.stopping.set()
        self.join()

    def close(self):
        os.close(self.fd)


def gate_checkpoints(db):
    """The write gate's count of checkpoints completed by promsqlite writers (docs/schema.md, offset 4224)."""
    try:
        with open(db + "-lock", "rb") as f:
            f.seek(4224)
            word = f.read(4)
    except FileNotFoundError:
        return 0
    return struct.unpack("=I", word)[0] if len(word) == 4 else 0


def start_python(db, iterations, index):
    return subprocess.Popen([PYTHON, os.path.join(HERE, "python_worker.py"), DOC, db, str(iterations), str(index)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def start_cpp(db, iterations):
    return subprocess.Popen([CPP_WRITER, db, str(iterations)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def start_cli(db, iterations):
    return subprocess.Popen(["bash", "-c", workload.cli_loop(iterations)], env=dict(os.environ, CLI=CLI, DB=db),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(processes):
    """Waits for all; returns the Python workers' checkpoint counts."""
    checkpoints = 0
    for p in processes:
        out, err = p.communicate(timeout=400)
        assert p.returncode == 0, "%s exited %d: %s" % (p.args, p.returncode, err.decode())
        if out.startswith(b"checkpoints "):
            checkpoints += int(out.split()[1])
    return checkpoints


def native_rows(db, name):
    """The schema and {(sign, bucket): count} of the one series of native histogram `name`."""
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        family_schema, family_id = c.execute("SELECT native_schema, id FROM families WHERE name = ?",
                                             (name,)).fetchone()
        (series_id, schema), = c.execute("SELECT id, native_schema FROM series WHERE family_id = ?",
                                         (family_id,)).fetchall()
        rows = {(s, b): n for s, b, n in c.execute(
            "SELECT sign, bucket, count FROM native_buckets WHERE series_id = ?", (series_id,))}
    finally:
        c.close()
    return (family_schema if schema is None else schema), rows


def check_totals(db, iterations, without_summary):
    """The exposition is valid and holds exactly what the writers did."""
    expected = workload.expected(iterations, without_summary)
    text, openmetrics = dump(db), dump(db, "openmetrics")
    check_exposition(text)
    check_exposition(openmetrics, openmetrics=True)
    values, _ = samples(text)
    assert values[("fw_jobs_total", (("queue", "q0"),))] == expected["jobs"]["q0"]
    assert values[("fw_jobs_total", (("queue", "q1"),))] == expected["jobs"]["q1"]
    assert values[("fw_level", ())] == expected["level"]
    assert values[("fw_inflight", ())] == expected["inflight"]
    observed = expected["seconds"]
    assert values[("fw_seconds_count", ())] == len(observed)
    assert values[("fw_seconds_sum", ())] == pytest.approx(math.fsum(observed), rel=1e-12)
    for bound in rw.DEFAULT_BUCKETS:
        le = rw.go_float(bound)  # the text format writes bounds as Go does
        assert values[("fw_seconds_bucket", (("le", le),))] == sum(1 for v in observed if v <= bound), le
    assert values[("fw_seconds_bucket", (("le", "+Inf"),))] == len(observed)
    assert values[("fw_latency_count", ())] == expected["latency_count"]
    assert values[("fw_latency_sum", ())] == 0.25 * expected["latency_count"]
    assert values[("fw_workers", ())] == expected["workers"]
    assert values[("fw_build_info", (("version", "1.0"),))] == 1
    assert sorted(values[("fw_state", (("fw_state", s),))] for s in workload.STATES) == [0, 1]
    native = expected["native"]
    assert values[("fw_native_seconds_count", ())] == len(native)
    assert values[("fw_native_seconds_bucket", (("le", "+Inf"),))] == len(native)
    # Native buckets, exactly: every observation in its bucket at the schema the series ended at.
    schema, rows = native_rows(db, "fw_native_seconds")
    assert schema == 3  # 160 buckets are plenty: never lowered
    assert rows == workload.native_buckets_at(native, 3)
    schema, rows = native_rows(db, "fw_spread")
    assert schema == workload.final_schema(native, 3, 4) < 3
    assert rows == workload.native_buckets_at(native, schema)
    assert sum(1 for sign, _ in rows if sign != 0) <= 4


# --- the contract ------------------------------------------------------------------------------

def schema_of(db):
    """Each table's columns, keys, indexes and triggers, as SQLite describes them."""
    c = sqlite3.connect(db)
    try:
        out = {}
        for (table, sql) in c.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table'"):
            columns = [tuple(r[1:]) for r in c.execute("PRAGMA table_xinfo(%s)" % table)]
            indexes = sorted((r[2], r[3], tuple(i[2] for i in c.execute("PRAGMA index_info(%s)" % r[1])))
                             for r in c.execute("PRAGMA index_list(%s)" % table))
            flags = ("WITHOUT ROWID" in sql.upper(), "AUTOINCREMENT" in sql.upper())
            out[table] = (columns, indexes, flags)
        for (name, table, sql) in c.execute("SELECT name, tbl_name, sql FROM sqlite_schema WHERE type = 'trigger'"):
            out["trigger " + name] = (table, " ".join(sql.split()))
        out["pragmas"] = tuple(c.execute("PRAGMA %s" % p).fetchone()[0]
                               for p in ("application_id", "user_version", "page_size", "journal_mode"))
        return out
    finally:
        c.close()


def test_the_page_s_tables_make_the_tables_the_library_makes(tmp_path):
    ours, library = str(tmp_path / "doc.db"), str(tmp_path / "library.db")
    rw.Writer(ours, STATEMENTS).close()
    cli(library, "inc", "x")
    assert schema_of(ours) == schema_of(library)
    assert schema_of(ours)["pragmas"] == (rw.APPLICATION_ID, 6, 1024, "wal")
    assert os.path.getsize(library + "-lock") == 4608  # the write gate's sidecar, as the page says


def test_numbers_as_text_and_declarations_match_the_library_s(tmp_path):
    db = str(tmp_path / "m.db")
    bounds = [-3.25, 1e-7, 1.5e-07, 0.00001, 0.0001, 0.1 + 0.2, 1 / 3, 2.5, 100000, 123456, 1e6, 1234567, 2.5e20, 1e21]
    cli(db, "observe", "bounds", "1", "--buckets", ",".join(map(repr, bounds)))
    cli(db, "observe", "defaults", "1")
    cli(db, "observe", "natives", "1", "--native-factor", "1.1")
    c = sqlite3.connect(db)
    stored = dict(c.execute("SELECT name, buckets FROM families"))
    native = c.execute("SELECT native_schema, native_zero_threshold, native_max_buckets FROM families "
                       "WHERE name = 'natives'").fetchone()
    c.close()
    assert stored["bounds"] == ",".join(rw.go_float(b) for b in bounds)
    assert stored["defaults"] == "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10"
    assert stored["defaults"] == rw.Family("histogram", "defaults").row["buckets"]
    python = rw.Family("histogram", "natives", native_factor=1.1).row
    assert native == (python["native_schema"], python["native_zero_threshold"], python["native_max_buckets"])
    # And the other way: the Python writer's declarations are the same to the library.
    writer = rw.Writer(db, STATEMENTS)
    for family in (rw.Family("histogram", "bounds", buckets=bounds), rw.Family("histogram", "defaults"),
                   rw.Family("histogram", "natives", native_factor=1.1)):
        writer.declare(family)
    writer.close()


def test_declarations_agree_with_the_cli_s_and_keep_the_help(tmp_path):
    db = str(tmp_path / "m.db")
    writer = rw.Writer(db, STATEMENTS)
    for family in workload.families().values():
        writer.declare(family)
    # The CLI declares without help, with the native defaults: the same declarations.
    cli(db, "inc", "fw_jobs_total", "--label", "queue=q0")
    cli(db, "observe", "fw_native_seconds", "0.5", "--native-factor", "1.1")
    cli(db, "observe", "fw_seconds", "0.5")
    help_of = lambda name: writer.conn.execute("SELECT help FROM families WHERE name = ?", (name,)).fetchone()[0]
    assert help_of("fw_jobs") == workload.HELP  # an empty help keeps the stored one
    cli(db, "set", "fw_level", "1", "--help", "New help.")
    assert help_of("fw_level") == "New help."
    writer.declare(rw.Family("gauge", "fw_level"))  # nor does the Python writer's erase it
    assert help_of("fw_level") == "New help."
    # Differences are conflicts on both sides.
    r = cli(db, "observe", "fw_spread", "1", "--native-factor", "1.1", check=False)  # 160 buckets, not 4
    assert r.returncode == 3 and b"already declares it as histogram fw_spread{}" in r.stderr
    with pytest.raises(rw.Conflict, match="already declares"):
        writer.declare(rw.Family("gauge", "fw_jobs"))
    with pytest.raises(rw.Conflict, match="would expose 'fw_jobs_total'"):
        writer.declare(rw.Family("gauge", "fw_jobs_total"))
    with pytest.raises(rw.Conflict, match="already declares"):
        writer.declare(rw.Family("histogram", "fw_native_seconds", native_factor=1.1, native_zero_threshold=0))
    cli(db, "observe", "cli_made", "0.5")
    writer.declare(rw.Family("histogram", "cli_made"))  # what the CLI made, the Python writer accepts
    writer.close()
    check_exposition(dump(db))


def test_python_cpp_and_cli_writers_on_one_new_file_add_up_exactly_and_checkpoint_only_by_the_rules(tmp_path):
    db = str(tmp_path / "shared.db")
    # The file is new: the reference writer makes it. Its connection stays open (idle) while the
    # others write, so the WAL is never deleted meanwhile and its restarts can be counted.
    creator = rw.Writer(db, STATEMENTS)
    for family in workload.families().values():
        creator.declare(family)
    counted = gate_checkpoints(db)
    monitor = CheckpointMonitor(db)
    monitor.start()
    python, cpp, loops = [300] * 4, [1500] * 2, [8] * 2
    processes = [start_python(db, n, k) for k, n in enumerate(python)]
    processes += [start_cpp(db, n) for n in cpp]
    processes += [start_cli(db, n) for n in loops]
    python_checkpoints = finish(processes)
    monitor.stop()
    counted = gate_checkpoints(db) - counted + python_checkpoints
    # Every checkpoint was one the rules allow: a promsqlite writer's (counted in the write gate) or
    # a Python writer's RESTART. And there were some, of both kinds.
    print("checkpoints seen %d (WAL restarts %d), by the rules %d (%d by Python writers)" %
          (monitor.checkpoints, monitor.restarts, counted, python_checkpoints))
    assert 0 < monitor.checkpoints <= counted
    iterations = python + cpp + loops
    without_summary = range(len(python) + len(cpp), len(iterations))
    check_totals(db, iterations, without_summary)
    _, exemplars = samples(dump(db, "openmetrics"), openmetrics=True)
    assert exemplars[("fw_jobs_total", (("queue", "q0"),))].labels["trace_id"].startswith("py")
    # The creator closes last: Python cannot keep the -wal, so SQLite deletes it and the -shm.
    creator.close()
    monitor.close()
    assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")
    for fmt in ("text", "openmetrics", "protobuf"):
        dump(db, fmt)
    assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")  # promsqlite's readers create nothing
    check_totals(db, iterations, without_summary)  # and read it all (its own SQL may create them)


def test_a_python_writer_alone_checkpoints_by_restart_at_4000_frames(tmp_path):
    db = str(tmp_path / "m.db")
    writer = rw.Writer(db, STATEMENTS)
    jobs = writer.declare(rw.Family("counter", "jobs", labels=("n",)))
    monitor = CheckpointMonitor(db)
    monitor.start()
    for i in range(10000):
        writer.inc(jobs, {"n": str(i % 50)})
    monitor.stop()
    print("checkpoints %d seen %d, longest WAL %d frames" % (writer.checkpoints, monitor.checkpoints,
                                                             monitor.most_frames))
    assert 2 <= monitor.checkpoints <= writer.checkpoints
    assert writer.checkpoints <= monitor.restarts + 1  # each one let the WAL restart (no readers)
    assert monitor.most_frames < rw.CHECKPOINT_WAL_FRAMES + 10  # at most one commit past the threshold
    writer.close()
    monitor.close()


def test_writers_of_three_kinds_create_one_file_at_once(tmp_path):
    for attempt in range(3):
        db = str(tmp_path / ("new%d.db" % attempt))
        processes = [start_python(db, 20, 0), start_python(db, 20, 1), start_cpp(db, 20), start_cli(db, 2)]
        finish(processes)
        check_totals(db, [20, 20, 20, 2], without_summary=(3,))


def test_the_checkpoint_monitor_catches_a_writer_that_keeps_sqlite_s_defaults(tmp_path):
    """The check above is not vacuous: Python's sqlite3 with its defaults (wal_autocheckpoint 1000:
    PASSIVE checkpoints without the write lock) checkpoints and restarts the WAL where no rule
    allows it, and nobody counts those."""
    db = str(tmp_path / "m.db")
    writer = rw.Writer(db, STATEMENTS)  # open meanwhile, as the writers' test has its creator
    jobs = writer.declare(rw.Family("counter", "jobs"))
    writer.inc(jobs, {})
    counted = gate_checkpoints(db) + writer.checkpoints
    monitor = CheckpointMonitor(db)
    monitor.start()
    naive = sqlite3.connect(db)
    for _ in range(3000):
        naive.execute("UPDATE series SET value = value + 1 WHERE family_id = ?", (jobs.id,))
        naive.commit()
    naive.close()
    monitor.stop()
    assert gate_checkpoints(db) + writer.checkpoints == counted
    assert monitor.checkpoints >= 2 and monitor.restarts >= 2, (monitor.checkpoints, monitor.restarts)
    writer.close()
    monitor.close()


def test_a_live_python_writer_s_per_process_gauge_shows_and_a_dead_one_s_does_not(tmp_path):
    db = str(tmp_path / "m.db")
    script = ("import sys; sys.path.insert(0, %r); import reference_writer as rw\n"
              "w = rw.Writer(sys.argv[1], rw.schema_statements(sys.argv[2]))\n"
              "up = w.declare(rw.Family('gauge', 'up', 'Live processes.', gauge_mode='livesum'))\n"
              "w.set(up, {}, 1); print('ready', flush=True); sys.stdin.read(); w.close()\n" % HERE)
    p = subprocess.Popen([PYTHON, "-c", script, db, DOC], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    values, _ = samples(dump(db))
    assert values[("up", ())] == 1  # its boot_id, trimmed, is this boot's: alive
    # The same process registered with the boot id as /proc gives it, newline and all: taken for
    # dead while it runs, so its row would vanish from a live mode.
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("BEGIN IMMEDIATE")
    pid, start_time, boot_id = c.execute("SELECT pid, start_time, boot_id FROM writers").fetchone()
    c.execute("INSERT INTO writers (pid, start_time, boot_id, created) VALUES (?, ?, ?, 0)",
              (pid, start_time, boot_id + "\n"))
    c.execute("INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) "
              "SELECT family_id, labels, last_insert_rowid(), 5, 0, created, updated FROM series")
    c.execute("COMMIT")
    c.close()
    values, _ = samples(dump(db))
    assert values[("up", ())] == 1
    p.stdin.close()
    assert p.wait(timeout=60) == 0
    values, _ = samples(dump(db))
    assert ("up", ()) not in values  # dead: a live mode leaves its row out


def test_files_of_other_versions_are_refused_and_promsqlite_migrates_an_older_one(tmp_path):
    older = str(tmp_path / "v5.db")
    c = sqlite3.connect(older, isolation_level=None)
    c.execute("PRAGMA page_size = 1024")
    c.execute("PRAGMA journal_mode = WAL")
    for statement in STATEMENTS:
        if "pending_flushes" not in statement:  # version 6 added it
            c.execute(statement)
    c.execute("PRAGMA application_id = %d" % rw.APPLICATION_ID)
    c.execute("PRAGMA user_version = 5")
    c.close()
    with pytest.raises(rw.Error, match="schema version 5 is older than 6.*promsqlite --db .* housekeep"):
        rw.Writer(older, STATEMENTS)
    cli(older, "housekeep")
    rw.Writer(older, STATEMENTS).close()
    newer = str(tmp_path / "v7.db")
    rw.Writer(newer, STATEMENTS).close()
    c = sqlite3.connect(newer)
    c.execute("PRAGMA user_version = 7")
    c.close()
    with pytest.raises(rw.Error, match="newer promsqlite"):
        rw.Writer(newer, STATEMENTS)
    other = str(tmp_path / "other.db")
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE t (x)")
    c.close()
    with pytest.raises(rw.Error, match="not a promsqlite database"):
        rw.Writer(other, STATEMENTS)


def test_an_exemplar_over_128_characters_is_left_out_by_readers_not_the_scrape(tmp_path):
    db = str(tmp_path / "m.db")
    writer = rw.Writer(db, STATEMENTS)
    jobs = writer.declare(rw.Family("counter", "jobs", labels=("kind",)))
    writer.inc(jobs, {"kind": "fine"}, 1, {"trace_id": "a" * 100})
    with pytest.raises(rw.Error, match="more than 128"):
        writer.inc(jobs, {"kind": "long"}, 1, {"trace_id": "a" * 129})
    writer.inc(jobs, {"kind": "long"}, 1)
    # Another program writes what the page forbids: 129 characters.
    def long_exemplar():
        series_id = writer.conn.execute("SELECT id FROM series WHERE labels = ?",
                                        (rw.encode_tuple(["long"]),)).fetchone()[0]
        writer.conn.execute("INSERT INTO exemplars (series_id, bucket, labels, value, timestamp) VALUES (?, 0, ?, 1, 1)",
                            (series_id, rw.encode_tuple(["trace_id", "a" * 121])))
    writer._transaction(long_exemplar)
    writer.close()
    # dump serves the rest, names the row it left out and exits 5.
    r = cli(db, "dump", "--format", "openmetrics", check=False)
    assert r.returncode == 5 and b"exemplars series_id=" in r.stderr and b"more than the limit of 128" in r.stderr
    body = r.stdout
    check_exposition(body, openmetrics=True)
    values, exemplars = samples(body, openmetrics=True)
    assert values[("jobs_total", (("kind", "long"),))] == 1
    assert ("jobs_total", (("kind", "long"),)) not in exemplars
    assert exemplars[("jobs_total", (("kind", "fine"),))].labels == {"trace_id": "a" * 100}


def test_a_native_family_without_max_buckets_is_malformed_for_readers(tmp_path):
    """Why the page says MUST about native_max_buckets: the column's default 0 breaks every reader."""
    db = str(tmp_path / "m.db")
    writer = rw.Writer(db, STATEMENTS)
    writer._transaction(lambda: writer.conn.execute(
        "INSERT INTO families (name, type, help, unit, label_names, buckets, states, created, native_schema) "
        "VALUES ('lazy', 'histogram', '', '', '', '', x'', 0, 3)"))
    writer.close()
    r = cli(db, "dump", check=False)
    assert r.returncode == 5 and b"family 'lazy' (families id=1): malformed native histogram" in r.stderr


# --- a reader that may not write the folder ------------------------------------------------------

@pytest.fixture
def open_folder():
    """A folder (and copies of the CLI and its libraries) that another user may enter but not write."""
    folder = tempfile.mkdtemp(prefix="promsqlite-foreign-", dir="/tmp")
    os.chmod(folder, 0o755)
    tools = os.path.join(folder, "tools")
    os.mkdir(tools, 0o755)
    shutil.copy(CLI, os.path.join(tools, "promsqlite"))
    libs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(CLI))), "lib")
    for name in os.listdir(libs):
        if name.startswith("libpromsqlite") and not os.path.isdir(os.path.join(libs, name)):
            shutil.copy(os.path.join(libs, name), tools, follow_symlinks=False)
    data = os.path.join(folder, "data")
    os.mkdir(data, 0o755)
    yield data, tools
    shutil.rmtree(folder)


def outsider_dump(db, tools, fmt="text"):
    r = subprocess.run(["setpriv", "--reuid=%d" % OUTSIDER, "--regid=%d" % OUTSIDER, "--clear-groups", "--",
                        "env", "LD_LIBRARY_PATH=" + tools, os.path.join(tools, "promsqlite"), "--db", db,
                        "dump", "--format", fmt], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="switches users: needs root (CI runs as root)")
def test_a_reader_without_write_access_to_the_folder_reads_after_a_python_writer_closed_last(open_folder):
    data, tools = open_folder
    db = os.path.join(data, "metrics.db")
    cli(db, "inc", "jobs_total", "2", "--help", "Jobs.")  # a promsqlite writer first: it keeps the -wal
    for rounds in range(1, 3):
        writer = rw.Writer(db, STATEMENTS)
        jobs = writer.declare(rw.Family("counter", "jobs"))
        native = writer.declare(rw.Family("histogram", "latency_seconds", native_factor=2))
        for v in workload.NATIVE:
            writer.inc(jobs, {})
            writer.observe(native, {}, v)
        writer.close()  # last: the -wal and -shm go
        assert not os.path.exists(db + "-wal") and not os.path.exists(db + "-shm")
        text = outsider_dump(db, tools)
        check_exposition(text)
        values, _ = samples(text)
        assert values[("jobs_total", ())] == 2 + rounds * len(workload.NATIVE)
        assert values[("latency_seconds_count", ())] == rounds * len(workload.NATIVE)
        check_exposition(outsider_dump(db, tools, "openmetrics"), openmetrics=True)
        assert not os.path.exists(db + "-wal")  # the reader created nothing
        assert dump(db) == text  # what a reader that may write the folder reads
