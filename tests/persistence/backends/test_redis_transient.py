"""Redis replies after which a retry can succeed are transient: records stay buffered in order
and reach Redis once it accepts writes again (a real redis-server: maxmemory + noeviction,
REPLICAOF, min-replicas-to-write, SIGSTOP/SIGCONT)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.models import PersistedEvent
from tests.persistence.backends.conftest import unique_prefix
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.redis


def ev(i: int) -> PersistedEvent:
    return PersistedEvent(actor_address=f"local:{i}", event_type="E", payload={"i": i}, timestamp=float(i))


def backend_on(server: RedisServer, **settings: Any) -> RedisStreamsPersistence:
    settings.setdefault("close_timeout", 2.0)
    return RedisStreamsPersistence(RedisStreamsConfig(url=server.url, prefix=unique_prefix(), **settings))


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def raw(private_redis: RedisServer) -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(private_redis.url, protocol=2)
    yield client
    client.close()


def _out_of_memory(raw: Any) -> Callable[[], None]:
    raw.config_set("maxmemory-policy", "noeviction")
    raw.config_set("maxmemory", "1")
    return lambda: raw.config_set("maxmemory", "0")


def _read_only(raw: Any) -> Callable[[], None]:
    raw.execute_command("REPLICAOF", "127.0.0.1", str(_closed_port()))  # a master that never answers
    return lambda: raw.execute_command("REPLICAOF", "NO", "ONE")


def _no_replicas(raw: Any) -> Callable[[], None]:
    raw.config_set("min-replicas-max-lag", "10")
    raw.config_set("min-replicas-to-write", "1")
    return lambda: raw.config_set("min-replicas-to-write", "0")


def _busy(raw: Any) -> Callable[[], None]:
    """A script that never ends: every other command gets ``BUSY`` until SCRIPT KILL."""
    import redis

    raw.config_set("busy-reply-threshold", "10")  # ms before other clients get BUSY
    runner = redis.Redis(host="127.0.0.1", port=raw.connection_pool.connection_kwargs["port"], protocol=2)
    done = threading.Event()

    def run() -> None:
        with contextlib.suppress(redis.ResponseError):  # "Script killed by user"
            runner.eval("while true do end", 0)
        done.set()

    threading.Thread(target=run, daemon=True).start()

    def refused() -> bool:
        try:
            raw.get("papyra-probe")
        except redis.ResponseError as exc:
            return str(exc).startswith("BUSY")
        return False

    wait_until(refused, what="the script to make the server busy")

    def undo() -> None:
        while not done.is_set():
            with contextlib.suppress(redis.ResponseError):  # NOTBUSY until the script runs
                raw.script_kill()
            done.wait(0.01)
        runner.close()

    return undo


REFUSALS = {"oom": _out_of_memory, "readonly": _read_only, "noreplicas": _no_replicas, "busy": _busy}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_retryable_refusal_buffers_in_order_and_delivers_once_redis_accepts_writes(
    refusal: str, private_redis: RedisServer, raw: Any
) -> None:
    b = backend_on(private_redis)
    try:
        b.record_event(ev(0))
        assert b.flush(60)
        undo = REFUSALS[refusal](raw)
        try:
            for i in range(1, 51):
                b.record_event(ev(i))
            wait_until(lambda: not b.reachable, what="the refused write")
            assert b.flush(0.2) is False
            assert b.buffered == 50
        finally:
            undo()
        assert b.flush(60) is True
        assert b.reachable and b.buffered == 0
        assert [e.timestamp for e in b.list_events()] == [float(i) for i in range(51)]
        snap = b.metrics.snapshot()
        assert snap["records_dropped"] == 0 and snap["failed"] == 0 and snap["write_errors"] >= 1
    finally:
        b.close()


def test_a_hung_server_counts_the_batch_in_flight_as_buffered_and_is_unreachable(
    private_redis: RedisServer,
) -> None:
    b = backend_on(private_redis, socket_timeout=0.5)
    pid = private_redis.pid
    assert pid is not None
    try:
        b.record_event(ev(0))
        assert b.flush(60)
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(1, 51):
                b.record_event(ev(i))
            # the writer takes the batch at once and hangs in the server's socket: the batch stays
            # counted as buffered until the attempt times out and reachable turns False
            wait_until(lambda: b.buffered != 50 or not b.reachable, what="the timed-out write")
            assert b.buffered == 50 and not b.reachable
            assert b.flush(0) is False
        finally:
            os.kill(pid, signal.SIGCONT)
        assert b.flush(60) is True
        assert b.reachable and b.buffered == 0
        seen = [int(e.timestamp) for e in b.list_events()]
        # at-least-once: a batch whose reply was lost with the timed-out connection may repeat
        assert list(dict.fromkeys(seen)) == list(range(51))
        assert b.metrics.snapshot()["records_dropped"] == 0
    finally:
        b.close()
