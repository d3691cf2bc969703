"""User code that fails in the runtime's own steps — a context setter, a hook (or its lookup),
``on_dead_letter``, ``time_fn``, a factory handing out one instance twice — never strands an
actor, never cuts a termination short and never leaves an ask hanging."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from papyra import Actor, ActorSystem
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise KeyError("boom")
        return message


class RefusesContext(Echo):
    """Its setter raises for the context (a validating ``__setattr__``)."""

    error: type[BaseException] = RuntimeError

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_context":
            raise self.error("no context for me")
        super().__setattr__(name, value)


class RefusesContextFatally(RefusesContext):
    error = SystemExit


def test_an_actor_whose_context_setter_raises_still_runs_and_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem() as system:
        ref = system.spawn(RefusesContext, name="svc")  # named: RESTART
        assert ref.ask("x", timeout=30) == "x"
        with pytest.raises(KeyError):
            ref.ask("boom", timeout=30)
        assert ref.ask("after", timeout=30) == "after"  # restarted although its setter raised again
        assert system.actor_info(ref).state == "running"
    assert "setting the context of" in caplog.text


def test_a_fatal_error_from_a_context_setter_on_a_worker_never_strands_the_restart() -> None:
    with ActorSystem() as system:
        instances: list[Any] = []

        def factory() -> Any:
            # The first instance takes its context; every restart's instance refuses it fatally.
            actor = Echo() if not instances else RefusesContextFatally()
            instances.append(actor)
            return actor

        ref = system.spawn(factory, name="svc")
        with pytest.raises(KeyError):
            ref.ask("boom", timeout=30)
        assert ref.ask("after", timeout=30) == "after"
        assert len(instances) == 2 and system.actor_info(ref).state == "running"


class RaisingLookup:
    """A hooks object whose attribute lookup itself raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no {name} here")


class FatalHooks:
    def on_event(self, event: Any) -> None:
        raise SystemExit("from a hook")


@pytest.mark.parametrize("hooks", [RaisingLookup(), FatalHooks()], ids=["lookup-raises", "SystemExit"])
def test_failing_hooks_never_stop_an_actor_from_starting_or_terminating(hooks: Any) -> None:
    system = ActorSystem(hooks=hooks).start()
    ref = system.spawn(Echo)
    assert ref.ask("x", timeout=30) == "x"
    future = ref.ask_future("late")
    ref.stop()
    system.wait_for_event(ActorStoppedEvent, timeout=30)
    assert future.result(timeout=30) == "late"  # processed before the graceful stop
    assert system.actor_info(ref).state == "stopped"
    assert system.close(timeout=30) is True


def test_an_on_dead_letter_callback_raising_system_exit_on_a_worker_never_hangs_an_ask() -> None:
    seen: list[Any] = []

    def on_dead_letter(dead_letter: Any) -> None:
        seen.append(dead_letter)
        raise SystemExit("from on_dead_letter")

    class StopsItself(Actor):
        def receive(self, message: Any) -> Any:
            if message == "stop":
                self.context.stop_self()
            return message

    with ActorSystem(on_dead_letter=on_dead_letter) as system:
        ref = system.spawn(StopsItself)
        ref.tell("stop")
        pending = [ref.ask_future(i) for i in range(3)]  # left in the mailbox: dead letters
        for future in pending:
            with pytest.raises(ActorStopped):
                future.result(timeout=30)
        system.wait_for_event(ActorStoppedEvent, timeout=30)
    assert len(seen) == 3


def test_a_raising_time_fn_falls_back_to_the_wall_clock(caplog: pytest.LogCaptureFixture) -> None:
    def broken_clock() -> float:
        raise OSError("clock unavailable")

    before = time.time()
    with caplog.at_level(logging.ERROR, logger="papyra"), ActorSystem(time_fn=broken_clock) as system:
        ref = system.spawn(Echo)
        assert ref.ask("x", timeout=30) == "x"
        started = system.wait_for_event(lambda e: e.event_type == "ActorStarted", timeout=30)
    assert started.timestamp >= before
    assert caplog.text.count("time_fn raised") == 1


def test_an_instance_runs_as_one_actor_only() -> None:
    shared = Echo()
    with ActorSystem() as system:
        first = system.spawn(lambda: shared)
        with pytest.raises(ValueError, match="instance of the running actor"):
            system.spawn(lambda: shared)
        assert first.ask("x", timeout=30) == "x"
        assert shared.context.self_ref == first  # the refused spawn did not take it over
        first.stop()
        system.wait_for_event(ActorStoppedEvent, timeout=30)
        second = system.spawn(lambda: shared)  # free again once its actor terminated
        assert second.ask("y", timeout=30) == "y"


def test_a_restart_whose_factory_returns_another_actors_instance_stops_the_actor() -> None:
    with ActorSystem() as system:
        taken = Echo()
        system.spawn(lambda: taken)
        calls: list[int] = []

        def factory() -> Any:
            calls.append(1)
            return Echo() if len(calls) == 1 else taken

        ref = system.spawn(factory, name="svc")
        with pytest.raises(KeyError):
            ref.ask("boom", timeout=30)
        stopped = system.wait_for_event(ActorStoppedEvent, timeout=30)
        assert stopped.actor_address == ref.address and stopped.reason == "restart-limit"
