"""Bounded memory under label churn (issue 30): labels() children and the
library's children are evicted when nobody holds them; values stay exact."""
import gc

import prometheus_client
import pytest

import promsqlite
from conftest import samples


def churn(metric, n, update):
    """n children, each updated once and dropped; a flush every 500 (as the
    background flusher does every interval: evicted children that still
    have updates pending are kept until flushed)."""
    for i in range(n):
        update(metric.labels("s%d" % i))
        if i % 500 == 499:
            promsqlite.flush()


def test_labels_cache_stays_bounded_over_many_short_lived_children_and_every_value_is_exact(db, registry):
    c = promsqlite.Counter("sessions_requests", "Requests.", ["session"], registry=registry)
    g = promsqlite.Gauge("sessions_open", "Open.", ["session"], registry=registry)
    h = promsqlite.Histogram("sessions_seconds", "Latency.", ["session"], buckets=[0.5, 1], registry=registry)
    n = 6000
    churn(c, n, lambda child: child.inc(2))
    churn(g, n, lambda child: child.set(7))
    churn(h, n, lambda child: child.observe(0.7))
    gc.collect()
    for metric in (c, g, h):
        python_cache, library_cache = metric._cached_children()
        assert python_cache <= 2 * promsqlite._CHILD_CACHE_MIN, python_cache
        assert library_cache <= 4 * promsqlite._CHILD_CACHE_MIN, library_cache
    promsqlite.flush()
    got = samples(prometheus_client.generate_latest(registry))
    for i in range(n):
        s = (("session", "s%d" % i),)
        assert got[("sessions_requests_total", s)] == 2
        assert got[("sessions_open", s)] == 7
        assert got[("sessions_seconds_count", s)] == 1
        assert got[("sessions_seconds_bucket", (("le", "1.0"),) + s)] == 1


def test_a_child_held_across_sweeps_keeps_counting_in_its_one_series(db, registry):
    c = promsqlite.Counter("held_requests", "Requests.", ["session"], registry=registry)
    held = c.labels("kept")
    held.inc()
    churn(c, 5000, lambda child: child.inc())
    held.inc(2)
    assert c.labels("kept") is held
    promsqlite.flush()
    got = samples(prometheus_client.generate_latest(registry))
    assert got[("held_requests_total", (("session", "kept"),))] == 3


@pytest.mark.parametrize("how", ["remove", "clear"])
def test_remove_and_clear_free_the_children_they_remove(db, registry, how):
    c = promsqlite.Counter("freed_requests", "Requests.", ["session"], registry=registry)
    for v in ("a", "b"):
        c.labels(v).inc()
    assert c._cached_children() == (2, 2)
    if how == "remove":
        c.remove("a")
        assert c._cached_children() == (1, 1)
    else:
        c.clear()
        assert c._cached_children() == (0, 0)
    c.labels("a").inc(5)  # made afresh: only this update
    promsqlite.flush()
    assert samples(prometheus_client.generate_latest(registry))[("freed_requests_total", (("session", "a"),))] == 5
