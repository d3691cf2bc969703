"""Redis Streams backend throughput against raw redis-py, same server, same run.

Rounds alternate between papyra and the reference (``benchmarks.measure.side_by_side``); the
figures are stored in ``extra_info``:

* ``redis_write_vs_raw`` — papyra: ``record_event`` for every record (encode + queue), then
  ``flush()`` (everything is in Redis); reference: raw redis-py pipelined
  ``XADD key * data <json>`` in batches of 100, with the JSON bodies encoded beforehand (the
  reference pays for no encoding at all).
* ``redis_tail_vs_raw`` — papyra: ``list_events(limit=100)``; reference: raw ``XREVRANGE COUNT
  100`` plus a msgspec typed decode of each body.

Modest sizes by default (CI runs ``pytest benchmarks --benchmark-disable``: one round each);
``PAPYRA_BENCH_FULL=1`` for the tracked sizes. The benchmark starts its own ``redis-server``
(tests/support/redis_server.py).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # "tests.support" when pytest is run as a script
    sys.path.insert(0, str(ROOT))

from benchmarks.measure import side_by_side  # noqa: E402
from papyra.persistence.grammar import encode_record_body  # noqa: E402
from papyra.persistence.models import PersistedEvent  # noqa: E402
from tests.support.redis_server import RedisServer, require_redis_binary  # noqa: E402

redis = pytest.importorskip("redis")

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
RECORDS = 100_000 if FULL else 5_000
READS = 200 if FULL else 20
ROUNDS = 5 if FULL else 1
WARMUP = 1 if FULL else 0


@pytest.fixture(scope="module")
def bench_redis() -> Iterator[RedisServer]:
    with RedisServer(require_redis_binary()) as server:
        yield server


def _records(n: int) -> list[PersistedEvent]:
    return [
        PersistedEvent(
            system_id="bench",
            actor_address=f"bench:{i}",
            event_type="ActorStarted",
            payload={"i": i, "note": "benchmark"},
            timestamp=1.7e9 + i,
        )
        for i in range(n)
    ]


def test_redis_streams_throughput_vs_raw_pipelined_xadd(benchmark: Any, bench_redis: RedisServer) -> None:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    records = _records(RECORDS)
    bodies = [encode_record_body(r) for r in records]
    client = redis.Redis.from_url(bench_redis.url, protocol=2)

    def raw() -> None:
        key = f"raw-{uuid.uuid4().hex}"
        for i in range(0, len(bodies), 100):
            pipe = client.pipeline(transaction=False)
            for body in bodies[i : i + 100]:
                pipe.xadd(key, {"data": body})
            pipe.execute()
        assert client.xlen(key) == len(bodies)
        client.delete(key)

    def papyra() -> None:
        config = RedisStreamsConfig(url=bench_redis.url, prefix=f"bench-{uuid.uuid4().hex}")
        backend = RedisStreamsPersistence(config)
        try:
            for record in records:
                backend.record_event(record)
            assert backend.flush(120)
            key = backend.stream_key("events")
            assert client.xlen(key) == len(records)
            client.delete(key)
        finally:
            backend.close()

    try:
        side_by_side(benchmark, papyra, {"redis_write_vs_raw": raw}, rounds=ROUNDS, warmup=WARMUP,
                     work=RECORDS, unit="records")
    finally:
        client.close()


def test_redis_newest_100_read(benchmark: Any, bench_redis: RedisServer) -> None:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    config = RedisStreamsConfig(url=bench_redis.url, prefix=f"read-{uuid.uuid4().hex}")
    backend = RedisStreamsPersistence(config)
    client = redis.Redis.from_url(bench_redis.url, protocol=2)
    decoder = msgspec.json.Decoder(PersistedEvent)
    key = backend.stream_key("events")

    def papyra() -> None:
        for _ in range(READS):
            result = backend.list_events(limit=100)
            assert len(result) == 100 and result[-1].actor_address == f"bench:{RECORDS - 1}"

    def raw() -> None:
        for _ in range(READS):
            entries = client.xrevrange(key, count=100)
            result = [decoder.decode(fields[b"data"]) for _, fields in reversed(entries)]
            assert len(result) == 100 and result[-1].actor_address == f"bench:{RECORDS - 1}"

    try:
        for record in _records(RECORDS):
            backend.record_event(record)
        assert backend.flush(120)
        side_by_side(benchmark, papyra, {"redis_tail_vs_raw": raw}, rounds=ROUNDS, warmup=WARMUP,
                     work=READS, unit="reads")
    finally:
        client.close()
        backend.close()
