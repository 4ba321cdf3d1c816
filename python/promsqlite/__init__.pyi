# Type stubs of the package promsqlite (PEP 561: py.typed beside them), for
# mypy and IDEs. prometheus_client is optional at run time; without it (or
# without its types) its classes here are Any to a type checker.
import os
import sqlite3
from types import TracebackType
from typing import Any, Callable, Iterable, Literal, Mapping, NoReturn, Sequence, TypeVar, Union

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from ._promsqlite import CounterChild, DatabaseError as DatabaseError, DeclarationConflict as DeclarationConflict
from ._promsqlite import EnumChild, GaugeChild, HistogramChild, SummaryChild

__all__ = [
    "CONTENT_TYPE_LATEST", "OPENMETRICS_CONTENT_TYPE", "Counter", "DEFAULT_BUCKETS", "DatabaseError", "DeclarationConflict", "Enum",
    "FileCollector", "Gauge", "Histogram", "Info", "PROTOBUF_CONTENT_TYPE", "REGISTRY", "Summary", "flush",
    "generate_latest", "get_db", "housekeep", "remove_family", "set_db", "setup", "waiting_for_lock",
]

__version__: str

DEFAULT_BUCKETS: tuple[float, ...]
CONTENT_TYPE_LATEST: str
OPENMETRICS_CONTENT_TYPE: str
PROTOBUF_CONTENT_TYPE: str
# prometheus_client's default registry; None without prometheus_client.
REGISTRY: CollectorRegistry | None

_Path = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
# A file's path, or a sqlite3.Connection to a file (its file is used).
_Database = Union[_Path, sqlite3.Connection]
_Exemplar = Union[dict[str, str], None]
_ExceptionTypes = Union[type[BaseException], tuple[type[BaseException], ...]]
# generate_latest's formats, the C++ library's names (promsqlite::FormatName).
_Format = Literal["text", "openmetrics", "protobuf"]
_GaugeMode = Literal["all", "liveall", "sum", "livesum", "max", "livemax", "min", "livemin", "mostrecent",
                     "livemostrecent"]
# Decorators return the function with its own signature.
_F = TypeVar("_F", bound=Callable[..., Any])

# set_db()'s and setup()'s options, named like the C++ library's Options.
def set_db(
    path: _Database,
    *,
    ttl: float | None = None,
    write_mode: Literal["immediate", "batched"] = ...,
    pending_store: Literal["shared_file", "process_memory"] = ...,
    immediate_outside_regions: bool = ...,
    flush_interval_ms: int = ...,
    synchronous: Literal["normal", "full"] = ...,
    busy_timeout_ms: int = ...,
    create_if_missing: bool = ...,
    checkpoint_wal_pages: int = ...,
    housekeeping_interval_ms: int = ...,
    checkpoint_busy_timeout_ms: int = ...,
    file_mode: int = ...,
    page_size: int = ...,
    update_lock_wait_ms: int = ...,
) -> None: ...
def setup(
    redis: None = None,
    sqlite: _Database | None = None,
    redis_prefix: None = None,
    redis_expire: None = None,
    *,
    ttl: float | None = None,
    write_mode: Literal["immediate", "batched"] = ...,
    pending_store: Literal["shared_file", "process_memory"] = ...,
    immediate_outside_regions: bool = ...,
    flush_interval_ms: int = ...,
    synchronous: Literal["normal", "full"] = ...,
    busy_timeout_ms: int = ...,
    create_if_missing: bool = ...,
    checkpoint_wal_pages: int = ...,
    housekeeping_interval_ms: int = ...,
    checkpoint_busy_timeout_ms: int = ...,
    file_mode: int = ...,
    page_size: int = ...,
    update_lock_wait_ms: int = ...,
) -> None: ...
def get_db() -> str | None: ...
def flush() -> None: ...
def waiting_for_lock() -> Mapping[str, float]: ...
def remove_family(name: str) -> bool: ...
def housekeep() -> dict[str, int]:
    """What one housekeeping pass deleted: {"expired_series": n, ...}."""
def generate_latest(target: _Path | CollectorRegistry | None = None, openmetrics: bool = False,
                    format: _Format | None = None) -> bytes: ...

class _Timer:
    """time(): a context manager and a decorator."""
    def __enter__(self) -> _Timer: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]: ...
    def labels(self, *labelvalues: object, **labelkwargs: object) -> None: ...
    def __call__(self, f: _F) -> _F: ...

class _ExceptionCounter:
    """count_exceptions(): a context manager and a decorator."""
    def __enter__(self) -> None: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]: ...
    def __call__(self, f: _F) -> _F: ...

class _InprogressTracker:
    """track_inprogress(): a context manager and a decorator."""
    def __enter__(self) -> None: ...
    def __exit__(self, typ: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> Literal[False]: ...
    def __call__(self, f: _F) -> _F: ...

class FileCollector:
    def __init__(self, registry: CollectorRegistry | _Path | None = None, path: _Path | None = None) -> None: ...
    def collect(self) -> list[Metric]: ...
    def describe(self) -> list[Metric]: ...

class _MetricBase:
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = ...,
        _labelvalues: None = None,
        *,
        ttl: float | None = None,
    ) -> None: ...
    def remove(self, *labelvalues: object) -> None: ...
    def clear(self) -> None: ...
    def describe(self) -> list[Metric]: ...
    def collect(self) -> list[Metric]: ...

class Counter(_MetricBase):
    def labels(self, *labelvalues: object, **labelkwargs: object) -> CounterChild: ...
    def inc(self, amount: float = 1, exemplar: _Exemplar = None) -> None: ...
    def count_exceptions(self, exception: _ExceptionTypes = ...) -> _ExceptionCounter: ...

class Gauge(_MetricBase):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = ...,
        _labelvalues: None = None,
        multiprocess_mode: _GaugeMode | None = None,
        *,
        ttl: float | None = None,
    ) -> None: ...
    def labels(self, *labelvalues: object, **labelkwargs: object) -> GaugeChild: ...
    def inc(self, amount: float = 1) -> None: ...
    def dec(self, amount: float = 1) -> None: ...
    def set(self, value: float) -> None: ...
    def set_to_current_time(self) -> None: ...
    def set_function(self, f: Callable[[], float]) -> NoReturn:
        """Not supported: raises ValueError (call set() where the value changes)."""
    def time(self) -> _Timer: ...
    def track_inprogress(self) -> _InprogressTracker: ...

class Histogram(_MetricBase):
    DEFAULT_BUCKETS: tuple[float, ...]
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = ...,
        _labelvalues: None = None,
        buckets: Iterable[float] = ...,
        *,
        ttl: float | None = None,
    ) -> None: ...
    def labels(self, *labelvalues: object, **labelkwargs: object) -> HistogramChild: ...
    def observe(self, amount: float, exemplar: _Exemplar = None) -> None: ...
    def time(self) -> _Timer: ...

class Summary(_MetricBase):
    def labels(self, *labelvalues: object, **labelkwargs: object) -> SummaryChild: ...
    def observe(self, amount: float) -> None: ...
    def time(self) -> _Timer: ...

class Enum(_MetricBase):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = ...,
        _labelvalues: None = None,
        states: Sequence[str] = ...,  # required: without states, ValueError
        *,
        ttl: float | None = None,
    ) -> None: ...
    def labels(self, *labelvalues: object, **labelkwargs: object) -> EnumChild: ...
    def state(self, state: str) -> None: ...

class _InfoChild:
    """An Info's series (Info.labels(...))."""
    def info(self, val: Mapping[str, str]) -> None: ...

class Info(_MetricBase):
    def labels(self, *labelvalues: object, **labelkwargs: object) -> _InfoChild: ...
    def info(self, val: Mapping[str, str]) -> None: ...
