#!/usr/bin/python3
"""Parses an exposition from stdin with the official Python client and prints
one line per sample, sorted: name{k="v",...} value (JSON-escaped values,
labels sorted, value as Python's repr of the float), then, for a sample with
an exemplar, " # {k=\"v\",...} value timestamp" the same way.
Usage: parse_samples.py text|openmetrics"""
import json
import sys

fmt = sys.argv[1]
text = sys.stdin.buffer.read().decode("utf-8")
if fmt == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
lines = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(s.labels.items()))
        line = f"{s.name}{{{labels}}} {float(s.value)!r}"
        e = getattr(s, "exemplar", None)
        if e is not None:
            elabels = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(e.labels.items()))
            line += f" # {{{elabels}}} {float(e.value)!r} {float(e.timestamp)!r}"
        lines.append(line)
sys.stdout.write("".join(line + "\n" for line in sorted(lines)))
