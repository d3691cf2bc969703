# ruff: noqa: RUF001
"""``papyra metrics persistence | reset``: counters after the command's work plus store figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import invoke
from tests.cli.test_rotating_cli import MAX_BYTES, MAX_FILES, make_set
from tests.contrib.test_prometheus import parse, series


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


def test_prometheus_exports_store_figures_not_the_cli_process_counters(store: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(store), "--format", "prometheus")
    assert r.code == 0
    types, samples = parse(r.out)
    assert set(types.values()) == {"gauge"}
    assert all(name.startswith("papyra_persistence_") for name in types)
    assert not any(name.endswith("_total") for name, _ in samples)  # no counters that never move
    ident = {"backend": "json", "store": str(store)}
    assert all(dict(labels).items() >= ident.items() for _, labels in samples)

    r = invoke("metrics", "persistence", "--path", str(store), "--format", "prometheus", "--process-counters")
    assert r.code == 0
    types, samples = parse(r.out)
    assert types["papyra_persistence_scans"] == "counter"
    assert samples[series("papyra_persistence_scans_total", **ident)] == 1


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


def _expected_from_files(paths: list[Path]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What the gauges must say, computed straight from the files (independently of the CLI);
    labels other than ``kind`` are left out."""
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
    expected = {series("papyra_persistence_store_records", kind=k): v for k, v in records.items()}
    expected |= {series("papyra_persistence_store_records_size_bytes", kind=k): v for k, v in nbytes.items()}
    expected |= {
        series("papyra_persistence_store_exists"): 1,
        series("papyra_persistence_store_files"): len(paths),
        series("papyra_persistence_store_size_bytes"): sum(p.stat().st_size for p in paths),
        series("papyra_persistence_store_unreadable_lines"): unreadable,
        series("papyra_persistence_oldest_record_timestamp_seconds"): min(stamps),
        series("papyra_persistence_newest_record_timestamp_seconds"): max(stamps),
    }
    return expected


def _store_samples(text: str, ident: dict[str, str]) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The store figures, with the identifying labels checked and dropped; the figures about
    the scan itself (time taken) are checked for sanity and dropped."""
    _, samples = parse(text)
    out = {}
    for (name, labels), value in samples.items():
        assert dict(labels).items() >= ident.items(), (name, labels)
        if name.startswith("papyra_persistence_store_scan_"):
            assert value >= 0
            continue
        out[(name, frozenset((k, v) for k, v in labels if k not in ident))] = value
    return out


def test_prometheus_exports_store_gauges_of_a_rotating_set(tmp_path: Path) -> None:
    path = make_set(tmp_path)
    before = time.time()
    r = invoke(
        "metrics", "persistence", "--path", str(path), "--max-files", "6", "--max-bytes", str(MAX_BYTES),
        "--format", "prometheus",
    )
    assert r.code == 0 and r.err == ""
    _, samples = parse(r.out)
    ident = {"backend": "rotating", "store": str(path)}
    scanned = samples[series("papyra_persistence_store_scan_timestamp_seconds", **ident)]
    assert before <= scanned <= time.time()
    samples = _store_samples(r.out, {"backend": "rotating", "store": str(path)})
    members = [path.with_name(f"r.log.{k}") for k in range(5, 0, -1)] + [path]
    expected = _expected_from_files(members)
    expected[series("papyra_persistence_store_anomalies")] = 0
    expected[series("papyra_persistence_store_size_bound_bytes")] = MAX_BYTES * MAX_FILES
    assert samples == expected
    assert samples[series("papyra_persistence_store_records", kind="event")] == 12  # make_set's contents
    assert samples[series("papyra_persistence_store_files")] == 6


def test_prometheus_store_gauges_count_anomalies_and_a_missing_store(damaged: Path, tmp_path: Path) -> None:
    r = invoke("metrics", "persistence", "--path", str(damaged), "--format", "prometheus")
    assert r.code == 0
    samples = _store_samples(r.out, {"backend": "json", "store": str(damaged)})
    expected = _expected_from_files([damaged])
    expected[series("papyra_persistence_store_anomalies")] = 2
    assert samples == expected
    assert samples[series("papyra_persistence_store_unreadable_lines")] == 2

    absent = tmp_path / "absent.ndjson"
    r = invoke("metrics", "persistence", "--path", str(absent), "--format", "prometheus")
    assert r.code == 0
    samples = _store_samples(r.out, {"backend": "json", "store": str(absent)})
    assert samples[series("papyra_persistence_store_exists")] == 0
    assert samples[series("papyra_persistence_store_files")] == 0
    assert samples[series("papyra_persistence_store_records", kind="event")] == 0
    assert not any("record_timestamp" in name for name, _ in samples)  # unknown: left out, not NaN


def test_two_stores_exported_into_one_textfile_directory_parse_together(tmp_path: Path) -> None:
    stores = []
    for name in ("a", "b"):
        directory = tmp_path / name
        directory.mkdir()
        stores.append(make_set(directory, name="papyra.log"))  # same file name, different stores
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    for path in stores:
        args = ("--path", str(path), "--max-files", "6", "--textfile-dir", str(textfiles))
        r = invoke("metrics", "persistence", *args)
        assert (r.code, r.out, r.err) == (0, "", "")
    files = sorted(textfiles.iterdir())
    assert len(files) == 2 and all(f.name.startswith("papyra_") and f.name.endswith(".prom") for f in files)
    # node_exporter's textfile collector merges the files: they must parse as one exposition
    # (prometheus_client's parser: no repeated family, no duplicate series)
    merged = "".join(_merge_families(f.read_text() for f in files))
    _, samples = parse(merged)
    for path in stores:
        key = series("papyra_persistence_store_records", backend="rotating", store=str(path), kind="event")
        assert samples[key] == 12
    promtool = shutil.which("promtool")
    if promtool is not None:
        for f in files:
            check = subprocess.run([promtool, "check", "metrics"], input=f.read_bytes(), capture_output=True)
            assert check.returncode == 0, check.stderr


def _merge_families(texts: Any) -> list[str]:
    """Merge expositions family by family (as the textfile collector does)."""
    families: dict[str, list[str]] = {}
    for text in texts:
        for family in text.split("# HELP ")[1:]:
            head, _, body = family.partition("\n")
            name = head.split(" ", 1)[0]
            if name in families:
                families[name].append(body.split("\n", 1)[1])  # samples only (skip # TYPE)
            else:
                families[name] = ["# HELP " + family]
    return ["".join(parts) for parts in families.values()]


def test_textfile_dir_that_does_not_exist_is_an_operational_error(store: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    r = invoke("metrics", "persistence", "--path", str(store), "--textfile-dir", str(missing))
    assert r.code == 3 and r.out == ""
    assert r.err.startswith(f"papyra: error: cannot write {missing}/papyra_")


def test_prometheus_without_prometheus_client_is_a_clear_operational_error(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "papyra.contrib.prometheus", raising=False)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # "not installed"
    r = invoke("metrics", "persistence", "--path", str(store), "--format", "prometheus")
    assert (r.code, r.out) == (3, "")
    assert r.err == (
        "papyra: error: --format prometheus: Prometheus support needs the 'prometheus_client' "
        "package: pip install 'papyra[prometheus]'\n"
    )
