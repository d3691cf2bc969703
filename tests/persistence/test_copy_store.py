"""``papyra.persistence.copy_store``: every record between any two backends, verified."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence import (
    CopyVerificationError,
    InMemoryPersistence,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    RetentionPolicy,
    TargetNotEmptyError,
    copy_store,
)
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from tests.support.redis_server import RedisServer

CASES = Path("/work/shared/cases")


def earlier_release_file(path: Path) -> Path:
    """A store as the earlier release wrote it: ``json.dumps`` defaults (spaced separators),
    ``kind`` last, addresses as ``{"system", "actor_id"}`` objects, all three kinds mixed."""
    lines = []
    for i in range(30):
        lines.append({"system_id": "legacy", "actor_address": {"system": "legacy", "actor_id": i},
                      "event_type": "ActorStarted", "payload": {"n": i, "name": "é\u2603"},
                      "timestamp": 1700000000.0 + i, "kind": "event"})
        if i % 10 == 0:
            lines.append({"system_id": "legacy", "timestamp": 1700000000.5 + i, "total_actors": i,
                          "alive_actors": i, "stopping_actors": 0, "restarting_actors": 0,
                          "registry_size": i, "registry_orphans": [], "registry_dead": [],
                          "dead_letters_count": 0, "kind": "audit"})
        if i % 7 == 0:
            lines.append({"system_id": "legacy", "target": {"system": "legacy", "actor_id": i},
                          "message_type": "Ping", "payload": [i, None], "timestamp": 1700000000.7 + i,
                          "kind": "dead_letter"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def everything(backend: Any) -> tuple[tuple[Any, ...], ...]:
    return (backend.list_events(), backend.list_audits(), backend.list_dead_letters())


def redis_on(server: RedisServer) -> Any:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    return RedisStreamsPersistence(
        RedisStreamsConfig(url=server.url, prefix=f"t{uuid.uuid4().hex[:10]}", page_size=7)
    )


@pytest.mark.redis
def test_earlier_release_file_to_redis_and_back_keeps_every_record(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    source = JsonFilePersistence(earlier_release_file(tmp_path / "legacy.ndjson"))
    redis = redis_on(redis_server)
    back = JsonFilePersistence(tmp_path / "back.ndjson")
    try:
        original = everything(source)
        assert [len(kind) for kind in original] == [30, 3, 5]
        to_redis = copy_store(source, redis, chunk_size=4)
        assert to_redis.verified and to_redis.counts == {"event": 30, "audit": 3, "dead_letter": 5}
        assert everything(redis) == original
        home = copy_store(redis, back)
        assert home.verified and home.digest == to_redis.digest
        assert everything(back) == original
        assert original[0][3].actor_address == "legacy:3"  # read in the current form, timestamps kept
        assert original[0][3].timestamp == 1700000003.0
    finally:
        for backend in (source, redis, back):
            backend.close()


def test_shared_case_store_copies_with_its_timestamps(tmp_path: Path) -> None:
    case = tmp_path / "monotonic.ndjson"
    shutil.copyfile(CASES / "monotonic-timestamps.ndjson", case)
    source, target = JsonFilePersistence(case), InMemoryPersistence()
    try:
        report = copy_store(source, target)
        assert report.verified and report.counts["event"] == 5
        assert [e.timestamp for e in target.list_events()] == [593.5, 597.0, 600.5, 604.0, 607.5]
    finally:
        source.close()
        target.close()


def test_rotating_set_is_copied_oldest_file_first(tmp_path: Path) -> None:
    source = RotatingFilePersistence(tmp_path / "set.ndjson", max_bytes=400, max_files=50)
    target = JsonFilePersistence(tmp_path / "one.ndjson")
    try:
        for i in range(60):
            event = PersistedEvent(actor_address=f"a:{i}", event_type="E", payload=i, timestamp=float(i))
            source.record_event(event)
        assert source.flush(60)
        assert len(source.files) > 3
        report = copy_store(source, target)
        assert report.verified
        assert [e.payload for e in target.list_events()] == list(range(60))
    finally:
        source.close()
        target.close()


def test_non_empty_target_is_refused_unless_append(tmp_path: Path) -> None:
    source, target = InMemoryPersistence(), JsonFilePersistence(tmp_path / "t.ndjson")
    try:
        source.record_audit(PersistedAudit(timestamp=5.0, total_actors=2))
        target.record_event(PersistedEvent(actor_address="x:1", event_type="E", timestamp=1.0))
        with pytest.raises(TargetNotEmptyError, match="1 events"):
            copy_store(source, target)
        assert target.list_audits() == ()  # nothing written
        report = copy_store(source, target, append=True)
        assert report.verified and report.target_before["event"] == 1 and report.total == 1
        assert len(target.list_events()) == 1 and len(target.list_audits()) == 1
    finally:
        source.close()
        target.close()


def test_dry_run_reads_and_digests_like_a_real_run_but_writes_nothing(tmp_path: Path) -> None:
    source = JsonFilePersistence(earlier_release_file(tmp_path / "legacy.ndjson"))
    target = InMemoryPersistence()
    try:
        dry = copy_store(source, target, dry_run=True)
        assert everything(target) == ((), (), ())
        assert dry.dry_run and not dry.verified and dry.total == 38
        real = copy_store(source, target)
        assert real.digest == dry.digest and real.counts == dry.counts
    finally:
        source.close()
        target.close()


@pytest.mark.redis
def test_target_that_drops_records_fails_verification(redis_server: RedisServer) -> None:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    source = InMemoryPersistence()
    target = RedisStreamsPersistence(  # trims each stream to 2 entries as it writes
        RedisStreamsConfig(url=redis_server.url, prefix=f"t{uuid.uuid4().hex[:10]}", approx_trim=False),
        retention_policy=RetentionPolicy(max_records=2),
    )
    try:
        for i in range(5):
            source.record_dead_letter(
                PersistedDeadLetter(target="x:1", message_type="M", payload=i, timestamp=float(i))
            )
        with pytest.raises(CopyVerificationError, match="dead_letter") as info:
            copy_store(source, target)
        assert info.value.report.counts["dead_letter"] == 5
    finally:
        source.close()
        target.close()


def test_copy_memory_does_not_grow_with_the_store(tmp_path: Path) -> None:
    import tracemalloc

    source = JsonFilePersistence(tmp_path / "big.ndjson", fsync="never")
    peaks = []
    written = 0
    try:
        for size in (4_000, 16_000):
            for i in range(written, size):
                payload = {"i": i, "pad": "x" * 100}
                source.record_event(PersistedEvent(actor_address=f"a:{i}", event_type="E", payload=payload,
                                                   timestamp=float(i)))
            written = size
            assert source.flush(30)
            target = JsonFilePersistence(tmp_path / f"copy-{size}.ndjson", fsync="never")
            try:
                tracemalloc.start()
                try:
                    assert copy_store(source, target, chunk_size=500).total == size
                    peaks.append(tracemalloc.get_traced_memory()[1])
                finally:
                    tracemalloc.stop()
            finally:
                target.close()
    finally:
        source.close()
    assert peaks[1] < peaks[0] * 1.5  # 4x the records, about the same peak: streamed, not loaded
