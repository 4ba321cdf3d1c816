#!/usr/bin/python3
"""python3-prometheus-client in multiprocess mode, for comparison.

  python_multiprocess.py inc --dir DIR [--seconds S] [--repeats N]
  python_multiprocess.py collect-after --dir DIR [--processes N] [--repeats N]

Prints "key: value" lines for bench/run and "# ..." notes, like
promsqlite-bench. DIR must be empty; PROMETHEUS_MULTIPROC_DIR is set to
subfolders of it before prometheus_client is imported.
"""
import argparse
import os
import statistics
import sys
import time

SERIES = 50  # as in promsqlite-bench render-after-writers


def note(text):
    print("# " + text, flush=True)


def report(key, value):
    print("%s: %.6g" % (key, value), flush=True)


def multiproc_dir(base, name):
    path = os.path.join(base, name)
    os.makedirs(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def bench_inc(args):
    multiproc_dir(args.dir, "inc")
    from prometheus_client import Counter
    counter = Counter("bench_requests", "Requests.", ["method", "code"])
    child = counter.labels("GET", "200")  # held, as the C++ benchmarks hold theirs
    inc = child.inc

    def ns_per_inc(seconds):
        calls, start = 0, time.perf_counter()
        while True:
            for _ in range(1000):
                inc()
            calls += 1000
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return elapsed / calls * 1e9

    ns_per_inc(args.seconds / 4)  # warm-up
    repeats = [ns_per_inc(args.seconds) for _ in range(args.repeats)]
    note("python_multiprocess_inc_ns repeats: " + " ".join("%.4g" % r for r in repeats))
    report("python_multiprocess_inc_ns", statistics.median(repeats))


def write_with(processes, path):
    """`processes` short-lived children each increment the same SERIES series."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    from prometheus_client import Counter
    counter = Counter("bench_tasks_%d" % processes, "Tasks by path.", ["method", "path"])
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for i in range(SERIES):
                    counter.labels("GET", "/api/v1/items/%d" % i).inc()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            sys.exit("a python writer failed")


def collect_ms(path, repeats):
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    times = []
    for _ in range(repeats + 1):  # the first is a warm-up
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        start = time.perf_counter()
        generate_latest(registry)
        times.append((time.perf_counter() - start) * 1e3)
    return times[1:]


def bench_collect_after(args):
    one = multiproc_dir(args.dir, "after_1")
    many = multiproc_dir(args.dir, "after_many")
    start = time.perf_counter()
    write_with(1, one)
    write_with(args.processes, many)
    note("python collect-after: %d short-lived writers took %.2f s and left %d files"
         % (args.processes, time.perf_counter() - start, len(os.listdir(many))))
    after_one = collect_ms(one, args.repeats)
    after_many = collect_ms(many, args.repeats)
    note("python_multiprocess_collect_after_1_ms repeats: " + " ".join("%.4g" % r for r in after_one))
    note("python_multiprocess_collect_after_many_ms repeats: " + " ".join("%.4g" % r for r in after_many))
    report("python_multiprocess_collect_after_1_ms", statistics.median(after_one))
    report("python_multiprocess_collect_after_many_ms", statistics.median(after_many))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["inc", "collect-after"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2000)
    args = parser.parse_args()
    bench_inc(args) if args.command == "inc" else bench_collect_after(args)


if __name__ == "__main__":
    main()
