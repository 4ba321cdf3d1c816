"""The workload every kind of writer runs on one file in test_foreign_writer.py: the Python reference
writer (python_worker.py), the C++ library (cpp_writer.cc mirrors it) and the promsqlite CLI (cli_loop).
Iteration i of any writer changes every shared family the same way, so the totals follow from the
numbers of iterations alone."""
import reference_writer as rw

HELP = "Written by every kind of writer."
# Classic observations: on a bound (0.005), between bounds, above the last one (+Inf bucket only).
VALUES = (0.003, 0.005, 0.3, 1.0, 2.0, 7.5, 42.0)
# Native observations: zero, below the zero threshold, powers of two (upper bounds), negatives, spread
# wide enough that fw_spread (4 buckets at most) lowers its resolution.
NATIVE = (0.0, 1e-40, 1.0, 2.0, 0.5, 1.5, 2 ** 0.375, 3.0, -0.25, -1.0, 100.0, 0.001, 7.0)
STATES = ("idle", "busy")


def families():
    """The declarations, as the Python writer makes them (the others declare the same)."""
    F = rw.Family
    return {
        "jobs": F("counter", "fw_jobs_total", HELP, labels=("queue",)),
        "level": F("gauge", "fw_level", HELP),
        "inflight": F("gauge", "fw_inflight", HELP),
        "seconds": F("histogram", "fw_seconds", HELP),  # the default buckets
        "native": F("histogram", "fw_native_seconds", HELP, native_factor=1.1),  # the native defaults
        "spread": F("histogram", "fw_spread", HELP, native_factor=1.1, native_max_buckets=4),
        "latency": F("summary", "fw_latency", HELP),
        "workers": F("gauge", "fw_workers", HELP, gauge_mode="sum"),
        "build": F("info", "fw_build", HELP, labels=("version",)),
        "state": F("stateset", "fw_state", HELP, states=STATES),
    }


def queue(i):
    return "q%d" % (i % 2)


def cli_loop(iterations):
    """A shell script of `iterations` iterations through the promsqlite CLI ($CLI, file $DB): the
    same changes as the others', the CLI's way (it has no summaries, per-process gauges nor infos
    here)."""
    return """
values=(%s); native=(%s)
for ((i = 0; i < %d; i++)); do
  v=${values[i %% %d]}; n=${native[i %% %d]}
  "$CLI" --db "$DB" inc fw_jobs_total --label queue=q$((i %% 2)) &&
  "$CLI" --db "$DB" add fw_level 2 &&
  "$CLI" --db "$DB" add fw_inflight 1 &&
  "$CLI" --db "$DB" observe fw_seconds "$v" &&
  "$CLI" --db "$DB" observe fw_native_seconds "$n" --native-factor 1.1 &&
  "$CLI" --db "$DB" observe fw_spread "$n" --native-factor 1.1 --native-max-buckets 4 &&
  "$CLI" --db "$DB" state fw_state "$( [ $((i %% 2)) = 1 ] && echo busy || echo idle )" --states idle,busy &&
  "$CLI" --db "$DB" add fw_inflight -1 || exit 1
done
""" % (" ".join(map(repr, VALUES)), " ".join(map(repr, NATIVE)), iterations, len(VALUES), len(NATIVE))


def expected(iterations_per_writer, without_summary=()):
    """The totals after writers with these numbers of iterations ran; `without_summary` lists the
    indexes of writers that do not write fw_latency, fw_workers and fw_build (the CLI loops)."""
    total = sum(iterations_per_writer)
    full = [n for k, n in enumerate(iterations_per_writer) if k not in without_summary]
    observed = [VALUES[i % len(VALUES)] for n in iterations_per_writer for i in range(n)]
    native = [NATIVE[i % len(NATIVE)] for n in iterations_per_writer for i in range(n)]
    return {
        "jobs": {"q0": sum((n + 1) // 2 for n in iterations_per_writer),
                 "q1": sum(n // 2 for n in iterations_per_writer)},
        "level": 2.0 * total,
        "inflight": 0.0,
        "seconds": observed,
        "native": native,
        "latency_count": sum(full),
        "workers": float(len(full)),
    }


def native_buckets_at(values, schema, zero_threshold=rw.DEFAULT_NATIVE_ZERO_THRESHOLD):
    """{(sign, index): count} of `values` at `schema` (infinities have no bucket)."""
    out = {}
    for v in values:
        key = rw.native_bucket(v, schema, zero_threshold)
        if key is not None:
            out[key] = out.get(key, 0) + 1
    return out


def final_schema(values, schema, max_buckets):
    """The schema a series observing `values` ends at: the highest from `schema` down at which its
    non-zero buckets fit into max_buckets, or -4."""
    while schema > rw.MIN_NATIVE_SCHEMA:
        buckets = native_buckets_at(values, schema)
        if sum(1 for sign, _ in buckets if sign != 0) <= max_buckets:
            break
        schema -= 1
    return schema

