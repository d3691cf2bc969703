# ruff: noqa: RUF001
"""``papyra metrics persistence | reset``: counters after the command's work plus store figures."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import invoke


def test_metrics_persistence_text(store: Path, tmp_path: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(store), tmp=tmp_path)
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0] == "Persistence Metrics (json store <tmp>/papyra.ndjson)"
    assert (
        lines[1] == "ℹ Counters of this CLI process's backend instance, after this command's scan and read."
    )
    assert lines[2].split() == ["Key", "Value"]
    table = dict(line.split() for line in lines[3:] if line.startswith("  ") and len(line.split()) == 2)
    assert table["scans"] == "1" and table["records_written"] == "0" and table["write_errors"] == "0"
    tail = r.out[r.out.index("Store figures") :]
    assert tail == (
        "Store figures (from files)\n"
        "  kind          records  bytes\n"
        "  events              5    670\n"
        "  audits              1    220\n"
        "  dead_letters        1    126\n"
        "  total               7   1016\n"
        "  anomalies:  0\n"
        "  time range: 2024-06-10T06:13:20.000Z -> 2024-06-10T06:19:20.000Z\n"
    )


def test_metrics_persistence_json_counts_anomalies(damaged: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(damaged), "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert list(doc) == ["command", "exit_code", "store", "metrics", "derived"]
    assert doc["metrics"]["scans"] == 1 and doc["metrics"]["anomalies_detected"] == 2
    assert "histograms" in doc["metrics"]
    assert doc["derived"]["anomalies"] == 2 and doc["derived"]["unreadable_lines"] == 2
    assert doc["derived"]["kinds"]["events"]["records"] == 5


def test_metrics_persistence_prometheus(store: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(store), "--format", "prometheus")
    assert r.code == 0
    assert "# TYPE papyra_persistence_scans_total counter" in r.out
    assert 'papyra_persistence_scans_total{backend="json"} 1' in r.out


def test_metrics_reset(store: Path) -> None:
    r = invoke("metrics", "reset", "--path", str(store))
    assert r.code == 0
    assert r.out == (
        "✔ Metrics reset\n"
        "ℹ Counters live in each process: this resets the CLI's backend instance, not the application's.\n"
    )
    doc = json.loads(invoke("metrics", "reset", "--path", str(store), "--format", "json").out)
    assert doc["command"] == "metrics reset" and doc["metrics"]["scans"] == 0


def test_metrics_group_help(store: Path) -> None:
    r = invoke("metrics")
    assert r.code == 0 and "Inspect runtime metrics" in r.out
