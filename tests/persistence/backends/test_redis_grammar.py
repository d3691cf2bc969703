"""Redis Streams: the ``data`` field follows the one record grammar (reads, scan, recover,
consume) — records in the earlier release's styles are delivered and kept, damage is counted."""

from __future__ import annotations

import math
from typing import Any

import pytest

from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode

pytestmark = pytest.mark.redis

NAN_ROW = (b'{"system_id": "local", "actor_address": {"system": "local", "actor_id": 1}, "event_type": '
           b'"ActorStarted", "payload": {"latency": NaN, "budget": Infinity}, "timestamp": 1764400001.0, '
           b'"kind": "event"}')
SURROGATE_ROW = (b'{"kind": "event", "system_id": "local", "actor_address": "local:2", "event_type": "E", '
                 b'"payload": {"file": "caf\\udce9.txt"}, "timestamp": 1764400002.0}')
DEEP_ROW = b'{"kind": "event", "timestamp": 1, "payload": ' + b"[" * 5000 + b"]" * 5000 + b"}"


def test_earlier_release_rows_are_read_consumed_and_kept_while_damage_is_counted(
    make_redis: Any, raw_redis: Any
) -> None:
    b = make_redis()
    key = b.stream_key("events")
    for data in (NAN_ROW, SURROGATE_ROW, DEEP_ROW, b"\xef\xbb\xbf" + SURROGATE_ROW):
        raw_redis.xadd(key, {"data": data})
    events = b.list_events()
    assert len(events) == 3
    assert math.isnan(events[0].payload["latency"]) and events[0].payload["budget"] == math.inf
    assert events[1].payload == {"file": "caf\udce9.txt"}
    assert b.metrics.snapshot()["unreadable_lines_skipped"] == 1

    (anomaly,) = b.scan().anomalies
    assert anomaly.detail is not None and "nested too deeply" in anomaly.detail

    consumed = b.consume("events", "g", "c", count=10, block_ms=None)
    assert len(consumed) == 3  # NaN and lone-surrogate rows are delivered, not quarantined
    assert [m.reason for m in consumed.quarantined] == [anomaly.detail.split(": ", 1)[1]]

    report = b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
    assert (report.kept_records, report.removed_lines, report.quarantined_lines) == (3, 1, 0)
    assert len(b.list_events()) == 3 and not b.scan().has_anomalies
