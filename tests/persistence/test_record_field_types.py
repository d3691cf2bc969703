"""Record fields of a wrong type are refused at record time, naming the field.

The table covers every field (the payload aside, which may be anything) of all three record
kinds with values of the wrong types — including those the reader would have taken and
changed (an int address read back as ``"123"``, ``{"actor_id": "a"}`` read back as ``None``) —
on a real file store and the in-memory backend: each is an ``EncodingError`` (a ``ValueError``)
naming the field, counted in ``encoding_errors``, and nothing is stored. The accepted forms
that are converted (an ``ActorAddress``, str and int enums, a list of names) read back as the
declared types.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from papyra.address import ActorAddress
from papyra.exceptions import EncodingError
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.base import PersistenceBackend
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import RECORD_KINDS, PersistedAudit, PersistedDeadLetter, PersistedEvent

TEXT_WRONG: list[Any] = [None, 7, 1.5, True, b"x", ["a"], {"a": 1}, ActorAddress("s", 1), object()]
ADDRESS_WRONG: list[Any] = [
    123, 1.5, True, b"s:1", ["s", 1], {"actor_id": "a"}, {"system": "s", "actor_id": 1}, object()
]
COUNT_WRONG: list[Any] = ["3", 3.0, True, None, [3], Decimal(3), object()]
NAMES_WRONG: list[Any] = ["ab", ("a", 1), [None], {"a"}, {"a": 1}, 3, None]
TIMESTAMP_WRONG: list[Any] = [None, "1", True, float("nan"), float("inf"), 10**400, Decimal(1), [1.0]]

_COUNTS = ("total_actors", "alive_actors", "stopping_actors", "restarting_actors", "registry_size",
           "dead_letters_count")
WRONG: dict[str, list[Any]] = {
    "system_id": TEXT_WRONG,
    "event_type": TEXT_WRONG,
    "message_type": TEXT_WRONG,
    "actor_address": ADDRESS_WRONG,
    "target": ADDRESS_WRONG,
    "timestamp": TIMESTAMP_WRONG,
    "registry_orphans": NAMES_WRONG,
    "registry_dead": NAMES_WRONG,
    **{name: COUNT_WRONG for name in _COUNTS},
}
CASES = [
    (kind, name) for kind, cls in RECORD_KINDS.items() for name in cls.__struct_fields__ if name != "payload"
]
RECORD_METHOD = {"event": "record_event", "audit": "record_audit", "dead_letter": "record_dead_letter"}

Opener = Callable[[Path], PersistenceBackend]


@pytest.fixture(params=["json", "memory"])
def open_store(request: pytest.FixtureRequest) -> Iterator[Opener]:
    made: list[PersistenceBackend] = []

    def open_(path: Path) -> PersistenceBackend:
        backend: PersistenceBackend = (
            JsonFilePersistence(path) if request.param == "json" else InMemoryPersistence()
        )
        made.append(backend)
        return backend

    yield open_
    for backend in made:
        backend.close()


def _stored(store: PersistenceBackend) -> list[Any]:
    return [*store.list_events(), *store.list_audits(), *store.list_dead_letters()]


def test_the_table_covers_every_field_of_every_kind() -> None:
    assert {name for _, name in CASES} == set(WRONG)


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}.{n}" for k, n in CASES])
def test_a_field_of_a_wrong_type_is_refused_naming_it_and_nothing_is_stored(
    tmp_path: Path, open_store: Opener, kind: str, name: str
) -> None:
    store = open_store(tmp_path / "store.ndjson")
    record = getattr(store, RECORD_METHOD[kind])
    for value in WRONG[name]:
        fields: dict[str, Any] = {"timestamp": 1.8e9, name: value}
        with pytest.raises(EncodingError, match=f"field '{name}'") as info:
            record(RECORD_KINDS[kind](**fields))
        assert isinstance(info.value, ValueError)
    assert store.metrics.snapshot()["encoding_errors"] == len(WRONG[name])
    assert store.flush(10)
    assert _stored(store) == [] and not store.scan().has_anomalies
    assert not (tmp_path / "store.ndjson").exists() or (tmp_path / "store.ndjson").stat().st_size == 0


class Kind(str, enum.Enum):
    CRASH = "ActorCrashed"


class Count(enum.IntEnum):
    THREE = 3


def test_accepted_forms_are_stored_as_the_declared_types(tmp_path: Path, open_store: Opener) -> None:
    store = open_store(tmp_path / "store.ndjson")
    store.record_event(PersistedEvent(actor_address=ActorAddress("local", 3), event_type=Kind.CRASH,  # type: ignore[arg-type]
                                      timestamp=1))
    store.record_dead_letter(PersistedDeadLetter(target=ActorAddress("local", 4), timestamp=2.0))  # type: ignore[arg-type]
    store.record_audit(PersistedAudit(total_actors=Count.THREE, registry_orphans=["local:5"],  # type: ignore[arg-type]
                                      timestamp=3.0))
    (event,) = store.list_events()
    (dead_letter,) = store.list_dead_letters()
    (audit,) = store.list_audits()
    assert (event.actor_address, event.event_type, event.timestamp) == ("local:3", "ActorCrashed", 1.0)
    assert type(event.event_type) is str
    assert dead_letter.target == "local:4"
    assert (audit.total_actors, audit.registry_orphans) == (3, ("local:5",))
    assert type(audit.total_actors) is int
