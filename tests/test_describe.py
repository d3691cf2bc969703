"""Describing user objects is total and bounded: an exception or message whose ``__str__`` /
``__repr__`` raises (or returns a huge string) never wedges its actor, and what reaches events,
dead letters and persisted records is bounded in size."""

from __future__ import annotations

from typing import Any

import pytest

from papyra._describe import MAX_TEXT, describe, describe_error
from papyra.actor import Actor
from papyra.events import ActorCrashed
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.system import ActorSystem


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ exploded")


class HugeError(Exception):
    def __str__(self) -> str:
        return "x" * 5_000_000


class Unrepresentable:
    def __repr__(self) -> str:
        raise ValueError("no repr")


class HugeRepr:
    def __repr__(self) -> str:
        return "y" * 5_000_000


class Raiser(Actor):
    def receive(self, message: Any) -> Any:
        if message == "unprintable":
            raise UnprintableError()
        if message == "huge":
            raise HugeError()
        return "ok"


def test_describe_error_never_raises_and_is_bounded() -> None:
    assert describe_error(UnprintableError()) == (
        "UnprintableError: <UnprintableError object: __str__ raised RuntimeError>"
    )
    text = describe_error(HugeError())
    assert text.startswith("HugeError: xxx") and len(text) < MAX_TEXT + 100
    assert describe(Unrepresentable()) == "<Unrepresentable object: __repr__ raised ValueError>"
    assert describe(KeyError("k")) == "KeyError('k')"


@pytest.mark.parametrize("message", ["unprintable", "huge"])
def test_an_error_with_a_bad_str_reaches_the_asker_and_the_actor_keeps_answering(message: str) -> None:
    store = InMemoryPersistence()
    system = ActorSystem(persistence=store).start()
    try:
        ref = system.spawn(Raiser, name="raiser")  # named: RESTART
        with pytest.raises((UnprintableError, HugeError)):
            ref.ask(message, timeout=10)
        assert ref.ask("ping", timeout=10) == "ok"
        crash = system.wait_for_event(ActorCrashed, timeout=10)
        assert isinstance(crash.error, (UnprintableError, HugeError))
        assert crash.payload["error"].startswith(("UnprintableError: ", "HugeError: "))
        assert len(crash.payload["error"]) < MAX_TEXT + 100
        assert system.flush(10) is True
    finally:
        assert system.close(timeout=10) is True
    persisted = [e for e in store.list_events() if e.event_type == "ActorCrashed"]
    assert len(persisted) == 1
    assert len(str(persisted[0].payload)) < 3 * MAX_TEXT


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (Unrepresentable(), "<Unrepresentable object: __repr__ raised ValueError>"),
        (HugeRepr(), "y" * MAX_TEXT + "… [5000000 chars, cut]"),
        ({"k": HugeRepr()}, {"k": "y" * MAX_TEXT + "… [5000000 chars, cut]"}),
    ],
)
def test_a_dead_letter_whose_message_repr_raises_or_is_huge_is_recorded_bounded(
    message: object, expected: object
) -> None:
    store = InMemoryPersistence()
    with ActorSystem(persistence=store) as system:
        ref = system.spawn(Raiser)
        ref.stop()
        system.wait_for_event(lambda e: type(e).__name__ == "ActorStopped", timeout=10)
        with pytest.raises(ActorStopped):
            ref.tell(message)
        assert system.flush(10) is True
    letters = store.list_dead_letters()
    assert len(letters) == 1
    assert letters[0].payload == expected
    assert letters[0].message_type == type(message).__name__
