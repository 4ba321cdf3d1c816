"""Fixtures and helpers shared by the Python package's tests.

Run by meson (python/tests/meson.build), which sets PYTHONPATH to the
package in the build directory and the paths of the tools used here.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

import promsqlite

SHARED_TOOLS = os.environ.get("PROMSQLITE_SHARED_TOOLS",
                              os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "tools"))


@pytest.fixture
def db(tmp_path):
    """A fresh file, chosen with set_db(); yields its path."""
    path = str(tmp_path / "metrics.db")
    promsqlite.set_db(path)
    yield path
    promsqlite.flush()


@pytest.fixture
def registry():
    """A fresh prometheus_client CollectorRegistry."""
    from prometheus_client import CollectorRegistry
    return CollectorRegistry()


def check_exposition(body, openmetrics=False):
    """Runs ../shared/tools/check-exposition on `body`; fails the test with its reason."""
    args = [os.path.join(SHARED_TOOLS, "check-exposition"), "--format", "openmetrics" if openmetrics else "text", "-"]
    result = subprocess.run(args, input=body, capture_output=True)
    assert result.returncode == 0, "check-exposition rejected:\n%s\n%s" % (
        result.stderr.decode(errors="replace"), body.decode(errors="replace"))


def samples(body, openmetrics=False):
    """{(name, ((label, value), ...)): value} as the official client's parser reads `body`."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, "duplicate sample %r" % (key,)
            out[key] = s.value
    return out


def exemplars(body):
    """{(name, ((label, value), ...)): (exemplar labels, value, timestamp as a
    float)} of the samples with an exemplar, as the official client's
    OpenMetrics parser reads `body`."""
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.exemplar is not None:
                e = s.exemplar
                out[(s.name, tuple(sorted(s.labels.items())))] = (
                    e.labels, e.value, None if e.timestamp is None else float(e.timestamp))
    return out


def families(body, openmetrics=False):
    """{name: type} of the families in `body`, as the official parser reads them."""
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return {f.name: f.type for f in text_string_to_metric_families(body.decode())}


def without_created(parsed):
    """The samples without _created ones (their values are timestamps)."""
    return {k: v for k, v in parsed.items() if not k[0].endswith("_created")}


def run_python(code, env=None, check=True, timeout=120):
    """Runs `code` in a fresh /usr/bin/python3 with this package importable;
    returns the CompletedProcess (stdout/stderr as text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env=full_env, timeout=timeout)
    if check:
        assert result.returncode == 0, "python failed (%d):\n%s\n%s" % (result.returncode, result.stdout,
                                                                        result.stderr)
    return result


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]
