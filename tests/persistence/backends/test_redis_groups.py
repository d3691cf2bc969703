"""Redis Streams backend: consumer groups (at-least-once delivery, poison and malformed entries)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from papyra.exceptions import PersistenceError
from papyra.persistence.models import PersistedEvent
from tests.support.waiting import wait_until

pytestmark = pytest.mark.redis


def ev(i: int) -> PersistedEvent:
    return PersistedEvent(actor_address=f"local:{i}", event_type="E", payload={"i": i}, timestamp=float(i))


def filled(make_redis: Any, n: int, **settings: Any) -> Any:
    b = make_redis(**settings)
    for i in range(n):
        b.record_event(ev(i))
    assert b.flush(60)
    return b


def test_ensure_consumer_group_is_idempotent(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    assert b.ensure_consumer_group("events", "g1") is True
    assert b.ensure_consumer_group("events", "g1") is False
    assert b.ensure_consumer_group("event", "g2", start_id="$") is True
    groups = {g["name"] for g in raw_redis.xinfo_groups(b.stream_key("events"))}
    assert groups == {b"g1", b"g2"}
    raw_redis.set(b.stream_key("audits"), "x")
    with pytest.raises(PersistenceError, match="WRONGTYPE"):  # other errors are not swallowed
        b.ensure_consumer_group("audits", "g1")
    with pytest.raises(ValueError):
        b.ensure_consumer_group("metrics", "g1")


def test_consume_ack_round_trip(make_redis: Any) -> None:
    b = filled(make_redis, 3)
    result = b.consume("events", "g1", "c1", count=10, block_ms=100)  # group created on demand
    assert [e.record.actor_address for e in result] == ["local:0", "local:1", "local:2"]
    assert all(e.deliveries == 1 and e.stream == b.stream_key("events") for e in result)
    assert len(result) == 3 and result[0].id == result.ids[0]
    summary = b.pending("events", "g1")
    assert summary.count == 3 and summary.consumers == {"c1": 3}
    assert (summary.min_id, summary.max_id) == (result.ids[0], result.ids[-1])
    assert b.ack("events", "g1", result.ids) == 3
    assert b.ack("events", "g1", []) == 0
    assert b.pending("events", "g1").count == 0
    assert len(b.consume("events", "g1", "c1", block_ms=None)) == 0


def _xreadgroup_calls(raw_redis: Any) -> int:
    return int(raw_redis.info("commandstats").get("cmdstat_xreadgroup", {}).get("calls", 0))


def test_consume_blocks_for_new_entries(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis(socket_timeout=0.5)  # blocking is split below the socket timeout
    b.ensure_consumer_group("events", "g", start_id="$")
    started = time.monotonic()
    assert len(b.consume("events", "g", "c", block_ms=800)) == 0  # no socket timeout on the way
    assert time.monotonic() - started >= 0.8  # it waited the whole 800 ms
    calls = _xreadgroup_calls(raw_redis)
    assert len(b.consume("events", "g", "c", block_ms=None)) == 0
    assert _xreadgroup_calls(raw_redis) == calls + 1  # one non-blocking read (BLOCK 0 would hang)
    blocked = threading.Event()

    def write_once_blocked() -> None:  # the entry arrives while consume() is blocked, not before
        wait_until(lambda: raw_redis.info("clients")["blocked_clients"] >= 1, timeout=60, what="a block")
        blocked.set()
        b.record_event(ev(7))

    writer = threading.Thread(target=write_once_blocked)
    writer.start()
    got = b.consume("events", "g", "c", block_ms=120_000)  # returns when the entry arrives
    writer.join(60)
    assert blocked.is_set() and [e.record.timestamp for e in got] == [7.0]


def test_pending_per_consumer_and_claim(make_redis: Any) -> None:
    b = filled(make_redis, 4)
    first = b.consume("events", "g", "c1", count=3, block_ms=None)
    b.consume("events", "g", "c2", count=3, block_ms=None)
    summary = b.pending("events", "g")
    assert summary.count == 4 and summary.consumers == {"c1": 3, "c2": 1}
    rows = b.pending_entries("events", "g", consumer="c1")
    assert [r.id for r in rows] == list(first.ids)
    assert all(r.consumer == "c1" and r.deliveries == 1 and r.idle_ms >= 0 for r in rows)
    claimed = b.claim("events", "g", "c2", 0, [first.ids[0]])
    assert claimed.ids == (first.ids[0],) and claimed[0].deliveries == 2
    assert b.claim("events", "g", "c2", 60_000, [first.ids[1]]).ids == ()  # not idle long enough
    assert b.pending("events", "g").consumers == {"c1": 2, "c2": 2}
    assert b.ack("events", "g", [first.ids[0]]) == 1
    assert b.pending("events", "g").count == 3


def test_autoclaim_pages_and_reports_deleted(make_redis: Any, raw_redis: Any) -> None:
    b = filled(make_redis, 5)
    ids = b.consume("events", "g", "dead-consumer", count=5, block_ms=None).ids
    raw_redis.xdel(b.stream_key("events"), ids[4])  # gone from the stream, still pending
    page1 = b.autoclaim("events", "g", "rescuer", min_idle_ms=0, count=2)
    assert page1.ids == ids[:2] and page1.next_id not in (None, "0-0")
    assert all(e.deliveries == 2 for e in page1)
    page2 = b.autoclaim("events", "g", "rescuer", 0, start=page1.next_id, count=10)
    assert page2.ids == ids[2:4] and page2.deleted_ids == (ids[4],)
    assert page2.next_id == "0-0"
    assert b.pending("events", "g").consumers == {"rescuer": 4}


def test_poison_entry_goes_to_dead_letter_stream(make_redis: Any, raw_redis: Any) -> None:
    b = filled(make_redis, 2, max_deliveries=2)
    assert len(b.consume("events", "g", "c", count=1, block_ms=None)) == 1  # delivery 1
    again = b.consume("events", "g", "c", read_id="0", block_ms=None)  # delivery 2: still OK
    assert len(again) == 1 and again[0].deliveries == 2
    third = b.consume("events", "g", "c", read_id="0", block_ms=None)  # delivery 3: poison
    assert len(third) == 0
    (moved,) = third.dead_lettered
    assert moved.id == again[0].id and moved.deliveries == 3
    assert moved.moved_to == b.config.dead_letter_key("events")
    (dlq,) = raw_redis.xrange(moved.moved_to)
    fields = dlq[1]
    assert fields[b"id"] == moved.id.encode() and fields[b"group"] == b"g"
    assert fields[b"deliveries"] == b"3" and fields[b"source"] == b.stream_key("events").encode()
    assert b"local:0" in fields[b"data"]
    assert b.pending("events", "g").count == 0
    # the other entry is unaffected
    assert [e.record.actor_address for e in b.consume("events", "g", "c", block_ms=None)] == ["local:1"]


def test_poison_entry_via_claim(make_redis: Any) -> None:
    b = filled(make_redis, 1, max_deliveries=1)
    (entry,) = b.consume("events", "g", "c1", block_ms=None)
    result = b.claim("events", "g", "c2", 0, [entry.id])
    assert result.ids == () and [m.id for m in result.dead_lettered] == [entry.id]
    assert b.pending("events", "g").count == 0


def test_malformed_entry_is_quarantined_acked_and_reported(make_redis: Any, raw_redis: Any) -> None:
    b = make_redis()
    key = b.stream_key("events")
    b.record_event(ev(1))
    assert b.flush(60)
    bad1 = raw_redis.xadd(key, {"data": "{broken"}).decode()
    bad2 = raw_redis.xadd(key, {"nodata": "1"}).decode()
    b.record_event(ev(2))
    assert b.flush(60)
    result = b.consume("events", "g", "c", count=10, block_ms=None)
    assert [e.record.timestamp for e in result] == [1.0, 2.0]
    assert [q.id for q in result.quarantined] == [bad1, bad2]
    assert "invalid JSON" in result.quarantined[0].reason
    assert "missing 'data'" in result.quarantined[1].reason
    qkey = b.config.quarantine_key(key)
    assert result.quarantined[0].moved_to == qkey
    copies = raw_redis.xrange(qkey)
    assert [c[1][b"id"].decode() for c in copies] == [bad1, bad2]
    assert copies[0][1][b"data"] == b"{broken" and copies[0][1][b"group"] == b"g"
    assert b.pending("events", "g").count == 2  # only the good ones, until acked
    assert b.ack("events", "g", result.ids) == 2
    assert b.pending("events", "g").count == 0


def test_two_consumers_share_a_group_without_double_processing(make_redis: Any) -> None:
    b = filled(make_redis, 300)
    b.ensure_consumer_group("events", "workers")
    processed: dict[str, list[str]] = {"w1": [], "w2": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            idle = 0
            while idle < 3:
                batch = b.consume("events", "workers", name, count=7, block_ms=50)
                if not batch:
                    idle += 1
                    continue
                idle = 0
                processed[name].extend(batch.ids)
                assert b.ack("events", "workers", batch.ids) == len(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,), name=f"test-{n}") for n in processed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    w1, w2 = set(processed["w1"]), set(processed["w2"])
    assert not (w1 & w2)
    assert len(w1) + len(w2) == 300 == len(processed["w1"]) + len(processed["w2"])
    assert b.pending("events", "workers").count == 0
    # acked entries are never delivered again, to anyone
    assert len(b.consume("events", "workers", "w1", read_id="0", block_ms=None)) == 0
    assert len(b.autoclaim("events", "workers", "w3", 0)) == 0


def test_instances_with_distinct_system_ids_have_their_own_streams(make_redis: Any) -> None:
    a = make_redis(system_id="node-a")
    b = make_redis(prefix=a.config.prefix, system_id="node-b")
    a.record_event(PersistedEvent(system_id="node-a", event_type="A", timestamp=1.0))
    b.record_event(PersistedEvent(system_id="node-b", event_type="B", timestamp=1.0))
    assert a.flush(60) and b.flush(60)
    assert [e.record.event_type for e in a.consume("events", "g", "c", block_ms=None)] == ["A"]
    assert [e.record.event_type for e in b.consume("events", "g", "c", block_ms=None)] == ["B"]
