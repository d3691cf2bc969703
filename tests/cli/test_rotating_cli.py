# ruff: noqa: RUF001
"""Every CLI command against real rotating sets (``RotatingFilePersistence``): store selection,
scan/recover/compact/inspect/startup-check/doctor, the ``inspect`` listings across rotated files,
metrics, and ``inspect events --follow`` across rotations (a subprocess)."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from tests.cli.conftest import T0, Result, invoke, start_follower

MAX_BYTES = 600
MAX_FILES = 6
ROT = ("--max-bytes", str(MAX_BYTES), "--max-files", str(MAX_FILES))


def make_set(directory: Path, name: str = "r.log") -> Path:
    """A full rotating set of 6 files written through the real backend (nothing dropped):

    ==========  ===========================================
    r.log.5     events 0-3 (oldest)
    r.log.4     audit @3, events 4-5
    r.log.3     dead letter @5, events 6-7
    r.log.2     audit @7, events 8-9
    r.log.1     events 10-11, audit @11
    r.log       dead letter @11 (newest)
    ==========  ===========================================

    Event ``i`` is at ``T0 + 60 i``, actor ``local:{i % 3 + 1}``, ``ActorStarted`` for even ``i``.
    """
    path = directory / name
    backend = RotatingFilePersistence(path, max_bytes=MAX_BYTES, max_files=MAX_FILES, fsync="never")
    try:
        for i in range(12):
            backend.record_event(
                PersistedEvent(
                    actor_address=f"local:{i % 3 + 1}",
                    event_type="ActorStarted" if i % 2 == 0 else "ActorStopped",
                    payload={"n": i},
                    timestamp=T0 + i * 60,
                )
            )
            if i % 4 == 3:
                backend.record_audit(
                    PersistedAudit(
                        timestamp=T0 + i * 60 + 1,
                        total_actors=i,
                        alive_actors=i - 1,
                        stopping_actors=1,
                        registry_size=i,
                        dead_letters_count=i // 4,
                    )
                )
            if i % 6 == 5:
                backend.record_dead_letter(
                    PersistedDeadLetter(
                        target=f"local:{i % 3 + 1}",
                        message_type="str",
                        payload=f"m{i}",
                        timestamp=T0 + i * 60 + 2,
                    )
                )
        backend.flush()
    finally:
        backend.close()
    return path


def damage(path: Path) -> None:
    """A corrupted line in the middle of ``r.log.2`` and an orphan ``r.log.9`` (beyond max_files,
    holding no record: recovery moves it aside; one holding records would stay in place)."""
    member = path.with_name(path.name + ".2")
    lines = member.read_bytes().splitlines(keepends=True)
    member.write_bytes(lines[0] + b"{not json}\n" + b"".join(lines[1:]))
    path.with_name(path.name + ".9").write_bytes(b"{not a record}\n")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def members(path: Path) -> list[str]:
    names = [path.name] + [f"{path.name}.{k}" for k in range(1, MAX_FILES)]
    return [n for n in names if (path.parent / n).exists()]


def cli(path: Path, *args: str, tmp: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """``papyra *args --path PATH --max-bytes 600 --max-files 6``."""
    return invoke(*args, "--path", str(path), *ROT, env=env, tmp=tmp)


@pytest.fixture
def rset(tmp_path: Path) -> Path:
    return make_set(tmp_path)


@pytest.fixture
def damaged_set(tmp_path: Path) -> Path:
    path = make_set(tmp_path)
    damage(path)
    return path


CORRUPT = (
    "CORRUPTED_LINE: <tmp>/r.log.2 line 2, byte 220 "
    "(invalid JSON: JSON is malformed: object keys must be strings (byte 1))"
)
ORPHAN = "ORPHANED_ROTATED_FILE: <tmp>/r.log.9 (looks like a rotated file but is not a member (max_files=6))"


def store_doc(source: str = "flags") -> dict[str, object]:
    return {"backend": "rotating", "location": "<tmp>/r.log", "source": source, "exists": True}


# --------------------------------------------------------------------------- choosing the store


def test_backend_rotating_flags_open_the_configured_set(rset: Path, tmp_path: Path) -> None:
    r = invoke(
        "persistence",
        "inspect",
        "--path",
        str(rset),
        "--backend",
        "rotating",
        *ROT,
        "--format",
        "json",
        tmp=tmp_path,
    )
    assert (r.code, r.err) == (0, "")
    doc = json.loads(r.out)
    assert doc["store"] == store_doc()
    details = doc["details"]
    assert (details["backend"], details["max_bytes"], details["max_files"]) == ("rotating", 600, 6)
    assert details["files"] == [f"<tmp>/r.log.{k}" for k in range(5, 0, -1)] + ["<tmp>/r.log"]
    assert (details["total_bytes"], details["disk_bound_bytes"]) == (2520, 3600)


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (("--max-files", "6"), {}, "flags"),  # a rotation option implies --backend rotating
        (("--max-bytes", "600"), {"PAPYRA_MAX_FILES": "6"}, "flags"),
        ((), {"PAPYRA_BACKEND": "rotating", "PAPYRA_MAX_FILES": "6", "PAPYRA_MAX_BYTES": "600"}, "flags"),
        ((), {"PAPYRA_MAX_FILES": "6"}, "flags"),  # env rotation options describe a flag path too
    ],
)
def test_rotating_inferred_from_flags_and_environment(
    rset: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], source: str
) -> None:
    r = invoke(
        "persistence", "inspect", "--path", str(rset), *args, "--format", "json", env=env, tmp=tmp_path
    )
    assert (r.code, r.err) == (0, "")
    doc = json.loads(r.out)
    assert doc["store"] == store_doc(source)
    assert doc["details"]["max_files"] == 6
    assert doc["figures"]["total_records"] == 17 and len(doc["figures"]["files"]) == 6


def test_environment_only_selects_the_rotating_set(rset: Path, tmp_path: Path) -> None:
    env = {"PAPYRA_BACKEND": "rotating", "PAPYRA_PATH": str(rset), "PAPYRA_MAX_FILES": "6"}
    r = invoke("inspect", "summary", "--format", "json", env=env, tmp=tmp_path)
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["store"] == store_doc("environment")
    assert doc["counts"] == {"events": 12, "audits": 3, "dead_letters": 2}
    # the max_files of the environment is honoured: with 4, r.log.4/r.log.5 are orphans
    r = invoke("persistence", "scan", env={**env, "PAPYRA_MAX_FILES": "4"}, tmp=tmp_path)
    assert r.code == 2
    assert r.out.count("ORPHANED_ROTATED_FILE") == 2 and "<tmp>/r.log.5 " in r.out


def test_explicit_json_on_a_rotating_set_reads_the_active_file_with_a_hint(
    rset: Path, tmp_path: Path
) -> None:
    r = invoke(
        "inspect", "summary", "--path", str(rset), "--backend", "json", "--format", "json", tmp=tmp_path
    )
    assert r.code == 0
    assert json.loads(r.out)["counts"] == {"events": 0, "audits": 0, "dead_letters": 1}  # the active file
    assert r.err == (
        "ℹ r.log.1 exists beside the store: if it is a rotating set, pass --backend rotating "
        "(and its --max-files); the json backend reads only r.log\n"
    )


def test_missing_max_files_never_turns_members_into_orphans(tmp_path: Path) -> None:
    """A set without a manifest (written by the earlier release) and no --max-files: the set is
    opened with room for the rotated files found (the backend default is 5; this set has 6), so
    recovery cannot take r.log.5 out of the set."""
    path = make_set(tmp_path)
    path.with_name("r.log.set").unlink()
    before = snapshot(tmp_path)
    for args in (("persistence", "scan"), ("persistence", "recover"), ("doctor", "run", "--mode", "recover")):
        r = invoke(*args, "--path", str(path), "--backend", "rotating", tmp=tmp_path)
        assert r.code == 0, (args, r.out)
        assert r.err == (
            "ℹ --max-files not given: opening the rotating set with 6 files (r.log.5 exists; the default "
            "is 5); pass the application's --max-files (or PAPYRA_MAX_FILES) so that orphaned files "
            "are reported\n"
        )
    assert snapshot(tmp_path) == before
    r = invoke("inspect", "events", "--path", str(path), "--backend", "rotating", "--format", "json")
    assert json.loads(r.out)["count"] == 12


def test_missing_rotating_store_is_an_error_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.log"
    for args in (
        ("persistence", "scan"),
        ("persistence", "compact"),
        ("persistence", "recover"),
        ("persistence", "inspect"),
        ("inspect", "events"),
    ):
        r = invoke(*args, "--path", str(path), *ROT, tmp=tmp_path)
        assert (r.code, r.out) == (3, ""), (args, r.err)
        assert r.err.startswith("papyra: error: no store at <tmp>/absent.log ")
    r = invoke("doctor", "run", "--path", str(path), *ROT, tmp=tmp_path)
    assert r.code == 0 and "No store yet" in r.out
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- scan


def test_scan_clean_text_and_json(rset: Path, tmp_path: Path) -> None:
    r = cli(rset, "persistence", "scan", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == "ℹ Scanned rotating store <tmp>/r.log\n✔ Persistence is healthy.\n"
    r = cli(rset, "persistence", "scan", "--format", "json", tmp=tmp_path)
    assert json.loads(r.out) == {
        "command": "persistence scan",
        "exit_code": 0,
        "store": store_doc(),
        "status": "healthy",
        "scan": {"backend": "rotating", "has_anomalies": False, "anomalies": []},
    }


def test_scan_damaged_member_and_orphan_exit_2(damaged_set: Path, tmp_path: Path) -> None:
    r = cli(damaged_set, "persistence", "scan", tmp=tmp_path)
    assert (r.code, r.err) == (2, "")
    assert r.out == (
        "ℹ Scanned rotating store <tmp>/r.log\n"
        "✖ Found 2 persistence anomalies:\n"
        f"✖ - {CORRUPT}\n"
        f"✖ - {ORPHAN}\n"
    )
    r = cli(damaged_set, "persistence", "scan", "--format", "json", tmp=tmp_path)
    doc = json.loads(r.out)
    assert (r.code, doc["exit_code"], doc["scan"]["has_anomalies"]) == (2, 2, True)
    assert doc["scan"]["anomalies"] == [
        {
            "type": "CORRUPTED_LINE",
            "path": "<tmp>/r.log.2",
            "detail": "invalid JSON: JSON is malformed: object keys must be strings (byte 1)",
            "line": 2,
            "offset": 220,
        },
        {
            "type": "ORPHANED_ROTATED_FILE",
            "path": "<tmp>/r.log.9",
            "detail": "looks like a rotated file but is not a member (max_files=6)",
            "line": None,
            "offset": None,
        },
    ]


# --------------------------------------------------------------------------- recover


def test_recover_repair_text(damaged_set: Path, tmp_path: Path) -> None:
    r = cli(damaged_set, "persistence", "recover", "--mode", "repair", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    head, quarantined, tail = r.out.rpartition("ℹ   quarantined <tmp>/r.log.9.quarantine.")
    assert head == (
        "ℹ Recovery completed (repair) on rotating store <tmp>/r.log\n"
        "ℹ   anomalies found: 2\n"
        f"ℹ   - {CORRUPT}\n"
        f"ℹ   - {ORPHAN}\n"
        "ℹ   repaired <tmp>/r.log.2\n"
        "ℹ   removed <tmp>/r.log.9 from the store (not a member)\n"
    )
    assert quarantined and tail.endswith("\n✔ Persistence is healthy after recovery.\n")
    # the member keeps every valid record; the orphan's bytes are kept beside the store
    assert members(damaged_set) == ["r.log"] + [f"r.log.{k}" for k in range(1, 6)]
    assert len(damaged_set.with_name("r.log.2").read_bytes().splitlines()) == 3
    [kept] = tmp_path.glob("r.log.9.quarantine.*")
    assert kept.read_bytes() == b"{not a record}\n"
    assert cli(damaged_set, "persistence", "scan").code == 0
    r = cli(damaged_set, "inspect", "summary", "--format", "json")
    assert json.loads(r.out)["counts"] == {"events": 12, "audits": 3, "dead_letters": 2}
    again = cli(damaged_set, "persistence", "recover", tmp=tmp_path)
    assert again.code == 0 and again.out.endswith("✔ Persistence is healthy; nothing to recover.\n")


def test_recover_quarantine_json(damaged_set: Path, tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    r = cli(
        damaged_set,
        "persistence",
        "recover",
        "--mode",
        "quarantine",
        "--quarantine-dir",
        str(qdir),
        "--format",
        "json",
        tmp=tmp_path,
    )
    assert r.code == 0
    doc = json.loads(r.out)
    assert (doc["mode"], doc["dry_run"], doc["exit_code"]) == ("quarantine", False, 0)
    assert doc["recovery"]["repaired_files"] == ["<tmp>/r.log.2", "<tmp>/r.log.9"]
    moved = doc["recovery"]["quarantined_files"]
    assert [m.rsplit(".quarantine.", 1)[0] for m in moved] == ["<tmp>/q/r.log.2", "<tmp>/q/r.log.9"]
    assert doc["post_scan"] == {"backend": "rotating", "has_anomalies": False, "anomalies": []}
    assert sorted(p.name for p in qdir.iterdir()) == sorted(Path(m).name for m in moved)
    original = next(qdir.glob("r.log.2.quarantine.*")).read_bytes()
    assert b"{not json}\n" in original
    assert not damaged_set.with_name("r.log.9").exists()
    assert b"{not json}" not in damaged_set.with_name("r.log.2").read_bytes()


def test_recover_dry_run_changes_nothing(damaged_set: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    r = cli(damaged_set, "persistence", "recover", "--dry-run", tmp=tmp_path)
    assert r.code == 2
    assert r.out == (
        "ℹ Dry run: recovery (repair) of rotating store <tmp>/r.log; nothing is changed\n"
        "ℹ   anomalies found: 2\n"
        f"ℹ   - {CORRUPT}\n"
        f"ℹ   - {ORPHAN}\n"
        "ℹ   would have repaired <tmp>/r.log.2\n"
        "ℹ   would have removed <tmp>/r.log.9 from the store (not a member)\n"
        "ℹ   would have quarantined <tmp>/r.log.9.quarantine.<stamp>\n"
        "ℹ   would have kept 3 records; removed 1 unreadable lines\n"
    )
    r = cli(
        damaged_set,
        "persistence",
        "recover",
        "--dry-run",
        "--mode",
        "quarantine",
        "--quarantine-dir",
        str(tmp_path / "q"),
        "--format",
        "json",
        tmp=tmp_path,
    )
    doc = json.loads(r.out)
    assert (r.code, doc["dry_run"], doc["post_scan"]) == (2, True, None)
    planned = doc["recovery"]
    assert planned["repaired_files"] == ["<tmp>/r.log.2", "<tmp>/r.log.9"]
    assert planned["quarantined_files"] == [f"<tmp>/q/r.log.{n}.quarantine.<stamp>" for n in (2, 9)]
    assert (planned["removed_lines"], planned["quarantined_lines"]) == (1, 1)
    assert snapshot(tmp_path) == before  # the quarantine dir is not even created


def test_recover_ignore_leaves_anomalies_exit_2(damaged_set: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    r = cli(damaged_set, "persistence", "recover", "--mode", "ignore", tmp=tmp_path)
    assert r.code == 2
    assert r.out.endswith(f"✖ 2 persistence anomalies remain after recovery:\n✖ - {CORRUPT}\n✖ - {ORPHAN}\n")
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- compact


def test_compact_dry_run_matches_real_compaction(rset: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    r = cli(rset, "persistence", "compact", "--dry-run", "--max-records", "5", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        "ℹ Dry run: compaction of rotating store <tmp>/r.log; nothing is changed\n"
        "ℹ   retention: max_records=5 max_age_seconds=None max_total_bytes=None\n"
        "  records: 17 -> 5 (would remove 12)\n"
        "  bytes:   2.5 KiB -> 751 B (would reclaim 1.7 KiB)\n"
    )
    assert snapshot(tmp_path) == before
    dry = json.loads(
        cli(rset, "persistence", "compact", "--dry-run", "--max-records", "5", "--format", "json").out
    )
    assert dry["compaction"] == {
        "backend": "rotating",
        "before_records": 17,
        "after_records": 5,
        "before_bytes": 2520,
        "after_bytes": 751,
        "removed_records": 12,
        "reclaimed_bytes": 1769,
        "quarantined_records": 0,
        "quarantine_path": None,
        "relative_timestamp_records": 0,
    }
    assert snapshot(tmp_path) == before

    r = cli(rset, "persistence", "compact", "--max-records", "5", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        "ℹ Compaction completed on rotating store <tmp>/r.log\n"
        "  records: 17 -> 5 (removed 12)\n"
        "  bytes:   2.5 KiB -> 751 B (reclaimed 1.7 KiB)\n"
    )
    # the newest 5 records, packed oldest first into files of at most max_bytes
    assert members(rset) == ["r.log", "r.log.1"]
    assert all(p.stat().st_size <= MAX_BYTES for p in tmp_path.glob("r.log*"))
    r = cli(rset, "inspect", "events", "--format", "json")
    assert [e["payload"]["n"] for e in json.loads(r.out)["records"]] == [9, 10, 11]
    assert cli(rset, "persistence", "scan").code == 0


def test_compact_json_without_retention_keeps_everything(rset: Path) -> None:
    r = cli(rset, "persistence", "compact", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["dry_run"] is False
    assert doc["compaction"] == {
        "backend": "rotating",
        "before_records": 17,
        "after_records": 17,
        "before_bytes": 2520,
        "after_bytes": 2520,
        "quarantined_records": 0,
        "quarantine_path": None,
        "relative_timestamp_records": 0,
        "removed_records": 0,
        "reclaimed_bytes": 0,
    }
    r = cli(rset, "inspect", "events", "--format", "json")
    assert [e["payload"]["n"] for e in json.loads(r.out)["records"]] == list(range(12))


def test_compact_refuses_when_lock_held(rset: Path, hold_lock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hold_lock(rset)
    before = snapshot(tmp_path)
    r = cli(rset, "persistence", "compact", "--lock-timeout", "0.2", tmp=tmp_path)
    assert (r.code, r.out) == (3, "")
    assert r.err.startswith("papyra: error: store is locked by another process: ") and r.err.count("\n") == 1
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- inspect (the store)


def test_inspect_text_lists_every_member_and_the_disk_bound(rset: Path, tmp_path: Path) -> None:
    r = cli(rset, "persistence", "inspect")
    assert (r.code, r.err) == (0, "")
    sizes = [("r.log.5", 536), ("r.log.4", 488), ("r.log.3", 391), ("r.log.2", 488), ("r.log.1", 493)]
    sizes.append(("r.log", 124))
    width = len(str(tmp_path / "r.log.5"))
    table = [f"  {'file':<{width}}  bytes"] + [f"  {tmp_path / n!s:<{width}}  {b:>5}" for n, b in sizes]
    assert r.out.splitlines() == [
        "Persistence Inspect",
        "-------------------",
        "  backend:    rotating (RotatingFilePersistence)",
        f"  location:   {rset}",
        "  exists:     yes",
        "  size:       2.5 KiB (2520 bytes) in 6 files",
        "  records:    17 (events 12, audits 3, dead letters 2)",
        "  time range: 2024-06-10T06:13:20.000Z -> 2024-06-10T06:24:22.000Z",
        "  retention:  max_records=None max_age_seconds=None max_total_bytes=None",
        "  anomalies:  0",
        "  rotation:   at most 6 files of 600 B (disk bound 3.5 KiB, 3600 bytes)",
        "",
        *table,
    ]


def test_inspect_json_and_damaged_set(damaged_set: Path, tmp_path: Path) -> None:
    r = cli(damaged_set, "persistence", "inspect", "--show-metrics", "--format", "json", tmp=tmp_path)
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["figures"]["files"] == [
        {"path": "<tmp>/r.log.5", "bytes": 536},
        {"path": "<tmp>/r.log.4", "bytes": 488},
        {"path": "<tmp>/r.log.3", "bytes": 391},
        {"path": "<tmp>/r.log.2", "bytes": 499},
        {"path": "<tmp>/r.log.1", "bytes": 493},
        {"path": "<tmp>/r.log", "bytes": 124},
    ]  # the orphan r.log.9 is not a member
    assert (doc["figures"]["total_records"], doc["figures"]["unreadable_lines"], doc["anomalies"]) == (
        17,
        1,
        2,
    )
    assert doc["details"]["disk_bound_bytes"] == 3600 and doc["metrics"]["scans"] == 1
    text = cli(damaged_set, "persistence", "inspect").out
    assert "  anomalies:        2\n  unreadable lines: 1\n  rotation:         at most 6 files" in text


# --------------------------------------------------------------------------- startup-check / doctor


@pytest.mark.parametrize("command", [("persistence", "startup-check"), ("doctor", "run")])
def test_health_check_exit_codes(command: tuple[str, ...], tmp_path: Path) -> None:
    what = "Startup check" if command[0] == "persistence" else "Doctor"
    (tmp_path / "clean").mkdir()
    clean = make_set(tmp_path / "clean")
    r = invoke(*command, "--path", str(clean), *ROT, tmp=tmp_path)
    assert r.code == 0
    assert (
        r.out
        == f"ℹ {what}: rotating store <tmp>/clean/r.log (mode fail_on_anomaly)\n✔ Persistence is healthy\n"
    )

    bad = tmp_path / "bad"
    bad.mkdir()
    path = make_set(bad)
    damage(path)
    before = snapshot(bad)
    r = invoke(*command, "--path", str(path), *ROT, tmp=tmp_path)
    assert r.code == 1
    assert r.out.endswith("✖ Mode fail_on_anomaly: ActorSystem.start() would refuse to start.\n")
    assert "- CORRUPTED_LINE: <tmp>/bad/r.log.2 line 2, byte 220" in r.out
    for mode in ("scan_only", "ignore"):
        assert invoke(*command, "--path", str(path), *ROT, "--mode", mode).code == 0
    r = invoke(
        *command,
        "--path",
        str(path),
        *ROT,
        "--mode",
        "recover",
        "--recovery-mode",
        "ignore",
        "--format",
        "json",
    )
    doc = json.loads(r.out)
    assert (r.code, doc["exit_code"], doc["passed"]) == (2, 2, False)
    assert len(doc["post_scan"]["anomalies"]) == 2
    assert snapshot(bad) == before  # nothing above modified the set

    r = invoke(
        *command,
        "--path",
        str(path),
        *ROT,
        "--mode",
        "recover",
        "--recovery-mode",
        "quarantine",
        "--quarantine-dir",
        str(tmp_path / "q"),
        tmp=tmp_path,
    )
    assert r.code == 0
    assert "ℹ   repaired <tmp>/bad/r.log.2\n" in r.out
    assert "ℹ   removed <tmp>/bad/r.log.9 from the store (not a member)\n" in r.out
    assert r.out.endswith("✔ Recovery successful: the store is clean\n")
    assert len(list((tmp_path / "q").iterdir())) == 2
    assert invoke(*command, "--path", str(path), *ROT).code == 0


# --------------------------------------------------------------------------- inspect listings


def test_events_across_rotated_files_oldest_first(rset: Path) -> None:
    r = cli(rset, "inspect", "events")
    assert (r.code, r.err) == (0, "")
    lines = r.out.splitlines()
    assert lines[0] == "time                      event         actor    payload"
    assert lines[1] == '2024-06-10T06:13:20.000Z  ActorStarted  local:1  {"n":0}'
    assert lines[-1] == '2024-06-10T06:24:20.000Z  ActorStopped  local:3  {"n":11}'
    assert [json.loads(line.split()[-1])["n"] for line in lines[1:]] == list(range(12))


def test_events_limit_reverse_and_filters(rset: Path) -> None:
    r = cli(rset, "inspect", "events", "--limit", "3", "--reverse")
    assert r.out == (
        "time                      event         actor    payload\n"
        '2024-06-10T06:24:20.000Z  ActorStopped  local:3  {"n":11}\n'
        '2024-06-10T06:23:20.000Z  ActorStarted  local:2  {"n":10}\n'
        '2024-06-10T06:22:20.000Z  ActorStopped  local:1  {"n":9}\n'
    )
    # filters apply before the limit: the two newest ActorStopped of local:1 (in r.log.5 and r.log.2)
    r = cli(rset, "inspect", "events", "--event-type", "ActorStopped", "--actor", "local:1", "--limit", "2")
    assert r.out == (
        "time                      event         actor    payload\n"
        '2024-06-10T06:16:20.000Z  ActorStopped  local:1  {"n":3}\n'
        '2024-06-10T06:22:20.000Z  ActorStopped  local:1  {"n":9}\n'
    )
    r = cli(
        rset, "inspect", "events", "--since", str(T0 + 150), "--until", str(T0 + 400), "--format", "ndjson"
    )
    assert [json.loads(line)["payload"]["n"] for line in r.out.splitlines()] == [3, 4, 5, 6]
    r = cli(rset, "inspect", "events", "--event-type", "ActorCrashed")
    assert (r.code, r.out) == (0, "ℹ No events match the filters.\n")


def test_audits_dead_letters_and_summary(rset: Path, tmp_path: Path) -> None:
    r = cli(rset, "inspect", "audits")
    assert r.out == (
        "time                      total  alive  stopping  restarting  registry  dead_letters\n"
        "2024-06-10T06:16:21.000Z      3      2         1           0         3             0\n"
        "2024-06-10T06:20:21.000Z      7      6         1           0         7             1\n"
        "2024-06-10T06:24:21.000Z     11     10         1           0        11             2\n"
    )
    r = cli(rset, "inspect", "audits", "--limit", "1", "--format", "json")
    [audit] = json.loads(r.out)["records"]
    assert (audit["kind"], audit["total_actors"]) == ("audit", 11)
    r = cli(rset, "inspect", "dead-letters", "--target", "local:3", "--reverse")
    assert r.out == (
        "time                      target   message_type  payload\n"
        '2024-06-10T06:24:22.000Z  local:3  str           "m11"\n'
        '2024-06-10T06:18:22.000Z  local:3  str           "m5"\n'
    )
    r = cli(rset, "inspect", "summary", tmp=tmp_path)
    assert r.out == (
        "Summary of rotating store <tmp>/r.log\n"
        "  latest audit: 2024-06-10T06:24:21.000Z\n"
        "  Actors:       total=11 alive=10 stopping=1 restarting=0\n"
        "  Registry:     size=11 orphans=0 dead=0\n"
        "  Dead letters: 2\n"
        "  records:      events=12 audits=3 dead_letters=2\n"
        "  time range:   2024-06-10T06:13:20.000Z -> 2024-06-10T06:24:22.000Z\n"
    )
    r = cli(rset, "inspect", "summary", "--since", str(T0 + 420), "--format", "json")
    doc = json.loads(r.out)
    assert doc["counts"] == {"events": 5, "audits": 2, "dead_letters": 1}
    assert (doc["first_timestamp"], doc["last_timestamp"]) == (T0 + 420, T0 + 662)


# --------------------------------------------------------------------------- metrics


def test_metrics_persistence_json_and_prometheus(rset: Path, tmp_path: Path) -> None:
    r = cli(rset, "metrics", "persistence", "--format", "json", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    doc = json.loads(r.out)
    assert doc["store"] == store_doc()
    assert (doc["metrics"]["scans"], doc["metrics"]["records_written"]) == (1, 0)
    derived = doc["derived"]
    assert derived["kinds"] == {
        "events": {"records": 12, "bytes": 1610},
        "audits": {"records": 3, "bytes": 663},
        "dead_letters": {"records": 2, "bytes": 247},
    }
    assert (derived["total_records"], derived["total_bytes"], derived["anomalies"]) == (17, 2520, 0)
    assert [f["path"] for f in derived["files"]] == [f"<tmp>/r.log.{k}" for k in range(5, 0, -1)] + [
        "<tmp>/r.log"
    ]
    text = cli(rset, "metrics", "persistence").out
    assert "Store figures (from files)\n" in text
    assert re.search(
        r"^  events +12 +1610\n  audits +3 +663\n  dead_letters +2 +247\n  total +17 +2520$", text, re.M
    )
    prom = cli(rset, "metrics", "persistence", "--format", "prometheus", "--process-counters")
    assert prom.code == 0
    labels = f'backend="rotating",store="{rset}"'
    records = f'papyra_persistence_store_records{{backend="rotating",kind="event",store="{rset}"}}'
    assert f"{records} 12.0\n" in prom.out
    assert f"papyra_persistence_scans_total{{{labels}}} 1.0\n" in prom.out
    assert f"papyra_persistence_records_written_total{{{labels}}} 0.0\n" in prom.out


# --------------------------------------------------------------------------- follow across rotations


def test_follow_prints_every_record_once_across_rotations(tmp_path: Path) -> None:
    path = tmp_path / "f.log"
    max_bytes, max_files, count = 1500, 30, 240  # ~13 events per file: ~18 rotations, none dropped
    follower = start_follower(path, "--max-bytes", str(max_bytes), "--max-files", str(max_files))
    writer = RotatingFilePersistence(path, max_bytes=max_bytes, max_files=max_files, fsync="never")
    try:
        # the follower starts on a store that does not exist yet; each batch of 12 is written only
        # once the follower printed the previous one, so its polls interleave with the rotations
        for i in range(count):
            writer.record_event(
                PersistedEvent(
                    actor_address=f"local:{i}", event_type="Tick", payload={"i": i}, timestamp=time.time()
                )
            )
            if i % 12 == 11 or i == count - 1:
                writer.flush()
                follower.wait_for(lambda lines, n=i + 1: len(lines) >= n, what=f"{i + 1} events printed")
        files = [p.name for p in writer.files]
    finally:
        writer.close()
        follower.proc.send_signal(signal.SIGINT)
        code = follower.finish()
    err = follower.err
    assert code == 0, err
    assert "Traceback" not in err
    assert "may be missing" not in err  # nothing was dropped: no false gap warning
    assert len(files) >= 10, files  # it rotated many times, and dropped nothing
    printed = [json.loads(line)["payload"]["i"] for line in follower.lines]
    assert printed == list(range(count)), "every record exactly once, in order"


def test_main_in_process(rset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from papyra.cli import main

    assert main(["persistence", "scan", "--path", str(rset), "--backend", "rotating", *ROT]) == 0
    assert capsys.readouterr().out == f"ℹ Scanned rotating store {rset}\n✔ Persistence is healthy.\n"
    rset.with_name("r.log.9").write_bytes(b"")
    assert main(["persistence", "scan", "--path", str(rset), *ROT, "--format", "json"]) == 2
    [anomaly] = json.loads(capsys.readouterr().out)["scan"]["anomalies"]
    assert (anomaly["type"], anomaly["path"]) == ("ORPHANED_ROTATED_FILE", str(rset) + ".9")
