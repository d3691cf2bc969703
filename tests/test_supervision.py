"""Supervision: STOP, RESTART (limits, sliding window), ESCALATE, on_child_failure decisions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

INSTANCES: list[Counter] = []


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0
        self.stopped = 0
        INSTANCES.append(self)

    def receive(self, message: Any) -> Any:
        if message == "inc":
            self.count += 1
        elif message == "get":
            return self.count
        elif message == "boom":
            raise RuntimeError("boom")
        return message

    def on_stop(self) -> None:
        self.stopped += 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def system(clock: FakeClock) -> Iterator[ActorSystem]:
    INSTANCES.clear()
    with ActorSystem(time_fn=clock, max_workers=4) as s:
        yield s


def test_restart_resets_state_and_ref_survives(system: ActorSystem) -> None:
    ref = system.spawn(Counter, policy=SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=5))
    ref.tell("inc")
    ref.tell("inc")
    assert ref.ask("get") == 2
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    assert ref.ask("get") == 0
    ref.tell("inc")
    assert ref.ask("get") == 1
    assert len(INSTANCES) == 2 and INSTANCES[0].stopped == 1 and INSTANCES[1].stopped == 0


def test_restart_keeps_mailbox(system: ActorSystem) -> None:
    gate = threading.Event()

    class Slow(Counter):
        def receive(self, message: Any) -> Any:
            if message == "slow-boom":
                gate.wait(10)
                raise RuntimeError("boom")
            return super().receive(message)

    ref = system.spawn(Slow, name="svc")
    ref.tell("slow-boom")
    ref.tell("inc")  # queued behind the crash: processed by the new instance
    ref.tell("inc")
    gate.set()
    assert ref.ask("get") == 2
    assert ref.ask("ok") == "ok"


def test_restart_limit_stops_actor(system: ActorSystem) -> None:
    ref = system.spawn(Counter, policy=SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=2))
    for _ in range(3):
        with pytest.raises(RuntimeError):
            ref.ask("boom")
    with pytest.raises(ActorStopped):
        ref.tell("inc")
    stopped = [e for e in system.events() if isinstance(e, ActorStoppedEvent)]
    assert stopped[-1].reason == "restart-limit"
    assert sum(isinstance(e, ActorRestarted) for e in system.events()) == 2


def test_max_restarts_zero_never_restarts(system: ActorSystem) -> None:
    ref = system.spawn(Counter, policy=SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=0))
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    assert not ref.is_alive()
    assert not any(isinstance(e, ActorRestarted) for e in system.events())


def test_restart_window_slides_with_the_clock(system: ActorSystem, clock: FakeClock) -> None:
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=2, within_seconds=10)
    ref = system.spawn(Counter, policy=policy)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            ref.ask("boom")
    clock.now += 11  # both earlier restarts leave the window
    for _ in range(2):
        with pytest.raises(RuntimeError):
            ref.ask("boom")
    assert ref.is_alive()
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    assert not ref.is_alive()


def test_named_actor_defaults_to_restart_unnamed_to_stop(system: ActorSystem) -> None:
    named = system.spawn(Counter, name="svc")
    unnamed = system.spawn(Counter)
    with pytest.raises(RuntimeError):
        named.ask("boom")
    with pytest.raises(RuntimeError):
        unnamed.ask("boom")
    assert named.ask("ping") == "ping"
    assert named.address == system.ref_for_name("svc").address
    with pytest.raises(ActorStopped):
        unnamed.tell("x")


def test_on_start_failure_in_restart_counts_against_the_limit(system: ActorSystem) -> None:
    starts: list[int] = []

    class FlakyStart(Counter):
        def on_start(self) -> None:
            starts.append(1)
            if len(starts) > 1:
                raise RuntimeError("cannot start")

    ref = system.spawn(FlakyStart, policy=SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=3))
    with pytest.raises(RuntimeError, match="boom"):
        ref.ask("boom")
    assert not ref.is_alive()
    assert len(starts) == 4  # first start + 3 failed restarts, then the limit stops it
    assert not any(isinstance(e, ActorRestarted) for e in system.events())


class Parent(Actor):
    decision: SupervisorDecision | None = None

    def __init__(self) -> None:
        self.seen: list[tuple[ActorRef, str]] = []

    def on_child_failure(self, child_ref: ActorRef, exc: BaseException) -> SupervisorDecision | None:
        self.seen.append((child_ref, str(exc)))
        return self.decision

    def receive(self, message: Any) -> Any:
        if message == "spawn":
            return self.context.spawn_child(Counter)
        if message == "spawn-escalating":
            return self.context.spawn_child(
                Counter, policy=SupervisionPolicy(strategy=Strategy.ESCALATE)
            )
        return message


def _parent(decision: SupervisorDecision | None) -> Any:
    def factory() -> Parent:
        p = Parent()
        p.decision = decision
        return p

    return factory


def test_supervisor_can_restart_child(system: ActorSystem) -> None:
    parent = system.spawn(_parent(SupervisorDecision.RESTART))
    child = parent.ask("spawn")
    child.tell("inc")
    with pytest.raises(RuntimeError):
        child.ask("boom")
    assert child.ask("get") == 0
    assert child.ask("ok") == "ok"
    seen = parent._cell.actor.seen
    assert seen == [(child, "boom")]


def test_supervisor_can_stop_child(system: ActorSystem) -> None:
    parent = system.spawn(_parent(SupervisorDecision.STOP), name="p")
    child = parent.ask("spawn")
    with pytest.raises(RuntimeError):
        child.ask("boom")
    with pytest.raises(ActorStopped):
        child.tell("x")
    assert parent.ask("alive") == "alive"


def test_ignore_keeps_child_and_its_state(system: ActorSystem) -> None:
    parent = system.spawn(_parent(SupervisorDecision.IGNORE))
    child = parent.ask("spawn")
    child.tell("inc")
    with pytest.raises(RuntimeError):
        child.ask("boom")
    assert child.ask("get") == 1
    assert child.is_alive()
    assert len(INSTANCES) == 1


def test_escalate_policy_makes_parent_handle_failure(system: ActorSystem) -> None:
    parent = system.spawn(Parent, name="boss")  # named: RESTART policy
    child = parent.ask("spawn-escalating")
    with pytest.raises(RuntimeError):
        child.ask("boom")
    with pytest.raises(ActorStopped):
        child.tell("x")
    system.wait_for_event(lambda e: isinstance(e, ActorRestarted) and e.address["actor_id"] == parent._rid)
    crashed = [e.address["actor_id"] for e in system.events() if isinstance(e, ActorCrashed)]
    assert crashed == [child._rid, parent._rid]
    assert parent.ask("still-here") == "still-here"
    stopped = system.wait_for_event(lambda e: isinstance(e, ActorStoppedEvent) and e.address["actor_id"] == 2)
    assert stopped.reason == "escalated"


def test_escalate_decision_with_stopping_parent_policy(system: ActorSystem) -> None:
    parent = system.spawn(_parent(SupervisorDecision.ESCALATE))  # unnamed: STOP policy
    child = parent.ask("spawn")
    with pytest.raises(RuntimeError):
        child.ask("boom")
    system.wait_for_event(lambda e: isinstance(e, ActorStoppedEvent) and e.address["actor_id"] == parent._rid)
    assert not parent.is_alive() and not child.is_alive()


def test_escalate_on_root_stops_it(system: ActorSystem) -> None:
    ref = system.spawn(Counter, policy=SupervisionPolicy(strategy=Strategy.ESCALATE))
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    assert not ref.is_alive()


def test_restart_stops_children_first(system: ActorSystem) -> None:
    class Owner(Actor):
        def on_start(self) -> None:
            self.child = self.context.spawn_child(Counter)

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return self.child

    owner = system.spawn(Owner, name="owner")
    first_child = owner.ask("child")
    with pytest.raises(RuntimeError):
        owner.ask("boom")
    with pytest.raises(ActorStopped):
        first_child.tell("x")
    second_child = owner.ask("child")
    assert second_child != first_child and second_child.ask("ping") == "ping"
    info = system.actor_info(owner)
    assert info.children_rids == (first_child._rid, second_child._rid)


def test_crash_on_stop_policy_stops_children(system: ActorSystem) -> None:
    class Owner(Actor):
        def on_start(self) -> None:
            self.child = self.context.spawn_child(Counter)

        def receive(self, message: Any) -> Any:
            if message == "boom":
                raise RuntimeError("boom")
            return self.child

    parent = system.spawn(Owner)
    child = parent.ask("child")
    with pytest.raises(RuntimeError):
        parent.ask("boom")
    with pytest.raises(ActorStopped):
        parent.tell("x")
    with pytest.raises(ActorStopped):
        child.tell("x")


def test_started_event_only_after_successful_start(system: ActorSystem) -> None:
    system.spawn(Counter)
    event = system.wait_for_event(ActorStarted)
    assert event.address == {"system": "local", "actor_id": 1}


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        SupervisionPolicy(max_restarts=-1)
    assert SupervisionPolicy(strategy="restart").strategy is Strategy.RESTART  # type: ignore[arg-type]
