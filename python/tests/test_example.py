"""The migration story: prometheus-distributed-client's README usage, with
only the import and the connection line changed, served by
prometheus_client's generate_latest, checked by ../shared/tools/check-exposition
and the official parser, and compared with what prometheus_client itself
produces for the same operations.

The original README could not be fetched here (no network); EXAMPLE is
written in its style: metrics declared with prometheus_client's signatures
and registry=REGISTRY at import time, the connection chosen once, updates
from any process, and generate_latest(REGISTRY) serving them.
"""
import re

from conftest import check_exposition, run_python, samples, without_created

EXAMPLE = """
from prometheus_client import CollectorRegistry, generate_latest
from promsqlite import set_db, Counter, Gauge, Histogram, Summary   # was: from prometheus_distributed_client import set_redis_conn, ...

REGISTRY = CollectorRegistry()

set_db(DB_PATH)                                                       # was: set_redis_conn(host='localhost', port=6379, db=0)

COUNTER = Counter('shared_counter', 'Counts something', ['kind'], registry=REGISTRY)
GAUGE = Gauge('shared_gauge', 'Measures something', registry=REGISTRY)
HISTOGRAM = Histogram('shared_histogram', 'Distribution of something', ['kind'],
                      buckets=[1, 5, 10], registry=REGISTRY)
SUMMARY = Summary('shared_summary', 'Summarises something', registry=REGISTRY)

if DO_UPDATES:
    COUNTER.labels('a').inc()
    COUNTER.labels(kind='b').inc(2)
    GAUGE.set(4)
    GAUGE.dec()
    HISTOGRAM.labels('a').observe(3)
    HISTOGRAM.labels('a').observe(7)
    SUMMARY.observe(12.5)

import sys
sys.stdout.write(generate_latest(REGISTRY).decode())
"""

# The same program on prometheus_client alone (in memory), for comparison.
OFFICIAL = EXAMPLE.replace("from promsqlite import set_db, Counter", "from prometheus_client import Counter") \
                  .replace("set_db(DB_PATH)", "pass")


def run_example(db_path, do_updates=True, official=False):
    code = "DB_PATH = %r\nDO_UPDATES = %r\n" % (db_path, do_updates) + (OFFICIAL if official else EXAMPLE)
    return run_python(code).stdout.encode()


def mask_created(body):
    return re.sub(rb"(_created(\{[^}]*\})?) \S+", rb"\1 T", body)


def test_the_example_serves_every_process_s_updates_with_exact_values(tmp_path):
    db_path = str(tmp_path / "example.db")
    run_example(db_path)
    run_example(db_path)
    body = run_example(db_path, do_updates=False)  # a process that only serves
    check_exposition(body)
    got = without_created(samples(body))
    assert got == {
        ("shared_counter_total", (("kind", "a"),)): 2.0,
        ("shared_counter_total", (("kind", "b"),)): 4.0,
        ("shared_gauge", ()): 3.0,  # set(4) is last-writer-wins, then dec() adds -1
        ("shared_histogram_bucket", (("kind", "a"), ("le", "1.0"))): 0.0,
        ("shared_histogram_bucket", (("kind", "a"), ("le", "5.0"))): 2.0,
        ("shared_histogram_bucket", (("kind", "a"), ("le", "10.0"))): 4.0,
        ("shared_histogram_bucket", (("kind", "a"), ("le", "+Inf"))): 4.0,
        ("shared_histogram_count", (("kind", "a"),)): 4.0,
        ("shared_histogram_sum", (("kind", "a"),)): 20.0,
        ("shared_summary_count", ()): 2.0,
        ("shared_summary_sum", ()): 25.0,
    }
    created = {k for k in samples(body) if k[0].endswith("_created")}
    assert created == {("shared_counter_created", (("kind", "a"),)), ("shared_counter_created", (("kind", "b"),)),
                       ("shared_histogram_created", (("kind", "a"),)), ("shared_summary_created", ())}


def test_one_process_s_exposition_is_byte_for_byte_what_prometheus_client_writes(tmp_path):
    ours = run_example(str(tmp_path / "one.db"))
    theirs = run_example(None, official=True)
    assert mask_created(ours) == mask_created(theirs)


def test_the_gauge_after_one_process_is_what_prometheus_client_shows(tmp_path):
    body = run_example(str(tmp_path / "g.db"))
    assert samples(body)[("shared_gauge", ())] == 3.0
