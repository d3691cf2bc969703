"""Wrong arguments are refused at once with a typed error, before anything happens."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from papyra import Actor, ActorSystem
from papyra.exceptions import ConfigurationError


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"persistence": "file.json"}, "persistence must be a PersistenceBackend"),
        ({"persistence": object()}, "lacks record_event"),
        ({"time_fn": 5}, "time_fn must be a callable"),
        ({"on_dead_letter": 5}, "on_dead_letter must be a callable"),
        ({"persistence_startup": 5}, "persistence_startup must be a PersistenceStartupConfig"),
    ],
)
def test_collaborators_of_the_wrong_kind_are_refused_at_construction(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        ActorSystem(**kwargs)


@pytest.mark.parametrize("timeout", ["x", float("nan"), [1]])
def test_a_bad_timeout_is_refused_before_an_ask_close_or_flush_begins(timeout: Any) -> None:
    with ActorSystem() as system:
        ref = system.spawn(Echo)
        with pytest.raises(ConfigurationError):
            ref.ask("never sent", timeout=timeout)
        with pytest.raises(ConfigurationError):
            system.close(timeout=timeout)
        with pytest.raises(ConfigurationError):
            system.flush(timeout=timeout)
        assert system.running and ref.ask("still here", timeout=30) == "still here"
        assert system.metrics.snapshot()["messages_processed_total"] == 1  # "never sent" was not


def test_a_factory_returning_a_class_is_refused() -> None:
    with ActorSystem() as system:
        with pytest.raises(TypeError, match="returned the class 'Echo', not an instance"):
            system.spawn(lambda: Echo)
        assert system.list_actors() == ()


class Names(str, enum.Enum):
    SVC = "svc"

    def __hash__(self) -> int:  # user code that must never run under Papyra's lock
        return super().__hash__()


def test_names_and_system_ids_are_stored_as_plain_strings() -> None:
    with ActorSystem(system_id=Names.SVC) as system:
        assert type(system.system_id) is str and system.system_id == "svc"
        ref = system.spawn(Echo, name=Names.SVC)
        assert [type(n) for n in system.list_names()] == [str]
        assert system.ref_for_name(Names.SVC) == ref
        with pytest.raises(TypeError, match="an actor name is a str"):
            system.ref_for_name(5)  # type: ignore[arg-type]


def test_malformed_addresses_and_lookups_are_type_or_value_errors() -> None:
    from papyra.address import ActorAddress

    with pytest.raises(TypeError):
        ActorAddress("sys", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ActorAddress("", 1)
    with pytest.raises(ValueError, match="negative"):
        ActorAddress.parse("sys:-1")
    with ActorSystem() as system:
        with pytest.raises(TypeError):
            system.refs_by_type(5)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            system.ref_for("local:-1")
