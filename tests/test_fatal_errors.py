"""Errors that are not ``Exception``s (``SystemExit``, ``KeyboardInterrupt``…) raised by an actor
are fatal for that actor: it stops at once without supervision, and the rest keeps running."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

FATAL = [SystemExit, KeyboardInterrupt]


class Gate(Actor):
    """Blocks on ``entered``/``release`` for "wait", raises the error class it is sent."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def receive(self, message: Any) -> Any:
        if isinstance(message, type) and issubclass(message, BaseException):
            raise message("fatal")
        if message == "wait":
            self.entered.set()
            self.release.wait()
        return message


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@pytest.fixture
def store() -> InMemoryPersistence:
    return InMemoryPersistence()


@pytest.fixture
def system(store: InMemoryPersistence) -> Iterator[ActorSystem]:
    with ActorSystem(persistence=store) as s:
        yield s


def _stopped_event(system: ActorSystem, ref: ActorRef) -> ActorStoppedEvent:
    event = system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.actor_address == ref.address, timeout=10
    )
    assert isinstance(event, ActorStoppedEvent)
    return event


@pytest.mark.parametrize("error", FATAL)
def test_a_fatal_error_in_receive_stops_the_actor_without_restart_and_fails_pending_asks(
    system: ActorSystem,
    store: InMemoryPersistence,
    error: type[BaseException],
    caplog: pytest.LogCaptureFixture,
) -> None:
    instance = Gate()
    ref = system.spawn(lambda: instance, name="gate")  # named: RESTART by policy, yet no restart
    other = system.spawn(Echo)
    busy = ref.ask_future("wait")
    assert instance.entered.wait(10)
    crashing = ref.ask_future(error)
    queued = ref.ask_future("after")
    with caplog.at_level(logging.ERROR, logger="papyra"):
        instance.release.set()
        assert busy.result(10) == "wait"
        crash_error = crashing.exception(10)
        queued_error = queued.exception(10)
        stopped = _stopped_event(system, ref)
    for failure in (crash_error, queued_error):
        assert isinstance(failure, ActorStopped)
        assert isinstance(failure.__cause__, error)
        assert failure.reason == f"fatal: {error.__name__}"
    assert crash_error.__cause__ is queued_error.__cause__
    assert stopped.reason == f"fatal: {error.__name__}"
    crashed = system.wait_for_event(ActorCrashed, timeout=10)
    assert isinstance(crashed, ActorCrashed) and crashed.error is crash_error.__cause__
    payload = {"error": f"{error.__name__}: fatal", "reason": f"fatal: {error.__name__}"}
    assert crashed.payload == payload
    assert not any(isinstance(e, ActorRestarted) for e in system.events())
    logged = [r.exc_info[1] for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert crashed.error in logged
    with pytest.raises(ActorStopped):
        ref.tell("x")
    assert other.ask("still here", timeout=10) == "still here"
    assert system.spawn(Echo).ask("new", timeout=10) == "new"
    assert system.flush(10) is True
    persisted = {e.event_type: e.payload for e in store.list_events()}
    assert persisted["ActorCrashed"] == payload
    assert persisted["ActorStopped"] == {"reason": f"fatal: {error.__name__}"}


def test_a_fatal_error_in_a_tell_stops_the_actor(system: ActorSystem) -> None:
    ref = system.spawn(Gate, policy=SupervisionPolicy(strategy=Strategy.RESTART))
    ref.tell(SystemExit)
    assert _stopped_event(system, ref).reason == "fatal: SystemExit"
    assert not any(isinstance(e, ActorRestarted) for e in system.events())


def test_a_fatal_error_in_on_start_stops_the_actor_without_restart(system: ActorSystem) -> None:
    class ExitOnStart(Actor):
        def on_start(self) -> None:
            raise SystemExit(3)

        def receive(self, message: Any) -> Any:
            return message

    ref = system.spawn(ExitOnStart, name="exits")
    assert _stopped_event(system, ref).reason == "fatal: SystemExit"
    crashed = system.wait_for_event(ActorCrashed, timeout=10)
    assert isinstance(crashed, ActorCrashed) and isinstance(crashed.error, SystemExit)
    assert not any(isinstance(e, ActorRestarted) for e in system.events())


def test_a_fatal_error_is_never_handed_to_the_parent(system: ActorSystem) -> None:
    decided: list[BaseException] = []

    class Parent(Actor):
        def on_child_failure(self, child: ActorRef, error: BaseException) -> SupervisorDecision:
            decided.append(error)
            return SupervisorDecision.RESTART

        def receive(self, message: Any) -> Any:
            if message == "spawn":
                return self.context.spawn_child(Gate)
            return message

    parent = system.spawn(Parent)
    child = parent.ask("spawn", timeout=10)
    with pytest.raises(ActorStopped) as info:
        child.ask(KeyboardInterrupt, timeout=10)
    assert isinstance(info.value.__cause__, KeyboardInterrupt)
    assert _stopped_event(system, child).reason == "fatal: KeyboardInterrupt"
    assert decided == []
    assert parent.ask("alive", timeout=10) == "alive"


def test_a_fatal_error_in_on_child_failure_stops_the_parent_and_the_child_policy_applies(
    system: ActorSystem,
) -> None:
    class Parent(Actor):
        def on_child_failure(self, child: ActorRef, error: BaseException) -> SupervisorDecision:
            raise SystemExit("parent gives up")

        def receive(self, message: Any) -> Any:
            if message == "spawn":
                return self.context.spawn_child(Gate)  # unnamed: STOP by its own policy
            return message

    parent = system.spawn(Parent)
    child = parent.ask("spawn", timeout=10)
    with pytest.raises(RuntimeError):
        child.ask(RuntimeError, timeout=10)
    assert _stopped_event(system, parent).reason == "fatal: SystemExit"
    assert _stopped_event(system, child).reason in ("supervisor", "parent-stopped")
