"""Shared persistence test helpers and the backend factories of the contract tests.

``BACKEND_FACTORIES`` maps a backend name to ``factory(tmp_path, **kwargs) -> backend``; the
contract tests (tests/persistence/test_contract.py) run once per entry (kwargs:
``retention_policy``). The Redis factory also receives the suite's ``redis_server`` and a unique
stream prefix. ``PER_KIND_RETENTION`` names the backends whose retention window is per kind (Redis:
one stream per kind) rather than one window over the whole store.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.json import JsonFilePersistence
from papyra.testing.records import sample_audit, sample_dead_letter, sample_event


def _memory(tmp_path: Path, **kwargs: Any) -> PersistenceBackend:
    return InMemoryPersistence(**kwargs)


def _json(tmp_path: Path, **kwargs: Any) -> PersistenceBackend:
    return JsonFilePersistence(tmp_path / "store.ndjson", **kwargs)


def _rotating(tmp_path: Path, **kwargs: Any) -> PersistenceBackend:
    return RotatingFilePersistence(tmp_path / "store.ndjson", max_bytes=65_536, max_files=8, **kwargs)


def _redis(tmp_path: Path, *, server: Any, **kwargs: Any) -> PersistenceBackend:
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

    prefix = f"contract-{uuid.uuid4().hex[:12]}"
    return RedisStreamsPersistence(RedisStreamsConfig(url=server.url, prefix=prefix), **kwargs)


BackendFactory = Callable[..., PersistenceBackend]

BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "memory": _memory,
    "json": _json,
    "rotating": _rotating,
    "redis": _redis,
}

PER_KIND_RETENTION = frozenset({"redis"})


@pytest.fixture(params=sorted(BACKEND_FACTORIES))
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., PersistenceBackend]]:
    """``make_backend(**kwargs)`` builds the parametrized backend; all are closed at teardown."""
    made: list[PersistenceBackend] = []
    factory = BACKEND_FACTORIES[request.param]
    if request.param == "redis":
        factory = functools.partial(factory, server=request.getfixturevalue("redis_server"))

    def make(**kwargs: Any) -> PersistenceBackend:
        backend = factory(tmp_path, **kwargs)
        made.append(backend)
        return backend

    make.backend_name = request.param  # type: ignore[attr-defined]
    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def json_store(tmp_path: Path) -> Iterator[Callable[..., JsonFilePersistence]]:
    """``json_store(**kwargs)`` → a JsonFilePersistence on ``tmp_path/store.ndjson`` (closed after)."""
    made: list[JsonFilePersistence] = []

    def make(path: Path | None = None, **kwargs: Any) -> JsonFilePersistence:
        backend = JsonFilePersistence(path or tmp_path / "store.ndjson", **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


# The conformance kit's sample records, under the short names the tests use.
event = sample_event
audit = sample_audit
dead_letter = sample_dead_letter
