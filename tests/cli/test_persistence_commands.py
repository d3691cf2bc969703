# ruff: noqa: RUF001
"""``papyra persistence …`` against real JSON files: golden text/JSON output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import invoke, write_store

CORRUPT = (
    "CORRUPTED_LINE: <tmp>/papyra.ndjson line 3, byte 268 "
    "(invalid JSON: JSON is malformed: object keys must be strings (byte 1))"
)
TORN = "TRUNCATED_LINE: <tmp>/papyra.ndjson line 9, byte 1027 (line 9 missing newline (torn tail))"


# --------------------------------------------------------------------------- scan


def test_scan_clean_text(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(store), tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == "ℹ Scanned json store <tmp>/papyra.ndjson\n✔ Persistence is healthy.\n"


def test_scan_clean_json(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(store), "--format", "json", tmp=tmp_path)
    assert r.code == 0
    assert json.loads(r.out) == {
        "command": "persistence scan",
        "exit_code": 0,
        "store": {"backend": "json", "location": "<tmp>/papyra.ndjson", "source": "flags", "exists": True},
        "status": "healthy",
        "scan": {"backend": "json", "has_anomalies": False, "anomalies": []},
    }


def test_scan_anomalies_exit_2_text(damaged: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(damaged), tmp=tmp_path)
    assert r.code == 2
    assert r.out == (
        "ℹ Scanned json store <tmp>/papyra.ndjson\n"
        "✖ Found 2 persistence anomalies:\n"
        f"✖ - {CORRUPT}\n"
        f"✖ - {TORN}\n"
    )


def test_scan_anomalies_json(damaged: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(damaged), "--format", "json", tmp=tmp_path)
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["exit_code"] == 2 and doc["scan"]["has_anomalies"] is True
    assert [(a["type"], a["line"], a["offset"]) for a in doc["scan"]["anomalies"]] == [
        ("CORRUPTED_LINE", 3, 268),
        ("TRUNCATED_LINE", 9, 1027),
    ]
    assert set(doc["scan"]["anomalies"][0]) == {"type", "path", "detail", "line", "offset"}


MISSING_NOTE = "ℹ no store yet at <tmp>/absent.ndjson (nothing recorded)\n"
MISSING_ERROR = (
    "papyra: error: no store at <tmp>/absent.ndjson (nothing was created; check the location)\n"
)
MUST_EXIST = (
    ("persistence", "scan"),
    ("persistence", "recover"),
    ("persistence", "recover", "--dry-run"),
    ("persistence", "compact"),
    ("persistence", "compact", "--dry-run"),
    ("persistence", "inspect"),
    ("inspect", "events"),
    ("inspect", "audits"),
    ("inspect", "dead-letters"),
    ("inspect", "summary"),
)


@pytest.mark.parametrize("command", MUST_EXIST, ids=" ".join)
def test_reading_or_maintaining_a_missing_store_is_an_error_and_creates_nothing(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = tmp_path / "absent.ndjson"  # a typo'd --path
    r = invoke(*command, "--path", str(path), tmp=tmp_path)
    assert (r.code, r.out, r.err) == (3, "", MISSING_ERROR)
    for fmt in ("json", "ndjson"):
        r = invoke(*command, "--path", str(path), "--format", fmt, tmp=tmp_path)
        assert r.code == 3 and r.err == MISSING_ERROR
        assert r.out.count("\n") == 1
        assert json.loads(r.out) == {"error": {"exit_code": 3, "message": MISSING_ERROR[15:-1]}}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "mode"),
    [
        (("doctor", "run"), "fail_on_anomaly"),
        (("doctor", "run", "--mode", "recover"), "recover"),
        (("doctor", "run", "--mode", "ignore"), "ignore"),
        (("persistence", "startup-check"), "fail_on_anomaly"),
        (("persistence", "startup-check", "--mode", "scan_only"), "scan_only"),
    ],
)
def test_health_checks_on_a_missing_store_report_no_store_yet(
    tmp_path: Path, command: tuple[str, ...], mode: str
) -> None:
    path = tmp_path / "absent.ndjson"
    r = invoke(*command, "--path", str(path), tmp=tmp_path)
    what = "Doctor" if command[0] == "doctor" else "Startup check"
    assert (r.code, r.err) == (0, MISSING_NOTE)
    assert r.out == (
        f"ℹ {what}: json store <tmp>/absent.ndjson (mode {mode})\n"
        "ℹ No store yet (nothing to check; the application creates it on its first start).\n"
    )
    r = invoke(*command, "--path", str(path), "--format", "json", tmp=tmp_path)
    doc = json.loads(r.out)
    assert (r.code, doc["status"], doc["passed"], doc["store"]["exists"]) == (0, "missing", True, False)
    assert list(tmp_path.iterdir()) == []


def test_health_status_of_existing_stores(tmp_path: Path, damaged: Path) -> None:
    store = write_store(tmp_path / "healthy.ndjson")

    def status(path: Path, *args: str) -> tuple[int, str]:
        r = invoke("doctor", "run", "--path", str(path), *args, "--format", "json")
        return r.code, json.loads(r.out)["status"]

    assert status(store) == (0, "healthy")
    assert status(damaged) == (1, "anomalies")
    assert status(damaged, "--mode", "scan_only") == (0, "anomalies")
    assert status(damaged, "--mode", "recover") == (0, "repaired")
    r = invoke("persistence", "startup-check", "--path", str(store), "--mode", "ignore", "--format", "json")
    assert json.loads(r.out)["status"] == "not_checked"


def test_missing_parent_directory_is_operational_error(tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(tmp_path / "nope" / "x.ndjson"), tmp=tmp_path)
    assert r.code == 3
    assert r.out == ""
    assert r.err == "papyra: error: directory <tmp>/nope does not exist (store <tmp>/nope/x.ndjson)\n"
    assert not (tmp_path / "nope").exists()


# --------------------------------------------------------------------------- recover


def test_recover_repair_text_and_file(damaged: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "recover", "--path", str(damaged), tmp=tmp_path)
    assert r.code == 0
    assert r.out == (
        "ℹ Recovery completed (repair) on json store <tmp>/papyra.ndjson\n"
        "ℹ   anomalies found: 2\n"
        f"ℹ   - {CORRUPT}\n"
        f"ℹ   - {TORN}\n"
        "ℹ   repaired <tmp>/papyra.ndjson\n"
        "ℹ   kept 7 records; removed 2 unreadable lines\n"
        "✔ Persistence is healthy after recovery.\n"
    )
    assert len(damaged.read_bytes().splitlines()) == 7
    assert invoke("persistence", "scan", "--path", str(damaged)).code == 0
    # a second recover is a no-op
    again = invoke("persistence", "recover", "--path", str(damaged), tmp=tmp_path)
    assert again.code == 0 and again.out.endswith("✔ Persistence is healthy; nothing to recover.\n")


def test_recover_quarantine_json(damaged: Path, tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    r = invoke(
        "persistence",
        "recover",
        "--path",
        str(damaged),
        "--mode",
        "QUARANTINE",
        "--quarantine-dir",
        str(qdir),
        "--format",
        "json",
        tmp=tmp_path,
    )
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["mode"] == "quarantine" and doc["dry_run"] is False
    assert doc["recovery"]["repaired_files"] == ["<tmp>/papyra.ndjson"]
    [moved] = doc["recovery"]["quarantined_files"]
    assert moved.startswith("<tmp>/q/papyra.ndjson.quarantine.")
    assert doc["post_scan"]["has_anomalies"] is False
    assert [p.name for p in qdir.iterdir()] == [Path(moved).name]
    assert b"{not json}" in next(qdir.iterdir()).read_bytes()


def test_recover_dry_run_changes_nothing(damaged: Path, tmp_path: Path) -> None:
    before = damaged.read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())
    r = invoke("persistence", "recover", "--path", str(damaged), "--dry-run", tmp=tmp_path)
    assert r.code == 2
    assert r.out == (
        "ℹ Dry run: recovery (repair) of json store <tmp>/papyra.ndjson; nothing is changed\n"
        "ℹ   anomalies found: 2\n"
        f"ℹ   - {CORRUPT}\n"
        f"ℹ   - {TORN}\n"
        "ℹ   would have repaired <tmp>/papyra.ndjson\n"
        "ℹ   would have kept 7 records; removed 2 unreadable lines\n"
    )
    assert damaged.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_recover_dry_run_json_clean(store: Path) -> None:
    r = invoke("persistence", "recover", "--path", str(store), "--dry-run", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["dry_run"] is True and doc["post_scan"] is None
    assert doc["recovery"] == {
        "backend": "json",
        "scan": {"backend": "json", "has_anomalies": False, "anomalies": []},
        "repaired_files": [],
        "quarantined_files": [],
        "kept_records": 0,
        "removed_lines": 0,
        "quarantined_lines": 0,
    }



def test_recover_ignore_leaves_anomalies_exit_2(damaged: Path, tmp_path: Path) -> None:
    before = damaged.read_bytes()
    r = invoke("persistence", "recover", "--path", str(damaged), "--mode", "ignore", tmp=tmp_path)
    assert r.code == 2
    assert r.out.endswith(f"✖ 2 persistence anomalies remain after recovery:\n✖ - {CORRUPT}\n✖ - {TORN}\n")
    assert damaged.read_bytes() == before


def test_recover_quarantine_dir_needs_quarantine_mode(store: Path) -> None:
    r = invoke("persistence", "recover", "--path", str(store), "--quarantine-dir", "/tmp/x")
    assert r.code == 64
    assert r.err == "papyra: error: --quarantine-dir applies only to --mode quarantine\n"


# --------------------------------------------------------------------------- compact


def test_compact_text(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "compact", "--path", str(store), "--max-records", "3", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        "ℹ Compaction completed on json store <tmp>/papyra.ndjson\n"
        "  records: 7 -> 3 (removed 4)\n"
        "  bytes:   1016 B -> 480 B (reclaimed 536 B)\n"
    )
    assert len(store.read_bytes().splitlines()) == 3


def test_compact_json(store: Path) -> None:
    r = invoke("persistence", "compact", "--path", str(store), "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["dry_run"] is False
    assert doc["compaction"] == {
        "backend": "json",
        "before_records": 7,
        "after_records": 7,
        "before_bytes": 1016,
        "after_bytes": 1016,
        "quarantined_records": 0,
        "quarantine_path": None,
        "relative_timestamp_records": 0,
        "removed_records": 0,
        "reclaimed_bytes": 0,
    }


def test_compact_dry_run_text_matches_real_compaction(store: Path, tmp_path: Path) -> None:
    before = store.read_bytes()
    r = invoke(
        "persistence", "compact", "--path", str(store), "--dry-run", "--max-records", "3", tmp=tmp_path
    )
    assert r.code == 0
    assert r.out == (
        "ℹ Dry run: compaction of json store <tmp>/papyra.ndjson; nothing is changed\n"
        "ℹ   retention: max_records=3 max_age_seconds=None max_total_bytes=None\n"
        "  records: 7 -> 3 (would remove 4)\n"
        "  bytes:   1016 B -> 480 B (would reclaim 536 B)\n"
    )
    assert store.read_bytes() == before
    real = json.loads(
        invoke("persistence", "compact", "--path", str(store), "--max-records", "3", "--format", "json").out
    )
    assert real["compaction"]["after_records"] == 3
    assert real["compaction"]["after_bytes"] == 480


def test_compact_dry_run_json(store: Path) -> None:
    r = invoke(
        "persistence", "compact", "--path", str(store), "--dry-run", "--max-age", "1d", "--format", "json"
    )
    doc = json.loads(r.out)
    assert r.code == 0 and doc["dry_run"] is True
    assert doc["compaction"]["after_records"] == 0 and doc["compaction"]["removed_records"] == 7


# --------------------------------------------------------------------------- inspect


def test_inspect_text(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "inspect", "--path", str(store), tmp=tmp_path)
    assert r.code == 0
    assert r.out == (
        "Persistence Inspect\n"
        "-------------------\n"
        "  backend:    json (JsonFilePersistence)\n"
        "  location:   <tmp>/papyra.ndjson\n"
        "  exists:     yes\n"
        "  size:       1016 B (1016 bytes) in 1 file\n"
        "  records:    7 (events 5, audits 1, dead letters 1)\n"
        "  time range: 2024-06-10T06:13:20.000Z -> 2024-06-10T06:19:20.000Z\n"
        "  retention:  max_records=None max_age_seconds=None max_total_bytes=None\n"
        "  anomalies:  0\n"
    )


def test_inspect_show_metrics_and_json(store: Path, tmp_path: Path) -> None:
    text = invoke("persistence", "inspect", "--path", str(store), "--show-metrics").out
    assert "metrics:\n" in text and "  scans:" in text and "  write_errors:" in text
    r = invoke(
        "persistence", "inspect", "--path", str(store), "--show-metrics", "--format", "json", tmp=tmp_path
    )
    doc = json.loads(r.out)
    assert list(doc) == [
        "command",
        "exit_code",
        "store",
        "details",
        "figures",
        "retention",
        "anomalies",
        "metrics",
    ]
    assert doc["figures"]["kinds"] == {
        "events": {"records": 5, "bytes": 670},
        "audits": {"records": 1, "bytes": 220},
        "dead_letters": {"records": 1, "bytes": 126},
    }
    assert doc["figures"]["files"] == [{"path": "<tmp>/papyra.ndjson", "bytes": 1016}]
    assert doc["details"]["path"] == "<tmp>/papyra.ndjson"
    assert doc["retention"] == {"max_records": None, "max_age_seconds": None, "max_total_bytes": None}
    assert doc["anomalies"] == 0 and doc["metrics"]["scans"] == 1


def test_inspect_damaged_counts_unreadable(damaged: Path) -> None:
    r = invoke("persistence", "inspect", "--path", str(damaged))
    assert "  anomalies:        2\n  unreadable lines: 2\n" in r.out


# --------------------------------------------------------------------------- startup-check


def test_startup_check_default_fail_on_anomaly(damaged: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "startup-check", "--path", str(damaged), tmp=tmp_path)
    assert r.code == 1
    assert r.out == (
        "ℹ Startup check: json store <tmp>/papyra.ndjson (mode fail_on_anomaly)\n"
        "✖ Persistence anomalies detected: 2\n"
        f"✖ - {CORRUPT}\n"
        f"✖ - {TORN}\n"
        "✖ Mode fail_on_anomaly: ActorSystem.start() would refuse to start.\n"
    )


def test_startup_check_clean_passes(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "startup-check", "--path", str(store), tmp=tmp_path)
    assert r.code == 0
    assert r.out == (
        "ℹ Startup check: json store <tmp>/papyra.ndjson (mode fail_on_anomaly)\n✔ Persistence is healthy\n"
    )


def test_startup_check_scan_only_and_ignore_never_modify(damaged: Path) -> None:
    before = damaged.read_bytes()
    r = invoke("persistence", "startup-check", "--path", str(damaged), "--mode", "scan_only")
    assert r.code == 0 and "Mode scan_only" in r.out
    r = invoke("persistence", "startup-check", "--path", str(damaged), "--mode", "IGNORE")
    assert r.code == 0
    assert r.out.endswith(
        "ℹ Mode ignore: no scan; ActorSystem.start() would start without checking the store.\n"
    )
    assert damaged.read_bytes() == before


def test_startup_check_recover_repairs(damaged: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "startup-check", "--path", str(damaged), "--mode", "recover", tmp=tmp_path)
    assert r.code == 0
    assert r.out.endswith(
        "ℹ Recovery (repair) ran:\n"
        "ℹ   repaired <tmp>/papyra.ndjson\n"
        "ℹ   kept 7 records; removed 2 unreadable lines\n"
        "✔ Recovery successful: the store is clean\n"
    )


def test_startup_check_recovery_left_anomalies_exit_2_json(damaged: Path) -> None:
    r = invoke(
        "persistence",
        "startup-check",
        "--path",
        str(damaged),
        "--mode",
        "recover",
        "--recovery-mode",
        "ignore",
        "--format",
        "json",
    )
    assert r.code == 2
    doc = json.loads(r.out)
    assert (doc["mode"], doc["recovery_mode"], doc["passed"], doc["exit_code"]) == (
        "recover",
        "ignore",
        False,
        2,
    )
    assert len(doc["post_scan"]["anomalies"]) == 2
    assert doc["messages"] == ["Persistence recovery completed but anomalies still exist: 2 remaining"]


def test_startup_check_recovery_options_need_recover_mode(store: Path) -> None:
    r = invoke("persistence", "startup-check", "--path", str(store), "--recovery-mode", "repair")
    assert r.code == 64
    assert r.err == "papyra: error: --recovery-mode/--quarantine-dir apply only to --mode recover\n"


def test_startup_check_recover_quarantine_with_dir(damaged: Path, tmp_path: Path) -> None:
    r = invoke(
        "persistence",
        "startup-check",
        "--path",
        str(damaged),
        "--mode",
        "recover",
        "--recovery-mode",
        "quarantine",
        "--quarantine-dir",
        str(tmp_path / "q"),
    )
    assert r.code == 0 and "quarantined" in r.out
    assert len(list((tmp_path / "q").iterdir())) == 1


# --------------------------------------------------------------------------- locking


def test_compact_refuses_when_lock_held(store: Path, hold_lock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hold_lock(store)
    before = store.read_bytes()
    r = invoke("persistence", "compact", "--path", str(store), "--lock-timeout", "0.3", tmp=tmp_path)
    assert r.code == 3
    assert r.out == ""
    assert r.err.startswith("papyra: error: store is locked by another process: ")
    assert r.err.count("\n") == 1
    assert store.read_bytes() == before


def test_recover_refuses_when_lock_held(damaged: Path, hold_lock) -> None:  # type: ignore[no-untyped-def]
    hold_lock(damaged)
    r = invoke(
        "persistence",
        "recover",
        "--path",
        str(damaged),
        "--lock-timeout",
        "0.2",
        env={"PAPYRA_LOCK_TIMEOUT": "60"},
    )
    assert r.code == 3 and "locked by another process" in r.err


def test_lock_timeout_from_environment(damaged: Path, hold_lock) -> None:  # type: ignore[no-untyped-def]
    hold_lock(damaged)
    r = invoke(
        "doctor", "run", "--path", str(damaged), "--mode", "recover", env={"PAPYRA_LOCK_TIMEOUT": "0.2"}
    )
    assert r.code == 3 and "locked by another process" in r.err


def test_read_only_commands_ignore_the_lock(damaged: Path, hold_lock) -> None:  # type: ignore[no-untyped-def]
    hold_lock(damaged)
    for args in (
        ("persistence", "scan"),
        ("persistence", "recover", "--mode", "ignore", "--dry-run"),
        ("persistence", "inspect"),
        ("doctor", "run", "--mode", "scan_only"),
        ("persistence", "recover", "--mode", "ignore"),
    ):
        r = invoke(*args, "--path", str(damaged), "--lock-timeout", "0.1")
        assert r.code in (0, 2), (args, r.err)


def test_written_store_reads_back(tmp_path: Path) -> None:
    path = write_store(tmp_path / "x.ndjson", [])
    r = invoke("persistence", "inspect", "--path", str(path), "--format", "json")
    assert json.loads(r.out)["figures"]["total_records"] == 0


@pytest.mark.parametrize("command", [("persistence", "startup-check"), ("doctor", "run")])
@pytest.mark.parametrize("backend", ["json", "rotating"])
def test_health_checks_on_a_store_whose_directory_does_not_exist_report_no_store_yet(
    tmp_path: Path, command: tuple[str, str], backend: str
) -> None:
    path = tmp_path / "not-yet" / "deeper" / "x.ndjson"
    for mode in ("fail_on_anomaly", "recover"):
        r = invoke(*command, "--path", str(path), "--backend", backend, "--mode", mode, "--format", "json")
        assert r.code == 0, r.err
        doc = json.loads(r.out)
        assert (doc["status"], doc["store"]["exists"]) == ("missing", False)
    r = invoke(*command, "--path", str(path), "--backend", backend)
    assert r.code == 0 and "No store yet" in r.out
    assert not (tmp_path / "not-yet").exists()
