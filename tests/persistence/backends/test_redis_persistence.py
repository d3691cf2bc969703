"""Redis Streams backend: storage format, reads, retention, compaction, scan and recovery."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from papyra.exceptions import ConfigurationError, MissingDependencyError, PersistenceClosedError
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.grammar import encode_record_body
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomalyType,
    PersistenceRecoveryConfig,
    PersistenceRecoveryMode,
)
from papyra.persistence.retention import RetentionPolicy

pytestmark = pytest.mark.redis


def ev(i: int, ts: float | None = None, system: str = "local") -> PersistedEvent:
    return PersistedEvent(
        system_id=system,
        actor_address=f"{system}:{i}",
        event_type="ActorStarted",
        payload={"i": i},
        timestamp=float(i) if ts is None else ts,
    )


@contextmanager
def slowlog(raw: Any) -> Iterator[list[list[str]]]:
    """Collect every command the server runs inside the block (argument lists as str)."""
    commands: list[list[str]] = []
    old = raw.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"]
    raw.config_set("slowlog-log-slower-than", 0)
    raw.slowlog_reset()
    try:
        yield commands
        for entry in reversed(raw.slowlog_get(1000)):
            cmd = entry["command"]
            commands.append((cmd.decode() if isinstance(cmd, bytes) else cmd).split())
    finally:
        raw.config_set("slowlog-log-slower-than", old)


# --------------------------------------------------------------------------- format


def test_round_trip_each_kind(make_redis: Any) -> None:
    b = make_redis()
    b.record_event(PersistedEvent(actor_address="local:1", event_type="ActorStopped", timestamp=1.0))
    b.record_audit(PersistedAudit(timestamp=2.0, total_actors=10, alive_actors=8, registry_dead=("w",)))
    b.record_dead_letter(
        PersistedDeadLetter(target="local:9", message_type="str", payload="hello", timestamp=3.0)
    )
    (e,) = b.list_events()
    assert (e.actor_address, e.event_type, e.timestamp) == ("local:1", "ActorStopped", 1.0)
    (a,) = b.list_audits()
    assert (a.total_actors, a.alive_actors, a.registry_dead) == (10, 8, ("w",))
    (d,) = b.list_dead_letters()
    assert (d.target, d.message_type, d.payload, d.timestamp) == ("local:9", "str", "hello", 3.0)
    snap = b.metrics.snapshot()
    assert snap["records_written"] == 3 and snap["bytes_written"] > 0


def test_stream_layout_is_one_data_field_per_entry(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(system_id="node-a")
    event = ev(1)
    b.record_event(event)
    b.record_audit(PersistedAudit(timestamp=1.0))
    b.record_dead_letter(PersistedDeadLetter(timestamp=1.0))
    assert b.flush(60)
    prefix = b.config.prefix
    for kind in ("events", "audits", "dead_letters"):
        entries = raw_redis.xrange(f"{prefix}:node-a:{kind}")
        assert len(entries) == 1
        assert list(entries[0][1]) == [b"data"]
    data = raw_redis.xrange(f"{prefix}:node-a:events")[0][1][b"data"]
    assert data == encode_record_body(event)
    # readable by the earlier implementation: a JSON object with kind and every field
    obj = json.loads(data)
    assert obj["kind"] == "event" and obj["actor_address"] == "local:1" and obj["payload"] == {"i": 1}
    assert b.stream_key("event") == f"{prefix}:node-a:events"


def test_reads_entries_written_by_the_earlier_implementation(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    p = b.config.prefix
    raw_redis.xadd(f"{p}:local:events", {"data": json.dumps({
        "kind": "event", "system_id": "local", "actor_address": {"system": "local", "actor_id": 1},
        "event_type": "ActorStarted", "payload": {}, "timestamp": 1700000000.123,
    })})
    raw_redis.xadd(f"{p}:local:events", {"data": '{"actor_address": "local://1", "event_type": '
                                                 '"ActorStopped", "timestamp": 400.0, "kind": "event"}'})
    raw_redis.xadd(f"{p}:local:dead_letters", {"data": json.dumps({
        "kind": "dead_letter", "system_id": "local",
        "target": {"_rid": 1, "_mailbox_put": "<bound method ...>",
                   "_address": {"system": "local", "actor_id": 1}},
        "message_type": "str", "payload": "late", "timestamp": 12.5,
    }, ensure_ascii=False)})
    raw_redis.xadd(f"{p}:local:audits", {"data": '{"kind": "audit", "system_id": "local", '
                                                 '"timestamp": 200.0, "total_actors": 3, "extra": 1}'})
    e1, e2 = b.list_events()
    assert e1.actor_address == "local:1" and e1.timestamp == 1700000000.123
    assert e2.actor_address == "local://1" and e2.event_type == "ActorStopped"
    (d,) = b.list_dead_letters()
    assert d.target == "local:1" and d.payload == "late"
    (a,) = b.list_audits()
    assert a.total_actors == 3 and a.alive_actors == 0
    assert not b.scan().has_anomalies


# --------------------------------------------------------------------------- reads


def test_limit_reads_only_the_newest_entries(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(page_size=50)
    for i in range(120):
        b.record_event(ev(i))
    assert b.flush(60)
    key = b.stream_key("events")
    with slowlog(raw_redis) as commands:
        got = b.list_events(limit=5)
    assert [e.timestamp for e in got] == [115.0, 116.0, 117.0, 118.0, 119.0]
    reads = [c for c in commands if c[0].upper() in ("XRANGE", "XREVRANGE") and c[1] == key]
    assert reads == [["XREVRANGE", key, "+", "-", "COUNT", "5"]]
    with slowlog(raw_redis) as commands:
        everything = b.list_events()
    assert len(everything) == 120 and everything[0].timestamp == 0.0
    reads = [c for c in commands if c[0].upper() == "XREVRANGE" and c[1] == key]
    assert len(reads) == 3 and all(c[-1] == "50" for c in reads)  # paged, never all at once


def test_since_until_and_limit(make_redis: Any) -> None:
    b = make_redis()
    for i in range(1, 6):
        b.record_event(ev(i, ts=i * 100.0))

    def ts(records: Any) -> list[float]:
        return [r.timestamp for r in records]

    assert ts(b.list_events(since=200.0)) == [200.0, 300.0, 400.0, 500.0]
    assert ts(b.list_events(until=300.0)) == [100.0, 200.0, 300.0]
    assert ts(b.list_events(since=200.0, until=400.0, limit=2)) == [300.0, 400.0]
    assert b.list_events(since=600.0) == ()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError):
            b.list_events(limit=bad)


def test_since_uses_stream_ids_for_recent_records(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(since_id_slack=5.0)
    p = b.config.prefix
    old = json.dumps({"kind": "event", "event_type": "old", "timestamp": 1.0})
    raw_redis.xadd(f"{p}:local:events", {"data": old}, id="1000-0")  # arrived in 1970
    now = time.time()
    b.record_event(PersistedEvent(event_type="new", timestamp=now))
    key = b.stream_key("events")
    with slowlog(raw_redis) as commands:
        got = b.list_events(since=now - 1)
    assert [e.event_type for e in got] == ["new"]
    (read,) = [c for c in commands if c[0].upper() == "XREVRANGE" and c[1] == key]
    assert read[3] == str(int((now - 6) * 1000))  # lower bound: since - slack, as a stream id
    exact = make_redis(prefix=p, since_id_slack=None)
    assert [e.event_type for e in exact.list_events(since=0.5)] == ["old", "new"]


def test_read_your_writes_and_type_checks(make_redis: Any) -> None:
    b = make_redis()
    for i in range(50):
        b.record_event(ev(i))
        assert len(b.list_events(limit=1)) == 1
    assert len(b.list_events()) == 50
    with pytest.raises(TypeError):
        b.record_event(PersistedAudit(timestamp=1.0))
    b.close()
    with pytest.raises(PersistenceClosedError):
        b.record_event(ev(1))
    assert len(b.list_events()) == 50  # reads still work after close


# --------------------------------------------------------------------------- retention


def test_retention_on_reads_is_per_stream(make_redis: Any) -> None:
    b = make_redis(retention_policy=RetentionPolicy(max_records=2))
    for i in range(5):
        b.record_event(ev(i))
        b.record_audit(PersistedAudit(timestamp=float(i), total_actors=i))
    assert [e.actor_address for e in b.list_events()] == ["local:3", "local:4"]
    assert [a.total_actors for a in b.list_audits()] == [3, 4]


def test_retention_trims_exactly_on_write(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(retention_policy=RetentionPolicy(max_records=3), approx_trim=False)
    for i in range(10):
        b.record_event(ev(i))
    assert b.flush(60)
    assert raw_redis.xlen(b.stream_key("events")) == 3
    assert [e.timestamp for e in b.list_events()] == [7.0, 8.0, 9.0]


def test_retention_trims_approximately_on_write(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(retention_policy=RetentionPolicy(max_records=100))
    for i in range(3000):
        b.record_event(ev(i))
    assert b.flush(60)
    n = raw_redis.xlen(b.stream_key("events"))
    assert 100 <= n < 3000  # "~": whole macro nodes only
    assert len(b.list_events()) == 100  # reads still apply the policy exactly


def test_age_retention_trims_by_minid_on_write(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(retention_policy=RetentionPolicy(max_age_seconds=3600), approx_trim=False)
    key = b.stream_key("events")
    raw_redis.xadd(key, {"data": encode_record_body(ev(1))}, id="1000-0")  # written in 1970
    b.record_event(ev(2, ts=time.time()))
    assert b.flush(60)
    assert [e[0] for e in raw_redis.xrange(key)] != [b"1000-0"]
    assert raw_redis.xlen(key) == 1
    both = make_redis(
        retention_policy=RetentionPolicy(max_age_seconds=3600, max_records=2), approx_trim=False
    )
    key2 = both.stream_key("events")
    raw_redis.xadd(key2, {"data": encode_record_body(ev(1))}, id="1000-0")
    for i in range(5):
        both.record_event(ev(i, ts=time.time()))
    assert both.flush(60)
    assert raw_redis.xlen(key2) == 2


def test_compact_trims_each_stream_by_max_records(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    for i in range(5):
        b.record_event(ev(i))
        b.record_audit(PersistedAudit(timestamp=float(i)))
    assert b.flush(60)
    trimmer = make_redis(prefix=b.config.prefix, retention_policy=RetentionPolicy(max_records=2))
    report = trimmer.compact()
    assert report.backend == "redis"
    assert (report.before_records, report.after_records) == (10, 4)
    assert report.before_bytes is None and report.reclaimed_bytes is None
    assert raw_redis.xlen(b.stream_key("events")) == 2
    assert trimmer.metrics.snapshot()["compactions"] == 1
    assert trimmer.compact().removed_records == 0


def test_compact_by_age_and_bytes_uses_record_timestamps(make_redis: Any, raw_redis: Any) -> None:
    now = time.time()
    b = make_redis()
    for i in range(4):
        b.record_event(ev(i, ts=now - 7200))  # too old
    for i in range(4, 8):
        b.record_event(ev(i, ts=now))
    b.record_event(ev(8, ts=now - 7200))  # old record, written late: deleted from the middle
    b.record_event(ev(9, ts=now))
    assert b.flush(60)
    aged = make_redis(prefix=b.config.prefix, retention_policy=RetentionPolicy(max_age_seconds=3600))
    report = aged.compact()
    assert (report.before_records, report.after_records) == (10, 5)
    assert [e.actor_address for e in b.list_events()] == [f"local:{i}" for i in (4, 5, 6, 7, 9)]
    size = len(encode_record_body(ev(9, ts=now)))
    sized = make_redis(prefix=b.config.prefix, retention_policy=RetentionPolicy(max_total_bytes=size * 2))
    assert sized.compact().after_records == 2
    assert [e.actor_address for e in b.list_events()] == ["local:7", "local:9"]


# --------------------------------------------------------------------------- scan / recover


def _inject_bad(raw: Any, key: str) -> list[bytes]:
    return [
        raw.xadd(key, {"other": "x"}),  # missing data
        raw.xadd(key, {"data": "{not-json"}),
        raw.xadd(key, {"data": "[1, 2]"}),  # not an object
        raw.xadd(key, {"data": '{"kind": "metric", "timestamp": 1.0}'}),  # unknown kind
        raw.xadd(key, {"data": '{"kind": "audit", "timestamp": 1.0}'}),  # wrong stream
    ]


def test_scan_reports_each_bad_entry_with_key_and_id(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    b.record_event(ev(1))
    assert b.flush(60)
    key = b.stream_key("events")
    ids = _inject_bad(raw_redis, key)
    b.record_event(ev(2))
    report = b.scan()
    assert len(report.anomalies) == 5
    for anomaly, entry_id in zip(report.anomalies, ids, strict=True):
        assert anomaly.type is PersistenceAnomalyType.CORRUPTED_LINE
        assert anomaly.path == key
        assert anomaly.detail is not None and anomaly.detail.startswith(f"entry {entry_id.decode()}:")
    details = " | ".join(a.detail or "" for a in report.anomalies)
    for words in ("missing 'data'", "invalid JSON", "not a JSON object", "unknown kind", "kind 'audit'"):
        assert words in details
    snap = b.metrics.snapshot()
    assert snap["scans"] == 1 and snap["anomalies_detected"] == 5
    assert [e.timestamp for e in b.list_events()] == [1.0, 2.0]  # reads skip bad entries


def test_scan_sample_size_checks_only_the_newest(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(scan_sample_size=3)
    raw_redis.xadd(b.stream_key("events"), {"data": "{bad"})
    for i in range(5):
        b.record_event(ev(i))
    assert not b.scan().has_anomalies
    wide = make_redis(prefix=b.config.prefix, scan_sample_size=6)
    assert len(wide.scan().anomalies) == 1


def test_recover_repair_deletes_bad_entries(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    b.record_event(ev(1))
    assert b.flush(60)
    _inject_bad(raw_redis, b.stream_key("events"))
    raw_redis.xadd(b.stream_key("audits"), {"data": "{bad"})
    assert b.recover().repaired_files == ()  # IGNORE by default: nothing changes
    report = b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
    assert len(report.scan.anomalies) == 6
    assert set(report.repaired_files) == {b.stream_key("events"), b.stream_key("audits")}
    assert report.quarantined_files == ()
    assert not b.scan().has_anomalies
    assert raw_redis.xlen(b.stream_key("events")) == 1
    again = PersistenceRecoveryConfig(mode="repair")  # type: ignore[arg-type]  # str accepted
    assert b.recover(again).repaired_files == ()  # a second recovery is a no-op


@pytest.mark.parametrize("quarantine_prefix", [None, "qbase"])
def test_recover_quarantine_copies_then_deletes(
    make_redis: Any, raw_redis: Any, quarantine_prefix: str | None
) -> None:
    b = make_redis(quarantine_prefix=quarantine_prefix)
    p = b.config.prefix
    b.record_event(ev(1))
    assert b.flush(60)
    key = b.stream_key("events")
    ids = _inject_bad(raw_redis, key)
    report = b.recover(
        PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE, quarantine_dir="ignored")
    )
    base = quarantine_prefix or f"{p}:local:quarantine"
    qkey = f"{base}:{p}_local_events"
    assert report.quarantined_files == (qkey,) and report.repaired_files == (key,)
    copies = raw_redis.xrange(qkey)
    assert [c[1][b"id"] for c in copies] == ids
    assert copies[0][1][b"data"] == b"" and copies[1][1][b"data"] == b"{not-json"
    assert all(c[1][b"source"] == key.encode() and c[1][b"reason"] for c in copies)
    assert not b.scan().has_anomalies
    assert len(b.list_events()) == 1
    assert b.metrics.snapshot()["recoveries"] == 1


# --------------------------------------------------------------------------- config / packaging


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError):
        RedisStreamsConfig(url="http://localhost")
    with pytest.raises(ConfigurationError):
        RedisStreamsConfig(prefix="")
    with pytest.raises(ConfigurationError):
        RedisStreamsConfig(max_buffer=0)
    with pytest.raises(ConfigurationError):
        RedisStreamsConfig(scan_sample_size=-3)
    with pytest.raises(ConfigurationError):
        RedisStreamsConfig(max_deliveries=0)
    cfg = RedisStreamsConfig(prefix="app", system_id="n1")
    assert cfg.stream_keys == ("app:n1:events", "app:n1:audits", "app:n1:dead_letters")
    assert cfg.quarantine_key("app:n1:events") == "app:n1:quarantine:app_n1_events"
    assert cfg.dead_letter_key("event") == "app:n1:dlq:events"
    with pytest.raises(ValueError):
        cfg.stream_key("metrics")


def test_rediss_url_and_no_io_on_construction() -> None:
    # Nothing listens on this port; construction must not connect.
    b = RedisStreamsPersistence(RedisStreamsConfig(url="rediss://user:pw-xyz@127.0.0.1:1/2"))
    try:
        pool = b._client.connection_pool
        assert pool.connection_class.__name__ == "SSLConnection"
        assert pool.connection_kwargs["username"] == "user" and pool.connection_kwargs["db"] == 2
        assert "pw-xyz" not in repr(b) and "pw-xyz" not in str(b.describe())
        assert b.capabilities.supports_consumer_groups
    finally:
        b.close()


def test_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes "import redis" fail
    with pytest.raises(MissingDependencyError, match=r"papyra\[redis\]") as info:
        RedisStreamsPersistence(RedisStreamsConfig())
    assert isinstance(info.value, ImportError)


def test_importing_papyra_does_not_import_redis() -> None:
    code = (
        "import sys, papyra, papyra.persistence, papyra.persistence.backends.redis;"
        "assert 'redis' not in sys.modules, 'redis imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
