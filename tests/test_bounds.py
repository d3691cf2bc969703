"""Long-running systems stay bounded: stopped actors are freed, terminated bookkeeping and the
event log are capped, and mailbox depth/capacity count the messages a worker has already taken."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, MailboxFull
from papyra.system import ActorSystem
from tests.support.waiting import wait_until


class Heavy(Actor):
    """10 KB of state per instance."""

    def __init__(self) -> None:
        self.blob = bytearray(10_000)

    def receive(self, message: Any) -> Any:
        if message == "spawn":
            return self.context.spawn_child(Heavy)
        return len(self.blob)


def test_stopped_actors_are_freed_and_bookkeeping_is_bounded() -> None:
    n, history, capacity = 1_000, 50, 500
    with ActorSystem(terminated_history=history, event_log_capacity=capacity) as system:
        instances: list[weakref.ref[Any]] = []
        first = None
        for _ in range(n):
            ref = system.spawn(Heavy)
            instances.append(weakref.ref(ref._cell.actor))
            assert ref.ask("size", timeout=10) == 10_000
            start = system.event_index
            ref.stop()
            first = first or ref
            # terminated before the next spawn: actor k's stop and actor k+1's start would
            # otherwise run on two workers, in either order
            system.wait_for_event(
                lambda e, a=ref.address: e.event_type == "ActorStopped" and e.actor_address == a,
                start_index=start, timeout=60,
            )
        wait_until(lambda: system.metrics.snapshot()["actors_stopped_total"] == n, what="all stops")
        gc.collect()
        assert sum(1 for w in instances if w() is not None) == 0  # every stopped instance was freed
        assert len(system._kernel.cells) == history and len(system.list_actors()) == history
        assert system.list_actors()[0].actor_id == n - history + 1  # the newest terminated ones
        audit = system.audit()
        assert audit.total_actors == n  # a total, not the retained count
        assert len(audit.actors) == history and audit.alive_actors == 0
        assert len(system.control_panel().splitlines()) == history + 1
        with pytest.raises(ActorStopped, match="does not exist"):
            system.actor_info(first)  # forgotten
        assert system.actor_info(ref).state == "stopped"  # still retained
        # Event log: a ring of the newest events, absolute indices, drops counted.
        assert len(system.events()) == capacity
        assert system.event_index == 2 * n  # ActorStarted + ActorStopped per actor
        assert system.events_dropped == 2 * n - capacity
        oldest = system.wait_for_event(ActorStarted, start_index=0, timeout=0)
        assert oldest is system.events()[0] or oldest is system.events()[1]


def test_terminated_children_do_not_accumulate_on_a_live_parent() -> None:
    with ActorSystem(terminated_history=3) as system:
        parent = system.spawn(Heavy)
        for _ in range(20):
            child = parent.ask("spawn", timeout=10)
            child.stop()
        wait_until(lambda: system.metrics.snapshot()["actors_stopped_total"] == 20, what="child stops")
        info = system.actor_info(parent)
        assert info.alive and len(info.children_rids) == 3
        assert len(system._kernel.cells) == 4


def test_terminated_history_zero_keeps_only_live_actors() -> None:
    with ActorSystem(terminated_history=0) as system:
        live = system.spawn(Heavy)
        gone = system.spawn(Heavy)
        gone.stop()
        system.wait_for_event(ActorStoppedEvent, timeout=10)
        assert system.list_actors() == (live.address,)
        assert system.audit().total_actors == 2
        assert not gone.is_alive()
        with pytest.raises(ActorStopped):
            gone.tell("x")  # a ref outliving its forgotten actor still rejects (one dead letter)
        assert [d.message for d in system.dead_letters.messages] == ["x"]


def test_bounds_validation() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError):
            ActorSystem(terminated_history=bad)  # type: ignore[arg-type]
    for bad in (0, -1, True):
        with pytest.raises(ValueError):
            ActorSystem(event_log_capacity=bad)


def test_wait_for_event_indices_are_absolute_after_drops() -> None:
    with ActorSystem(event_log_capacity=2) as system:
        for _ in range(3):
            ref = system.spawn(Heavy)
            ref.stop()
            stopped = ref.address
            system.wait_for_event(lambda e, a=stopped: type(e) is ActorStoppedEvent and e.actor_address == a)
        assert system.event_index == 6 and system.events_dropped == 4
        start = system.event_index
        with pytest.raises(TimeoutError):
            system.wait_for_event(ActorStarted, start_index=start, timeout=0.05)
        fresh = system.spawn(Heavy)
        event = system.wait_for_event(ActorStarted, start_index=start, timeout=10)
        assert event.actor_address == fresh.address


# ----------------------------------------------------------------------------- mailbox depth


class Blocker(Actor):
    """Blocks inside ``("block", entered, gate)`` messages until the test opens ``gate``; records
    ``"blocked"`` for each such message (``"stuck"`` if the gate never opened) and every other
    message as is."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "block":
            message[1].set()
            self.seen.append("blocked" if message[2].wait(30) else "stuck")
            return None
        self.seen.append(message)
        return message


def _block_with_queue(ref: Any, queued: list[Any]) -> threading.Event:
    """Leave ``ref``'s worker blocked inside a message with ``queued`` waiting behind it.
    Returns the gate that releases it.

    While the worker is held, the gate message and ``queued`` wait in the queue, so the mailbox
    needs room for ``len(queued) + 1`` messages: checked first, because a ``tell`` here blocking on
    a full mailbox would wait on the very worker this thread is holding."""
    capacity = ref._cell.mailbox.capacity
    assert capacity is None or len(queued) + 1 <= capacity, "the helper would deadlock on a full mailbox"
    hold, held = threading.Event(), threading.Event()
    gate, entered = threading.Event(), threading.Event()
    ref.tell(("block", held, hold))
    assert held.wait(10)
    ref.tell(("block", entered, gate))  # queued behind "hold", with the rest:
    for message in queued:
        ref.tell(message)
    hold.set()  # the worker starts ("block", ...) and blocks in it; queued waits behind
    assert entered.wait(10)
    return gate


def test_mailbox_depth_counts_messages_accepted_but_not_started() -> None:
    with ActorSystem(max_workers=4) as system:
        refs = [system.spawn(Blocker) for _ in range(3)]
        gates = [_block_with_queue(ref, list(range(10))) for ref in refs]
        assert system.metrics.snapshot()["mailbox_depth"] == {"Blocker": 30}
        assert [len(r._cell.mailbox) for r in refs] == [10, 10, 10]
        for gate in gates:
            gate.set()
        for ref in refs:
            assert ref.ask("end", timeout=10) == "end"
        assert system.metrics.snapshot()["mailbox_depth"] == {"Blocker": 0}


def test_capacity_is_the_real_bound_while_the_actor_is_busy() -> None:
    with ActorSystem() as system:
        ref = system.spawn(Blocker, mailbox_capacity=5, overflow="fail")
        gate = _block_with_queue(ref, [0, 1, 2, 3])  # 4 queued behind the busy one
        ref.tell(4)  # the 5th
        with pytest.raises(MailboxFull):
            ref.tell("over")
        gate.set()
        mailbox = ref._cell.mailbox
        wait_until(lambda: len(mailbox) == 0, what="the mailbox to drain")  # FAIL: no waiting for space
        assert ref.ask("end", timeout=10) == "end"
        actor = ref._cell.actor
        assert actor.seen == ["blocked", "blocked", 0, 1, 2, 3, 4, "end"]


def test_blocked_sender_resumes_when_the_worker_starts_the_next_message() -> None:
    with ActorSystem() as system:
        ref = system.spawn(Blocker, mailbox_capacity=2)
        gate = _block_with_queue(ref, [0])  # 1 queued behind the busy one
        ref.tell(1)  # full: 2 queued
        sent = threading.Event()

        def producer() -> None:
            ref.tell("late")
            sent.set()

        thread = threading.Thread(target=producer, name="papyra-test-producer")
        thread.start()
        mailbox = ref._cell.mailbox
        wait_until(lambda: mailbox._putters, what="the producer to block")
        assert not sent.is_set()
        gate.set()
        assert sent.wait(10)
        thread.join(10)
        assert ref.ask("end", timeout=10) == "end"
        assert ref._cell.actor.seen == ["blocked", "blocked", 0, 1, "late", "end"]
