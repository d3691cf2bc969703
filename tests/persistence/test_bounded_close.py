"""Every timeout is a real bound: ``close(timeout)`` returns within the timeout plus a small
constant even when another process holds the store lock or Redis hangs, counts what it could not
store, and ``lock_timeout`` bounds only the wait for *another process* (real processes, real files,
a real redis-server)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import LockTimeout
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem
from tests.persistence.conftest import event
from tests.support.child import hold_store_lock, release_store_lock
from tests.support.redis_server import RedisServer, require_redis_binary

#: What close(timeout) may take beyond its timeout: the writer's grace (0.5 s) plus scheduling
#: on a loaded 2-core machine. A bound check, not a performance threshold.
SLACK = 3.0

FILE_STORES: dict[str, Callable[[Path], PersistenceBackend]] = {
    "json": lambda path: JsonFilePersistence(path, lock_timeout=0),
    "rotating": lambda path: RotatingFilePersistence(path, max_bytes=65_536, max_files=4, lock_timeout=0),
}


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Path]:
    """Another process holding the store lock of ``tmp_path/store.ndjson`` until the test ends."""
    path = tmp_path / "store.ndjson"
    holder = hold_store_lock(str(path), "portalocker")
    try:
        yield path
    finally:
        release_store_lock(holder)


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("papyra-writer") and t.is_alive()]


def _close_in_thread(close: Callable[[], Any], limit: float) -> tuple[Any, float]:
    """Run ``close`` on a helper thread so that a close that does not return fails the test."""
    result: list[Any] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: result.append(close()), daemon=True)
    worker.start()
    worker.join(limit)
    assert not worker.is_alive(), f"close() did not return within {limit} s"
    return result[0], time.monotonic() - started


@pytest.mark.parametrize("kind", sorted(FILE_STORES))
def test_backend_close_with_a_timeout_returns_while_another_process_holds_the_lock(
    kind: str, lock_holder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = FILE_STORES[kind](lock_holder)
    for i in range(20):
        backend.record_event(event(i))
    assert backend.flush(0.1) is False  # stuck behind the other process
    with caplog.at_level(logging.WARNING, logger="papyra"):
        result, took = _close_in_thread(lambda: backend.close(timeout=0.5), 0.5 + SLACK)
    assert result is False and took < 0.5 + SLACK
    assert _writer_threads() == []  # the wait for the lock was cancelled, the thread joined
    assert backend.metrics.snapshot()["records_dropped"] == 20
    assert [r.levelno for r in caplog.records if "20 records not written" in r.getMessage()] == [
        logging.WARNING
    ]
    assert backend.close(timeout=0.5) is False  # idempotent, same answer


def test_system_close_with_a_timeout_returns_while_another_process_holds_the_lock(lock_holder: Path) -> None:
    backend = JsonFilePersistence(lock_holder)
    system = ActorSystem(persistence=backend).start()
    assert system.spawn(Echo).ask("hi", timeout=60) == "hi"
    result, took = _close_in_thread(lambda: system.close(timeout=1.0), 1.0 + SLACK)
    assert result is False and took < 1.0 + SLACK
    assert backend.closed and _writer_threads() == []
    assert backend.metrics.snapshot()["records_dropped"] == 2  # ActorStarted + ActorStopped


@pytest.mark.parametrize("kind", sorted(FILE_STORES))
def test_lock_timeout_zero_never_fails_a_lone_process_reading_its_own_writes(
    kind: str, tmp_path: Path
) -> None:
    backend = FILE_STORES[kind](tmp_path / "store.ndjson")
    try:
        for i in range(200):
            backend.record_event(event(i))
            assert backend.list_events(limit=1) == (event(i),)
            if i % 50 == 49:
                backend.compact()
                backend.scan()
        assert backend.metrics.snapshot()["lock_timeouts"] == 0
    finally:
        backend.close()


@pytest.mark.parametrize("kind", sorted(FILE_STORES))
def test_lock_timeout_zero_fails_at_once_while_another_process_holds_the_lock(
    kind: str, lock_holder: Path
) -> None:
    backend = FILE_STORES[kind](lock_holder)
    try:
        backend.record_event(event(1))
        with pytest.raises(LockTimeout):
            backend.list_events()
        with pytest.raises(LockTimeout):
            backend.compact()
    finally:
        assert backend.close(timeout=0) is False


@pytest.fixture
def frozen_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, frozen with SIGSTOP (thawed at teardown)."""
    server = RedisServer(require_redis_binary()).start()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield server
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.cleanup()


@pytest.mark.redis
def test_leaving_a_system_on_a_hung_redis_is_bounded_by_close_timeout(frozen_redis: RedisServer) -> None:
    config = RedisStreamsConfig(url=frozen_redis.url, prefix="hung", socket_timeout=60.0, close_timeout=1.0)
    backend = RedisStreamsPersistence(config)
    system = ActorSystem(persistence=backend).start()
    system.spawn(Echo).ask("hi", timeout=60)
    result, took = _close_in_thread(lambda: system.close(timeout=1.0), 1.0 + SLACK)
    assert result is False and took < 1.0 + SLACK
    assert _writer_threads() == []
    assert backend.metrics.snapshot()["records_dropped"] == 2


@pytest.mark.redis
def test_leaving_a_system_on_an_unknown_redis_host_is_bounded_by_close_timeout() -> None:
    """No timeout given: the backend's own bound (``close_timeout``) is the only wait — not
    ``flush_timeout`` and then ``close_timeout`` again."""
    url = "redis://papyra-unknown-host.invalid:6379/0"
    config = RedisStreamsConfig(url=url, prefix="nx", close_timeout=1.0)
    backend = RedisStreamsPersistence(config)
    system = ActorSystem(persistence=backend).start()
    system.spawn(Echo).ask("hi", timeout=60)
    result, took = _close_in_thread(system.close, 1.0 + SLACK)
    assert result is False and took < 1.0 + SLACK
    assert _writer_threads() == []
    assert backend.metrics.snapshot()["records_dropped"] == 2
