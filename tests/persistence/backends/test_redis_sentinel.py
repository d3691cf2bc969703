"""Redis Streams backend behind Sentinel, and replicated acknowledgements (``min_replicas_ack``),
against real servers: a primary, a replica and three sentinels."""

from __future__ import annotations

import uuid

import pytest

from papyra.exceptions import BackendUnavailable, ConfigurationError
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.grammar import decode_record
from papyra.persistence.models import PersistedEvent
from tests.support.redis_server import RedisServer, require_redis_binary
from tests.support.redis_topologies import SentinelSetup, kill_hard, sentinel_setup, wait_replica_in_sync
from tests.support.waiting import wait_until

__all__ = ["sentinel_setup"]

pytestmark = pytest.mark.redis


def ev(i: int) -> PersistedEvent:
    return PersistedEvent(actor_address=f"local:{i}", event_type="E", payload={"i": i}, timestamp=float(i))


def stored_numbers(port: int, key: str) -> list[int]:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, protocol=2)
    try:
        return [decode_record(f[b"data"]).payload["i"] for _, f in client.xrange(key)]  # type: ignore[union-attr]
    finally:
        client.close()


@pytest.mark.slow
def test_failover_keeps_every_record_acknowledged_with_min_replicas_ack(
    sentinel_setup: SentinelSetup,
) -> None:
    config = RedisStreamsConfig(
        url=sentinel_setup.url,
        prefix=f"t{uuid.uuid4().hex[:10]}",
        min_replicas_ack=1,
        replica_ack_timeout=0.5,
        socket_timeout=1.0,
        close_timeout=5.0,
    )
    assert config.topology == "sentinel" and config.sentinels == tuple(sentinel_setup.addresses)
    backend = RedisStreamsPersistence(config)
    acknowledged = 0
    written = 0
    try:

        def chunk() -> None:
            nonlocal written
            for i in range(written, written + 25):
                backend.record_event(ev(i))
            written += 25

        for _ in range(8):
            chunk()
            assert backend.flush(60)
            acknowledged = written
        chunk()  # in flight (or buffered) while the primary dies
        kill_hard(sentinel_setup.primary)
        chunk()  # accepted during the failover: buffered, written in order to the new primary
        assert backend.flush(0.2) is False
        sentinel_setup.wait_failover()
        # the promoted replica has no replica of its own, so nothing is acknowledged yet; the old
        # primary comes back and the sentinels make it a replica of the new one
        assert backend.flush(0.2) is False
        sentinel_setup.primary.start()
        wait_replica_in_sync(sentinel_setup.primary, timeout=60)
        assert backend.flush(30)  # the writer found the promoted replica, which is replicated again
        acknowledged = written
        chunk()
        assert backend.flush(60)
        acknowledged = written
        key = backend.stream_key("events")
        on_new_primary = stored_numbers(sentinel_setup.replica.port, key)
    finally:
        backend.close()
    assert set(range(acknowledged)) <= set(on_new_primary)
    first_seen = list(dict.fromkeys(on_new_primary))  # a batch cut by the crash may repeat
    assert first_seen == sorted(first_seen)


def test_cli_reads_through_a_sentinel_url(sentinel_setup: SentinelSetup) -> None:
    from tests.cli.conftest import invoke

    prefix = f"t{uuid.uuid4().hex[:10]}"
    backend = RedisStreamsPersistence(RedisStreamsConfig(url=sentinel_setup.url, prefix=prefix))
    try:
        for i in range(3):
            backend.record_event(ev(i))
        assert backend.flush(60)
    finally:
        backend.close()
    args = ("--redis-url", sentinel_setup.url, "--prefix", prefix, "--format", "ndjson")
    result = invoke("inspect", "events", *args)
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 3


def test_sentinel_url_password_reaches_the_data_nodes_and_stays_hidden() -> None:
    from tests.cli.conftest import invoke

    setup = SentinelSetup(require_redis_binary(), password="pw-Sent1nel-42")
    try:
        setup.start()
        assert "pw-Sent1nel-42" in setup.url
        prefix = f"t{uuid.uuid4().hex[:10]}"
        config = RedisStreamsConfig(url=setup.url, prefix=prefix, min_replicas_ack=1)
        backend = RedisStreamsPersistence(config)
        try:
            backend.record_event(ev(7))
            assert backend.flush(60)
            assert "pw-Sent1nel-42" not in repr(backend) + str(backend.describe())
        finally:
            backend.close()
        result = invoke("persistence", "inspect", "--redis-url", setup.url, "--prefix", prefix)
        assert result.code == 0, result.err
        assert "pw-Sent1nel-42" not in result.out + result.err and "***" in result.out
    finally:
        setup.cleanup()


def test_min_replicas_ack_waits_for_a_replica_to_confirm(private_redis: RedisServer) -> None:
    import redis

    backend = RedisStreamsPersistence(
        RedisStreamsConfig(
            url=private_redis.url,
            prefix=f"t{uuid.uuid4().hex[:10]}",
            min_replicas_ack=1,
            replica_ack_timeout=0.05,
        )
    )
    replica_of = ("--replicaof", "127.0.0.1", str(private_redis.port))
    replica = RedisServer(require_redis_binary(), extra_args=replica_of)
    try:
        backend.record_event(ev(0))
        assert backend.flush(0.5) is False  # no replica: never acknowledged
        wait_until(lambda: not backend.reachable, what="the writer retrying")
        assert backend.metrics.snapshot()["records_written"] == 0
        primary = redis.Redis.from_url(private_redis.url)
        primary.config_set("repl-diskless-sync-delay", 0)  # start the sync now, not in 5 s
        primary.close()
        replica.start()
        wait_replica_in_sync(replica)
        assert backend.flush(30) is True
        assert backend.reachable is True
        assert 0 in stored_numbers(replica.port, backend.stream_key("events"))
    finally:
        backend.close()
        replica.cleanup()


def test_sentinel_url_and_settings_are_validated() -> None:
    c = RedisStreamsConfig(url="redis+sentinel://:pw-xyz@10.0.0.1:26379,10.0.0.2:26380/mymaster/2")
    assert c.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert c.service_name == "mymaster" and c.topology == "sentinel"
    assert "pw-xyz" not in repr(c)
    c = RedisStreamsConfig(sentinels=[("h", "26379")], service_name="svc")
    assert c.sentinels == (("h", 26379),)
    for bad in (
        {"url": "redis+sentinel://h1:1/"},
        {"url": "redis+sentinel://h1/svc"},
        {"url": "redis+sentinel://:pw-xyz@h1:1/svc/db"},
        {"sentinels": [("h", 1)]},
        {"sentinels": [("h", 1)], "service_name": "s", "cluster": True},
        {"service_name": "s"},
        {"min_replicas_ack": -1},
        {"replica_ack_timeout": 0},
        {"cluster": "yes"},
    ):
        with pytest.raises(ConfigurationError) as info:
            RedisStreamsConfig(**bad)
        assert "pw-xyz" not in str(info.value)


def test_unreachable_sentinels_and_cluster_are_reported_without_the_password() -> None:
    from tests.support.redis_server import _free_port

    port = _free_port()  # nothing listens there
    url = f"redis+sentinel://:pw-hidden-9@127.0.0.1:{port}/mymaster/0"
    fast = {"socket_timeout": 0.5, "flush_timeout": 1.0, "close_timeout": 0.1}
    backend = RedisStreamsPersistence(RedisStreamsConfig(url=url, **fast))
    try:
        backend.record_event(ev(1))
        assert backend.flush(0.3) is False  # buffered, not lost
        with pytest.raises(BackendUnavailable) as info:
            backend.list_audits()
        assert "pw-hidden-9" not in str(info.value) and "***" in str(info.value)
    finally:
        backend.close()
    with pytest.raises(BackendUnavailable) as info:
        RedisStreamsPersistence(
            RedisStreamsConfig(url=f"redis://:pw-hidden-9@127.0.0.1:{port}/0", cluster=True, **fast)
        )
    assert "pw-hidden-9" not in str(info.value)
