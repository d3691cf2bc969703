"""A rotating set describes itself: its manifest records max_bytes and max_files, is written
atomically by the writer (owned like the store), validated like the commit marker, and the CLI
uses it when no flags are given — also after a compaction left a single file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from papyra.exceptions import CorruptionError
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import PersistedEvent
from papyra.persistence.rotation import MAX_FILES_LIMIT
from papyra.persistence.set_manifest import manifest_path, read_set_manifest
from tests.cli.conftest import invoke

T0 = 1_800_000_000.0


def _fill(path: Path, count: int = 40, *, max_bytes: int = 2000, max_files: int = 3) -> None:
    backend = RotatingFilePersistence(path, max_bytes=max_bytes, max_files=max_files, file_mode=0o640)
    try:
        for i in range(count):
            event = PersistedEvent(actor_address=f"local:{i}", event_type="Tick", timestamp=T0 + i)
            backend.record_event(event)
        backend.flush()
    finally:
        backend.close()


def test_the_writer_records_the_bounds_atomically_and_owned_like_the_store(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    reader = RotatingFilePersistence(path, max_bytes=2000, max_files=3)
    try:
        assert list(reader.list_events()) == [] and reader.scan().anomalies == ()
    finally:
        reader.close()
    assert list(tmp_path.iterdir()) == []  # reading never creates the manifest
    _fill(path)
    manifest = manifest_path(path)
    assert json.loads(manifest.read_bytes()) == {
        "format": "papyra-rotating-set", "version": 1, "max_bytes": 2000, "max_files": 3,
    }
    assert stat.S_IMODE(manifest.stat().st_mode) == stat.S_IMODE(path.stat().st_mode) == 0o640
    assert read_set_manifest(path, max_files_limit=MAX_FILES_LIMIT) == (2000, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    _fill(path, 1, max_bytes=5000, max_files=4)  # the application changed its bounds
    assert read_set_manifest(path, max_files_limit=MAX_FILES_LIMIT) == (5000, 4)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "unreadable set manifest"),
        (b'{"format": "other", "max_bytes": 1, "max_files": 1}', "is not 'papyra-rotating-set'"),
        (b'{"format": "papyra-rotating-set", "max_bytes": 0, "max_files": 3}', "positive integers"),
        (b'{"format": "papyra-rotating-set", "max_bytes": 10, "max_files": 3.5}', "positive integers"),
        (b'{"format": "papyra-rotating-set", "max_bytes": 10, "max_files": 99999}', "at most 10000"),
        (b" " * 5000, "larger than"),
        (None, "symlink"),
    ],
)
def test_an_invalid_manifest_is_refused_reported_and_rewritten(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    path = tmp_path / "r.log"
    _fill(path)
    manifest = manifest_path(path)
    manifest.unlink()
    if content is None:
        target = b'{"format": "papyra-rotating-set", "max_bytes": 9, "max_files": 9}'
        (tmp_path / "elsewhere").write_bytes(target)
        manifest.symlink_to(tmp_path / "elsewhere")
    else:
        manifest.write_bytes(content)
    with pytest.raises((CorruptionError, OSError)) as info:
        read_set_manifest(path, max_files_limit=MAX_FILES_LIMIT)
    assert reason in str(info.value) or (content is None and isinstance(info.value, OSError))
    backend = RotatingFilePersistence(path, max_bytes=2000, max_files=3)
    try:
        [anomaly] = backend.scan().anomalies
        assert (anomaly.type.value, anomaly.path) == ("UNEXPECTED_FILE", str(manifest))
    finally:
        backend.close()
    r = invoke("persistence", "inspect", "--path", str(path))
    assert r.code == 0 and "warning: ignoring the set manifest" in r.err
    _fill(path, 1)  # the next writer replaces it (a symlink itself, never its target)
    assert read_set_manifest(path, max_files_limit=MAX_FILES_LIMIT) == (2000, 3)
    if content is None:
        assert b"max_bytes\": 9" in (tmp_path / "elsewhere").read_bytes()


def test_cli_uses_the_manifest_without_flags_and_a_compacted_set_stays_rotating(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    _fill(path)
    assert os.path.exists(str(path) + ".1")

    def rotation_line() -> str:
        r = invoke("persistence", "inspect", "--path", str(path))
        assert r.code == 0, r.err
        [line] = [x for x in r.out.splitlines() if x.strip().startswith("rotation:")]
        assert r.out.splitlines()[2] == "  backend:    rotating (RotatingFilePersistence)"
        return line

    expected = "  rotation:   at most 3 files of 2.0 KiB (disk bound 5.9 KiB, 6000 bytes)"
    assert rotation_line() == expected
    r = invoke("persistence", "compact", "--path", str(path), "--max-records", "2")
    assert r.code == 0, r.err
    assert not os.path.exists(str(path) + ".1")  # one file left ...
    assert rotation_line() == expected  # ... still a rotating set with its own bounds
    r = invoke("persistence", "inspect", "--path", str(path), "--max-files", "7")
    assert r.code == 0
    assert r.err[1:] == (
        " warning: --max-bytes/--max-files (None, 7) differ from the set's own bounds in r.log.set "
        "(max_bytes=2000, max_files=3); the flags win for this command\n"
    )
