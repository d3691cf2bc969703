"""Supervision runs on the parent's own thread: a failed child is suspended (holding no thread),
the parent's ``on_child_failure`` runs between the parent's messages (never concurrently with its
``receive``), and a parent that cannot decide (stopping, or itself waiting on the child in an ask
or on its full mailbox) decides nothing: the child's own policy applies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed, ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.ref import ActorRef
from papyra.supervision import Strategy, SupervisionPolicy
from papyra.supervisor import SupervisorDecision
from papyra.system import ActorSystem

RESTART = SupervisionPolicy(strategy=Strategy.RESTART)


class Child(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError(f"boom on {threading.get_ident()}")
        return message


class Parent(Actor):
    """Spawns children, blocks in ``receive`` on demand, records every decision it makes."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.in_receive = False
        self.decisions: list[tuple[int, bool, str]] = []  # (thread, overlapped receive, error)

    def receive(self, message: Any) -> Any:
        self.in_receive = True
        try:
            if message == "spawn":
                return self.context.spawn_child(Child, policy=RESTART)
            if message == "block":
                self.entered.set()
                self.release.wait()
                return threading.get_ident()
            if isinstance(message, tuple) and message[0] == "ask":
                self.entered.set()
                self.release.wait()
                try:
                    return message[1].ask(message[2], timeout=10)
                except Exception as exc:  # the parent keeps running: the error is its reply
                    return exc
            return message
        finally:
            self.in_receive = False

    def on_child_failure(self, child_ref: ActorRef[Any], exc: BaseException) -> SupervisorDecision:
        self.decisions.append((threading.get_ident(), self.in_receive, str(exc)))
        return SupervisorDecision.STOP


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(max_workers=4) as s:
        yield s


def _busy_parent_with_a_child(system: ActorSystem) -> tuple[Parent, ActorRef[Any], ActorRef[Any], Any]:
    """A deciding parent with one child (RESTART policy), held inside its ``receive`` until
    ``instance.release`` is set: (the parent instance, its ref, the child's ref, the future of
    the held message)."""
    instance = Parent()
    parent = system.spawn(lambda: instance)
    child = parent.ask("spawn", timeout=10)
    busy = parent.ask_future("block")
    assert instance.entered.wait(10)
    return instance, parent, child, busy


def _crash_of(system: ActorSystem, ref: ActorRef[Any]) -> None:
    system.wait_for_event(
        lambda e: isinstance(e, ActorCrashed) and e.actor_address == ref.address, timeout=10
    )


def _stop_of(system: ActorSystem, ref: ActorRef[Any]) -> str | None:
    event = system.wait_for_event(
        lambda e: isinstance(e, ActorStoppedEvent) and e.actor_address == ref.address, timeout=10
    )
    assert isinstance(event, ActorStoppedEvent)
    return event.reason


def test_on_child_failure_waits_for_the_parents_receive_and_runs_on_the_parents_thread(
    system: ActorSystem,
) -> None:
    instance, parent, child, busy = _busy_parent_with_a_child(system)
    crashed = child.ask_future("boom")
    _crash_of(system, child)
    # The child failed while its parent is inside receive: nothing is decided yet, and the
    # crashing ask does not return before supervision acted.
    assert instance.decisions == []
    assert not crashed.done()
    instance.release.set()
    busy.result(10)
    assert isinstance(crashed.exception(10), RuntimeError)
    assert _stop_of(system, child) == "supervisor"  # the parent's STOP, not the child's RESTART
    [(_, overlapped, _)] = instance.decisions
    assert not overlapped
    assert parent.ask("still here", timeout=10) == "still here"


def test_a_parent_asking_its_failing_child_decides_nothing_and_the_child_policy_applies(
    system: ActorSystem,
) -> None:
    instance = Parent()
    instance.release.set()
    parent = system.spawn(lambda: instance)
    child = parent.ask("spawn", timeout=10)
    reply = parent.ask(("ask", child, "boom"), timeout=10)  # the parent waits on the child: no deadlock
    assert isinstance(reply, RuntimeError)
    assert instance.decisions == []
    assert child.ask("after", timeout=10) == "after"  # RESTART, the child's own policy


def test_a_parent_that_starts_waiting_on_its_suspended_child_releases_it(system: ActorSystem) -> None:
    instance = Parent()
    parent = system.spawn(lambda: instance)
    child = parent.ask("spawn", timeout=10)
    asking = parent.ask_future(("ask", child, "ping"))
    assert instance.entered.wait(10)
    crashed = child.ask_future("boom")
    _crash_of(system, child)
    instance.release.set()  # the parent now asks the child that waits for the parent's decision
    assert asking.result(10) == "ping"
    assert isinstance(crashed.exception(10), RuntimeError)
    assert instance.decisions == []  # the child's own policy (RESTART) applied


def test_a_stopping_parent_decides_nothing(system: ActorSystem) -> None:
    instance, parent, child, busy = _busy_parent_with_a_child(system)
    crashed = child.ask_future("boom")
    _crash_of(system, child)
    parent.stop()
    instance.release.set()
    busy.result(10)
    assert isinstance(crashed.exception(10), RuntimeError)
    assert _stop_of(system, parent) == "stopped"
    assert _stop_of(system, child) == "parent-stopped"
    assert instance.decisions == []
    with pytest.raises(ActorStopped):
        child.tell("x")


def test_suspended_children_hold_no_thread(system: ActorSystem) -> None:
    instance = Parent()
    parent = system.spawn(lambda: instance)
    children = [system.spawn(Child, parent=parent, policy=RESTART) for _ in range(200)]
    busy = parent.ask_future("block")
    assert instance.entered.wait(10)  # the parent cannot decide while it is in receive
    start = system.event_index
    failed = [child.ask_future("boom") for child in children]
    for child in children:  # every child failed and is suspended, waiting for the parent
        system.wait_for_event(
            lambda e, a=child.address: isinstance(e, ActorCrashed) and e.actor_address == a,
            start_index=start, timeout=60,
        )
    assert system.metrics.snapshot()["workers"] <= 4 + 1  # the pool, not one thread per child
    assert not any(f.done() for f in failed)
    instance.release.set()
    busy.result(60)
    for future in failed:
        assert isinstance(future.exception(60), RuntimeError)
    assert len(instance.decisions) == 200
    assert system.metrics.snapshot()["workers_peak"] <= 4 + 1


class Feeder(Actor):
    """Fills its child's two-place mailbox right after a message that makes the child fail."""

    def on_start(self) -> None:
        self.kid = self.context.spawn_child(Gated, mailbox_capacity=2, policy=RESTART)

    def receive(self, message: Any) -> Any:
        if message == "kid":
            return self.kid
        self.kid.tell("boom")
        for i in range(10):
            self.kid.tell(i)  # blocks on the full mailbox while the child waits for this actor
        return "fed"

    def on_child_failure(self, child_ref: ActorRef[Any], exc: BaseException) -> SupervisorDecision:
        return SupervisorDecision.STOP  # never applied: this actor is blocked on the child


class Gated(Child):
    seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        Gated.seen.append(message)
        return super().receive(message)


def test_a_parent_blocked_on_its_failed_childs_full_mailbox_lets_the_childs_policy_apply(
    system: ActorSystem,
) -> None:
    Gated.seen = []
    feeder = system.spawn(Feeder)
    kid = feeder.ask("kid", timeout=10)
    assert feeder.ask("feed", timeout=60) == "fed"  # no deadlock between the two
    assert kid.ask("after", timeout=60) == "after"  # restarted by its own policy, not stopped
    assert Gated.seen == ["boom", *range(10), "after"]


def test_a_graceful_stop_requested_while_suspended_still_processes_the_queued_messages(
    system: ActorSystem,
) -> None:
    instance = Parent()
    parent = system.spawn(lambda: instance)
    child = system.spawn(Child, parent=parent, policy=RESTART)
    busy = parent.ask_future("block")
    assert instance.entered.wait(10)
    crashed = child.ask_future("boom")
    _crash_of(system, child)  # suspended: the parent is busy
    queued = [child.ask_future(i) for i in range(5)]
    child.stop()  # graceful: what was queued before it is still processed
    instance.release.set()
    busy.result(10)
    assert isinstance(crashed.exception(10), RuntimeError)
    assert [f.result(10) for f in queued] == [0, 1, 2, 3, 4]
    assert _stop_of(system, child) == "stopped"
    assert instance.decisions == []  # a child being stopped is not decided on: its own policy


class Grandparent(Parent):
    def on_child_failure(self, child_ref: ActorRef[Any], exc: BaseException) -> SupervisorDecision:
        self.decisions.append((threading.get_ident(), self.in_receive, str(exc)))
        return SupervisorDecision.RESTART


class Middle(Actor):
    """Its child escalates; then it fails itself while its own parent is busy."""

    def on_start(self) -> None:
        self.kid = self.context.spawn_child(
            Child, policy=SupervisionPolicy(strategy=Strategy.ESCALATE)
        )

    def receive(self, message: Any) -> Any:
        if message != "fail":
            return message
        self.kid.tell("boom")  # the child escalates to this actor, which is busy right here
        self.context.system.wait_for_event(
            lambda e: isinstance(e, ActorStoppedEvent) and e.actor_address == self.kid.address, timeout=30
        )
        raise RuntimeError("middle boom")


def test_an_escalation_from_a_child_of_a_replaced_instance_is_dropped(system: ActorSystem) -> None:
    top = Grandparent()
    grandparent = system.spawn(lambda: top)
    middle = system.spawn(Middle, parent=grandparent)
    busy = grandparent.ask_future("block")
    assert top.entered.wait(10)
    start = system.event_index
    middle.tell("fail")  # fails after its child escalated; suspended: the grandparent is busy
    _crash_of(system, middle)
    top.release.set()
    busy.result(10)
    system.wait_for_event(
        lambda e: isinstance(e, ActorRestarted) and e.actor_address == middle.address,
        start_index=start, timeout=30,
    )
    assert middle.ask("ping", timeout=30) == "ping"  # the deferred escalation was handled first
    crashes = [
        e for e in system.events()[start:]
        if isinstance(e, ActorCrashed) and e.actor_address == middle.address
    ]
    assert len(crashes) == 1 and [d[2] for d in top.decisions] == ["middle boom"]
    assert middle._cell.restarts == 1  # restarted once, not again for the old child's escalation


class NeverStarts(Actor):
    starts = 0

    def on_start(self) -> None:
        NeverStarts.starts += 1
        raise ValueError("cannot start")

    def receive(self, message: Any) -> Any:
        return message


class Undecided(Parent):
    def on_child_failure(self, child_ref: ActorRef[Any], exc: BaseException) -> None:
        return None  # the child's own policy


def test_restarts_whose_on_start_keeps_failing_are_bounded_even_with_a_zero_window(
    system: ActorSystem,
) -> None:
    NeverStarts.starts = 0
    instance = Undecided()
    instance.release.set()
    parent = system.spawn(lambda: instance)
    policy = SupervisionPolicy(strategy=Strategy.RESTART, max_restarts=1, within_seconds=0)
    child = system.spawn(NeverStarts, parent=parent, policy=policy)
    assert _stop_of(system, child) == "restart-limit"  # not an endless restart loop
    assert NeverStarts.starts == 65  # the first start and 64 restarts


def test_an_on_child_failure_set_on_the_instance_decides(system: ActorSystem) -> None:
    seen: list[str] = []

    def decide(child_ref: ActorRef[Any], exc: BaseException) -> SupervisorDecision:
        seen.append(str(exc))
        return SupervisorDecision.IGNORE

    holder = Actor()
    holder.on_child_failure = decide  # type: ignore[method-assign]
    holder.receive = lambda message: message  # type: ignore[method-assign]
    parent = system.spawn(lambda: holder)
    child = system.spawn(Child, parent=parent)  # unnamed: its own policy would be STOP
    with pytest.raises(RuntimeError):
        child.ask("boom", timeout=30)
    assert child.ask("still here", timeout=30) == "still here"  # IGNORE: kept
    assert len(seen) == 1
