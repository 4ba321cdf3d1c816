"""prometheus_client is optional: without it (simulated by blocking its
import in a fresh interpreter) the package imports, writes, and renders the
file with the C++ renderer; what needs it says so. With it, the same
metrics register into its registries (the other test files)."""
import json

from conftest import check_exposition, exemplars, run_python, samples

BLOCKED = """
import sys
sys.modules["prometheus_client"] = None   # "import prometheus_client" now raises ImportError
"""


def test_without_prometheus_client_the_metrics_write_and_generate_latest_renders(tmp_path):
    path = str(tmp_path / "bare.db")
    out = run_python(BLOCKED + """
import json, promsqlite
promsqlite.set_db(%r)
c = promsqlite.Counter("bare_requests", "Requests.", ["path"])   # registry defaults to None: not registered
c.labels("/").inc(3, {"trace_id": "bare"})
promsqlite.Histogram("bare_seconds", "Latency.", buckets=[1]).observe(0.5)
promsqlite.Gauge("bare_level", "Level.").set(2)
promsqlite.Info("bare_build", "Build.").info({"version": "1"})
promsqlite.Enum("bare_phase", "Phase.", states=["a", "b"]).state("b")
with promsqlite.Summary("bare_block_seconds", "Blocks.").time():
    pass
print(json.dumps({
    "registry": repr(promsqlite.REGISTRY),
    "text": promsqlite.generate_latest().decode(),
    "om": promsqlite.generate_latest(%r, openmetrics=True).decode(),
    "describe": c.describe(),
    "client_loaded": sys.modules.get("prometheus_client") is not None,
}))
""" % (path, path)).stdout
    result = json.loads(out)
    assert result["registry"] == "None"
    assert result["describe"] == []
    assert result["client_loaded"] is False
    text, om = result["text"].encode(), result["om"].encode()
    check_exposition(text)
    check_exposition(om, openmetrics=True)
    values = samples(text)
    assert values[("bare_requests_total", (("path", "/"),))] == 3.0
    assert values[("bare_seconds_bucket", (("le", "1"),))] == 1.0
    assert values[("bare_level", ())] == 2.0
    assert values[("bare_build_info", (("version", "1"),))] == 1.0
    assert values[("bare_phase", (("bare_phase", "b"),))] == 1.0
    assert values[("bare_block_seconds_count", ())] == 1.0
    assert {k: v[:2] for k, v in exemplars(om).items()} == {
        ("bare_requests_total", (("path", "/"),)): ({"trace_id": "bare"}, 3.0)}


def test_without_prometheus_client_what_needs_it_raises_import_error_saying_so(tmp_path):
    out = run_python(BLOCKED + """
import promsqlite
promsqlite.set_db(%r)
c = promsqlite.Counter("bare", "Bare.")
for call in (promsqlite.FileCollector, c.collect, lambda: promsqlite.generate_latest(object())):
    try:
        call()
    except ImportError as e:
        print(e)
""" % str(tmp_path / "bare.db")).stdout.splitlines()
    suffix = " needs prometheus_client (Debian: python3-prometheus-client); without it, " \
             "promsqlite.generate_latest() renders the file"
    assert out == ["promsqlite.FileCollector" + suffix, "collect()" + suffix, "generate_latest(registry)" + suffix]


def test_a_registry_passed_explicitly_is_used_without_prometheus_client(tmp_path):
    out = run_python(BLOCKED + """
import promsqlite
class Registry:
    def __init__(self):
        self.registered = []
    def register(self, collector):
        self.registered.append(collector)
r = Registry()
promsqlite.set_db(%r)
c = promsqlite.Counter("bare_registered", "Registered.", registry=r)
print(r.registered == [c])
""" % str(tmp_path / "bare.db")).stdout
    assert out.strip() == "True"


def test_with_prometheus_client_the_default_registry_is_its_registry():
    out = run_python("""
import prometheus_client, promsqlite
print(promsqlite.REGISTRY is prometheus_client.REGISTRY)
""").stdout
    assert out.strip() == "True"
