"""Scan (every anomaly type, line and offset, read-only), recovery modes, quarantine safety and
compaction's handling of unreadable lines — on real files."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from papyra.exceptions import QuarantineError
from papyra.persistence.grammar import encode_record
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import (
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.retention import RetentionPolicy
from tests.persistence.conftest import event

Store = Callable[..., JsonFilePersistence]
T = PersistenceAnomalyType
GOOD = [encode_record(event(i)) for i in range(3)]
QNAME = re.compile(r"^store\.ndjson\.quarantine\.\d{8}T\d{6}\.\d{6}Z-\d+-[0-9a-f]{6}$")


def write(path: Path, *chunks: bytes) -> None:
    path.write_bytes(b"".join(chunks))


def only(report, kind: T):  # type: ignore[no-untyped-def]
    found = [a for a in report.anomalies if a.type is kind]
    assert len(found) == 1, report.anomalies
    return found[0]


def test_truncated_line(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0], GOOD[1], b'{"kind":"event","timestamp":')
    a = only(json_store(path).scan(), T.TRUNCATED_LINE)
    assert (a.line, a.offset, a.path) == (3, len(GOOD[0]) + len(GOOD[1]), str(path))


@pytest.mark.parametrize(
    "tail",
    [b"\x00" * 64, b"\x00" * 10 + b"\n" + b"\x00" * 10 + b"\n", b'{"kind":"ev\x00\x00\x00'],
    ids=["nul-fragment", "nul-lines", "partial-with-nuls"],
)
def test_partial_write(tmp_path: Path, json_store: Store, tail: bytes) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0], GOOD[1], tail)
    report = json_store(path).scan()
    a = only(report, T.PARTIAL_WRITE)
    assert (a.line, a.offset) == (3, len(GOOD[0]) + len(GOOD[1]))
    assert len(report.anomalies) == 1


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'{"kind":"event","timestamp":1,"event_type":"\xff\xfe"}', "invalid UTF-8"),
        (b'{"kind":"event",', "invalid JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"kind":"metric","timestamp":1}', "unknown kind"),
        (b'{"timestamp":1}', "missing 'kind'"),
        (b'{"kind":"audit","total_actors":1}', "missing required field 'timestamp'"),
        (b'{"kind":"audit","timestamp":1,"total_actors":"many"}', "invalid field"),
        (b"\x00\x00", "NUL bytes"),
    ],
)
def test_corrupted_line_detail(tmp_path: Path, json_store: Store, bad: bytes, reason: str) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0], bad + b"\n", GOOD[1])
    report = json_store(path).scan()
    a = only(report, T.CORRUPTED_LINE)
    assert (a.line, a.offset) == (2, len(GOOD[0]))
    assert a.detail is not None and reason in a.detail
    assert len(report.anomalies) == 1


def test_unexpected_files(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0])
    (tmp_path / "store.ndjson.compact.tmp").write_bytes(GOOD[1])  # earlier implementation's temp
    (tmp_path / "store.ndjson.recover.999999999.abcd1234.tmp").write_bytes(b"x")  # dead pid
    (tmp_path / "store.ndjson.lock.stale").write_bytes(b"")
    (tmp_path / f"store.ndjson.compact.{os.getpid()}.00aa.tmp").write_bytes(b"")  # in progress: ours
    (tmp_path / "store.ndjson.quarantine.20250101T000000.000000Z-1-abcdef").write_bytes(b"junk\n")
    (tmp_path / "store.ndjson.lock").write_bytes(b"")
    (tmp_path / "unrelated.tmp").write_bytes(b"")
    report = json_store(path).scan()
    assert {Path(a.path).name for a in report.anomalies} == {
        "store.ndjson.compact.tmp",
        "store.ndjson.recover.999999999.abcd1234.tmp",
        "store.ndjson.lock.stale",
    }
    assert {a.type for a in report.anomalies} == {T.UNEXPECTED_FILE}


def test_scan_is_read_only(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0], b"garbage\n", GOOD[1], b'{"kind":')
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = os.stat(path)
    listing = sorted(os.listdir(tmp_path))
    b = json_store(path)
    for _ in range(2):
        assert len(b.scan().anomalies) == 2
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size, before.st_mtime_ns, before.st_ino
    )
    assert sorted(os.listdir(tmp_path)) == listing
    assert b.metrics.snapshot()["anomalies_detected"] == 4


def _damaged(path: Path) -> bytes:
    original = GOOD[0] + b"not json\n" + GOOD[1] + b"\xff\n" + GOOD[2].rstrip(b"\n")
    write(path, original)
    return original


def test_recover_ignore_reports_only(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    original = _damaged(path)
    b = json_store(path)
    for cfg in (None, PersistenceRecoveryConfig(), PersistenceRecoveryConfig(mode="IGNORE")):
        report = b.recover(cfg)
        assert len(report.scan.anomalies) == 3 and report.repaired_files == ()
    assert path.read_bytes() == original


def test_recover_repair_keeps_every_valid_record(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    _damaged(path)
    b = json_store(path)
    report = b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
    assert report.repaired_files == (str(path),) and report.quarantined_files == ()
    assert len(report.scan.anomalies) == 3
    assert path.read_bytes() == GOOD[0] + GOOD[1] + GOOD[2]  # final record kept, newline added
    assert not b.scan().has_anomalies
    ino = os.stat(path).st_ino
    second = b.recover(PersistenceRecoveryConfig(mode="repair"))
    assert second.repaired_files == () and not second.scan.has_anomalies
    assert os.stat(path).st_ino == ino  # a no-op: file untouched
    b.record_event(event(3))
    assert len(b.list_events()) == 4
    assert b.metrics.snapshot()["recoveries"] == 2


def test_recover_quarantine_keeps_original_bytes(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    original = _damaged(path)
    qdir = tmp_path / "q"
    b = json_store(path)
    report = b.recover(PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(qdir)))
    assert report.repaired_files == (str(path),)
    (qfile,) = report.quarantined_files
    assert Path(qfile).parent == qdir and QNAME.match(Path(qfile).name)
    assert Path(qfile).read_bytes() == original
    assert os.stat(qdir).st_mode & 0o077 == 0
    assert not b.scan().has_anomalies
    again = b.recover(PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(qdir)))
    assert again.quarantined_files == ()


def test_quarantine_default_dir_is_beside_store_and_not_reported(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    b = json_store(path)
    names = set()
    for _ in range(3):  # collision-free names, even within one second
        _damaged(path)
        (q,) = b.recover(PersistenceRecoveryConfig(mode="quarantine")).quarantined_files
        assert Path(q).parent == tmp_path
        names.add(Path(q).name)
    assert len(names) == 3
    assert not b.scan().has_anomalies


def test_quarantine_moves_leftover_temp_files(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0])
    stray = tmp_path / "store.ndjson.compact.tmp"
    stray.write_bytes(b"half a compaction")
    b = json_store(path)
    report = b.recover(PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(tmp_path / "q")))
    assert not stray.exists()
    (q,) = report.quarantined_files
    assert Path(q).read_bytes() == b"half a compaction"
    assert not b.scan().has_anomalies
    stray.write_bytes(b"again")
    b.recover(PersistenceRecoveryConfig(mode="repair"))
    assert not stray.exists() and not b.scan().has_anomalies
    assert path.read_bytes() == GOOD[0]


@pytest.mark.parametrize("bad_dir", ["symlink", "group-writable", "other-writable", "a-file"])
def test_unsafe_quarantine_dir_is_refused(tmp_path: Path, json_store: Store, bad_dir: str) -> None:
    path = tmp_path / "store.ndjson"
    original = _damaged(path)
    qdir = tmp_path / "q"
    if bad_dir == "symlink":
        real = tmp_path / "real"
        real.mkdir(mode=0o700)
        qdir.symlink_to(real)
    elif bad_dir == "a-file":
        qdir.write_bytes(b"")
    else:
        qdir.mkdir()
        os.chmod(qdir, 0o770 if bad_dir == "group-writable" else 0o707)
    b = json_store(path)
    with pytest.raises(QuarantineError):
        b.recover(PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(qdir)))
    with pytest.raises(PermissionError):  # QuarantineError is a PermissionError too
        b.recover(PersistenceRecoveryConfig(mode="quarantine", quarantine_dir=str(qdir)))
    assert path.read_bytes() == original
    assert b.metrics.snapshot()["recovery_errors"] == 2


def test_compaction_quarantines_unreadable_lines(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    records = [encode_record(event(i)) for i in range(10)]
    write(path, records[0], b"bad-old\n", *records[1:8], b"bad-new\n", *records[8:], b'{"kind":"ev')
    b = json_store(path, retention_policy=RetentionPolicy(max_records=4))
    report = b.compact()
    assert (report.before_records, report.after_records, report.quarantined_records) == (10, 4, 3)
    assert report.quarantine_path is not None and QNAME.match(Path(report.quarantine_path).name)
    assert Path(report.quarantine_path).read_bytes() == b'bad-old\nbad-new\n{"kind":"ev\n'
    assert path.read_bytes() == b"".join(records[6:])
    assert not b.scan().has_anomalies


def test_compaction_age_limit_with_out_of_order_timestamps(tmp_path: Path, json_store: Store) -> None:
    import time

    now = time.time()
    ts = [now - 500, now - 5, now - 900, now - 3, now - 2000, now - 1]
    path = tmp_path / "store.ndjson"
    write(path, *(encode_record(event(i, ts=t)) for i, t in enumerate(ts)), b"junk\n")
    b = json_store(path, retention_policy=RetentionPolicy(max_age_seconds=100))
    report = b.compact()
    assert (report.before_records, report.after_records, report.quarantined_records) == (6, 3, 1)
    assert [e.actor_address for e in b.list_events()] == ["local:1", "local:3", "local:5"]


def test_compaction_keeps_a_valid_record_missing_its_newline(tmp_path: Path, json_store: Store) -> None:
    path = tmp_path / "store.ndjson"
    write(path, GOOD[0], GOOD[1].rstrip(b"\n"))
    report = json_store(path).compact()
    assert (report.before_records, report.after_records, report.quarantined_records) == (2, 2, 0)
    assert path.read_bytes() == GOOD[0] + GOOD[1]


def _reference_lines(data: bytes, max_line: int) -> list[tuple[int, int, bytes, bool, bool]]:
    out = []
    offset = 0
    parts = data.split(b"\n")
    for number, part in enumerate(parts, 1):
        complete = number < len(parts)
        if not complete and not part:
            break
        big = len(part) > max_line
        out.append((number, offset, b"" if big else part, complete, big))
        offset += len(part) + 1
    return out


def test_one_line_splitter_forwards_and_backwards_matches_a_naive_split(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The grammar's two splitters (forward for scan/repair/compaction, backward for tail
    reads) agree with ``bytes.split`` on lines, offsets, torn tails and oversized lines."""
    import io
    import random

    from papyra.persistence import grammar

    monkeypatch.setattr(grammar, "MAX_LINE_BYTES", 20)
    monkeypatch.setattr(grammar, "_CHUNK", 7)
    rng = random.Random(7)
    for _ in range(200):
        parts = [bytes(rng.choice(b"ab{}\x00") for _ in range(rng.choice([0, 1, 5, 19, 20, 21, 40])))
                 for _ in range(rng.randrange(1, 30))]
        data = b"\n".join(parts) + (b"\n" if rng.random() < 0.5 else b"")
        expected = _reference_lines(data, 20)
        assert list(grammar.iter_lines(io.BytesIO(data))) == expected
        backwards = [(off, None if big else line, len(line) if not big else None)
                     for _n, off, line, complete, big in reversed(expected) if complete]
        chunk = rng.choice((3, 7, 64))
        got = [(off, line, None if line is None else length)
               for off, line, length in grammar.iter_lines_reversed(io.BytesIO(data), chunk_size=chunk)]
        assert got == backwards
