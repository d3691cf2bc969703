"""Redis Streams backend throughput against raw redis-py, same server, same run.

Baseline: raw redis-py pipelined ``XADD key * data <json>`` in batches of 100, with the JSON
bodies encoded beforehand (the baseline pays for no encoding at all). Papyra: ``record_event``
for every record (encode + queue) and then ``flush()`` (everything is in Redis). The target is a
ratio of at least 0.7; the ratio is printed and stored in ``extra_info``.

Modest sizes by default (CI runs ``pytest benchmarks --benchmark-disable``, where each benchmark
runs once and the ratio is reported, not asserted); ``PAPYRA_BENCH_FULL=1`` for larger runs. The
benchmark starts its own ``redis-server`` (tests/support/redis_server.py).

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_redis_bench.py -s
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # "tests.support" when pytest is run as a script
    sys.path.insert(0, str(ROOT))

from papyra.persistence.grammar import encode_record_body  # noqa: E402
from papyra.persistence.models import PersistedEvent  # noqa: E402
from tests.support.redis_server import RedisServer, require_redis_binary  # noqa: E402

redis = pytest.importorskip("redis")

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
RECORDS = 100_000 if FULL else 5_000
ROUNDS = 5 if FULL else 2
TARGET_RATIO = 0.7


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


def _raw_rate(client: Any, bodies: list[bytes]) -> float:
    key = f"raw-{uuid.uuid4().hex}"
    started = time.perf_counter()
    for i in range(0, len(bodies), 100):
        pipe = client.pipeline(transaction=False)
        for body in bodies[i : i + 100]:
            pipe.xadd(key, {"data": body})
        pipe.execute()
    elapsed = time.perf_counter() - started
    assert client.xlen(key) == len(bodies)
    client.delete(key)
    return len(bodies) / elapsed


def _papyra_rate(url: str, records: list[PersistedEvent], client: Any) -> float:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    backend = RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=f"bench-{uuid.uuid4().hex}"))
    try:
        started = time.perf_counter()
        for record in records:
            backend.record_event(record)
        assert backend.flush(120)
        elapsed = time.perf_counter() - started
        key = backend.stream_key("events")
        assert client.xlen(key) == len(records)
        client.delete(key)
    finally:
        backend.close()
    return len(records) / elapsed


def test_redis_streams_throughput_vs_raw_pipelined_xadd(benchmark: Any, bench_redis: RedisServer) -> None:
    records = _records(RECORDS)
    bodies = [encode_record_body(r) for r in records]
    client = redis.Redis.from_url(bench_redis.url, protocol=2)
    try:
        _raw_rate(client, bodies[:1000])  # warm up both paths
        _papyra_rate(bench_redis.url, records[:1000], client)
        raw = max(_raw_rate(client, bodies) for _ in range(ROUNDS))
        ours = max(_papyra_rate(bench_redis.url, records, client) for _ in range(ROUNDS))
        ratio = ours / raw
        benchmark.extra_info.update(
            records=RECORDS, raw_per_s=round(raw), papyra_per_s=round(ours), ratio=round(ratio, 3)
        )
        print(
            f"\nredis streams: papyra {ours:,.0f} rec/s vs raw pipelined XADD x100 {raw:,.0f} rec/s "
            f"-> ratio {ratio:.2f} (target >= {TARGET_RATIO}; {RECORDS} records, best of {ROUNDS})"
        )
        benchmark.pedantic(
            _papyra_rate, args=(bench_redis.url, records, client), rounds=1, iterations=1
        )
        if not benchmark.disabled:
            assert ratio >= TARGET_RATIO, f"papyra/raw throughput ratio {ratio:.2f} < {TARGET_RATIO}"
    finally:
        client.close()


def test_redis_newest_100_read(benchmark: Any, bench_redis: RedisServer) -> None:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    config = RedisStreamsConfig(url=bench_redis.url, prefix=f"read-{uuid.uuid4().hex}")
    backend = RedisStreamsPersistence(config)
    try:
        for record in _records(RECORDS):
            backend.record_event(record)
        assert backend.flush(120)
        result = benchmark(backend.list_events, limit=100)
        assert len(result) == 100 and result[-1].actor_address == f"bench:{RECORDS - 1}"
    finally:
        backend.close()
