"""Shared persistence test helpers and the backend factories of the contract tests.

``BACKEND_FACTORIES`` maps a backend name to ``factory(tmp_path, **kwargs) -> backend``; the
contract tests (tests/persistence/test_contract.py) run once per entry. Add rotating and Redis
factories here when those backends land (kwargs: ``retention_policy``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent


def _memory(tmp_path: Path, **kwargs: Any) -> PersistenceBackend:
    return InMemoryPersistence(**kwargs)


def _json(tmp_path: Path, **kwargs: Any) -> PersistenceBackend:
    return JsonFilePersistence(tmp_path / "store.ndjson", **kwargs)


BackendFactory = Callable[..., PersistenceBackend]

BACKEND_FACTORIES: dict[str, BackendFactory] = {
    "memory": _memory,
    "json": _json,
}


@pytest.fixture(params=sorted(BACKEND_FACTORIES))
def make_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., PersistenceBackend]]:
    """``make_backend(**kwargs)`` builds the parametrized backend; all are closed at teardown."""
    made: list[PersistenceBackend] = []
    factory = BACKEND_FACTORIES[request.param]

    def make(**kwargs: Any) -> PersistenceBackend:
        backend = factory(tmp_path, **kwargs)
        made.append(backend)
        return backend

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


def event(n: int, ts: float | None = None, **kw: Any) -> PersistedEvent:
    return PersistedEvent(
        system_id=kw.pop("system_id", "local"),
        actor_address=kw.pop("actor_address", f"local:{n}"),
        event_type=kw.pop("event_type", "ActorStarted"),
        payload=kw.pop("payload", {"n": n}),
        timestamp=float(n) if ts is None else ts,
    )


def audit(n: int, ts: float | None = None) -> PersistedAudit:
    return PersistedAudit(
        timestamp=float(n) if ts is None else ts,
        total_actors=n,
        alive_actors=n,
        registry_orphans=("a",),
        registry_dead=("b", "c"),
        dead_letters_count=1,
    )


def dead_letter(n: int, ts: float | None = None) -> PersistedDeadLetter:
    return PersistedDeadLetter(
        target=f"local:{n}", message_type="str", payload=f"msg-{n}", timestamp=float(n) if ts is None else ts
    )


def now_ts() -> float:
    return time.time()
