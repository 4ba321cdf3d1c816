"""A program on promsqlite's public names that `mypy --strict` accepts
through the package's stubs (test_typing.py; test_wheel.py with the
installed wheel), and that runs: `python3 typed_example.py DB_PATH` writes
to DB_PATH and prints the file's exposition."""
import asyncio
import contextlib
import sqlite3
import sys
from typing import Dict, List, Optional, Tuple

import promsqlite
from promsqlite import (CONTENT_TYPE_LATEST, DEFAULT_BUCKETS, OPENMETRICS_CONTENT_TYPE, PROTOBUF_CONTENT_TYPE,
                        REGISTRY, Counter, DatabaseError, DeclarationConflict, Enum, FileCollector, Gauge, Histogram,
                        Info, Summary, flush, generate_latest, get_db, set_db, setup)

JOBS = Counter("jobs", "Jobs run.", ["queue"], registry=None)
ERRORS = Counter("job_errors", "Jobs that failed.", registry=None, ttl=3600)
IN_FLIGHT = Gauge("jobs_in_flight", "Jobs running.", registry=None, multiprocess_mode="livesum")
LAST_RUN = Gauge("last_run_seconds", "Duration of the last batch.", registry=None)
LATENCY = Histogram("job_seconds", "Job latency.", ["queue"], buckets=[0.1, 1, 10], registry=None)
SIZES = Summary("payload_bytes", "Payload sizes.", registry=None, ttl=60.5)
BUILD = Info("build", "The build.", registry=None)
PHASE = Enum("phase", "The worker's phase.", states=["idle", "running"], registry=None)


@IN_FLIGHT.track_inprogress()
@ERRORS.count_exceptions(ValueError)
def parse(text: str, base: int = 10) -> int:
    return int(text, base)


@LAST_RUN.time()
async def batch(n: int) -> List[int]:
    await asyncio.sleep(0)
    return [parse(str(i)) for i in range(n)]


def main(path: str) -> None:
    set_db(path, write_mode="immediate", busy_timeout_ms=5000, file_mode=0o640)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        setup(sqlite=connection, ttl=None)  # the same file, as prometheus-distributed-client's setup()
    db: Optional[str] = get_db()
    assert db is not None
    PHASE.state("running")
    BUILD.info({"version": promsqlite.__version__})
    JOBS.labels("fast").inc()
    JOBS.labels(queue="slow").inc(2, exemplar={"trace_id": "abc"})
    value: int = parse("ff", base=16)
    try:
        parse("not a number")
    except ValueError:
        value += 1
    done: List[int] = asyncio.run(batch(3))
    with LATENCY.time() as timer:
        timer.labels(queue="fast")  # the child is known inside the block
    LATENCY.labels("slow").observe(2.5)
    counts: Tuple[List[float], float, float] = LATENCY.labels("slow").get()
    SIZES.observe(512)
    try:
        Counter("jobs", "Jobs run.", ["other"], registry=None)
    except DeclarationConflict as e:
        conflict: ValueError = e
    try:
        set_db(path + ".missing", create_if_missing=False)
    except DatabaseError as e:
        error: OSError = e
    set_db(path)
    flush()
    samples: Dict[str, float] = {}
    if REGISTRY is not None:  # prometheus_client is optional
        from prometheus_client import CollectorRegistry
        registry = CollectorRegistry()
        FileCollector(registry, path=path)
        for metric in registry.collect():
            for sample in metric.samples:
                samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    sys.stdout.write("value %d done %d slow_count %d conflict %s error %s jobs %s buckets %d %s %s\n" % (
        value, len(done), counts[2], type(conflict).__name__, type(error).__name__,
        samples.get("jobs_total"), len(DEFAULT_BUCKETS), CONTENT_TYPE_LATEST, OPENMETRICS_CONTENT_TYPE))
    protobuf: bytes = generate_latest(path, format="protobuf")  # as Prometheus with native histograms scrapes
    sys.stdout.write("protobuf %d bytes, %s\n" % (len(protobuf), PROTOBUF_CONTENT_TYPE))
    sys.stdout.write(generate_latest(path).decode())


if __name__ == "__main__":
    main(sys.argv[1])
