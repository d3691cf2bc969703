# ruff: noqa: RUF001
"""``papyra metrics persistence | reset``: counters after the command's work plus store figures."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import invoke
from tests.cli.test_rotating_cli import make_set
from tests.contrib.test_prometheus import parse


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


def _expected_from_files(paths: list[Path]) -> dict[str, float]:
    """What the gauges must say, computed straight from the files (independently of the CLI)."""
    records = {"event": 0, "audit": 0, "dead_letter": 0}
    nbytes = dict.fromkeys(records, 0)
    stamps: list[float] = []
    unreadable = 0
    for path in paths:
        for line in path.read_bytes().splitlines(keepends=True):
            try:
                record = json.loads(line)
                assert line.endswith(b"\n")
            except (ValueError, AssertionError):
                unreadable += 1
                continue
            records[record["kind"]] += 1
            nbytes[record["kind"]] += len(line)
            stamps.append(record["timestamp"])
    expected = {f'papyra_store_records{{backend="B",kind="{k}"}}': v for k, v in records.items()}
    expected |= {f'papyra_store_bytes{{backend="B",kind="{k}"}}': v for k, v in nbytes.items()}
    expected |= {
        'papyra_store_exists{backend="B"}': 1,
        'papyra_store_files{backend="B"}': len(paths),
        'papyra_store_size_bytes{backend="B"}': sum(p.stat().st_size for p in paths),
        'papyra_store_unreadable_lines{backend="B"}': unreadable,
        'papyra_store_oldest_timestamp_seconds{backend="B"}': min(stamps),
        'papyra_store_newest_timestamp_seconds{backend="B"}': max(stamps),
    }
    return expected


def _store_samples(text: str, backend: str) -> tuple[dict[str, str], dict[str, float]]:
    types, samples = parse(text)
    store = {k.replace(f'backend="{backend}"', 'backend="B"'): v for k, v in samples.items()}
    return (
        {k: v for k, v in types.items() if k.startswith("papyra_store_")},
        {k: v for k, v in store.items() if k.startswith("papyra_store_")},
    )


def test_prometheus_exports_store_gauges_of_a_rotating_set(tmp_path: Path) -> None:
    path = make_set(tmp_path)
    r = invoke("metrics", "persistence", "--path", str(path), "--max-files", "6", "--format", "prometheus")
    assert r.code == 0 and r.err == ""
    types, samples = _store_samples(r.out, "rotating")
    assert set(types.values()) == {"gauge"}
    members = [path.with_name(f"r.log.{k}") for k in range(5, 0, -1)] + [path]
    expected = _expected_from_files(members)
    expected['papyra_store_anomalies{backend="B"}'] = 0
    assert samples == expected
    assert samples['papyra_store_records{backend="B",kind="event"}'] == 12  # make_set's contents
    assert samples['papyra_store_files{backend="B"}'] == 6
    # the process counters are still there, with the same label
    assert 'papyra_persistence_scans_total{backend="rotating"} 1' in r.out
    # every family has one HELP and one TYPE line, and families are not repeated
    names = [line.split()[2] for line in r.out.splitlines() if line.startswith("# TYPE ")]
    assert len(names) == len(set(names))
    assert len([ln for ln in r.out.splitlines() if ln.startswith("# HELP ")]) == len(names)


def test_prometheus_store_gauges_count_anomalies_and_a_missing_store(damaged: Path, tmp_path: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(damaged), "--format", "prometheus")
    assert r.code == 0
    _, samples = _store_samples(r.out, "json")
    expected = _expected_from_files([damaged])
    expected['papyra_store_anomalies{backend="B"}'] = 2
    assert samples == expected
    assert samples['papyra_store_unreadable_lines{backend="B"}'] == 2

    r = invoke("metrics", "persistence", "--path", str(tmp_path / "absent.ndjson"), "--format", "prometheus")
    assert r.code == 0
    _, samples = _store_samples(r.out, "json")
    assert samples['papyra_store_exists{backend="B"}'] == 0
    assert samples['papyra_store_files{backend="B"}'] == 0
    assert samples['papyra_store_records{backend="B",kind="event"}'] == 0
    assert not any("timestamp" in k for k in samples)  # unknown: left out, not NaN
