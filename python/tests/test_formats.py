"""generate_latest(format=...): the C++ library's three formats from Python,
each the bytes the promsqlite tool dumps; the protobuf one checked apart
from the library by protoc --decode_raw; the content type constants."""
import os
import shutil
import subprocess

import prometheus_client
import pytest
from prometheus_client.openmetrics import exposition as om_exposition

import promsqlite

CLI = os.environ.get("PROMSQLITE_CLI", "promsqlite")
FORMATS = ["text", "openmetrics", "protobuf"]
KNOWN = 'format must be text, openmetrics or protobuf, got "%s"'


def fill(db):
    promsqlite.Counter("jobs", "Jobs run.", ["queue"], registry=None).labels("fast").inc(3)
    promsqlite.Histogram("job_seconds", "Job time.", buckets=[1, 5], registry=None).observe(2)
    promsqlite.Gauge("queue_length", "Waiting.", registry=None).set(7)
    # A native histogram, which only protobuf carries: declared by the CLI.
    subprocess.run([CLI, "--db", db, "observe", "latency_seconds", "0.25", "--native-factor", "1.1"], check=True)
    promsqlite.flush()


def dump(db, format):
    return subprocess.run([CLI, "--db", db, "dump", "--format", format], check=True, capture_output=True).stdout


def varint(data, pos):
    """A protobuf base-128 varint at data[pos:]: (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def delimited_messages(data):
    """The messages of a length-delimited stream; fails unless it splits exactly."""
    messages, pos = [], 0
    while pos < len(data):
        length, pos = varint(data, pos)
        assert pos + length <= len(data), "a length runs past the end"
        messages.append(data[pos:pos + length])
        pos += length
    return messages


@pytest.mark.parametrize("format", FORMATS)
def test_each_format_is_what_the_promsqlite_tool_dumps_byte_for_byte(db, format):
    fill(db)
    body = promsqlite.generate_latest(db, format=format)
    assert isinstance(body, bytes) and body
    assert body == dump(db, format)
    assert promsqlite.generate_latest(format=format) == body  # the current file (set_db)


def test_protobuf_is_length_delimited_metric_family_messages_as_protoc_reads_them(db):
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.skip("needs protoc (Debian protobuf-compiler)")
    fill(db)
    names = []
    for message in delimited_messages(promsqlite.generate_latest(db, format="protobuf")):
        decoded = subprocess.run([protoc, "--decode_raw"], input=message, capture_output=True, check=True).stdout
        lines = decoded.decode().splitlines()
        # MetricFamily: 1 name, 2 help, 3 type, 4 metric (repeated).
        assert lines[0].startswith('1: "'), decoded
        names.append(lines[0][4:-1])
        assert "4 {" in lines, decoded
    assert names == ["job_seconds", "jobs_total", "latency_seconds", "queue_length"]


def test_the_default_is_text_and_openmetrics_true_is_format_openmetrics(db):
    fill(db)
    assert promsqlite.generate_latest(db) == promsqlite.generate_latest(db, format="text")
    om = promsqlite.generate_latest(db, openmetrics=True)
    assert om.endswith(b"# EOF\n")
    assert om == promsqlite.generate_latest(db, format="openmetrics")
    assert om == promsqlite.generate_latest(db, openmetrics=True, format="openmetrics")


@pytest.mark.parametrize("format", ["text", "protobuf"])
def test_openmetrics_true_with_another_format_is_a_value_error(db, format):
    with pytest.raises(ValueError, match="openmetrics=True and format='%s' disagree" % format):
        promsqlite.generate_latest(db, openmetrics=True, format=format)


@pytest.mark.parametrize("name", ["json", "Text", "", "open-metrics"])
def test_an_unknown_format_is_a_value_error_naming_the_known_ones(db, registry, name):
    for target in (db, registry):
        with pytest.raises(ValueError) as e:
            promsqlite.generate_latest(target, format=name)
        assert str(e.value) == KNOWN % name


def test_a_registry_renders_text_and_openmetrics_as_prometheus_client_but_no_protobuf(db, registry):
    promsqlite.Gauge("delegated", "Delegated.", registry=registry).set(1)
    assert promsqlite.generate_latest(registry, format="text") == prometheus_client.generate_latest(registry)
    assert promsqlite.generate_latest(registry, format="openmetrics") == om_exposition.generate_latest(registry)
    with pytest.raises(ValueError, match="prometheus_client writes text and OpenMetrics only"):
        promsqlite.generate_latest(registry, format="protobuf")


def test_the_content_type_constants_are_what_scrapers_send_and_expect():
    assert promsqlite.CONTENT_TYPE_LATEST == prometheus_client.CONTENT_TYPE_LATEST
    # client_golang's expfmt.FmtOpenMetrics_1_0_0 (prometheus_client 0.16
    # says version=0.0.1 for the same text) and expfmt.FmtProtoDelim.
    assert promsqlite.OPENMETRICS_CONTENT_TYPE == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert promsqlite.PROTOBUF_CONTENT_TYPE == (
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited")
