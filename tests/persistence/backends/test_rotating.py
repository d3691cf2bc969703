"""RotatingFilePersistence in one process, on real files: layout and rotation rules, reads across
the set (and which files ``limit`` really opens, seen by the kernel through inotify), retention,
compaction, crash states of rotation and compaction built on disk, scan of every anomaly type,
each recovery mode, the earlier implementation's layout, ``max_files=1``, validation, contract."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.exceptions import ConfigurationError, PersistenceClosedError
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.compaction import StreamingCompactor
from papyra.persistence.filestore import temp_path_for
from papyra.persistence.models import (
    PersistedEvent,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.retention import RetentionPolicy
from papyra.persistence.rotation import RotationSet, compact_set
from tests.persistence.conftest import audit, dead_letter, event
from tests.support.rotating_procs import OpenWatch, read_set_raw

A = PersistenceAnomalyType
REPAIR = PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR)


@pytest.fixture
def rot(tmp_path: Path) -> Iterator[Callable[..., RotatingFilePersistence]]:
    made: list[RotatingFilePersistence] = []

    def make(path: Path | None = None, **kw: Any) -> RotatingFilePersistence:
        kw.setdefault("max_bytes", 1000)
        kw.setdefault("max_files", 4)
        b = RotatingFilePersistence(path or tmp_path / "rot.ndjson", **kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def members(path: Path, max_files: int) -> list[Path]:
    return [
        p for p in (path.with_name(f"{path.name}.{k}") if k else path for k in range(max_files)) if p.exists()
    ]


def write(b: RotatingFilePersistence, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        b.record_event(event(i))
    assert b.flush(30)


def seqs(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["timestamp"]) for r in rows]


# --------------------------------------------------------------------------- rotation rules


def test_rotation_layout_bounds_and_order(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=1000, max_files=4)
    write(b, 200)
    path = tmp_path / "rot.ndjson"
    files = members(path, 10)
    assert [p.name for p in files] == ["rot.ndjson", "rot.ndjson.1", "rot.ndjson.2", "rot.ndjson.3"]
    assert all(p.stat().st_size <= 1000 for p in files)
    # .3 oldest … active newest, contiguous, and the newest records are all there
    rows = read_set_raw(path, 4)
    got = seqs(rows)
    assert got == list(range(got[0], 200))
    assert got == [int(e.timestamp) for e in b.list_events()]
    # the full files are really full: the next record would not have fit
    rec = len(path.with_name("rot.ndjson.1").read_bytes().split(b"\n")[0]) + 1
    assert all(p.stat().st_size > 1000 - rec - 5 for p in files[1:])


def test_a_batch_is_split_across_a_rotation(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=2000, max_files=50, fsync="never")
    for i in range(300):  # one big batch for the writer thread (most likely)
        b.record_event(event(i))
    assert b.flush(30)
    path = tmp_path / "rot.ndjson"
    assert all(p.stat().st_size <= 2000 for p in members(path, 50))
    assert seqs(read_set_raw(path, 50)) == list(range(300))


def test_single_record_larger_than_max_bytes_gets_its_own_file(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=300, max_files=10)
    b.record_event(event(0))
    b.record_event(event(1, payload={"big": "y" * 1000}))
    b.record_event(event(2))
    assert b.flush(30)
    path = tmp_path / "rot.ndjson"
    sizes = {p.name: p.stat().st_size for p in members(path, 10)}
    big = [n for n, s in sizes.items() if s > 300]
    assert len(big) == 1
    assert len(path.with_name(big[0]).read_bytes().splitlines()) == 1
    assert [e.timestamp for e in b.list_events()] == [0.0, 1.0, 2.0]


def test_rotation_keeps_going_when_the_set_is_full(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=500, max_files=3)
    path = tmp_path / "rot.ndjson"
    for round_ in range(5):
        write(b, 40, start=round_ * 40)
        assert len(members(path, 10)) <= 3
        assert sum(p.stat().st_size for p in members(path, 10)) <= 3 * 500
    got = [int(e.timestamp) for e in b.list_events()]
    assert got[-1] == 199 and got == list(range(got[0], 200))


def test_max_files_one_restarts_the_single_file(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=400, max_files=1)
    write(b, 30)
    path = tmp_path / "rot.ndjson"
    assert sorted(
        p.name for p in path.parent.iterdir() if p.name.startswith("rot.ndjson") and "lock" not in p.name
    ) == ["rot.ndjson", "rot.ndjson.set"]  # the one member and the set's manifest
    assert path.stat().st_size <= 400
    got = [int(e.timestamp) for e in b.list_events()]
    assert got and got[-1] == 29 and got == list(range(got[0], 30)) and len(got) < 30  # history dropped


def test_gap_left_by_an_interrupted_rotation_is_filled_without_deleting(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    path = tmp_path / "rot.ndjson"
    b = rot(max_bytes=500, max_files=4)
    write(b, 30)
    b.close()
    assert len(members(path, 4)) == 4
    # the state a SIGKILL leaves between "delete .3" and "rename .2 -> .3": a gap at .3
    before = seqs(read_set_raw(path, 4))
    path.with_name("rot.ndjson.3").unlink()
    kept = seqs(read_set_raw(path, 4))
    assert kept == before[len(before) - len(kept) :]
    # ... and a gap in the middle (killed between renames)
    os.rename(path.with_name("rot.ndjson.2"), path.with_name("rot.ndjson.3"))
    assert seqs(read_set_raw(path, 4)) == kept
    b2 = rot(max_bytes=500, max_files=4)
    assert [int(e.timestamp) for e in b2.list_events()] == kept  # gaps are read through
    assert not b2.scan().has_anomalies
    write(b2, 4, start=30)  # fills the gap: no file is deleted by this rotation
    got = seqs(read_set_raw(path, 4))
    assert got == [*kept, 30, 31, 32, 33]


def test_writer_of_another_backend_reopens_after_rotation(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    a = rot(max_bytes=600, max_files=20)
    c = rot(max_bytes=600, max_files=20)
    for i in range(60):
        (a if i % 2 else c).record_event(event(i))
        (a if i % 2 else c).flush()
    rows = read_set_raw(tmp_path / "rot.ndjson", 20)
    assert sorted(seqs(rows)) == list(range(60))
    assert all(p.stat().st_size <= 600 for p in members(tmp_path / "rot.ndjson", 20))


# --------------------------------------------------------------------------- reads


def test_round_trip_all_kinds_and_filters_across_rotations(
    rot: Callable[..., RotatingFilePersistence],
) -> None:
    b = rot(max_bytes=700, max_files=50)
    for i in range(60):
        b.record_event(event(i))
        b.record_audit(audit(i))
        b.record_dead_letter(dead_letter(i))
    assert len(b.files) > 10
    events = b.list_events()
    assert [e.timestamp for e in events] == [float(i) for i in range(60)]
    assert events[5] == event(5)
    assert b.list_audits()[7] == audit(7)
    assert b.list_dead_letters()[-1] == dead_letter(59)
    assert [e.timestamp for e in b.list_events(since=10, until=12)] == [10.0, 11.0, 12.0]
    assert [e.timestamp for e in b.list_events(limit=3)] == [57.0, 58.0, 59.0]
    assert [a.timestamp for a in b.list_audits(limit=2, until=30)] == [29.0, 30.0]


def test_limit_opens_only_the_newest_files(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    b = rot(max_bytes=2000, max_files=10)
    write(b, 200)
    assert len(b.files) == 10
    watch = OpenWatch(tmp_path)
    try:
        watch.collect()
        got = b.list_events(limit=5)
        watch.collect()
        assert [e.timestamp for e in got] == [195.0, 196.0, 197.0, 198.0, 199.0]
        assert set(watch.opened) == {"rot.ndjson"}, watch.opened
        watch.opened.clear()
        per_file = len((tmp_path / "rot.ndjson.1").read_bytes().splitlines())
        watch.collect().opened.clear()
        b.list_events(limit=per_file + 3)  # needs the active file and .1 (maybe .2), never .3+
        watch.collect()
        assert "rot.ndjson.1" in watch.opened
        assert not {f"rot.ndjson.{k}" for k in range(3, 10)} & set(watch.opened), watch.opened
        watch.opened.clear()
        b.list_events()
        watch.collect()
        assert {f"rot.ndjson.{k}" for k in range(1, 10)} <= set(watch.opened)
    finally:
        watch.close()


def test_reads_with_a_rotation_between_files_do_not_duplicate(tmp_path: Path) -> None:
    """A reader holding the active file while another writer rotates sees that file again as .1:
    the inode check skips it."""
    import contextlib

    from papyra.persistence.rotation import iter_set_newest_first

    path = tmp_path / "rot.ndjson"
    w = RotatingFilePersistence(path, max_bytes=800, max_files=10)
    write(w, 30)
    rset = RotationSet(path, max_files=10, max_bytes=800)
    with contextlib.ExitStack() as stack:
        it = iter_set_newest_first(rset, stack)
        first = [next(it)[0].timestamp for _ in range(2)]
        write(w, 12, start=30)  # rotates: the file being read moves to .1
        rest = [r.timestamp for r, _ in it]
    got = first + rest
    assert len(got) == len(set(got))
    assert sorted(got) == [float(i) for i in range(int(min(got)), 30)]
    w.close()


def test_retention_one_window_across_the_set(rot: Callable[..., RotatingFilePersistence]) -> None:
    b = rot(max_bytes=600, max_files=50, retention_policy=RetentionPolicy(max_records=7))
    for i in range(20):
        b.record_event(event(i))
        b.record_audit(audit(i))
    # the newest 7 records of any kind: audits 16..19 and events 17..19
    assert [e.timestamp for e in b.list_events()] == [17.0, 18.0, 19.0]
    assert [a.timestamp for a in b.list_audits()] == [16.0, 17.0, 18.0, 19.0]


def test_earlier_implementation_layout_is_read(tmp_path: Path) -> None:
    """Kind last, ASCII escapes, spaced separators, ``.1`` newest; the set was 'full' and the
    active file had grown past max_bytes (the old backend stopped rotating)."""
    path = tmp_path / "papyra.ndjson"

    def legacy(ts: float, kind: str = "event") -> str:
        if kind == "event":
            row: dict[str, Any] = {
                "system_id": "local",
                "actor_address": "local://0",
                "event_type": "ActorStarted",
                "payload": {"who": "Zoë"},
                "timestamp": ts,
            }
        elif kind == "audit":
            row = {
                "system_id": "local",
                "timestamp": ts,
                "total_actors": 3,
                "alive_actors": 2,
                "stopping_actors": 1,
                "restarting_actors": 0,
                "registry_size": 2,
                "registry_orphans": [],
                "registry_dead": ["worker"],
                "dead_letters_count": 0,
            }
        else:
            row = {
                "system_id": "local",
                "target": {"_rid": 1, "_address": {"system": "local", "actor_id": 1}},
                "message_type": "str",
                "payload": "late",
                "timestamp": ts,
            }
        row["kind"] = kind
        return json.dumps(row) + "\n"

    assert "\\u00eb" in legacy(0)
    path.with_name("papyra.ndjson.2").write_text(legacy(0) + legacy(1))
    path.with_name("papyra.ndjson.1").write_text(legacy(2) + legacy(3, "audit"))
    path.write_text("".join(legacy(float(t)) for t in range(4, 30)) + legacy(30, "dead_letter"))
    b = RotatingFilePersistence(path, max_bytes=300, max_files=3)
    events = b.list_events()
    assert [e.timestamp for e in events] == [float(t) for t in (0, 1, 2, *range(4, 30))]
    assert events[0].payload == {"who": "Zoë"} and events[0].actor_address == "local://0"
    assert b.list_audits()[0].registry_dead == ("worker",)
    assert b.list_dead_letters()[0].target == "local:1"
    assert not b.scan().has_anomalies
    write(b, 1, start=100)  # the oversized active file rotates now; the oldest goes
    assert [p.name for p in members(path, 5)] == ["papyra.ndjson", "papyra.ndjson.1", "papyra.ndjson.2"]
    assert path.read_bytes().count(b"\n") == 1
    b.close()


# --------------------------------------------------------------------------- compaction


def test_compaction_packs_retained_records_and_reports(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    path = tmp_path / "rot.ndjson"
    b = rot(max_bytes=1000, max_files=8, retention_policy=RetentionPolicy(max_records=25))
    write(b, 60)
    before = b.files
    assert len(before) == 8
    report = b.compact()
    assert report.backend == "rotating"
    assert report.after_records == 25 and report.before_records > 25
    assert report.removed_records == report.before_records - 25
    files = members(path, 8)
    assert len(files) == 4 and all(p.stat().st_size <= 1000 for p in files)
    assert sum(p.stat().st_size for p in files) == report.after_bytes
    assert seqs(read_set_raw(path, 8)) == list(range(35, 60))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") or p.name.endswith(".commit")]
    write(b, 5, start=60)  # the writer reopened the new active file
    assert [int(e.timestamp) for e in b.list_events()] == list(range(40, 65))
    again = b.compact()
    assert again.before_records == 30 and again.after_records == 25


def test_compaction_quarantines_unreadable_lines(
    rot: Callable[..., RotatingFilePersistence], tmp_path: Path
) -> None:
    path = tmp_path / "rot.ndjson"
    b = rot(max_bytes=1000, max_files=5)
    write(b, 20)
    with open(path.with_name("rot.ndjson.1"), "ab") as f:
        f.write(b"{not-json\n")
    report = b.compact()
    assert report.quarantined_records == 1 and report.quarantine_path
    assert Path(report.quarantine_path).read_bytes() == b"{not-json\n"
    assert seqs(read_set_raw(path, 5)) == list(range(20))
    assert not b.scan().has_anomalies


def test_compaction_of_an_oversized_legacy_set_keeps_every_retained_record(tmp_path: Path) -> None:
    path = tmp_path / "rot.ndjson"
    path.write_bytes(
        b"".join(json.dumps({"kind": "event", "timestamp": t}).encode() + b"\n" for t in range(200))
    )
    b = RotatingFilePersistence(path, max_bytes=500, max_files=3)
    report = b.compact()
    assert report.after_records == 200
    assert len(members(path, 3)) == 3
    assert [int(e.timestamp) for e in b.list_events()] == list(range(200))
    b.close()


def _prepare_swap(
    path: Path, max_files: int, policy: RetentionPolicy
) -> tuple[RotationSet, list[int], list[int]]:
    """Run a real compaction up to its commit point, then stop as a SIGKILL would."""
    rset = RotationSet(path, max_files=max_files, max_bytes=800)
    old = seqs(read_set_raw(path, max_files))
    real_commit = rset.commit_swap

    class Killed(BaseException):
        pass

    def commit_only(temps: list[Path]) -> None:
        original = rset.finish_swap
        rset.finish_swap = lambda: (_ for _ in ()).throw(Killed())  # type: ignore[method-assign]
        try:
            real_commit(temps)
        finally:
            rset.finish_swap = original  # type: ignore[method-assign]

    rset.commit_swap = commit_only  # type: ignore[method-assign,assignment]
    with pytest.raises(Killed):
        compact_set(rset, policy)
    new = old[-policy.max_records :] if policy.max_records else old
    return rset, old, new


def test_committed_swap_is_rolled_forward_by_the_next_open(tmp_path: Path) -> None:
    path = tmp_path / "rot.ndjson"
    w = RotatingFilePersistence(path, max_bytes=800, max_files=6)
    write(w, 40)
    w.close()
    rset, _old, new = _prepare_swap(path, 6, RetentionPolicy(max_records=9))
    assert rset.pending_commit()
    scan = RotatingFilePersistence(path, max_bytes=800, max_files=6, fsync="never")  # opens → rolls forward
    assert not rset.pending_commit()
    assert seqs(read_set_raw(path, 6)) == new
    assert not scan.scan().has_anomalies
    scan.close()


def test_committed_swap_interrupted_midway_is_finished_by_a_writer_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "rot.ndjson"
    w = RotatingFilePersistence(path, max_bytes=800, max_files=6)
    write(w, 40)  # w stays open: its writer holds the old active file
    rset, _old, new = _prepare_swap(path, 6, RetentionPolicy(max_records=9))
    # the killed swap had already moved one temp into place: a mix on disk right now
    doc = json.loads(rset.marker.read_bytes())
    name, slot = doc["files"][-1]
    os.replace(path.parent / name, rset.member(slot))
    write(w, 3, start=40)
    assert not rset.pending_commit()
    assert seqs(read_set_raw(path, 6)) == [*new, 40, 41, 42]
    w.close()


def test_uncommitted_compaction_leaves_the_old_set_and_recover_removes_the_temps(tmp_path: Path) -> None:
    path = tmp_path / "rot.ndjson"
    w = RotatingFilePersistence(path, max_bytes=800, max_files=6)
    write(w, 40)
    old = seqs(read_set_raw(path, 6))
    # temps of a compaction whose process died before the commit point
    dead_pid = 2**22 + 12345
    for _k in range(2):
        tmp = temp_path_for(path, "compact")
        tmp = tmp.with_name(tmp.name.replace(f".{os.getpid()}.", f".{dead_pid}."))
        tmp.write_bytes(path.read_bytes())
    scan = w.scan()
    assert [a.type for a in scan.anomalies] == [A.ORPHANED_ROTATED_FILE] * 2
    assert [int(e.timestamp) for e in w.list_events()] == old
    report = w.recover(REPAIR)
    assert len(report.repaired_files) == 2 and not report.quarantined_files
    assert not w.scan().has_anomalies and seqs(read_set_raw(path, 6)) == old
    w.close()


def test_streaming_compactor_is_shared(tmp_path: Path) -> None:
    # the rotating backend compacts with the same StreamingCompactor as the JSON backend
    import papyra.persistence.rotation as rotation

    assert rotation.StreamingCompactor is StreamingCompactor  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- scan and recovery


def _damaged_store(tmp_path: Path) -> tuple[Path, RotatingFilePersistence]:
    path = tmp_path / "rot.ndjson"
    b = RotatingFilePersistence(path, max_bytes=800, max_files=4)
    write(b, 30)
    assert len(members(path, 4)) == 4
    p1, p2 = path.with_name("rot.ndjson.1"), path.with_name("rot.ndjson.2")
    lines = p2.read_bytes().split(b"\n")
    p2.write_bytes(b"\n".join([lines[0], b"{bad json", *lines[1:]]))  # corrupted line 2
    with open(p1, "ab") as f:
        f.write(b"\x00" * 40)  # partial write (NUL tail)
    with open(path, "ab") as f:
        f.write(b'{"kind":"event","times')  # torn tail
    path.with_name("rot.ndjson.7").write_bytes(lines[0] + b"\n")  # beyond max_files
    path.with_name("rot.ndjson.compact.tmp").write_bytes(lines[1] + b"\n")  # the old backend's temp
    path.with_name("rot.ndjson.lock.x1").write_bytes(b"")  # stray lock helper
    path.with_name("rot.ndjson.orphan").write_bytes(b"?")  # other stray
    path.with_name("rot.ndjson.quarantine.1700000000000").write_bytes(b"kept")  # not reported
    return path, b


def test_scan_reports_every_anomaly_type_and_is_read_only(tmp_path: Path) -> None:
    _path, b = _damaged_store(tmp_path)
    stat_before = {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) for p in tmp_path.iterdir()
    }
    report = b.scan()
    stat_after = {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_ino) for p in tmp_path.iterdir()
    }
    assert stat_before == stat_after
    by = {(a.type, Path(a.path).name): a for a in report.anomalies}
    assert (A.CORRUPTED_LINE, "rot.ndjson.2") in by and by[(A.CORRUPTED_LINE, "rot.ndjson.2")].line == 2
    corrupt = by[(A.CORRUPTED_LINE, "rot.ndjson.2")]
    assert corrupt.offset == len((tmp_path / "rot.ndjson.2").read_bytes().split(b"\n")[0]) + 1
    assert (A.PARTIAL_WRITE, "rot.ndjson.1") in by
    assert (A.TRUNCATED_LINE, "rot.ndjson") in by and by[(A.TRUNCATED_LINE, "rot.ndjson")].offset is not None
    assert (A.ORPHANED_ROTATED_FILE, "rot.ndjson.7") in by
    assert (A.ORPHANED_ROTATED_FILE, "rot.ndjson.compact.tmp") in by
    assert (A.UNEXPECTED_FILE, "rot.ndjson.lock.x1") in by
    assert (A.UNEXPECTED_FILE, "rot.ndjson.orphan") in by
    assert not any("quarantine" in a.path for a in report.anomalies)
    assert len(report.anomalies) == 7
    # member-file anomalies are listed oldest file first
    names = [Path(a.path).name for a in report.anomalies][:3]
    assert names == ["rot.ndjson.2", "rot.ndjson.1", "rot.ndjson"]
    b.close()


def test_recover_ignore_reports_only(tmp_path: Path) -> None:
    _path, b = _damaged_store(tmp_path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    report = b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.IGNORE))
    assert report.scan.has_anomalies and not report.repaired_files and not report.quarantined_files
    assert sorted(p.name for p in tmp_path.iterdir()) == listing
    b.close()


def test_recover_repair_fixes_in_place_keeps_everything_valid_no_duplicates(tmp_path: Path) -> None:
    path, b = _damaged_store(tmp_path)
    valid_before = [r for r in read_set_raw(path, 4) if "corrupt" not in r]
    report = b.recover(REPAIR)
    assert set(report.repaired_files) >= {
        str(path),
        str(path.with_name("rot.ndjson.1")),
        str(path.with_name("rot.ndjson.2")),
    }
    after = read_set_raw(path, 4)
    assert after == valid_before  # nothing valid removed, nothing duplicated, order kept
    assert seqs(after) == list(range(seqs(after)[0], 30))
    # orphans that might hold records are kept under quarantine names, not deleted; a rotated
    # file beyond max_files stays in place (still reported)
    kept = [p.name for p in tmp_path.iterdir() if ".quarantine." in p.name]
    assert not any(n.startswith("rot.ndjson.7") for n in kept)
    assert str(path.with_name("rot.ndjson.7")) not in report.repaired_files
    assert any(n.startswith("rot.ndjson.compact.tmp.quarantine.") for n in kept)
    beyond = [(A.ORPHANED_ROTATED_FILE, str(path.with_name("rot.ndjson.7")))]
    assert [(a.type, a.path) for a in b.scan().anomalies] == beyond
    again = b.recover(REPAIR)
    assert [(a.type, a.path) for a in again.scan.anomalies] == beyond and not again.repaired_files
    write(b, 2, start=30)
    assert [int(e.timestamp) for e in b.list_events()][-2:] == [30, 31]
    b.close()


def test_recover_quarantine_keeps_original_bytes_of_damaged_files_and_orphans(tmp_path: Path) -> None:
    path, b = _damaged_store(tmp_path)
    originals = {
        p.name: p.read_bytes()
        for p in tmp_path.iterdir()
        if p.name
        in (
            "rot.ndjson",
            "rot.ndjson.1",
            "rot.ndjson.2",
            "rot.ndjson.compact.tmp",
            "rot.ndjson.orphan",
            "rot.ndjson.lock.x1",
        )
    }
    qdir = tmp_path / "q"
    report = b.recover(
        PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir=str(qdir))
    )
    kept = {p.name.split(".quarantine.")[0]: p.read_bytes() for p in qdir.iterdir()}
    assert kept == originals
    assert len(report.quarantined_files) == len(originals)
    assert [a.path for a in b.scan().anomalies] == [str(path.with_name("rot.ndjson.7"))]
    assert path.with_name("rot.ndjson.7").exists()  # beyond max_files: left in place
    assert not b.recover(
        PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir=str(qdir))
    ).repaired_files
    b.close()


@pytest.mark.parametrize("mode", ["repair", "quarantine"])
def test_recover_with_a_smaller_max_files_never_moves_the_rotated_files_beyond_it(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "rot.ndjson"
    b = RotatingFilePersistence(path, max_bytes=800, max_files=5)
    write(b, 40)
    b.close()
    assert len(members(path, 5)) == 5
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()
              if p.is_file() and not p.name.endswith((".lock", ".set"))}
    beyond = [str(path.with_name(f"rot.ndjson.{k}")) for k in (4, 3, 2)]
    config = PersistenceRecoveryConfig(mode=mode, quarantine_dir=str(tmp_path / "q"))
    small = RotatingFilePersistence(path, max_bytes=800, max_files=2)
    try:
        assert small.recover(config, dry_run=True).repaired_files == ()
        report = small.recover(config)
        assert sorted(a.path for a in report.scan.anomalies) == sorted(beyond)
        assert {a.type for a in report.scan.anomalies} == {A.ORPHANED_ROTATED_FILE}
        assert (report.repaired_files, report.quarantined_files) == ((), ())
        assert (report.kept_records, report.removed_lines, report.quarantined_lines) == (0, 0, 0)
        assert sorted(a.path for a in small.scan().anomalies) == sorted(beyond)  # still reported
    finally:
        small.close()
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()
              if p.is_file() and not p.name.endswith((".lock", ".set"))}
    assert after == before  # every valid record still in the store, byte for byte
    full = RotatingFilePersistence(path, max_bytes=800, max_files=5)
    try:
        assert [int(e.timestamp) for e in full.list_events()][-1] == 39
        assert not full.scan().has_anomalies
    finally:
        full.close()


def test_recover_refuses_an_unsafe_quarantine_dir(tmp_path: Path) -> None:
    _path, b = _damaged_store(tmp_path)
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    from papyra.exceptions import QuarantineError

    with pytest.raises(QuarantineError):
        b.recover(
            PersistenceRecoveryConfig(
                mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir=str(tmp_path / "link")
            )
        )
    assert b.scan().has_anomalies  # nothing changed
    b.close()


# --------------------------------------------------------------------------- validation / contract


@pytest.mark.parametrize(
    "kw",
    [
        {"max_bytes": 0},
        {"max_bytes": -5},
        {"max_bytes": True},
        {"max_bytes": 1.5},
        {"max_files": 0},
        {"max_files": "3"},
        {"max_files": 10**6},
    ],
)
def test_invalid_configuration(tmp_path: Path, kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RotatingFilePersistence(tmp_path / "r.ndjson", **kw)


def test_contract_behaviours(rot: Callable[..., RotatingFilePersistence], tmp_path: Path) -> None:
    b = rot()
    assert b.backend_name == "rotating" and b.capabilities.durable
    for bad in (0, -1, True, 1.0):
        with pytest.raises(ValueError):
            b.list_events(limit=bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        b.record_event(audit(1))  # type: ignore[arg-type]
    b.record_event(event(1))
    assert b.metrics.snapshot()["records_written"] == 1
    desc = b.describe()
    assert desc["max_files"] == 4 and desc["max_bytes"] == 1000 and desc["backend"] == "rotating"
    b.close()
    assert b.closed
    with pytest.raises(PersistenceClosedError):
        b.record_event(event(2))
    assert [e.timestamp for e in b.list_events()] == [1.0]  # reads keep working
    b.close()  # idempotent
    assert isinstance(b.list_events()[0], PersistedEvent)


@pytest.mark.parametrize("fsync", ["always", "interval", "never", True, False])
def test_fsync_policies(rot: Callable[..., RotatingFilePersistence], fsync: Any) -> None:
    b = rot(max_bytes=500, max_files=30, fsync=fsync)
    write(b, 40)
    assert len(b.list_events()) == 40
    snap = b.metrics.snapshot()
    assert snap["write_errors"] == 0
    assert (snap["fsyncs"] > 0) == (fsync not in ("never", False))
