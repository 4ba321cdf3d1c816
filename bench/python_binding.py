#!/usr/bin/python3
"""The Python package (python/promsqlite): Counter .inc() on a held child.

  python_binding.py inc --dir DIR [--seconds S] [--repeats N]

Prints "key: value" lines for bench/run and "# ..." notes, like
promsqlite-bench: python_binding_inc_ns_immediate (each inc() one
transaction, as Counter::Increment in immediate mode),
python_binding_inc_ns_batched (write_mode="batched" with the default
pending_store, "shared_file": pending updates in a shared region; default
1 s flush interval, so the flusher runs meanwhile) and
python_binding_inc_ns_batched_process_memory (the same with
pending_store="process_memory", the path before regions), with
python_binding_shared_vs_process_memory_ratio (median of the per-repeat
ratios). The three run interleaved.
Needs the package built (PYTHONPATH=build/python, set by bench/run).
"""
import argparse
import os
import statistics
import time

import promsqlite


def note(text):
    print("# " + text, flush=True)


def report(key, value):
    print("%s: %.6g" % (key, value), flush=True)


def held_child(path, write_mode, **options):
    promsqlite.set_db(path, write_mode=write_mode, **options)
    counter = promsqlite.Counter("bench_requests", "Requests.", ["method", "code"], registry=None)
    return counter.labels("GET", "200")  # held, as the C++ and prometheus_client benchmarks hold theirs


def ns_per_inc(inc, seconds, batch):
    """Calls inc() in batches of `batch` until `seconds` have passed."""
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(batch):
            inc()
        calls += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / calls * 1e9


def bench_inc(args):
    os.makedirs(args.dir, exist_ok=True)
    immediate = held_child(os.path.join(args.dir, "immediate.db"), "immediate")
    batched = held_child(os.path.join(args.dir, "batched.db"), "batched")  # the default store: shared regions
    in_memory = held_child(os.path.join(args.dir, "batched_process_memory.db"), "batched",
                           pending_store="process_memory")
    # An immediate inc() is one transaction (tens of microseconds): fewer
    # calls per look at the clock.
    immediate_inc, batched_inc, in_memory_inc = immediate.inc, batched.inc, in_memory.inc
    ns_per_inc(immediate_inc, args.seconds / 4, 64)  # warm-up
    ns_per_inc(batched_inc, args.seconds / 4, 1000)
    ns_per_inc(in_memory_inc, args.seconds / 4, 1000)
    immediates, batcheds, in_memories = [], [], []
    for _ in range(args.repeats):
        immediates.append(ns_per_inc(immediate_inc, args.seconds, 64))
        batcheds.append(ns_per_inc(batched_inc, args.seconds, 1000))
        in_memories.append(ns_per_inc(in_memory_inc, args.seconds, 1000))
    note("python_binding_inc_ns_immediate repeats: " + " ".join("%.4g" % r for r in immediates))
    note("python_binding_inc_ns_batched repeats: " + " ".join("%.4g" % r for r in batcheds))
    note("python_binding_inc_ns_batched_process_memory repeats: " + " ".join("%.4g" % r for r in in_memories))
    promsqlite.flush()
    note("python binding: %d immediate, %d batched (shared regions) and %d batched (process memory) increments "
         "in the files" % (immediate.get(), batched.get(), in_memory.get()))
    report("python_binding_inc_ns_immediate", statistics.median(immediates))
    report("python_binding_inc_ns_batched", statistics.median(batcheds))
    report("python_binding_inc_ns_batched_process_memory", statistics.median(in_memories))
    report("python_binding_shared_vs_process_memory_ratio",
           statistics.median(b / m for b, m in zip(batcheds, in_memories)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["inc"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench_inc(args)


if __name__ == "__main__":
    main()
