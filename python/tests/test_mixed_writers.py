"""One file written at once by Python processes, C++ processes (the library)
and the promsqlite CLI: exact totals in one family when the declarations
agree, a clear error from each side when they do not."""
import os
import subprocess
import sys
import textwrap

import pytest

import promsqlite
from conftest import check_exposition, families, samples

CLI = os.environ.get("PROMSQLITE_CLI", "promsqlite")
CPP_WRITER = os.environ.get("PROMSQLITE_MIXED_WRITER", "mixed_writer")
PYTHON_BUCKETS = ",".join("%g" % b for b in promsqlite.DEFAULT_BUCKETS[:-1])

PYTHON_WRITER = """
import sys
import promsqlite
promsqlite.set_db(sys.argv[1], write_mode=sys.argv[3])
jobs = promsqlite.Counter("mixed_jobs", "Jobs processed.", ["queue"])
seconds = promsqlite.Histogram("mixed_seconds", "Job time.")     # the Python client's default buckets
inflight = promsqlite.Gauge("mixed_inflight", "Jobs in flight.")
fast = jobs.labels(queue="fast")
for _ in range(int(sys.argv[2])):
    with inflight.track_inprogress():
        fast.inc()
        seconds.observe(0.3)
"""

CLI_WRITER = """
for i in $(seq "$2"); do
  "$CLI" --db "$1" add mixed_inflight 1 --help "Jobs in flight." &&
  "$CLI" --db "$1" inc mixed_jobs --label queue=fast --help "Jobs processed." &&
  "$CLI" --db "$1" observe mixed_seconds 0.3 --buckets "$BUCKETS" --help "Job time." &&
  "$CLI" --db "$1" add mixed_inflight -1 || exit 1
done
"""


@pytest.mark.parametrize("python_mode", ["immediate", "batched"])
def test_python_cpp_and_cli_writers_at_once_add_up_exactly_in_one_family(tmp_path, python_mode):
    path = str(tmp_path / "mixed.db")
    per_python, per_cpp, per_cli = 300, 300, 15
    processes = []
    for _ in range(3):
        processes.append(subprocess.Popen([sys.executable, "-c", PYTHON_WRITER, path, str(per_python), python_mode]))
        processes.append(subprocess.Popen([CPP_WRITER, path, str(per_cpp)]))
    processes.append(subprocess.Popen(["sh", "-c", CLI_WRITER, "cli_writer", path, str(per_cli)],
                                      env=dict(os.environ, CLI=CLI, BUCKETS=PYTHON_BUCKETS)))
    for p in processes:
        assert p.wait(timeout=240) == 0
    total = 3 * per_python + 3 * per_cpp + per_cli
    body = promsqlite.generate_latest(path)
    check_exposition(body)
    assert families(body) == {"mixed_jobs": "counter", "mixed_seconds": "histogram", "mixed_inflight": "gauge"}
    values = samples(body)
    assert values[("mixed_jobs_total", (("queue", "fast"),))] == total
    assert values[("mixed_seconds_count", ())] == total
    assert values[("mixed_seconds_bucket", (("le", "0.25"),))] == 0
    assert values[("mixed_seconds_bucket", (("le", "0.5"),))] == total
    assert values[("mixed_seconds_sum", ())] == pytest.approx(0.3 * total)
    assert values[("mixed_inflight", ())] == 0


def test_each_side_names_the_clash_when_declarations_disagree(tmp_path):
    path = str(tmp_path / "clash.db")
    subprocess.run([sys.executable, "-c", PYTHON_WRITER, path, "1", "immediate"], check=True)

    cpp = subprocess.run([CPP_WRITER, path, "1", "conflict"], capture_output=True, text=True)
    assert cpp.returncode == 3
    assert cpp.stderr.strip() == ("metric 'mixed_jobs' is declared as gauge mixed_jobs{queue}, but %s already "
                                  "declares it as counter mixed_jobs{queue}" % path)

    cli = subprocess.run([CLI, "--db", path, "set", "mixed_jobs", "1", "--label", "queue=fast"],
                         capture_output=True, text=True)
    assert cli.returncode == 3
    assert "already declares it as counter" in cli.stderr

    python = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys, promsqlite
        promsqlite.set_db(sys.argv[1])
        try:
            promsqlite.Histogram("mixed_seconds", "Job time.", buckets=[1, 2])
        except promsqlite.DeclarationConflict as e:
            print(e)
            sys.exit(3)
    """), path], capture_output=True, text=True)
    assert python.returncode == 3
    assert python.stdout.strip() == (
        "metric 'mixed_seconds' is declared as histogram mixed_seconds{} buckets=[1,2], but %s already declares "
        "it as histogram mixed_seconds{} buckets=[0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10]"
        % path)

    # Nothing of the rejected declarations reached the file.
    values = samples(promsqlite.generate_latest(path))
    assert values[("mixed_jobs_total", (("queue", "fast"),))] == 1
    assert families(promsqlite.generate_latest(path))["mixed_jobs"] == "counter"
