"""Redis Streams backend: Redis going away and coming back, back-pressure, fail-stop, redaction."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import pytest

from papyra.exceptions import BackendUnavailable, BackPressureError, DurabilityError
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.models import PersistedEvent
from tests.persistence.backends.conftest import SENTINEL_PASSWORD, unique_prefix
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.redis


def ev(i: int) -> PersistedEvent:
    return PersistedEvent(actor_address=f"local:{i}", event_type="E", payload={"i": i}, timestamp=float(i))


def backend_on(server: RedisServer, **settings: Any) -> RedisStreamsPersistence:
    settings.setdefault("prefix", unique_prefix())
    settings.setdefault("socket_timeout", 2.0)
    settings.setdefault("close_timeout", 2.0)
    return RedisStreamsPersistence(RedisStreamsConfig(url=server.url, **settings))


def raw_client(server: RedisServer) -> Any:
    import redis

    return redis.Redis.from_url(server.url, protocol=2)


def test_redis_restart_mid_stream_loses_nothing(private_redis: RedisServer) -> None:
    b = backend_on(private_redis)
    raw = raw_client(private_redis)
    try:
        for i in range(200):
            b.record_event(ev(i))
        assert b.flush(60)
        raw.save()  # the test server has no persistence: snapshot so the first 200 survive restart
        private_redis.stop()
        for i in range(200, 500):  # accepted while Redis is down: buffered, in order
            b.record_event(ev(i))
        assert b.flush(0.3) is False
        wait_until(lambda: not b.reachable, timeout=60, what="the writer to notice the outage")
        assert b.buffered > 0 and b.describe()["reachable"] is False
        with pytest.raises(BackendUnavailable):
            b.list_events(limit=1)
        private_redis.start()  # same port
        assert b.flush(60) is True
        assert b.reachable and b.buffered == 0
        got = b.list_events()
        assert [e.timestamp for e in got] == [float(i) for i in range(500)]
        snap = b.metrics.snapshot()
        assert snap["records_written"] == 500
        assert snap["reconnects"] >= 1 and snap["write_errors"] >= 1
        assert snap["records_dropped"] == 0
    finally:
        b.close()
        raw.close()


def test_buffer_overflow_is_a_typed_error_and_counted(private_redis: RedisServer) -> None:
    b = backend_on(private_redis, max_buffer=50)
    try:
        private_redis.stop()
        accepted, rejected = [], 0
        for i in range(100):
            try:
                b.record_event(ev(i))
                accepted.append(i)
            except BackPressureError:
                rejected += 1
        assert rejected >= 1 and 50 <= len(accepted) < 100
        assert b.metrics.snapshot()["backpressure_rejections"] == rejected
        private_redis.start()
        assert b.flush(60)
        assert [e.timestamp for e in b.list_events()] == [float(i) for i in accepted]
        b.record_event(ev(1000))  # accepting again once drained
        assert b.flush(60)
    finally:
        b.close()


def _writer_threads(b: RedisStreamsPersistence) -> list[threading.Thread]:
    name = f"papyra-writer-redis-{b.config.base_key}"
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def test_close_while_down_stops_the_writer_and_reports_dropped_records(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stopped: the writer is in its retry back-off. close() gives up after close_timeout,
    the thread leaves at once and counts what it could not write; close() returns only after it
    is gone."""
    b = backend_on(private_redis, close_timeout=0.3)
    for i in range(5):
        b.record_event(ev(i))
    assert b.flush(60)
    private_redis.stop()
    for i in range(5, 55):
        b.record_event(ev(i))
    wait_until(lambda: not b.reachable, timeout=60, what="the retry back-off")
    assert len(_writer_threads(b)) == 1
    with caplog.at_level(logging.WARNING, logger="papyra"):
        b.close()
    assert _writer_threads(b) == []  # joined, not left running
    snap = b.metrics.snapshot()
    assert snap["records_dropped"] == 50
    assert snap["records_written"] == 5
    assert "50 records not written" in caplog.text
    b.close()  # idempotent; counts nothing twice
    assert b.metrics.snapshot()["records_dropped"] == 50


def test_close_interrupts_a_write_blocked_on_a_frozen_server(
    private_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis frozen (SIGSTOP): connections are accepted but never answered, so the writer sits in
    a socket read bounded only by socket_timeout (60 s here). close() shuts the sockets down and
    the writer exits within the grace period (connect timeout + 0.5 s) instead of 60 s later."""
    b = backend_on(private_redis, close_timeout=0.3, socket_timeout=60.0, socket_connect_timeout=1.0)
    b.record_event(ev(0))
    assert b.flush(60)
    assert private_redis.pid is not None
    os.kill(private_redis.pid, signal.SIGSTOP)
    try:
        for i in range(1, 21):
            b.record_event(ev(i))
        assert b.flush(0.3) is False  # the batch is stuck in the server's socket
        with caplog.at_level(logging.WARNING, logger="papyra"):
            b.close()
        assert _writer_threads(b) == []
        assert b.metrics.snapshot()["records_dropped"] == 20
        assert "20 records not written" in caplog.text
    finally:
        os.kill(private_redis.pid, signal.SIGCONT)


def test_non_transient_error_is_fail_stop(private_redis: RedisServer) -> None:
    b = backend_on(private_redis)
    raw = raw_client(private_redis)
    try:
        raw.set(b.stream_key("events"), "not a stream")  # WRONGTYPE on every XADD
        b.record_event(ev(1))
        with pytest.raises(DurabilityError, match="WRONGTYPE"):
            b.flush(60)
        with pytest.raises(DurabilityError):
            b.record_event(ev(2))
        snap = b.metrics.snapshot()
        assert snap["write_errors"] == 1 and snap["failed"] == 1 and snap["records_dropped"] == 1
    finally:
        b.close()
        raw.close()


def test_password_never_leaks(secure_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    port = secure_redis.port
    urls = [
        f"redis://:{SENTINEL_PASSWORD}@127.0.0.1:{port}/0",
        f"redis://default:{SENTINEL_PASSWORD}@127.0.0.1:{port}/0",
    ]
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for url in urls:
            cfg = RedisStreamsConfig(url=url, prefix=unique_prefix(), close_timeout=0.5)
            b = RedisStreamsPersistence(cfg)
            b.record_event(ev(1))
            assert b.flush(60) and len(b.list_events()) == 1  # the password works
            texts += [repr(cfg), str(cfg), str(cfg.to_dict()), repr(b), str(b.describe())]
            secure_redis.stop()
            b.record_event(ev(2))
            assert b.flush(0.3) is False
            try:
                b.list_events()
            except BackendUnavailable as exc:
                texts.append(str(exc))
            try:
                b.consume("events", "g", "c", block_ms=None)
            except BackendUnavailable as exc:
                texts.append(repr(exc))
            texts.append(str(b.metrics.snapshot()))
            secure_redis.start()
            assert b.flush(60)
            b.close()
        wrong = RedisStreamsPersistence(
            RedisStreamsConfig(url=f"redis://:{SENTINEL_PASSWORD}x@127.0.0.1:{port}/0", prefix="w")
        )
        wrong.record_event(ev(3))  # rejected credentials: fail-stop, typed
        with pytest.raises(DurabilityError) as info:
            wrong.flush(60)
        texts += [str(info.value), str(info.value.__cause__)]
        with pytest.raises(BackendUnavailable) as info2:
            wrong.list_events()
        texts.append(str(info2.value))
        wrong.close()
    texts.append(caplog.text)
    assert any("***" in t for t in texts)
    for text in texts:
        assert SENTINEL_PASSWORD not in text, text
