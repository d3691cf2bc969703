"""``FileTail`` (the ``--follow`` machinery of file stores), in process: it starts from the
newest N events, returns appended events exactly once — identical ones too —, follows rotation
without re-reading, and resynchronises after a compaction without printing anything twice."""

from __future__ import annotations

from pathlib import Path

from papyra.cli.filetail import FileTail
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedEvent
from papyra.persistence.retention import RetentionPolicy
from tests.cli.conftest import T0


def _event(i: int, ts: float | None = None) -> PersistedEvent:
    return PersistedEvent(actor_address="local:1", event_type="Tick", payload={"i": i},
                          timestamp=T0 + i if ts is None else ts)


def _write(backend: JsonFilePersistence, records: list[object]) -> None:
    for r in records:
        if isinstance(r, PersistedEvent):
            backend.record_event(r)
        else:
            backend.record_audit(r)  # type: ignore[arg-type]
    backend.flush()


def _ids(events: list[PersistedEvent]) -> list[int]:
    return [e.payload["i"] for e in events]  # type: ignore[index]


def test_starts_from_the_newest_and_returns_each_append_once_identical_ones_too(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    writer = JsonFilePersistence(path)
    tail = FileTail(path)
    try:
        _write(writer, [_event(i) for i in range(50)] + [PersistedAudit(timestamp=T0 + 50)])
        assert _ids(tail.initial(lambda r: True, 3, None)) == [47, 48, 49]
        assert tail.poll() == ([], None)
        same = _event(7, T0 + 60)
        _write(writer, [same, same])
        assert tail.poll() == ([same, same], None)
        _write(writer, [same])  # the same record again, in a later poll: a new record
        assert tail.poll() == ([same], None)
        with path.open("ab") as f:
            f.write(b'{"kind":"event","event_type":"Tick","timest')  # a torn (in-progress) line waits
        assert tail.poll() == ([], None)
    finally:
        tail.close()
        writer.close()


def test_since_and_filters_pick_the_first_events(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    writer = JsonFilePersistence(path)
    tail = FileTail(path)
    try:
        _write(writer, [_event(i) for i in range(100)])
        picked = tail.initial(lambda r: r.payload["i"] % 10 == 0, 4, T0 + 35)
        assert _ids(picked) == [60, 70, 80, 90]
        assert _ids(FileTail(path).initial(lambda r: True, 100, T0 + 95)) == [95, 96, 97, 98, 99]
    finally:
        tail.close()
        writer.close()


def test_compaction_is_followed_by_a_resync_that_prints_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    writer = JsonFilePersistence(path, retention_policy=RetentionPolicy(max_records=5))
    tail = FileTail(path)
    try:
        _write(writer, [_event(i) for i in range(10)])
        assert _ids(tail.initial(lambda r: True, 2, None)) == [8, 9]
        writer.compact()  # a new inode holding 5..9
        _write(writer, [_event(10)])
        fresh, gap = tail.poll()
        assert (_ids(fresh), gap) == ([10], None)
        writer.compact()  # 6..10
        _write(writer, [_event(i) for i in range(11, 30)])
        writer.compact()  # 25..29: everything printed is gone, 11..24 went unseen
        fresh, gap = tail.poll()
        assert _ids(fresh) == [25, 26, 27, 28, 29]
        assert gap == (T0 + 10, T0 + 25)
    finally:
        tail.close()
        writer.close()


def test_rotation_is_followed_without_rereading(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    writer = RotatingFilePersistence(path, max_bytes=600, max_files=20)
    tail = FileTail(path, max_files=20)
    try:
        assert tail.initial(lambda r: True, 10, None) == []  # no store yet
        seen: list[int] = []
        for start in range(0, 60, 12):
            _write(writer, [_event(i) for i in range(start, start + 12)])  # several rotations
            fresh, gap = tail.poll()
            assert gap is None
            seen += _ids(fresh)
        assert seen == list(range(60))
        assert len(writer.files) > 5
    finally:
        tail.close()
        writer.close()
