"""promsqlite: prometheus_client's metric classes, stored in one shared SQLite file.

Every process of a host (gunicorn or Celery workers, multiprocessing pools,
C++ programs using the promsqlite library, shell steps using the promsqlite
tool) adds to the same counters in the same file. Code written for
prometheus_client (or for prometheus-distributed-client, whose metrics live
in Redis) migrates by changing an import and choosing the file:

    import promsqlite
    from promsqlite import Counter, Histogram
    from prometheus_client import REGISTRY, generate_latest

    promsqlite.set_db("/var/lib/myapp/metrics.db")   # or $PROMSQLITE_DB
    requests = Counter("requests", "Requests served.", ["path"], registry=REGISTRY)
    requests.labels("/").inc()
    generate_latest(REGISTRY)   # this process's metrics, with every process's values

The metric classes register into a prometheus_client CollectorRegistry
(REGISTRY by default) like the official ones; FileCollector exposes a whole
file. prometheus_client is optional: without it the classes still write, and
promsqlite.generate_latest(path) renders the file with the C++ renderer.

Errors: invalid names, labels, values and options raise ValueError (a
DeclarationConflict, also a ValueError, when a declaration disagrees with the
file's); database failures raise DatabaseError, an OSError.

Thread safety: everything may be used from any thread; calls that wait for
the file's lock release the GIL. Process safety: any number of processes may
write one file; after fork() (gunicorn preload_app, multiprocessing) the
child reopens the file by itself. Batched updates are flushed at interpreter
exit and when a multiprocessing worker ends normally.
"""

import atexit
import functools
import inspect
import logging
import os
import sys
import threading
import time
import weakref

from . import _promsqlite as _core
from ._promsqlite import DatabaseError, DeclarationConflict

try:
    import prometheus_client as _pc
    from prometheus_client import metrics as _pc_metrics
    from prometheus_client.metrics_core import Metric as _PcMetric
    from prometheus_client.samples import Exemplar as _PcExemplar
    from prometheus_client.utils import floatToGoString as _go_float
except ImportError:  # optional: the metrics still write, FileCollector and registries need it
    _pc = None

__all__ = [
    "CONTENT_TYPE_LATEST", "OPENMETRICS_CONTENT_TYPE", "Counter", "DEFAULT_BUCKETS", "DatabaseError", "DeclarationConflict", "Enum",
    "FileCollector", "Gauge", "Histogram", "Info", "PROTOBUF_CONTENT_TYPE", "REGISTRY", "Summary", "flush",
    "generate_latest", "get_db", "housekeep", "remove_family", "set_db", "setup", "waiting_for_lock",
]

__version__ = _core.version()

INF = float("inf")
# The Python client's default buckets (not client_golang's, which the C++
# library defaults to): migrated code that declares no buckets keeps its layout.
DEFAULT_BUCKETS = (.005, .01, .025, .05, .075, .1, .25, .5, .75, 1.0, 2.5, 5.0, 7.5, 10.0, INF)

# The Content-Types of generate_latest's formats, from the library's table
# (prometheus_client's constants for the first two, the same strings).
CONTENT_TYPE_LATEST = _core.content_type("text")
OPENMETRICS_CONTENT_TYPE = _core.content_type("openmetrics")
PROTOBUF_CONTENT_TYPE = _core.content_type("protobuf")

# prometheus_client's default registry, or None without prometheus_client.
REGISTRY = _pc.REGISTRY if _pc is not None else None

_CHILD_CACHE_MIN = 1024  # see _MetricBase._sweep_children
_GAUGE_MODES = ("all", "liveall", "sum", "livesum", "max", "livemax", "min", "livemin", "mostrecent",
                "livemostrecent")


class _State:
    """The file this process writes, and its open connections."""

    def __init__(self):
        self.lock = threading.RLock()
        self.path = None        # chosen by set_db(); else $PROMSQLITE_DB
        self.registries = {}    # absolute path -> _core.Registry
        self.readers = {}       # absolute path -> _core.Reader
        self.generation = 0     # bumped by set_db(): metrics declare themselves again
        self.ttl = 0.0          # set_db(ttl=...): families' default ttl in seconds (0: never)


_state = _State()
_metrics = weakref.WeakSet()  # every metric object, to re-declare after set_db()


def _after_fork_in_child():
    # A lock held by another thread at fork() would stay held forever.
    _state.lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _file_of(target, what):
    """The absolute path of the file `target` names: a path, or a
    sqlite3.Connection (the file behind its main database). ValueError for
    what other processes cannot open (":memory:", "", an in-memory or
    temporary connection) and for anything else."""
    import sqlite3
    if isinstance(target, sqlite3.Connection):
        try:
            rows = target.execute("PRAGMA database_list").fetchall()
        except sqlite3.Error as e:
            raise ValueError("%s: cannot read the file of this sqlite3.Connection (%s); pass the file's path"
                             % (what, e)) from None
        path = next((row[2] for row in rows if row[1] == "main"), "")
        if not path:
            raise ValueError("%s: this sqlite3.Connection is to an in-memory or temporary database, which "
                             "other processes cannot open, so they could not share its metrics; pass a "
                             "connection to a file, or the file's path" % what)
        return os.path.abspath(path)
    if not isinstance(target, (str, bytes, os.PathLike)):
        raise ValueError("%s: expected a file's path or a sqlite3.Connection, got %s"
                         % (what, type(target).__name__))
    path = os.fsdecode(target)
    if path in ("", ":memory:"):
        raise ValueError("%s: %r is an in-memory or temporary SQLite database, which other processes cannot "
                         "open, so they could not share its metrics; pass a file's path, e.g. "
                         "/var/lib/myapp/metrics.db" % (what, path))
    return os.path.abspath(path)


def _check_ttl(ttl, what):
    """`ttl` as seconds (0: never expire). None is 0."""
    if ttl is None:
        return 0.0
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (0 <= ttl < INF):
        raise ValueError("%s: ttl must be None or a finite number of seconds >= 0, got %r" % (what, ttl))
    return float(ttl)


def set_db(path, *, ttl=None, **options):
    """Chooses the file this process's metrics write to, creating it if needed.

    `path`: the file's path (or a sqlite3.Connection to it: its file is
    used, through promsqlite's own connection). ":memory:" and other
    databases that other processes cannot open raise ValueError.

    `ttl`: seconds; the default expiry of every family declared through
    this module without a ttl of its own: a series not updated for that
    long is no longer exposed and is deleted by housekeeping (as
    prometheus-distributed-client's redis_expire). None (the default):
    never. Every process declaring a family must give it the same ttl.

    `options` are named like the C++ library's Options fields:
    write_mode ("batched", the default: updates wait for a flush and are
    written together every flush_interval_ms, by flush(), and at exit; or
    "immediate": each update is one transaction, durable when the call
    returns), pending_store (batched mode: "shared_file", the default:
    updates wait in a shared region beside the file, survive a SIGKILL of
    the process and are seen by readers at once, docs/pending-regions.md;
    or "process_memory": they wait in the process, a kill loses the last
    interval), immediate_outside_regions (True, the default: what a region
    cannot hold, native histograms, per-process gauges and exemplars, is
    written at once, keeping both guarantees; False: it waits in the
    process), flush_interval_ms (1000), synchronous ("normal" or "full"),
    busy_timeout_ms (10000), create_if_missing (True), checkpoint_wal_pages,
    housekeeping_interval_ms, checkpoint_busy_timeout_ms, file_mode (e.g.
    0o660: the mode of a file this process creates; see docs/permissions.md),
    page_size (1024: the page size of a file this process creates),
    update_lock_wait_ms (100: how long an update written at once, in either
    write mode, waits for the write lock before it is kept for the flush
    instead, in the file's pending region, so that it survives a kill of
    the process; -1: wait busy_timeout_ms, then raise DatabaseError).

    Metrics declared earlier (at import time, say) declare themselves in this
    file on their next use. Children already taken with labels() keep
    writing to the file they were taken from.
    Raises ValueError for unknown or invalid options, DatabaseError when
    the file cannot be opened or is not a promsqlite file.
    """
    path = _file_of(path, "set_db()")
    default_ttl = _check_ttl(ttl, "set_db()")
    with _state.lock:
        registry = _core.Registry(path, **options)
        old = _state.registries.get(path)
        if old is not None and old.batched:
            old.flush()
        _state.registries[path] = registry
        _state.path = path
        _state.ttl = default_ttl
        _state.generation += 1
        for metric in list(_metrics):
            metric._unbind()


def setup(redis=None, sqlite=None, redis_prefix=None, redis_expire=None, *, ttl=None, **options):
    """set_db() under the spelling of prometheus-distributed-client's
    setup(sqlite=PATH_OR_CONNECTION) (2.1; same argument order): `sqlite`
    is a file's path or a sqlite3.Connection to one; `ttl` and `options`
    as for set_db(). promsqlite stores in SQLite only: `redis`,
    `redis_prefix` and `redis_expire` raise ValueError saying what to pass
    instead."""
    if redis is not None:
        raise ValueError("promsqlite.setup(redis=...): promsqlite keeps the metrics in one SQLite file, not in "
                         "Redis; call setup(sqlite='/var/lib/myapp/metrics.db') (a path or a sqlite3.Connection "
                         "to a file every process can open), with ttl=SECONDS for redis_expire's expiry")
    if redis_prefix is not None or redis_expire is not None:
        raise ValueError("promsqlite.setup(): redis_prefix and redis_expire are Redis settings; with SQLite, "
                         "ttl=SECONDS expires series (redis_expire's role) and names need no prefix")
    if sqlite is None:
        raise ValueError("promsqlite.setup() needs sqlite=PATH (or a sqlite3.Connection to a file): promsqlite "
                         "keeps the metrics in one SQLite file")
    set_db(_file_of(sqlite, "setup(sqlite=...)"), ttl=ttl, **options)


def remove_family(name):
    """Removes the family `name` (its name as exposed, or as declared:
    "x" or "x_total" for counter x) with every series, for every process;
    True when the file had it. What to do before declaring a family of
    another type (or other labels) under the same name: the file keeps
    declarations after a registry's unregister()."""
    return _registry().remove_family(str(name))


def housekeep():
    """Runs one housekeeping pass on the current file now: deletes series
    past their family's ttl, live-mode gauge rows of dead processes, and
    the like. Long-running writers do this by themselves every
    housekeeping_interval_ms (60 s); short-lived ones (cron jobs) may call
    it. It also writes the pending regions of batched writers that died
    (docs/pending-regions.md). Returns what it did: {"expired_series": n,
    ..., "recovered_regions": n, "recovered_updates": n}."""
    return _registry().housekeep()


def get_db():
    """The file metrics write to (set_db() or $PROMSQLITE_DB), or None."""
    if _state.path is not None:
        return _state.path
    env = os.environ.get("PROMSQLITE_DB")
    return _file_of(env, "PROMSQLITE_DB") if env else None


def _registry():
    path = get_db()
    if path is None:
        raise DatabaseError("no promsqlite file chosen: call promsqlite.set_db(path) or set PROMSQLITE_DB")
    registry = _state.registries.get(path)
    if registry is None:
        with _state.lock:
            registry = _state.registries.get(path)
            if registry is None:
                registry = _state.registries[path] = _core.Registry(path)
    return registry


def _reader(path):
    reader = _state.readers.get(path)
    if reader is None:
        with _state.lock:
            reader = _state.readers.setdefault(path, _core.Reader(path))
    return reader


def flush():
    """Writes this process's pending updates now: batched mode's, and in
    either mode those kept because another process held the write lock
    (waiting_for_lock()). Raises DatabaseError when a file cannot be
    written; the updates then stay pending."""
    for registry in list(_state.registries.values()):
        registry.flush()


def waiting_for_lock():
    """Updates of this process that were to be written at once but found
    the write lock held by another process past update_lock_wait_ms, and
    wait for the flush that writes them once it is free:
    {"updates": n, "since": Unix time of the oldest, 0 when none}, summed
    over the files this process writes. inc() and the like never raise or
    stall for a held lock; this says what waits."""
    total = {"updates": 0, "since": 0.0}
    for registry in list(_state.registries.values()):
        waiting = registry.waiting_for_lock()
        total["updates"] += waiting["updates"]
        if waiting["since"] and (not total["since"] or waiting["since"] < total["since"]):
            total["since"] = waiting["since"]
    return total


def _flush_at_exit():
    for registry in list(_state.registries.values()):
        try:
            registry.flush()
        except DatabaseError as e:
            sys.stderr.write("promsqlite: not written at exit: %s\n" % e)


atexit.register(_flush_at_exit)

# multiprocessing's children end with os._exit(), which skips atexit; they
# run multiprocessing's own finalizers. A child clears the ones it inherits
# when it starts, so one is registered now (a child that imports this module
# itself) and again in each child that was started after the import.
try:
    from multiprocessing import util as _mp_util
except ImportError:  # pragma: no cover - multiprocessing is part of Python
    _mp_util = None


def _install_multiprocessing_finalizer(_=None):
    _mp_util.Finalize(None, _flush_at_exit, exitpriority=10)


if _mp_util is not None:
    _install_multiprocessing_finalizer()
    _mp_util.register_after_fork(_state, _install_multiprocessing_finalizer)


# --- helpers: time(), count_exceptions(), track_inprogress() ---------------

_log = logging.getLogger("promsqlite")


def _decorate(func, new_context):
    """`func` wrapped so that each call runs inside `new_context()`, with
    func's exact signature (inspect.signature and getfullargspec), name,
    docstring and __wrapped__, as prometheus_client's decorators keep them.
    Arguments are bound to the signature first, so a call with wrong
    arguments raises TypeError before the context is entered (as there).
    A coroutine function stays one and runs inside the context until it
    finishes (prometheus_client's wrapper would time only its creation)."""
    signature = inspect.signature(func)

    def bind(args, kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args, bound.kwargs

    if inspect.iscoroutinefunction(func):
        async def wrapped(*args, **kwargs):
            args, kwargs = bind(args, kwargs)
            with new_context():
                return await func(*args, **kwargs)
    else:
        def wrapped(*args, **kwargs):
            args, kwargs = bind(args, kwargs)
            with new_context():
                return func(*args, **kwargs)
    functools.update_wrapper(wrapped, func)  # __name__, __qualname__, __doc__, __module__, __dict__, __wrapped__
    wrapped.__signature__ = signature
    for attribute in ("__defaults__", "__kwdefaults__"):
        try:
            setattr(wrapped, attribute, getattr(func, attribute))
        except (AttributeError, TypeError):  # builtins and callables without them
            pass
    return wrapped


def _update_at_exit(update, in_flight):
    """Runs a metric update at the end of a block. With an exception of the
    caller's in flight, a failing update is logged (logger "promsqlite")
    instead of raised: a metric must never replace the caller's exception."""
    if in_flight is None:
        update()
        return
    try:
        update()
    except Exception:  # noqa: BLE001 - the caller's exception goes on
        _log.exception("promsqlite: a metric update at the end of a block failed while %s was propagating",
                       type(in_flight).__name__)


class _Timer:
    """time(): a context manager and decorator that calls
    getattr(metric, callback_name)(seconds) at the end. Within a block,
    labels(...) picks the child to update (a metric with label names needs
    it), as prometheus_client's Timer."""

    def __init__(self, metric, callback_name):
        self._metric = metric
        self._callback_name = callback_name
        self._start = None

    def _new_timer(self):
        # Its own start time per call: decorated functions may nest or run
        # in several threads at once.
        return type(self)(self._metric, self._callback_name)

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, typ, value, traceback):
        duration = max(time.perf_counter() - self._start, 0.0)  # time can go backwards
        _update_at_exit(lambda: getattr(self._metric, self._callback_name)(duration), value)
        return False

    def labels(self, *labelvalues, **labelkwargs):
        """Updates the child with these label values at the end of the block."""
        self._metric = self._metric.labels(*labelvalues, **labelkwargs)

    def __call__(self, f):
        return _decorate(f, self._new_timer)


class _ExceptionCounter:
    """count_exceptions(): a context manager and decorator that increments
    the counter when an exception of type `exception` escapes (and lets it
    go on)."""

    def __init__(self, counter, exception):
        self._counter = counter
        self._exception = exception

    def __enter__(self):
        return None

    def __exit__(self, typ, value, traceback):
        if isinstance(value, self._exception):
            _update_at_exit(self._counter.inc, value)
        return False

    def __call__(self, f):
        return _decorate(f, lambda: self)


class _InprogressTracker:
    """track_inprogress(): a context manager and decorator that adds 1 to
    the gauge on entry and subtracts it on exit."""

    def __init__(self, gauge):
        self._gauge = gauge

    def __enter__(self):
        self._gauge.inc()
        return None

    def __exit__(self, typ, value, traceback):
        _update_at_exit(self._gauge.dec, value)
        return False

    def __call__(self, f):
        return _decorate(f, lambda: self)


def _require_observable(metric):
    """ValueError when `metric` is a parent with label names (as prometheus_client)."""
    names = getattr(metric, "_labelnames", None)  # the C++ children have none
    if names:
        raise ValueError("%s metric '%s' is missing label values: call .labels(...) first (label names: %s)"
                         % (metric._type, metric._name, ", ".join(names)))


def _count_exceptions(self, exception=Exception):
    """Counts exceptions of type `exception` (a class or a tuple of
    classes) raised in a block or a decorated function."""
    _require_observable(self)
    return _ExceptionCounter(self, exception)


def _gauge_time(self):
    """Sets the gauge to the duration of a block or function, in seconds."""
    return _Timer(self, "set")


def _track_inprogress(self):
    """Increments the gauge while a block or function runs."""
    _require_observable(self)
    return _InprogressTracker(self)


def _observe_time(self):
    """Observes the duration of a block or function, in seconds."""
    return _Timer(self, "observe")


def _child_labels(self, *labelvalues, **labelkwargs):
    raise ValueError("%r is already a child with its label values: labels() cannot be chained "
                     "(prometheus_client: no label names were set when constructing it)" % (self,))


# The C++ children get the same helpers as the Python metrics.
_core.CounterChild.count_exceptions = _count_exceptions
_core.GaugeChild.time = _gauge_time
_core.GaugeChild.track_inprogress = _track_inprogress
_core.HistogramChild.time = _observe_time
_core.SummaryChild.time = _observe_time
for _child_type in (_core.CounterChild, _core.GaugeChild, _core.HistogramChild, _core.SummaryChild,
                    _core.InfoChild, _core.EnumChild):
    _child_type.labels = _child_labels


# --- from the file to prometheus_client's Metric objects -------------------

def _to_metric(spec, series, label_order=None):
    """A prometheus_client Metric from one family of a snapshot. `label_order`:
    the label names in the order to expose them (default: as stored)."""
    typ, name, documentation, unit, label_names, buckets, states, _ = spec
    metric = _PcMetric(name, documentation, typ, unit)
    created_enabled = getattr(_pc_metrics, "_use_created", True)
    add = metric.add_sample
    if label_order is not None and list(label_order) != list(label_names):
        position = {n: i for i, n in enumerate(label_names)}
        index = [position[n] for n in label_order if n in position]
        index += [i for i, n in enumerate(label_names) if n not in label_order]
        label_names = [label_names[i] for i in index]
    else:
        index = None
    for values, value, count, cumulative, created, exemplar_list in series:
        if index is not None:
            values = [values[i] for i in index]
        labels = dict(zip(label_names, values))
        # {bucket: Exemplar}: a counter's is bucket 0, a histogram's +Inf len(buckets).
        exemplars = {b: _PcExemplar(e_labels, e_value, e_time)
                     for b, e_labels, e_value, e_time in exemplar_list} if exemplar_list else {}
        if typ == "counter":
            add(name + "_total", labels, value, None, exemplars.get(0))
            if created and created_enabled:
                add(name + "_created", labels, created)
        elif typ == "gauge":
            add(name, labels, value)
        elif typ == "histogram":
            for i, (bound, c) in enumerate(zip(buckets, cumulative)):
                add(name + "_bucket", dict(labels, le=_go_float(bound)), c, None, exemplars.get(i))
            add(name + "_bucket", dict(labels, le="+Inf"), count, None, exemplars.get(len(buckets)))
            add(name + "_count", labels, count)
            add(name + "_sum", labels, value)
            if created and created_enabled:
                add(name + "_created", labels, created)
        elif typ == "summary":
            add(name + "_count", labels, count)
            add(name + "_sum", labels, value)
            if created and created_enabled:
                add(name + "_created", labels, created)
        elif typ == "info":
            add(name + "_info", labels, 1.0)
        elif typ == "stateset":
            for i, state in enumerate(states):
                add(name, dict(labels, **{name: state}), 1.0 if value == i else 0.0)
    return metric


def _require_client(what):
    if _pc is None:
        raise ImportError("%s needs prometheus_client (Debian: python3-prometheus-client); without it, "
                          "promsqlite.generate_latest() renders the file" % what)


def _flush_path(path):
    registry = _state.registries.get(path)
    if registry is not None and registry.batched:
        registry.flush()


def _is_path(target):
    return isinstance(target, (str, bytes, os.PathLike))


class FileCollector:
    """Exposes everything in a promsqlite file, whichever process wrote it, as
    prometheus_client's MultiProcessCollector exposes its directory:

        registry = CollectorRegistry()
        promsqlite.FileCollector(registry=registry)   # the current file
        generate_latest(registry)

    The arguments are MultiProcessCollector(registry, path=None)'s, in its
    order. `registry`: registered into it when given. `path`: the file
    (default: the one chosen by set_db() or $PROMSQLITE_DB at each
    collection); the earlier order, FileCollector(path[, registry]), is
    told apart by the types and still works. Like
    MultiProcessCollector, use it in a registry of its own: the metric
    objects of this process are in the file too. Needs prometheus_client.
    """

    def __init__(self, registry=None, path=None):
        _require_client("promsqlite.FileCollector")
        if _is_path(registry) and (path is None or hasattr(path, "register")):
            registry, path = path, registry  # FileCollector(PATH[, registry]): the order before 0.2
        self._path = _file_of(path, "FileCollector(path=...)") if path is not None else None
        if registry is not None:
            registry.register(self)

    def collect(self):
        path = self._path or get_db()
        if path is None:
            raise DatabaseError("no promsqlite file chosen: call promsqlite.set_db(path) or set PROMSQLITE_DB")
        _flush_path(path)
        return [_to_metric(spec, series) for spec, series in _reader(path).snapshot()]

    def describe(self):
        return []  # the families are whatever the file holds at each scrape


def generate_latest(target=None, openmetrics=False, format=None):
    """The exposition, as bytes.

    target None: the current file (set_db() or $PROMSQLITE_DB); a path: that
    file; both rendered by the C++ renderer, without needing
    prometheus_client. A prometheus_client CollectorRegistry:
    prometheus_client's own generate_latest of it (text or OpenMetrics).

    format: "text" (0.0.4, the default; CONTENT_TYPE_LATEST), "openmetrics"
    (1.0.0; OPENMETRICS_CONTENT_TYPE) or "protobuf" (length-delimited
    io.prometheus.client.MetricFamily messages, binary, the only format with
    native histograms; PROTOBUF_CONTENT_TYPE). openmetrics=True is
    format="openmetrics"; given with another format it is a ValueError, and
    so is an unknown format name (the message names the known ones).
    """
    if format is None:
        format = "openmetrics" if openmetrics else "text"
    elif openmetrics and format != "openmetrics":
        raise ValueError("generate_latest: openmetrics=True and format=%r disagree; give one of them" % (format,))
    _core.content_type(format)  # a ValueError naming the formats for an unknown one
    if target is not None and not _is_path(target):
        _require_client("generate_latest(registry)")
        if format == "openmetrics":
            from prometheus_client.openmetrics.exposition import generate_latest as om_generate_latest
            return om_generate_latest(target)
        if format == "protobuf":
            raise ValueError("generate_latest(registry, format='protobuf'): prometheus_client writes text and "
                             "OpenMetrics only; promsqlite.generate_latest(path, format='protobuf') renders a file")
        return _pc.generate_latest(target)
    path = get_db() if target is None else os.path.abspath(os.fsdecode(target))
    if path is None:
        raise DatabaseError("no promsqlite file chosen: call promsqlite.set_db(path) or set PROMSQLITE_DB")
    _flush_path(path)
    return _reader(path).render(format=format)


# --- the metric classes ----------------------------------------------------

def _check_label_names(name, declared, given):
    """The library's message for label names that are not the declared ones."""
    for label in sorted(given):
        if label not in declared:
            raise ValueError("metric '%s': label '%s' is not declared (declared labels: %s)"
                             % (name, label, ", ".join(declared) or "none"))
    for label in declared:
        if label not in given:
            raise ValueError("metric '%s': label '%s' is missing (declared labels: %s)"
                             % (name, label, ", ".join(declared)))


def _check_label_count(name, declared, values):
    if len(values) != len(declared):
        raise ValueError("metric '%s': expects %d label values (%s), got %d"
                         % (name, len(declared), ", ".join(declared) or "none", len(values)))


class _MetricBase:
    _type = None        # as prometheus_client names it: counter, gauge, ...
    # Unlabelled metrics: these methods become the default child's own
    # (C++) methods once bound, so metric.inc() costs what child.inc() does.
    _fast_methods = ()

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, *, ttl=None):
        if _labelvalues is not None:
            raise ValueError("_labelvalues is internal to prometheus_client; use labels()")
        if isinstance(labelnames, (str, bytes)):
            raise ValueError("metric '%s': labelnames must be a sequence of names, not the string %r"
                             % (name, labelnames))
        full_name = ""
        if namespace:
            full_name += namespace + "_"
        if subsystem:
            full_name += subsystem + "_"
        full_name += name
        if unit and self._type in ("info", "stateset"):
            raise ValueError("metric '%s': an %s cannot have a unit" % (full_name, "enum" if self._type == "stateset" else "info"))
        self._labelnames = tuple(str(n) for n in labelnames)
        self._documentation = str(documentation)
        self._unit = str(unit)
        self._ttl = None if ttl is None else _check_ttl(ttl, "metric '%s'" % full_name)
        spec = _core.check_spec(self._type, full_name, self._documentation, self._unit, self._labelnames,
                                self._spec_buckets(), self._spec_states(), self._spec_mode(), self._ttl or 0.0)
        self._name = spec[1]
        self._family = None
        self._generation = -1
        self._children = {}
        self._default = None
        _metrics.add(self)
        if get_db() is not None:
            self._bind()  # declaration errors surface here, as the official client's do
        if registry is not None:
            registry.register(self)

    # What check_spec and declare() take, per type.
    def _spec_buckets(self):
        return []

    def _spec_states(self):
        return []

    def _spec_mode(self):
        return ""

    def _ttl_seconds(self):
        """Its own ttl, else set_db()'s default."""
        return self._ttl if self._ttl is not None else _state.ttl

    def __repr__(self):
        return "%s.%s(%s)" % (type(self).__module__, type(self).__name__, self._name)

    def _bind(self):
        """Declares the family in the current file (again after set_db())."""
        registry = _registry()
        generation = _state.generation
        family = registry.declare(self._type, self._name, self._documentation, self._unit, self._labelnames,
                                  self._spec_buckets(), self._spec_states(), self._spec_mode(), self._ttl_seconds())
        self._children = {}
        self._default = None if self._labelnames else self._make_child(family, ())
        self._family = family
        self._generation = generation
        if self._default is not None:
            for method in self._fast_methods:
                self.__dict__[method] = getattr(self._default, method)
        return family

    def _unbind(self):
        """Makes the next use declare the family again (set_db(), remove(), clear())."""
        self._generation = -1
        for method in self._fast_methods:
            self.__dict__.pop(method, None)

    def _bound(self):
        if self._generation != _state.generation:
            return self._bind()
        return self._family

    def _make_child(self, family, values):
        return family.labels(values)

    def _default_child(self):
        if self._labelnames:
            raise ValueError("metric '%s' has label names (%s): call .labels(...) first"
                             % (self._name, ", ".join(self._labelnames)))
        if self._generation != _state.generation:
            self._bind()
        return self._default

    def labels(self, *labelvalues, **labelkwargs):
        """The child for these label values, by position or by name."""
        if not self._labelnames:
            raise ValueError("metric '%s' has no label names, so it has no labels(); update it directly"
                             % self._name)
        if labelvalues and labelkwargs:
            raise ValueError("metric '%s': labels() takes values by position or by name, not both" % self._name)
        if labelkwargs:
            _check_label_names(self._name, self._labelnames, labelkwargs)
            labelvalues = tuple(str(labelkwargs[n]) for n in self._labelnames)
        else:
            _check_label_count(self._name, self._labelnames, labelvalues)
            labelvalues = tuple(str(v) for v in labelvalues)
        if self._generation != _state.generation:
            self._bind()
        child = self._children.get(labelvalues)
        if child is None:
            if len(self._children) >= self._sweep_at:
                self._sweep_children()
            child = self._children[labelvalues] = self._make_child(self._family, labelvalues)
        return child

    # The labels() cache is bounded under label churn (sessions, jobs,
    # users): once it holds _sweep_at children, those nobody else holds are
    # dropped (a later labels() makes them again, from the family's own
    # bounded cache in the library when they are in use: family.h), and the
    # next mark is twice what is left, at least _CHILD_CACHE_MIN.
    _sweep_at = 1024

    def _sweep_children(self):
        children, kept = self._children, {}
        for key in list(children):
            child = children.pop(key)
            if sys.getrefcount(child) > 2:  # more than `child` and the argument: held elsewhere
                kept[key] = child
        self._children = kept
        self._sweep_at = max(_CHILD_CACHE_MIN, 2 * len(kept))

    def _cached_children(self):
        """Tests: the children labels() caches here, and the library's count for the family."""
        return len(self._children), (self._family.cached_children() if self._family is not None else 0)

    def remove(self, *labelvalues):
        """Removes the series with these label values from the file (for every process)."""
        if not self._labelnames:
            raise ValueError("metric '%s' has no label names, so there is no child to remove" % self._name)
        _check_label_count(self._name, self._labelnames, labelvalues)
        self._bound()
        labelvalues = tuple(str(v) for v in labelvalues)
        self._children.pop(labelvalues, None)  # first: the library then frees its own child too
        _registry().remove_series(self._name, dict(zip(self._labelnames, labelvalues)))
        self._unbind()  # a later labels() creates the series afresh

    def clear(self):
        """Removes every series of this metric from the file (for every process)."""
        self._bound()
        self._children = {}  # first: the library then frees its own children too
        _registry().clear_family(self._name)
        self._unbind()

    def describe(self):
        if _pc is None:
            return []
        return [_PcMetric(self._name, self._documentation, self._type, self._unit)]

    def _label_order(self):
        return self._labelnames

    def collect(self):
        """This metric's family as the file holds it now (all processes' values)."""
        _require_client("collect()")
        registry = _registry()
        self._bound()
        if registry.batched:
            registry.flush()
        families = _reader(registry.path).snapshot([self._name])
        if not families:
            return [_PcMetric(self._name, self._documentation, self._type, self._unit)]
        return [_to_metric(spec, series, self._label_order()) for spec, series in families]


class Counter(_MetricBase):
    """A counter shared by every process: inc() adds to one total in the file."""
    _type = "counter"
    _fast_methods = ("inc",)

    def inc(self, amount=1, exemplar=None):
        """Adds `amount` (>= 0). `exemplar`: a dict of label names to str values
        (e.g. {"trace_id": "..."}) kept in the file with `amount` and the time,
        exposed in OpenMetrics; the latest one per series, whichever process
        wrote it. None or {}: no exemplar. Invalid label names, more than 128
        characters of names and values together, or anything but a dict of
        str to str raise ValueError, and nothing is written."""
        self._default_child().inc(amount, exemplar)

    count_exceptions = _count_exceptions


class Gauge(_MetricBase):
    """A gauge. multiprocess_mode None (the default): one value shared by all
    processes, set() is last-writer-wins and inc()/dec() add atomically, as a
    gauge in Redis was. The official client's modes keep one value per process
    and combine them when read: "all" (a series per process, label pid),
    "sum", "max", "min", "mostrecent", each also "live..." (only processes
    still running count)."""
    _type = "gauge"
    _fast_methods = ("inc", "dec", "set", "set_to_current_time")

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, multiprocess_mode=None, *, ttl=None):
        if multiprocess_mode is not None and multiprocess_mode not in _GAUGE_MODES:
            raise ValueError("metric '%s': invalid multiprocess_mode %r (known: %s)"
                             % (name, multiprocess_mode, ", ".join(_GAUGE_MODES)))
        self._mode = multiprocess_mode or ""
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues,
                         ttl=ttl)

    def _spec_mode(self):
        return self._mode

    def _label_order(self):
        if self._mode in ("all", "liveall"):
            return self._labelnames + ("pid",)
        return self._labelnames

    def inc(self, amount=1):
        self._default_child().inc(amount)

    def dec(self, amount=1):
        self._default_child().dec(amount)

    def set(self, value):
        self._default_child().set(value)

    def set_to_current_time(self):
        self._default_child().set_to_current_time()

    def set_function(self, f):
        """Not supported, and said so (prometheus_client's MultiProcessCollector
        quietly leaves it out): a value computed by `f` exists only in
        this process, while the file is read by others (the server). Raises
        ValueError; call set() where the value changes."""
        raise ValueError("metric '%s': Gauge.set_function is not supported: the value must be in the "
                         "shared file, which other processes read, and a function runs only in this one; "
                         "call set() where the value changes" % self._name)

    time = _gauge_time
    track_inprogress = _track_inprogress


class Histogram(_MetricBase):
    """A histogram: each observation changes its bucket, _sum and _count in
    one transaction. `buckets` default to the Python client's DEFAULT_BUCKETS."""
    _type = "histogram"
    _fast_methods = ("observe",)
    DEFAULT_BUCKETS = DEFAULT_BUCKETS

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, buckets=DEFAULT_BUCKETS, *, ttl=None):
        try:
            bounds = [float(b) for b in buckets]
        except (TypeError, ValueError):
            raise ValueError("metric '%s': buckets must be numbers, got %r" % (name, buckets)) from None
        if not [b for b in bounds if b != INF]:  # the library would take that as "the default buckets"
            raise ValueError("metric '%s': a histogram needs at least one finite bucket bound besides +Inf" % name)
        self._buckets = bounds  # a trailing +Inf is dropped by the library, implied as in prometheus_client
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues,
                         ttl=ttl)

    def _spec_buckets(self):
        return self._buckets

    def observe(self, amount, exemplar=None):
        """Observes `amount`. `exemplar`: as Counter.inc()'s, kept for the bucket
        `amount` falls in (the latest one per bucket, whichever process wrote it)."""
        self._default_child().observe(amount, exemplar)

    time = _observe_time


class Summary(_MetricBase):
    """A summary without quantiles (as the official client's): _count and _sum."""
    _type = "summary"
    _fast_methods = ("observe",)

    def observe(self, amount):
        self._default_child().observe(amount)

    time = _observe_time


class Enum(_MetricBase):
    """An enum (OpenMetrics StateSet): one of `states` is current; a new
    series starts in the first."""
    _type = "stateset"
    _fast_methods = ("state",)

    def __init__(self, name, documentation, labelnames=(), namespace="", subsystem="", unit="",
                 registry=REGISTRY, _labelvalues=None, states=None, *, ttl=None):
        if not states:
            raise ValueError("metric '%s': an Enum needs states=[...]" % name)
        if isinstance(states, (str, bytes)):
            raise ValueError("metric '%s': states must be a sequence of names, not the string %r" % (name, states))
        self._states = [str(s) for s in states]
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry, _labelvalues,
                         ttl=ttl)

    def _spec_states(self):
        return self._states

    def state(self, state):
        self._default_child().state(state)


class _InfoChild:
    """One label tuple of an Info metric."""

    def __init__(self, metric, labelvalues):
        self._metric = metric
        self._labelvalues = labelvalues

    def info(self, val):
        self._metric._set_info(self._labelvalues, val)

    labels = _child_labels

    def __repr__(self):
        return "<promsqlite Info child %s%r>" % (self._metric._name, self._labelvalues)


class Info(_MetricBase):
    """An info metric: info({key: value}) replaces this child's key/value
    labels. The keys become label names of the family in the file. Without
    label names, info() may change the keys (the family is declared anew
    with them) and a metric never set shows name_info 1 without labels, as
    in prometheus_client. With label names, every info() of the family (in
    every process) must use the same keys."""
    _type = "info"
    _info_keys = None  # the info() keys this process declared, sorted

    def _make_child(self, family, values):
        return _InfoChild(self, values)

    def _bind(self):
        # The family's label names include the info keys, known at info().
        registry = _registry()  # a file must be chosen
        self._children = {}
        self._default = None if self._labelnames else _InfoChild(self, ())
        self._info_keys = None
        self._family = None
        self._generation = _state.generation
        if not self._labelnames and not _reader(registry.path).snapshot([self._name]):
            # Never set anywhere: name_info 1 without labels, until an info().
            try:
                self._declare(registry, (), replace=False).labels_by_name({})
            except DeclarationConflict:
                pass  # another process declared it meanwhile: its info stands
        return None

    def _declare(self, registry, names, replace=True):
        """The family with label names `names`. Unlabelled and with `replace`,
        a family stored with other info keys is replaced (info() replaces the
        value there); the file's declaration is never replaced by an Info that
        was not set."""
        for attempt in range(4):
            try:
                return registry.declare("info", self._name, self._documentation, "", names, [], [], "",
                                        self._ttl_seconds())
            except DeclarationConflict:
                if (attempt == 3 or not replace or self._labelnames
                        or not self._stored_with_other_keys(registry, names)):
                    raise
                registry.remove_family(self._name)  # another process may race us: try again

    def _stored_with_other_keys(self, registry, names):
        for spec, _ in _reader(registry.path).snapshot([self._name]):
            typ, _, documentation, unit, stored_names = spec[:5]
            return (typ == "info" and tuple(sorted(stored_names)) != tuple(sorted(names)) and not unit
                    and documentation in ("", self._documentation))
        return False

    def info(self, val):
        self._default_child().info(val)

    def _set_info(self, labelvalues, val):
        if not hasattr(val, "items"):
            raise ValueError("metric '%s': info() takes a dict of label names to values" % self._name)
        val = {str(k): str(v) for k, v in val.items()}
        overlap = set(val) & set(self._labelnames)
        if overlap:
            raise ValueError("metric '%s': info keys %s are also label names" % (self._name, ", ".join(sorted(overlap))))
        keys = tuple(sorted(val))
        if self._labelnames and self._info_keys is not None and keys != self._info_keys:
            raise ValueError("metric '%s': info keys (%s) differ from the ones used before (%s); "
                             "every info() of a family must use the same keys"
                             % (self._name, ", ".join(keys) or "none", ", ".join(self._info_keys) or "none"))
        registry = _registry()
        names = self._labelnames + keys
        # Declared anew each time: the fresh family handle creates the series in
        # the file even when this process had created (and removed) it before.
        family = self._declare(registry, names)
        self._info_keys = keys
        mine = dict(zip(self._labelnames, labelvalues))
        wanted = dict(mine, **val)
        # Replace what any process set for these label values before.
        for spec, series in _reader(registry.path).snapshot([self._name]):
            stored = spec[4]
            for values in (s[0] for s in series):
                labels = dict(zip(stored, values))
                if labels != wanted and all(labels.get(k) == v for k, v in mine.items()):
                    registry.remove_series(self._name, labels)
        family.labels_by_name(wanted)

    def _label_order(self):
        return self._labelnames + (self._info_keys or ())

    def remove(self, *labelvalues):
        if not self._labelnames:
            raise ValueError("metric '%s' has no label names, so there is no child to remove" % self._name)
        _check_label_count(self._name, self._labelnames, labelvalues)
        mine = dict(zip(self._labelnames, (str(v) for v in labelvalues)))
        registry = _registry()
        for spec, series in _reader(registry.path).snapshot([self._name]):
            for values in (s[0] for s in series):
                labels = dict(zip(spec[4], values))
                if all(labels.get(k) == v for k, v in mine.items()):
                    registry.remove_series(self._name, labels)
        self._children.pop(tuple(mine.values()), None)  # pure Python children: nothing of the library's

    def clear(self):
        registry = _registry()
        registry.clear_family(self._name)
        self._children = {}

    def collect(self):
        _require_client("collect()")
        registry = _registry()
        self._bound()
        families = _reader(registry.path).snapshot([self._name])
        if not families:
            return [_PcMetric(self._name, self._documentation, self._type, self._unit)]
        return [_to_metric(spec, series, self._label_order()) for spec, series in families]

