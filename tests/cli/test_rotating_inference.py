# ruff: noqa: RUF001
"""A path with numbered siblings (``<path>.1`` …) is read as a rotating set unless a backend is
chosen: a damaged rotated member must not be reported healthy because only the active file was
read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import PersistedEvent
from tests.cli.conftest import T0, invoke

INFERRED = "ℹ r.ndjson.1…r.ndjson.7 exist beside r.ndjson: opening it as a rotating set (pass --backend json to read only r.ndjson)\n"  # noqa: E501
MAX_FILES_NOTE = (
    "ℹ --max-files not given: opening the rotating set with 8 files (r.ndjson.7 exists; the default "
    "is 5); pass the application's --max-files (or PAPYRA_MAX_FILES) so that orphaned files are "
    "reported\n"
)


def make_set(directory: Path) -> Path:
    """``r.ndjson`` and ``r.ndjson.1`` … ``r.ndjson.7`` written by the real rotating backend,
    without the set manifest (a set of the earlier release: its bounds must be inferred)."""
    path = directory / "r.ndjson"
    backend = RotatingFilePersistence(path, max_bytes=400, max_files=8, fsync="never")
    try:
        for i in range(24):
            backend.record_event(
                PersistedEvent(actor_address="local:1", event_type="Tick", payload={"n": i}, timestamp=T0 + i)
            )
        backend.flush()
    finally:
        backend.close()
    path.with_name("r.ndjson.set").unlink()  # as the earlier release left it: no set manifest
    assert sorted(p.name for p in directory.glob("r.ndjson*") if not p.name.endswith(".lock")) == [
        "r.ndjson",
        *(f"r.ndjson.{k}" for k in range(1, 8)),
    ]
    return path


def corrupt(member: Path) -> None:
    lines = member.read_bytes().splitlines(keepends=True)
    member.write_bytes(lines[0] + b"{not json}\n" + b"".join(lines[1:]))


@pytest.fixture
def damaged_set(tmp_path: Path) -> Path:
    path = make_set(tmp_path)
    corrupt(path.with_name("r.ndjson.3"))
    return path


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("persistence", "scan"), 2),
        (("doctor", "run"), 1),  # fail_on_anomaly: the documented exit code for anomalies found
        (("doctor", "run", "--mode", "scan_only"), 0),  # reports, start would continue
        (("persistence", "startup-check"), 1),
    ],
)
def test_damaged_rotated_member_is_found_without_backend(
    damaged_set: Path, tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    r = invoke(*args, "--path", str(damaged_set), tmp=tmp_path)
    assert r.code == code, r.out
    assert r.err == INFERRED + MAX_FILES_NOTE
    assert "<tmp>/r.ndjson.3 line 2" in r.out
    assert "healthy" not in r.out


def test_scan_json_reports_the_rotating_backend_and_the_damaged_member(
    damaged_set: Path, tmp_path: Path
) -> None:
    r = invoke("persistence", "scan", "--path", str(damaged_set), "--format", "json", tmp=tmp_path)
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["store"]["backend"] == "rotating"
    assert [(a["type"], a["path"]) for a in doc["scan"]["anomalies"]] == [
        ("CORRUPTED_LINE", "<tmp>/r.ndjson.3")
    ]


def test_environment_path_is_inferred_too(damaged_set: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", env={"PAPYRA_PATH": str(damaged_set)}, tmp=tmp_path)
    assert r.code == 2 and r.err.startswith(INFERRED)


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--backend", "json"), {}), ((), {"PAPYRA_BACKEND": "json"})],
)
def test_backend_json_overrides_the_inference(
    damaged_set: Path, tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    r = invoke("persistence", "scan", "--path", str(damaged_set), *args, env=env, tmp=tmp_path)
    assert r.code == 0  # only the (healthy) active file is read, as asked
    assert "opening it as a rotating set" not in r.err
    assert "the json backend reads only r.ndjson" in r.err


def test_single_sibling_note_and_plain_file_stays_json(tmp_path: Path) -> None:
    plain = tmp_path / "p.ndjson"
    plain.write_bytes(b"")
    (tmp_path / "p.ndjson.01").write_bytes(b"")  # not a canonical member name
    r = invoke("persistence", "scan", "--path", str(plain), "--format", "json")
    assert (r.code, r.err) == (0, "")
    assert json.loads(r.out)["store"]["backend"] == "json"
    (tmp_path / "p.ndjson.1").write_bytes(b"")
    r = invoke("persistence", "scan", "--path", str(plain), "--format", "json")
    assert r.err == (
        "ℹ p.ndjson.1 exists beside p.ndjson: opening it as a rotating set "
        "(pass --backend json to read only p.ndjson)\n"
    )
    assert json.loads(r.out)["store"]["backend"] == "rotating"
