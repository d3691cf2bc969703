"""Redis at scale, side by side in one run: 8 application instances (``system_id``s, one backend
and one producer thread each) writing into a 3-primary Redis Cluster vs into one node; and the
cost of replicated acknowledgements, ``min_replicas_ack=1`` vs 0, on a primary with one replica.

Every server is started here (tests/support/redis_topologies.py), with the same persistence
(AOF ``everysec``) for the cluster and the single node. Records/s = all records of all systems /
time from the first ``record_event`` until every backend's ``flush()`` returned True. The figures
are printed and stored in ``extra_info``; nothing is asserted (the comparison depends on how many
cores the clients and servers share — on a 2-core box, one Python process and three servers
compete for the same CPUs).

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_redis_cluster_bench.py -s
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # "tests.support" when pytest is run as a script
    sys.path.insert(0, str(ROOT))

from papyra.persistence.models import PersistedEvent  # noqa: E402
from tests.support.redis_server import RedisServer, require_redis_binary  # noqa: E402
from tests.support.redis_topologies import RedisClusterNodes, wait_replica_in_sync  # noqa: E402

pytest.importorskip("redis")

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
SYSTEMS = 8
PER_SYSTEM = 50_000 if FULL else 2_000
AOF = ("--appendonly", "yes", "--appendfsync", "everysec")


@pytest.fixture(scope="module")
def bench_cluster() -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(require_redis_binary())
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


@pytest.fixture(scope="module")
def bench_node() -> Iterator[RedisServer]:
    with RedisServer(require_redis_binary(), extra_args=AOF) as server:
        yield server


@pytest.fixture(scope="module")
def replicated() -> Iterator[RedisServer]:
    """A primary with one in-sync replica; yields the primary."""
    binary = require_redis_binary()
    with RedisServer(binary, extra_args=AOF) as primary:
        replica = RedisServer(binary, extra_args=(*AOF, "--replicaof", "127.0.0.1", str(primary.port)))
        try:
            replica.start()
            wait_replica_in_sync(replica)
            yield primary
        finally:
            replica.cleanup()


def _rate(url: str, **settings: Any) -> float:
    """Records/s of SYSTEMS backends written concurrently (see module docs)."""
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    backends = [
        RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=prefix, system_id=f"s{n}", **settings))
        for n in range(SYSTEMS)
    ]
    batches = [
        [
            PersistedEvent(system_id=f"s{n}", actor_address=f"s{n}:{i}", event_type="E", payload={"i": i},
                           timestamp=1.7e9 + i)
            for i in range(PER_SYSTEM)
        ]
        for n in range(SYSTEMS)
    ]
    start = threading.Barrier(SYSTEMS + 1)
    failures: list[BaseException] = []

    def produce(backend: Any, records: list[PersistedEvent]) -> None:
        try:
            start.wait()
            for record in records:
                backend.record_event(record)
            assert backend.flush(300)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=produce, args=pair) for pair in zip(backends, batches, strict=True)]
    try:
        for t in threads:
            t.start()
        start.wait()
        began = time.perf_counter()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        assert failures == []
        assert all(len(b.list_events(limit=1)) == 1 for b in backends)
    finally:
        for b in backends:
            b.close()
    return SYSTEMS * PER_SYSTEM / elapsed


def test_eight_systems_cluster_vs_single_node(
    benchmark: Any, bench_cluster: RedisClusterNodes, bench_node: RedisServer
) -> None:
    _rate(bench_node.url)  # warm up both
    _rate(bench_cluster.url, cluster=True)
    single = _rate(bench_node.url)
    cluster = _rate(bench_cluster.url, cluster=True)
    benchmark.extra_info.update(
        systems=SYSTEMS, records=SYSTEMS * PER_SYSTEM, single_per_s=round(single),
        cluster_per_s=round(cluster), ratio=round(cluster / single, 3),
    )
    print(
        f"\n{SYSTEMS} systems x {PER_SYSTEM} records: 3-node cluster {cluster:,.0f} rec/s vs one node "
        f"{single:,.0f} rec/s -> {cluster / single:.2f}x"
    )
    benchmark.pedantic(_rate, args=(bench_cluster.url,), kwargs={"cluster": True}, rounds=1, iterations=1)


def test_min_replicas_ack_one_vs_zero(benchmark: Any, replicated: RedisServer) -> None:
    _rate(replicated.url)  # warm up
    plain = _rate(replicated.url)
    acked = _rate(replicated.url, min_replicas_ack=1)
    benchmark.extra_info.update(
        systems=SYSTEMS, records=SYSTEMS * PER_SYSTEM, ack0_per_s=round(plain), ack1_per_s=round(acked),
        ratio=round(acked / plain, 3),
    )
    print(
        f"\n{SYSTEMS} systems x {PER_SYSTEM} records, primary + 1 replica: min_replicas_ack=1 "
        f"{acked:,.0f} rec/s vs 0 {plain:,.0f} rec/s -> {acked / plain:.2f}x"
    )
    benchmark.pedantic(_rate, args=(replicated.url,), kwargs={"min_replicas_ack": 1}, rounds=1, iterations=1)
