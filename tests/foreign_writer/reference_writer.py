"""A promsqlite writer in Python's standard library only (sqlite3, os, ...),
written from docs/schema.md and nothing else: the test that the contract is
complete enough for a writer in another language (tests/foreign_writer/
test_foreign_writer.py runs it beside the C++ library and the CLI).

It follows the page's rules in the order of its section "A minimal writer":
WAL mode, no automatic checkpoints, BEGIN IMMEDIATE with a prompt jittered
retry instead of SQLite's sleeping busy handler, declarations compared as
the library compares them, every update kind (native buckets, exemplars and
per-process gauges included), and RESTART checkpoints at 4000 WAL frames.
What Python's sqlite3 cannot do, it does not: it cannot keep the -wal when
it closes last (no SQLITE_FCNTL_PERSIST_WAL) nor join the write gate's
queue (no atomics or futexes); the page says why neither is needed.

Not thread-safe: one Writer per thread, opened in the process that uses it
(a Writer refuses to be used after fork()).
"""
import bisect
import decimal
import math
import os
import random
import re
import sqlite3
import struct
import time

APPLICATION_ID = 1349676371
SCHEMA_VERSION = 6
PAGE_SIZE = 1024
CHECKPOINT_WAL_FRAMES = 4000
JOURNAL_SIZE_LIMIT = 2 * CHECKPOINT_WAL_FRAMES * (PAGE_SIZE + 24) + 32
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEFAULT_NATIVE_ZERO_THRESHOLD = 2.0 ** -128
DEFAULT_NATIVE_MAX_BUCKETS = 160
MIN_NATIVE_SCHEMA, MAX_NATIVE_SCHEMA = -4, 8
MAX_LABEL_VALUE_BYTES = 65536
MAX_HELP_BYTES = 65536
MAX_EXEMPLAR_CHARACTERS = 128
TYPES = ("counter", "gauge", "histogram", "summary", "info", "stateset")
GAUGE_MODES = ("", "all", "liveall", "sum", "livesum", "max", "livemax", "min", "livemin", "mostrecent",
               "livemostrecent")
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_info")
EXPOSED = {"counter": ("", "_total", "_created"), "histogram": ("", "_bucket", "_sum", "_count", "_created"),
           "summary": ("", "_sum", "_count", "_created"), "info": ("", "_info"), "gauge": ("",),
           "stateset": ("",)}
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
FAMILY_COLUMNS = ("id, name, help, unit, type, label_names, buckets, states, gauge_mode, ttl_seconds, "
                  "native_schema, native_zero_threshold, native_max_buckets")


class Error(Exception):
    """A declaration, value or file this writer refuses (the message says why)."""


class Conflict(Error):
    """A declaration that does not match the file's."""


# --- numbers, names and tuples as the file stores them ----------------------------------------

def go_float(value):
    """Go's strconv.FormatFloat(value, 'g', -1, 64) ("Bucket bounds and other numbers as text")."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    t = decimal.Decimal(repr(abs(value))).as_tuple()  # repr: the shortest digits that read back the same
    digits = "".join(map(str, t.digits))
    point = len(digits) + t.exponent  # value = 0.DIGITS * 10^point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    x = point - 1
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mantissa, "-" if x < 0 else "+", abs(x))
    if point <= 0:
        return sign + "0." + "0" * -point + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def encode_tuple(values):
    """The tuple encoding of "Label values": bytes, to be bound as a BLOB."""
    out = bytearray()
    for value in values:
        out += _utf8(value, "a label value").replace(b"\x00", b"\x00\xff") + b"\x00\x01"
    return bytes(out)


def _utf8(text, what):
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise Error("%s is not valid UTF-8" % what) from None


def native_schema_for_factor(factor):
    """The schema of a declared bucket factor ("Native histograms")."""
    log = math.log2(factor) * (1 + 1e-12)
    for schema in range(MIN_NATIVE_SCHEMA, MAX_NATIVE_SCHEMA):
        if math.ldexp(1.0, -schema) <= log:
            return schema
    return MAX_NATIVE_SCHEMA


_BOUNDS = {}


def native_bucket(value, schema, zero_threshold):
    """(sign, index) of `value` at `schema`, or None for an infinity (it counts in count and sum only)."""
    if math.isinf(value) or math.isnan(value):
        return None
    magnitude = abs(value)
    if magnitude <= zero_threshold:
        return 0, 0
    sign = 1 if value > 0 else -1
    frac, exp = math.frexp(magnitude)
    if schema > 0:
        bounds = _BOUNDS.get(schema)
        if bounds is None:
            n = 1 << schema
            bounds = _BOUNDS[schema] = [math.exp2(k / n - 1) for k in range(n)]
        return sign, (exp - 1) * (1 << schema) + bisect.bisect_left(bounds, frac)
    e = exp - 1 if frac == 0.5 else exp
    return sign, (e + (1 << -schema) - 1) >> -schema


def lower_native(buckets, schema, max_buckets):
    """The highest schema below `schema` at which `buckets` ({(sign, index): count}, sign != 0) merge
    into at most `max_buckets`, or -4; and the merged buckets."""
    lower = schema
    while lower > MIN_NATIVE_SCHEMA:
        lower -= 1
        shift = schema - lower
        merged = {}
        for (sign, index), count in buckets.items():
            key = (sign, (index + (1 << shift) - 1) >> shift)
            merged[key] = merged.get(key, 0) + count
        if len(merged) <= max_buckets:
            break
    else:
        return schema, dict(buckets)
    return lower, merged


def _process_identity():
    """(pid, start_time, boot_id) as "Per-process gauges" says: boot_id without its newline."""
    with open("/proc/self/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    start_time = int(fields[22 - 3])  # fields[0] is field 3
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot_id = f.read().strip()
    return os.getpid(), start_time, boot_id


# --- families ----------------------------------------------------------------------------------

class Family:
    """A declaration, normalized as the file stores it."""

    def __init__(self, kind, name, help="", labels=(), unit="", buckets=None, states=(), gauge_mode="",
                 ttl_seconds=0.0, native_factor=0.0, native_zero_threshold=DEFAULT_NATIVE_ZERO_THRESHOLD,
                 native_max_buckets=DEFAULT_NATIVE_MAX_BUCKETS):
        if kind not in TYPES:
            raise Error("unknown type %r (one of %s)" % (kind, ", ".join(TYPES)))
        if not METRIC_NAME.match(name):
            raise Error("metric name %r must match [a-zA-Z_:][a-zA-Z0-9_:]*" % name)
        suffix = {"counter": "_total", "info": "_info"}.get(kind)
        if suffix and name.endswith(suffix) and len(name) > len(suffix):
            name = name[:-len(suffix)]
        if unit:
            if not LABEL_NAME.match(unit):
                raise Error("%s: unit %r must match [a-zA-Z_][a-zA-Z0-9_]*" % (name, unit))
            if not name.endswith("_" + unit):
                name += "_" + unit
        if kind == "stateset" and not LABEL_NAME.match(name):
            raise Error("%s: an enum's name is also its state label" % name)
        if len(_utf8(help, "help")) > MAX_HELP_BYTES:
            raise Error("%s: help text is longer than %d bytes" % (name, MAX_HELP_BYTES))
        reserved = {"histogram": "le", "summary": "quantile", "stateset": name}.get(kind)
        if gauge_mode in ("all", "liveall"):
            reserved = "pid"
        for label in labels:
            if not LABEL_NAME.match(label) or label.startswith("__"):
                raise Error("%s: label name %r must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __" %
                            (name, label))
            if label == reserved:
                raise Error("%s: a %s cannot have a label named %r" % (name, kind, label))
        if len(set(labels)) != len(labels):
            raise Error("%s: a label name is declared twice" % name)
        native = native_factor != 0
        if native:
            if kind != "histogram":
                raise Error("%s: only histograms have a native histogram" % name)
            if not (native_factor > 1) or math.isinf(native_factor):
                raise Error("%s: native bucket factor must be a finite number > 1" % name)
            if not (native_zero_threshold >= 0) or math.isinf(native_zero_threshold):
                raise Error("%s: native zero threshold must be a finite number >= 0" % name)
            if native_max_buckets < 1:
                raise Error("%s: native max buckets must be >= 1" % name)
        if kind == "histogram":
            if buckets is None:
                buckets = () if native else DEFAULT_BUCKETS
            buckets = [float(b) for b in buckets]
            if buckets and buckets[-1] == math.inf:
                buckets.pop()
            if not buckets and not native:
                raise Error("%s: a histogram needs at least one finite bucket bound" % name)
            for i, b in enumerate(buckets):
                if not math.isfinite(b) or (i and not buckets[i - 1] < b):
                    raise Error("%s: bucket bounds must be finite and strictly increasing" % name)
        elif buckets:
            raise Error("%s: only histograms have buckets" % name)
        if kind == "stateset":
            if not states or len(set(states)) != len(states):
                raise Error("%s: an enum needs distinct states" % name)
        elif states:
            raise Error("%s: only enums have states" % name)
        if gauge_mode not in GAUGE_MODES:
            raise Error("%s: unknown gauge mode %r" % (name, gauge_mode))
        if gauge_mode and kind != "gauge":
            raise Error("%s: only gauges have a multiprocess mode" % name)
        if not (ttl_seconds >= 0) or math.isinf(ttl_seconds):
            raise Error("%s: TTL must be a finite number of seconds >= 0" % name)
        self.id = 0
        self.type = kind
        self.name = name
        self.help = help
        self.unit = unit
        self.label_names = sorted(labels)  # the file's order: sorted by name
        self.buckets = list(buckets or ())
        self.states = list(states)
        self.gauge_mode = gauge_mode
        self.ttl_seconds = float(ttl_seconds)
        self.native_schema = native_schema_for_factor(native_factor) if native else None
        self.native_zero_threshold = float(native_zero_threshold) if native else 0.0
        self.native_max_buckets = int(native_max_buckets) if native else 0

    @property
    def row(self):
        """The families columns a declaration compares and inserts, as stored."""
        return {"type": self.type, "unit": self.unit, "label_names": ",".join(self.label_names),
                "buckets": ",".join(go_float(b) for b in self.buckets), "states": encode_tuple(self.states),
                "gauge_mode": self.gauge_mode, "ttl_seconds": self.ttl_seconds,
                "native_schema": self.native_schema, "native_zero_threshold": self.native_zero_threshold,
                "native_max_buckets": self.native_max_buckets}

    def exposed(self):
        return {self.name + s for s in EXPOSED[self.type]}

    def labels_blob(self, labels):
        """The series key of `labels` ({name: value}), in label_names order."""
        if sorted(labels) != self.label_names:
            raise Error("%s: labels %s do not match the declared %s" % (self.name, sorted(labels), self.label_names))
        for value in labels.values():
            if len(_utf8(value, "a label value")) > MAX_LABEL_VALUE_BYTES:
                raise Error("%s: a label value is longer than %d bytes" % (self.name, MAX_LABEL_VALUE_BYTES))
        return encode_tuple([labels[n] for n in self.label_names])


def _describe(row):
    return "%s{%s} %s" % (row["type"], row["label_names"], ", ".join(
        "%s=%r" % (k, row[k]) for k in sorted(row) if k not in ("type", "label_names")))


# --- the writer --------------------------------------------------------------------------------

_shm_descriptors = {}  # -shm path: descriptor, kept for the process's life ("Descriptors")


def _busy(error):
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included (Python reports those)."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11 and later
    if code is None:
        return "database is locked" in str(error) or "database table is locked" in str(error)
    return (code & 0xFF) in (5, 6)


def _pause():
    time.sleep(random.uniform(10e-6, 30e-6))


class Writer:
    """A connection to a promsqlite file, writing by docs/schema.md's rules."""

    def __init__(self, path, schema_statements, busy_timeout=10.0):
        """Opens (creating) `path`; `schema_statements` are the statements of the page's "Tables"."""
        self.path = path
        self.busy_timeout = busy_timeout
        self.pid = os.getpid()
        self.checkpoints = 0   # RESTART checkpoints that got the lock
        self.commits = 0
        self._due = CHECKPOINT_WAL_FRAMES
        self._writer_id = 0
        self._families = {}
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            self._retry(lambda: self.conn.execute("PRAGMA page_size = %d" % PAGE_SIZE))
            mode = self._retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            if mode != "wal":
                raise Error("%s: cannot switch to WAL mode (journal_mode is %s)" % (path, mode))
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA wal_autocheckpoint = 0")
            self.conn.execute("PRAGMA journal_size_limit = %d" % JOURNAL_SIZE_LIMIT)
            self._transaction(lambda: self._check_or_create(schema_statements))
        except BaseException:
            self.conn.close()
            raise

    def _check_or_create(self, statements):
        application_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        objects = self.conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
        if (application_id, version, objects) == (0, 0, 0):
            for statement in statements:
                self.conn.execute(statement)
            self.conn.execute("PRAGMA application_id = %d" % APPLICATION_ID)
            self.conn.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)
            return
        if application_id != APPLICATION_ID:
            raise Error("%s: not a promsqlite database (application_id %d)" % (self.path, application_id))
        if version > SCHEMA_VERSION:
            raise Error("%s: written by a newer promsqlite (schema version %d; this writer knows %d)" %
                        (self.path, version, SCHEMA_VERSION))
        if version < SCHEMA_VERSION:
            raise Error("%s: schema version %d is older than %d, which this writer knows: open it once with a "
                        "promsqlite writer to migrate it (promsqlite --db %s housekeep)" %
                        (self.path, version, SCHEMA_VERSION, self.path))

    # Transactions: BEGIN IMMEDIATE, retried promptly while busy.

    def _check_process(self):
        if os.getpid() != self.pid:
            raise Error("%s: a connection must not cross fork(): open a Writer in the child" % self.path)

    def _retry(self, run):
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return run()
            except sqlite3.OperationalError as e:
                if not _busy(e) or time.monotonic() >= deadline:
                    raise
            _pause()

    def _transaction(self, body):
        """Runs body() inside BEGIN IMMEDIATE ... COMMIT; again from the start while busy."""
        self._check_process()
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    result = body()
                    self.conn.execute("COMMIT")
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                break
            except sqlite3.OperationalError as e:
                if not _busy(e) or time.monotonic() >= deadline:
                    raise
            _pause()
        self.commits += 1
        self._after_commit()
        return result

    # Checkpoints: RESTART only, at 4000 WAL frames ("Checkpoints").

    def _wal_frames(self):
        shm = self.path + "-shm"
        fd = _shm_descriptors.get(shm)
        try:
            if fd is None or os.fstat(fd).st_ino != os.stat(shm).st_ino:
                # A new -shm: while this connection is open it is the one SQLite uses. The old one was
                # deleted when every connection had closed, so closing its descriptor drops no lock.
                if fd is not None:
                    os.close(fd)
                fd = _shm_descriptors[shm] = os.open(shm, os.O_RDONLY | os.O_CLOEXEC)
            return struct.unpack("=I", os.pread(fd, 4, 16))[0]  # mxFrame of the WAL-index header
        except OSError:
            return None

    def _after_commit(self):
        frames = self._wal_frames()
        if frames is not None and frames >= self._due:
            self.checkpoint(frames)

    def checkpoint(self, frames=0):
        """A RESTART checkpoint, outside any transaction; waits for the write lock as a transaction does,
        not for readers."""
        self._check_process()
        deadline = time.monotonic() + self.busy_timeout
        while True:
            busy, log, copied = self.conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            if not busy or log >= 0 or time.monotonic() >= deadline:
                break
            _pause()  # the lock was taken: like a busy BEGIN IMMEDIATE
        if log >= 0:
            self.checkpoints += 1
        # Readers kept it from finishing: again once the WAL has grown by as much again.
        self._due = CHECKPOINT_WAL_FRAMES if not busy else max(frames, log) + CHECKPOINT_WAL_FRAMES

    def close(self):
        """Closes the connection. Without SQLITE_FCNTL_PERSIST_WAL (Python cannot set it), the last
        connection of all processes to close deletes the -wal and -shm ("Closing")."""
        self._check_process()
        self.conn.close()

    # Declarations.

    def declare(self, family):
        """Stores `family` or checks it against the file's ("Declaring a family"); returns it."""
        def body():
            candidates = {family.name} | {family.name + s for s in SUFFIXES}
            candidates |= {family.name[:-len(s)] for s in SUFFIXES if family.name.endswith(s)}
            found = 0
            for name in sorted(candidates):
                row = self.conn.execute("SELECT %s FROM families WHERE name = ?" % FAMILY_COLUMNS,
                                        (name,)).fetchone()
                if row is None:
                    continue
                (stored_id, stored_name, stored_help, unit, kind, label_names, buckets, states, gauge_mode, ttl,
                 native_schema, zero_threshold, max_buckets) = row
                stored = {"type": kind, "unit": unit, "label_names": label_names, "buckets": buckets,
                          "states": bytes(states), "gauge_mode": gauge_mode, "ttl_seconds": float(ttl),
                          "native_schema": native_schema,
                          "native_zero_threshold": float(zero_threshold) if native_schema is not None else 0.0,
                          "native_max_buckets": int(max_buckets) if native_schema is not None else 0}
                if stored_name != family.name:
                    other = {stored_name + s for s in EXPOSED.get(kind, ("",))}
                    clash = sorted(other & family.exposed())
                    if clash:
                        raise Conflict("metric %r would expose %r, which the file's %s %s already exposes" %
                                       (family.name, clash[0], kind, stored_name))
                    continue
                if stored != family.row:
                    raise Conflict("metric %r is declared as %s, but %s already declares it as %s" %
                                   (family.name, _describe(family.row), self.path, _describe(stored)))
                found = stored_id
                if family.help and family.help != stored_help:
                    self.conn.execute("UPDATE families SET help = ? WHERE id = ?", (family.help, stored_id))
            if found:
                return found
            row = family.row
            self.conn.execute(
                "INSERT INTO families (name, type, help, unit, label_names, buckets, states, gauge_mode, "
                "ttl_seconds, created, native_schema, native_zero_threshold, native_max_buckets) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (family.name, row["type"], family.help, row["unit"], row["label_names"], row["buckets"],
                 row["states"], row["gauge_mode"], row["ttl_seconds"], time.time(), row["native_schema"],
                 row["native_zero_threshold"], row["native_max_buckets"]))
            return self.conn.execute("SELECT id FROM families WHERE name = ?", (family.name,)).fetchone()[0]
        family.id = self._transaction(body)
        self._families[family.name] = family
        return family

    # Updates ("Updates"): one transaction each.

    def _writer_for(self, family):
        """0 for shared series; this process's writers.id for per-process gauges (in the transaction)."""
        if not family.gauge_mode:
            return 0
        if self._writer_id:
            return self._writer_id
        pid, start_time, boot_id = _process_identity()
        self.conn.execute("INSERT INTO writers (pid, start_time, boot_id, created) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (pid, start_time, boot_id) DO NOTHING", (pid, start_time, boot_id, time.time()))
        return self.conn.execute("SELECT id FROM writers WHERE pid = ? AND start_time = ? AND boot_id = ?",
                                 (pid, start_time, boot_id)).fetchone()[0]

    def _upsert(self, family, labels, writer_id, value, count, assign):
        change = "value = excluded.value" if assign else "value = value + excluded.value"
        if count:
            change += ", count = count + excluded.count"
        change += ", updated = excluded.updated"
        now = time.time()
        self.conn.execute(
            "INSERT INTO series (id, family_id, labels, writer_id, value, count, created, updated) "
            "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (family_id, labels, writer_id) DO UPDATE SET " + change,
            (family.id, labels, writer_id, value, count, now, now))
        return self.conn.execute("SELECT id, value, count, native_schema FROM series "
                                 "WHERE family_id = ? AND labels = ? AND writer_id = ?",
                                 (family.id, labels, writer_id)).fetchone()

    def _exemplar(self, series_id, bucket, exemplar, value):
        names = sorted(exemplar)
        characters = 0
        for name in names:
            if not LABEL_NAME.match(name) or name.startswith("__"):
                raise Error("exemplar label name %r must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __" % name)
            _utf8(exemplar[name], "an exemplar label value")
            characters += len(name) + len(exemplar[name])
        if characters > MAX_EXEMPLAR_CHARACTERS:
            raise Error("exemplar labels have %d characters, more than %d" % (characters, MAX_EXEMPLAR_CHARACTERS))
        blob = encode_tuple([part for name in names for part in (name, exemplar[name])])
        self.conn.execute(
            "INSERT INTO exemplars (series_id, bucket, labels, value, timestamp) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (series_id, bucket) DO UPDATE SET labels = excluded.labels, value = excluded.value, "
            "timestamp = excluded.timestamp WHERE excluded.timestamp >= exemplars.timestamp",
            (series_id, bucket, blob, value, time.time()))

    def _update(self, family, labels, value, assign, exemplar=None):
        blob = family.labels_blob(labels)

        def body():
            writer_id = self._writer_for(family)
            row = self._upsert(family, blob, writer_id, value, 0, assign)
            if exemplar is not None:
                self._exemplar(row[0], 0, exemplar, value)
            return writer_id
        writer_id = self._transaction(body)
        if family.gauge_mode:
            self._writer_id = writer_id  # committed: this process's row exists

    def inc(self, family, labels, amount=1.0, exemplar=None):
        if family.type != "counter":
            raise Error("%s: inc needs a counter" % family.name)
        if not (amount >= 0) or math.isinf(amount):
            raise Error("%s: a counter adds a finite amount >= 0, got %r" % (family.name, amount))
        self._update(family, labels, float(amount), False, exemplar)

    def add(self, family, labels, delta):
        if family.type != "gauge" or math.isnan(delta):
            raise Error("%s: add needs a gauge and a number" % family.name)
        self._update(family, labels, float(delta), False)

    def set(self, family, labels, value):
        if family.type != "gauge":
            raise Error("%s: set needs a gauge" % family.name)
        self._update(family, labels, float(value), True)

    def set_state(self, family, labels, state):
        if family.type != "stateset" or state not in family.states:
            raise Error("%s: state %r is not declared" % (family.name, state))
        self._update(family, labels, float(family.states.index(state)), True)

    def info(self, family, labels):
        """An info's series, made at 1."""
        if family.type != "info":
            raise Error("%s: info needs an info" % family.name)
        blob = family.labels_blob(labels)
        now = time.time()
        self._transaction(lambda: self.conn.execute(
            "INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) "
            "VALUES (?, ?, 0, 1, 0, ?, ?) ON CONFLICT (family_id, labels, writer_id) DO NOTHING",
            (family.id, blob, now, now)))

    def observe(self, family, labels, value, exemplar=None):
        """A histogram's or summary's observation: sum, count, classic bucket, native bucket, exemplar."""
        if family.type not in ("histogram", "summary"):
            raise Error("%s: observe needs a histogram or summary" % family.name)
        value = float(value)
        if math.isnan(value):
            raise Error("%s: an observation may not be NaN" % family.name)
        if exemplar is not None and family.type != "histogram":
            raise Error("%s: only counters and histograms keep exemplars" % family.name)
        blob = family.labels_blob(labels)
        bucket = bisect.bisect_left(family.buckets, value)  # the first bound >= value; len: +Inf

        def body():
            series_id, _, _, series_schema = self._upsert(family, blob, 0, value, 1, False)
            if bucket < len(family.buckets):
                self.conn.execute("INSERT INTO bucket_counts (series_id, bucket, count) VALUES (?, ?, 1) "
                                  "ON CONFLICT (series_id, bucket) DO UPDATE SET count = count + excluded.count",
                                  (series_id, bucket))
            if family.native_schema is not None:
                self._observe_native(family, series_id,
                                     family.native_schema if series_schema is None else series_schema, value)
            if exemplar is not None:
                self._exemplar(series_id, bucket, exemplar, value)
        self._transaction(body)

    def _observe_native(self, family, series_id, schema, value):
        found = native_bucket(value, schema, family.native_zero_threshold)
        if found is None:
            return
        sign, index = found
        changed = self.conn.execute("UPDATE native_buckets SET count = count + 1 "
                                    "WHERE series_id = ? AND sign = ? AND bucket = ?",
                                    (series_id, sign, index)).rowcount
        if changed:
            return
        self.conn.execute("INSERT INTO native_buckets (series_id, sign, bucket, count) VALUES (?, ?, ?, 1)",
                          (series_id, sign, index))
        if sign == 0:
            return
        buckets = self.conn.execute("SELECT count(*) FROM native_buckets WHERE series_id = ? AND sign != 0",
                                    (series_id,)).fetchone()[0]
        if buckets <= family.native_max_buckets:
            return
        rows = {(s, b): c for s, b, c in self.conn.execute(
            "SELECT sign, bucket, count FROM native_buckets WHERE series_id = ? AND sign != 0", (series_id,))}
        lower, merged = lower_native(rows, schema, family.native_max_buckets)
        if lower == schema:
            return
        self.conn.execute("DELETE FROM native_buckets WHERE series_id = ? AND sign != 0", (series_id,))
        for (s, b), c in sorted(merged.items()):
            self.conn.execute("INSERT INTO native_buckets (series_id, sign, bucket, count) VALUES (?, ?, ?, ?)",
                              (series_id, s, b, c))
        self.conn.execute("UPDATE series SET native_schema = ? WHERE id = ?", (lower, series_id))


def schema_statements(doc_path):
    """The statements of the ```sql block under "## Tables" in docs/schema.md, one by one."""
    with open(doc_path, encoding="utf-8") as f:
        text = f.read()
    block = text[text.index("```sql", text.index("\n## Tables")) + len("```sql"):]
    block = block[:block.index("```")]
    statements, current = [], ""
    for line in block.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise Error("%s: the Tables block ends inside a statement" % doc_path)
    return statements
