"""Redis Streams backend on a real 3-primary Redis Cluster (``cluster=True``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.models import PersistedEvent, PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.retention import RetentionPolicy
from tests.support.redis_topologies import RedisClusterNodes, kill_hard, redis_cluster
from tests.support.waiting import wait_until

__all__ = ["redis_cluster"]

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def ev(i: int, system: str = "local") -> PersistedEvent:
    return PersistedEvent(
        system_id=system, actor_address=f"{system}:{i}", event_type="E", payload={"i": i}, timestamp=float(i)
    )


@pytest.fixture
def on_cluster(redis_cluster: RedisClusterNodes) -> Iterator[Any]:
    """Factory of cluster backends with a unique prefix; all closed at teardown."""
    made: list[RedisStreamsPersistence] = []
    prefix = f"t{uuid.uuid4().hex[:10]}"

    def make(system_id: str = "local", **settings: Any) -> RedisStreamsPersistence:
        retention = settings.pop("retention_policy", None)
        settings.setdefault("socket_timeout", 2.0)
        settings.setdefault("close_timeout", 5.0)
        config = RedisStreamsConfig(
            url=redis_cluster.url, cluster=True, prefix=prefix, system_id=system_id, **settings
        )
        backend = RedisStreamsPersistence(config, retention_policy=retention)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def cluster_client(cluster: RedisClusterNodes) -> Any:
    from redis.cluster import RedisCluster

    return RedisCluster.from_url(cluster.url, protocol=2)


def spread_systems(cluster: RedisClusterNodes, prefix: str, count: int) -> list[str]:
    """``count`` system ids whose events streams live on every node of the cluster (similar
    names hash to nearby slots, so they are chosen, not assumed)."""
    client = cluster_client(cluster)
    try:
        by_node: dict[str, list[str]] = {}
        for n in range(1000):
            key = RedisStreamsConfig(prefix=prefix, system_id=f"s{n}").stream_key("events")
            by_node.setdefault(client.get_node_from_key(key).name, []).append(f"s{n}")
    finally:
        client.close()
    assert len(by_node) == len(cluster.nodes) // (1 + cluster.replicas)  # every primary
    lists = list(by_node.values())
    return [lists[i % len(lists)][i // len(lists)] for i in range(count)]


def test_several_systems_write_concurrently_and_read_back_in_order(
    on_cluster: Any, redis_cluster: Any
) -> None:
    prefix = on_cluster().config.prefix
    systems = spread_systems(redis_cluster, prefix, 8)
    backends = [on_cluster(s, max_batch=50) for s in systems]
    errors: list[BaseException] = []

    def write(backend: RedisStreamsPersistence, system: str) -> None:
        try:
            for i in range(300):
                backend.record_event(ev(i, system))
            assert backend.flush(60)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b, s)) for b, s in zip(backends, systems, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for backend, system in zip(backends, systems, strict=True):
        events = backend.list_events()
        assert [e.payload["i"] for e in events] == list(range(300))
        assert {e.system_id for e in events} == {system}
        assert [e.payload["i"] for e in backend.list_events(limit=5)] == list(range(295, 300))


def test_batch_with_every_record_kind_spans_slots(on_cluster: Any) -> None:
    from papyra.persistence.models import PersistedAudit, PersistedDeadLetter

    b = on_cluster()
    for i in range(50):
        b.record_event(ev(i))
        b.record_audit(PersistedAudit(system_id="local", timestamp=float(i), total_actors=i))
        b.record_dead_letter(
            PersistedDeadLetter(
                system_id="local", target="local:x", message_type="M", payload=i, timestamp=float(i)
            )
        )
    assert b.flush(60)
    assert [a.total_actors for a in b.list_audits()] == list(range(50))
    assert [d.payload for d in b.list_dead_letters()] == list(range(50))
    assert len(b.list_events()) == 50


def test_consumer_groups_on_a_cluster(on_cluster: Any, redis_cluster: Any) -> None:
    b = on_cluster(max_deliveries=1)
    for i in range(10):
        b.record_event(ev(i))
    assert b.flush(60)
    assert b.ensure_consumer_group("events", "g") is True
    first = b.consume("events", "g", "c1", count=4, block_ms=None)
    assert [e.record.payload["i"] for e in first] == [0, 1, 2, 3]
    assert b.pending("events", "g").count == 4
    assert b.ack("events", "g", first.ids[:2]) == 2
    # redelivery beyond max_deliveries moves the entry to the dead-letter stream (another slot)
    claimed = b.autoclaim("events", "g", "c2", 0)
    assert claimed.ids == () and len(claimed.dead_lettered) == 2
    client = cluster_client(redis_cluster)
    try:
        dlq = client.xrange(b.config.dead_letter_key("events"))
        assert [f[b"id"].decode() for _, f in dlq] == list(first.ids[2:])
        # a malformed entry is quarantined (another slot again) and acked
        bad = client.xadd(b.stream_key("events"), {"data": "{broken"}).decode()
    finally:
        client.close()
    rest = b.consume("events", "g", "c1", count=20, block_ms=None)
    assert [e.record.payload["i"] for e in rest] == list(range(4, 10))
    assert [q.id for q in rest.quarantined] == [bad]
    assert b.ack("events", "g", rest.ids) == 6
    assert b.pending("events", "g").count == 0


def test_scan_recover_compact_on_a_cluster(on_cluster: Any, redis_cluster: Any) -> None:
    b = on_cluster(retention_policy=RetentionPolicy(max_records=20))
    for i in range(100):
        b.record_event(ev(i))
    assert b.flush(60)
    client = cluster_client(redis_cluster)
    try:
        client.xadd(b.stream_key("events"), {"data": "not json"})
    finally:
        client.close()
    assert len(b.scan().anomalies) == 1
    report = b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE))
    assert report is not None
    assert b.scan().anomalies == ()
    b.compact()
    assert [e.payload["i"] for e in b.list_events()] == list(range(80, 100))


def test_cluster_node_killed_and_restarted_loses_no_acknowledged_record(
    on_cluster: Any, redis_cluster: Any
) -> None:
    from papyra.persistence.models import PersistedAudit

    client = cluster_client(redis_cluster)
    try:
        probe = on_cluster("k0")
        victim_name = client.get_node_from_key(probe.stream_key("events")).name
        # systems whose events and audits streams sit on different nodes, one of them the
        # victim: their batches fail part way, and the retry must not write the other part twice
        systems = []
        for n in range(200):
            config = RedisStreamsConfig(prefix=probe.config.prefix, system_id=f"k{n}")
            nodes = {client.get_node_from_key(config.stream_key(k)).name for k in ("events", "audits")}
            if victim_name in nodes and len(nodes) == 2:
                systems.append(f"k{n}")
            if len(systems) == 4:
                break
    finally:
        client.close()
    assert len(systems) == 4
    backends = [on_cluster(s) for s in systems]
    victim = next(n for n in redis_cluster.nodes if f"127.0.0.1:{n.port}" == victim_name)

    def write(lo: int, hi: int) -> None:
        for b, s in zip(backends, systems, strict=True):
            for i in range(lo, hi):
                b.record_event(ev(i, s))
                b.record_audit(PersistedAudit(system_id=s, timestamp=float(i), total_actors=i))

    write(0, 100)
    assert all(b.flush(60) for b in backends)
    kill_hard(victim)
    try:
        write(100, 200)  # accepted while a shard is down: buffered, in order
        assert backends[0].flush(0.5) is False
        wait_until(lambda: not backends[0].reachable, what="the writer retrying")
    finally:
        victim.start()
    redis_cluster.wait_ok()
    for b, s in zip(backends, systems, strict=True):
        assert b.flush(30)
        assert [e.payload["i"] for e in b.list_events()] == list(range(200)), s
        assert [a.total_actors for a in b.list_audits()] == list(range(200)), s


def test_writes_follow_a_slot_moved_to_another_node(on_cluster: Any, redis_cluster: Any) -> None:
    import redis

    b = on_cluster("moving")
    for i in range(50):
        b.record_event(ev(i))
    assert b.flush(60)
    key = b.stream_key("events")
    client = cluster_client(redis_cluster)
    try:
        slot = client.keyslot(key)
        source_port = client.get_node_from_key(key).port
    finally:
        client.close()
    raw = {n.port: redis.Redis(host="127.0.0.1", port=n.port, protocol=2) for n in redis_cluster.nodes}
    try:
        ids = {port: r.execute_command("CLUSTER", "MYID").decode() for port, r in raw.items()}
        target_port = next(p for p in raw if p != source_port)
        # the slot migration redis-cli --cluster reshard does, for one slot
        raw[target_port].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source_port])
        raw[source_port].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target_port])
        keys = raw[source_port].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
        raw[source_port].execute_command("MIGRATE", "127.0.0.1", target_port, "", 0, 5000, "KEYS", *keys)
        for r in raw.values():
            r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[target_port])
        for i in range(50, 100):  # the client's slot map is stale: MOVED, re-read, retried in order
            b.record_event(ev(i))
        assert b.flush(60)
        assert raw[target_port].xlen(key) == 100
        assert b.metrics.snapshot()["write_errors"] >= 1  # the MOVED reply was met and retried
    finally:
        for r in raw.values():
            r.close()
    assert [e.payload["i"] for e in b.list_events()] == list(range(100))


def test_min_replicas_ack_without_replicas_is_never_acknowledged(on_cluster: Any) -> None:
    b = on_cluster(min_replicas_ack=1, replica_ack_timeout=0.05, close_timeout=0.2)
    b.record_event(ev(1))
    assert b.flush(0.5) is False  # the primaries have no replica: WAIT confirms 0
    wait_until(lambda: not b.reachable, what="the writer retrying")
    assert b.metrics.snapshot()["records_written"] == 0


def test_min_replicas_ack_on_a_cluster_with_replicas_is_on_every_shards_replica() -> None:
    import redis

    from tests.support.redis_server import require_redis_binary

    cluster = RedisClusterNodes(require_redis_binary(), replicas=1)
    try:
        cluster.start()
        settings = {"url": cluster.url, "cluster": True, "min_replicas_ack": 1, "replica_ack_timeout": 5.0}
        systems = spread_systems(cluster, "papyra", 6)
        backends = [RedisStreamsPersistence(RedisStreamsConfig(system_id=s, **settings)) for s in systems]
        try:
            for b, s in zip(backends, systems, strict=True):
                for i in range(50):
                    b.record_event(ev(i, s))
            assert all(b.flush(30) for b in backends)  # every shard's replica confirmed
            client = cluster_client(cluster)
            try:
                for b in backends:
                    key = b.stream_key("events")
                    replica = cluster.replica_of(client.get_node_from_key(key).port)
                    raw = redis.Redis(host="127.0.0.1", port=replica.port, protocol=2)
                    try:
                        raw.execute_command("READONLY")
                        assert raw.xlen(key) == 50
                    finally:
                        raw.close()
            finally:
                client.close()
        finally:
            for b in backends:
                b.close()
    finally:
        cluster.cleanup()


def test_cli_copies_into_a_cluster_and_reads_it_back(tmp_path: Any, redis_cluster: Any) -> None:
    from tests.cli.conftest import invoke
    from tests.persistence.test_copy_store import earlier_release_file

    source = earlier_release_file(tmp_path / "legacy.ndjson")
    prefix = f"cli{uuid.uuid4().hex[:8]}"
    spec = f"{redis_cluster.url}?prefix={prefix}&system_id=legacy&cluster=1"
    copied = invoke("persistence", "copy", "--from", str(source), "--to", spec)
    assert copied.code == 0, copied.err
    assert "Verified" in copied.out
    env = {"PAPYRA_REDIS_URL": redis_cluster.url, "PAPYRA_REDIS_CLUSTER": "1", "PAPYRA_PREFIX": prefix}
    listed = invoke("inspect", "events", "--system-id", "legacy", "--format", "ndjson", env=env)
    assert listed.code == 0, listed.err
    assert len(listed.out.splitlines()) == 30
    flagged = invoke(
        "inspect", "dead-letters", "--redis-url", redis_cluster.url, "--redis-cluster",
        "--prefix", prefix, "--system-id", "legacy", "--format", "ndjson",
    )
    assert flagged.code == 0 and len(flagged.out.splitlines()) == 5
