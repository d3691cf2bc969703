"""close(timeout) with a slow backend, the real error of an on_start failure in the persisted
history, event addresses as ActorAddress, and the coroutine-refusal message."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.exceptions import ActorStopped
from papyra.persistence.models import PersistedRecord
from papyra.system import ActorSystem
from tests.support.backends import SynchronousMemoryPersistence


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class SlowPersistence(SynchronousMemoryPersistence):
    """A backend whose writes block until released (a slow disk or network store)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def _record(self, record: PersistedRecord) -> None:
        self.entered.set()
        self.release.wait(30)
        super()._record(record)


def test_close_reports_failure_when_the_backend_is_still_busy(caplog: pytest.LogCaptureFixture) -> None:
    backend = SlowPersistence()
    system = ActorSystem(system_id="slow", persistence=backend)
    system.start()
    refs = [system.spawn(Echo) for _ in range(3)]
    for ref in refs:
        assert ref.ask("hi", timeout=10) == "hi"
    assert backend.entered.wait(10)  # the recorder is blocked inside the first record_event
    recorder = [t for t in threading.enumerate() if t.name == "papyra-recorder-slow"]
    assert len(recorder) == 1
    try:
        with caplog.at_level(logging.WARNING, logger="papyra"):
            assert system.close(timeout=0.2) is False
        assert "before every record reached persistence" in caplog.text
        # The 3 final ActorStopped events were still queued: abandoned and counted at once.
        assert system.metrics.snapshot()["recorder_drops_total"] >= 3
        assert not backend.closed  # not closed under the recorder's feet
    finally:
        backend.release.set()  # the blocked call returns: the recorder drops the rest and exits
        recorder[0].join(10)
    assert not recorder[0].is_alive()
    assert backend.closed  # closed by the abandoned recorder on its way out
    drops = system.metrics.snapshot()["recorder_drops_total"]
    assert len(backend.list_events()) == 1 and drops == 5  # 6 events: 1 written, 5 dropped


def test_close_with_a_prompt_backend_still_reports_success() -> None:
    system = ActorSystem()
    system.start()
    system.spawn(Echo).ask("x", timeout=10)
    assert system.close(timeout=10) is True
    assert [e.event_type for e in system.persistence.list_events()] == ["ActorStarted", "ActorStopped"]


def test_on_start_error_is_in_the_persisted_history() -> None:
    attempts: list[int] = []

    class FlakyStart(Actor):
        def on_start(self) -> None:
            attempts.append(1)
            if len(attempts) == 1:
                raise KeyError("nope")

        def receive(self, message: Any) -> Any:
            return message

    with ActorSystem() as system:
        ref = system.spawn(FlakyStart, name="flaky")  # named: RESTART
        system.wait_for_event(ActorRestarted, timeout=10)
        assert ref.ask("ok", timeout=10) == "ok"
    persisted = {e.event_type: e.payload for e in system.persistence.list_events()}
    expected = {"error": "KeyError: 'nope'", "reason": "on_start failed: KeyError: 'nope'"}
    assert persisted["ActorCrashed"] == expected
    assert persisted["ActorRestarted"] == {"reason": "on_start failed: KeyError: 'nope'"}
    crashed = [e for e in system.events() if isinstance(e, ActorCrashed)]
    assert crashed[0].payload == expected


def test_event_actor_address_compares_with_ref_address() -> None:
    with ActorSystem() as system:
        ref = system.spawn(Echo)
        event = system.wait_for_event(ActorStarted, timeout=10)
        assert event.address == {"system": "local", "actor_id": ref.address.actor_id}  # plain data
        assert event.address != ref.address
        assert event.actor_address == ref.address


def test_coroutine_refusal_names_the_actor_class() -> None:
    class Greeter(Actor):
        async def receive(self, message: Any) -> Any:  # type: ignore[override]
            return message

    with ActorSystem() as system:
        with pytest.raises(TypeError, match=r"^Greeter\.receive is a coroutine function"):
            system.spawn(Greeter)  # the class itself is checked
        with pytest.raises(TypeError, match=r"^Greeter\.receive is a coroutine function"):
            system.spawn(lambda: Greeter())  # an instance from a factory function

        class NoReceive:
            pass

        with pytest.raises(TypeError, match="'NoReceive' has no receive"):
            system.spawn(NoReceive)


class _Held(Actor):
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def receive(self, message: Any) -> Any:
        self.entered.set()
        self.release.wait(60)
        return message


def test_a_close_that_runs_out_of_time_never_strands_an_ask_queued_for_a_worker() -> None:
    held = _Held()
    system = ActorSystem(system_id="strand", max_workers=1).start()
    busy = system.spawn(lambda: held)
    waiting = system.spawn(Echo)
    assert waiting.ask("warm", timeout=30) == "warm"
    busy.tell("hold")
    assert held.entered.wait(30)  # the only worker is inside busy's receive
    pending = [waiting.ask_future(i) for i in range(3)]  # queued: waiting needs a worker
    try:
        assert system.close(timeout=0.2) is False
        for future in pending:  # the worker pool is gone: the asks fail instead of hanging
            with pytest.raises(ActorStopped, match="closed before the actor processed"):
                future.result(timeout=30)
        assert len([d for d in system.dead_letters.messages if d.target == waiting]) == 3
    finally:
        held.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("papyra-worker"):
            thread.join(30)


def _stuck_system(**kwargs: Any) -> tuple[ActorSystem, _Held, Any]:
    """One worker, held inside an actor's receive; returns (system, the held actor, an idle
    echo actor that will need that worker)."""
    held = _Held()
    system = ActorSystem(system_id="stuck", max_workers=1, **kwargs).start()
    busy = system.spawn(lambda: held)
    waiting = system.spawn(Echo)
    assert waiting.ask("warm", timeout=30) == "warm"
    busy.tell("hold")
    assert held.entered.wait(30)
    return system, held, waiting


def _join_workers() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("papyra-worker"):
            thread.join(30)


def test_a_callback_that_closes_the_system_during_close_does_not_deadlock_it() -> None:
    closes: list[bool] = []
    holder: list[ActorSystem] = []

    class ClosesOnDeadLetter:
        def on_dead_letter(self, dead_letter: Any) -> None:
            closes.append(holder[0].close())  # runs on the thread that is closing

    system, held, waiting = _stuck_system(hooks=ClosesOnDeadLetter())
    holder.append(system)
    waiting.tell("queued")  # dead-lettered when the close abandons it
    try:
        assert system.close(timeout=0.2) is False
        assert closes == [False]  # the nested close only saw a shutdown under way
    finally:
        held.release.set()
        _join_workers()


def test_a_fatal_callback_during_close_still_lets_every_ask_finish_and_close_end() -> None:
    system, held, waiting = _stuck_system()

    def exits(future: Any) -> None:
        raise SystemExit("from a done-callback")

    first = waiting.ask_future("a")
    first.add_done_callback(exits)
    others = [waiting.ask_future(x) for x in ("b", "c")]
    try:
        with pytest.raises(SystemExit):  # on the application's thread, the error is its own
            system.close(timeout=0.2)
        for future in [first, *others]:
            with pytest.raises(ActorStopped):
                future.result(timeout=30)
        assert system.closed and system.close(timeout=30) is False  # over, not stuck
    finally:
        held.release.set()
        _join_workers()
