"""Mailbox: capacity, overflow policies (block/fail/drop), control lane, close; via the system too."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped, AskTimeout, ConfigurationError, MailboxFull
from papyra.mailbox import Mailbox, OverflowPolicy, PutResult
from papyra.system import ActorSystem
from tests.support.waiting import wait_until


def test_capacity_validation() -> None:
    assert Mailbox(None).capacity is None
    for bad in (0, -1):
        with pytest.raises(ValueError):
            Mailbox(bad)
    with pytest.raises(ConfigurationError):
        Mailbox(True)
    with pytest.raises(ValueError):
        Mailbox(1, overflow="explode")


def test_schedule_flag_protocol() -> None:
    mb = Mailbox(4)
    assert mb.put((1, None)) is PutResult.SCHEDULE
    assert mb.put((2, None)) is PutResult.ACCEPTED
    assert mb.pop() == (1, None)
    assert mb.idle() is False  # one left: stay scheduled
    assert mb.put((3, None)) is PutResult.ACCEPTED
    assert mb.pop() == (2, None)
    assert mb.pop() == (3, None)
    assert mb.pop() is None  # empty: unscheduled
    assert mb.put_control("ctl") is PutResult.SCHEDULE


def test_control_lane_first_and_bypass_capacity() -> None:
    mb = Mailbox(1, overflow=OverflowPolicy.FAIL)
    assert mb.put(("a", None)) is PutResult.SCHEDULE
    assert mb.put(("b", None)) is PutResult.FULL
    assert mb.put(("stop", None), bypass=True) is PutResult.ACCEPTED
    mb.put_control("ctl")
    assert [mb.pop(), mb.pop(), mb.pop()] == ["ctl", ("a", None), ("stop", None)]


def test_blocking_put_waits_for_space_and_times_out() -> None:
    mb = Mailbox(1)
    mb.put(("a", None))
    assert mb.put(("b", None), timeout=0.01) is PutResult.FULL
    blocked: list[str] = []
    waiting = threading.Event()

    def on_block(on: bool) -> None:
        blocked.append(str(on))
        waiting.set()

    def producer() -> None:
        mb.put(("c", None), on_block=on_block)

    t = threading.Thread(target=producer, name="papyra-test-producer")
    t.start()
    assert waiting.wait(10)
    assert mb.pop() == ("a", None)
    t.join(5)
    assert blocked == ["True", "False"]
    assert mb.pop() == ("c", None)


def test_close_wakes_blocked_producers_and_returns_leftovers() -> None:
    mb = Mailbox(1)
    mb.put(("a", None))
    results: list[PutResult] = []
    t = threading.Thread(target=lambda: results.append(mb.put(("b", None))), name="papyra-test-producer")
    t.start()
    wait_until(lambda: mb._putters, what="a blocked producer")
    assert mb.close() == [("a", None)]
    t.join(5)
    assert results == [PutResult.CLOSED]
    assert mb.put(("c", None)) is PutResult.CLOSED
    assert mb.put_control("x") is PutResult.CLOSED


def test_each_freed_place_wakes_one_blocked_sender_in_arrival_order() -> None:
    mb = Mailbox(1)
    mb.put(("first", None))
    threads = []
    for i in range(3):
        t = threading.Thread(target=mb.put, args=((i, None),), name=f"papyra-test-producer-{i}")
        t.start()
        threads.append(t)
        wait_until(lambda n=i + 1: len(mb.blocked_senders) == n, what=f"sender {i} to block")
    got = [mb.pop()]
    for _ in range(3):
        # one pop frees one place: exactly one sender gets in, the others stay parked
        wait_until(lambda: len(mb) == 1, what="a woken sender to take the freed place")
        assert len(mb) <= mb.capacity  # type: ignore[operator]
        got.append(mb.pop())
    for t in threads:
        t.join(10)
    assert got == [("first", None), (0, None), (1, None), (2, None)]
    assert not mb.blocked_senders and mb._putters == 0
    assert mb.pop() is None


def test_a_timed_out_sender_leaves_no_wake_up_behind() -> None:
    mb = Mailbox(1)
    mb.put(("a", None))
    assert mb.put(("b", None), timeout=0.01) is PutResult.FULL
    assert not mb.blocked_senders and mb._putters == 0
    assert mb.pop() == ("a", None)
    assert mb.put(("c", None), timeout=0.01) is PutResult.ACCEPTED


# ----------------------------------------------------------------------------- through the system


class Gate(Actor):
    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.entered = threading.Event()

    def receive(self, message: Any) -> Any:
        if isinstance(message, threading.Event):
            self.entered.set()
            message.wait(10)
        self.seen.append(message)
        return message


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(max_workers=4) as s:
        yield s


def _fill(system: ActorSystem, ref: Any, gate: threading.Event, n: int) -> None:
    entered = ref._cell.actor.entered
    ref.tell(gate)
    assert entered.wait(10)  # the actor is inside the gate message: the mailbox is empty
    for i in range(n):
        ref.tell(i)


def test_capacity_one_backpressure_blocks_tell(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gate, mailbox_capacity=1)
    _fill(system, ref, gate, 1)
    done = threading.Event()

    def producer() -> None:
        ref.tell("blocked")
        done.set()

    t = threading.Thread(target=producer, name="papyra-test-producer")
    t.start()
    mailbox = ref._cell.mailbox
    wait_until(lambda: mailbox._putters, timeout=60, what="the producer to block on the full mailbox")
    assert not done.is_set()
    gate.set()
    t.join(30)
    assert ref.ask("end", timeout=5) == "end"
    assert ref._cell.actor.seen[1:] == [0, "blocked", "end"]


def test_block_policy_with_put_timeout_raises_mailbox_full(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gate, mailbox_capacity=1, put_timeout=0.02)
    _fill(system, ref, gate, 1)
    with pytest.raises(MailboxFull):
        ref.tell("x")
    assert system.dead_letters.messages[-1].reason == "mailbox-full"
    gate.set()


def test_fail_policy(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gate, mailbox_capacity=2, overflow="fail")
    _fill(system, ref, gate, 2)
    with pytest.raises(MailboxFull):
        ref.tell("x")
    with pytest.raises(MailboxFull):
        ref.ask("y", timeout=1)
    assert [(d.message, d.expects_reply) for d in system.dead_letters.messages] == [("x", False), ("y", True)]
    gate.set()


def test_drop_policy(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gate, mailbox_capacity=2, overflow=OverflowPolicy.DROP)
    _fill(system, ref, gate, 2)
    ref.tell("dropped-1")  # returns normally
    ref.tell("dropped-2")
    with pytest.raises(MailboxFull):
        ref.ask("never", timeout=1)
    dead = system.dead_letters.messages
    assert [(d.message, d.reason) for d in dead] == [
        ("dropped-1", "dropped"),
        ("dropped-2", "dropped"),
        ("never", "mailbox-full"),
    ]
    gate.set()
    mailbox = ref._cell.mailbox
    wait_until(lambda: len(mailbox) == 0, what="the mailbox to drain")  # DROP: an ask on a full one fails
    assert ref.ask("end", timeout=5) == "end"
    assert ref._cell.actor.seen[1:] == [0, 1, "end"]


def test_fan_in_on_a_small_blocking_mailbox_loses_nothing_and_keeps_each_senders_order(
    system: ActorSystem,
) -> None:
    class Recorder(Actor):
        def __init__(self) -> None:
            self.seen: list[tuple[int, int]] = []

        def receive(self, message: Any) -> Any:
            if message == "count":
                return len(self.seen)
            self.seen.append(message)
            return None

    ref = system.spawn(Recorder, mailbox_capacity=4)
    senders, each = 8, 2000

    def send(k: int) -> None:
        for i in range(each):
            ref.tell((k, i))  # blocks while the 4 places are taken

    threads = [threading.Thread(target=send, args=(k,), name=f"papyra-test-{k}") for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert ref.ask("count", timeout=60) == senders * each
    seen = ref._cell.actor.seen
    for k in range(senders):
        assert [i for (j, i) in seen if j == k] == list(range(each))
    mailbox = ref._cell.mailbox
    assert not mailbox.blocked_senders and mailbox._putters == 0
    assert system.dead_letters.total == 0


def test_self_tell_bypasses_capacity(system: ActorSystem) -> None:
    class Selfish(Actor):
        def __init__(self) -> None:
            self.count = 0

        def receive(self, message: Any) -> Any:
            if message == "fan":
                for _ in range(10):
                    self.context.self_ref.tell("one")
                return None
            if message == "one":
                self.count += 1
            return self.count

    ref = system.spawn(Selfish, mailbox_capacity=1)
    ref.tell("fan")
    # the ten self-tells are queued behind an ask sent before "fan" ran: ask until they are counted
    wait_until(lambda: ref.ask("get", timeout=30) == 10, timeout=60, what="ten self-tells")


def test_stop_unblocks_waiting_producer_with_actor_stopped(system: ActorSystem) -> None:
    gate = threading.Event()

    class Stopper(Gate):
        def receive(self, message: Any) -> Any:
            result = super().receive(message)
            if isinstance(message, threading.Event):
                self.context.stop_self()
            return result

    ref = system.spawn(Stopper, mailbox_capacity=1)
    _fill(system, ref, gate, 1)
    errors: list[BaseException] = []

    def producer() -> None:
        try:
            ref.ask("blocked", timeout=10)
        except (ActorStopped, AskTimeout) as exc:
            errors.append(exc)

    t = threading.Thread(target=producer, name="papyra-test-producer")
    t.start()
    mailbox = ref._cell.mailbox
    wait_until(lambda: mailbox._putters, what="a blocked producer")
    gate.set()
    t.join(10)
    assert len(errors) == 1 and isinstance(errors[0], ActorStopped)
    messages = sorted(str(d.message) for d in system.dead_letters.messages)
    assert messages == ["0", "blocked"]
