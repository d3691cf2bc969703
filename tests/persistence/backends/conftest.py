"""Fixtures for the Redis Streams backend tests (a real ``redis-server``, no mocks)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.redis_server import RedisServer, redis_server, require_redis_binary

__all__ = ["redis_server"]

SENTINEL_PASSWORD = "s3ntinel-Pa55word-7f3c9e"


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> Iterator[Any]:
    """A plain redis-py client on the shared test server (RESP2, bytes)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_server.url, protocol=2)
    yield client
    client.close()


@pytest.fixture
def make_redis(redis_server: RedisServer) -> Iterator[Callable[..., Any]]:
    """Factory of backends on the shared server, each with a unique prefix; closed at teardown."""
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    made: list[Any] = []

    def make(*, retention_policy: Any = None, **settings: Any) -> Any:
        settings.setdefault("url", redis_server.url)
        settings.setdefault("prefix", unique_prefix())
        backend = RedisStreamsPersistence(RedisStreamsConfig(**settings), retention_policy=retention_policy)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A server of this test's own, free to be stopped and restarted."""
    server = RedisServer(require_redis_binary()).start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def secure_redis() -> Iterator[RedisServer]:
    """A private server with ``requirepass`` set to the sentinel password."""
    server = RedisServer(require_redis_binary(), password=SENTINEL_PASSWORD).start()
    try:
        yield server
    finally:
        server.cleanup()
