"""ActorRef: ask timeouts and late replies, ask_future, deadlock detection, nested asks."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.events import ActorCrashed
from papyra.exceptions import ActorStopped, AskDeadlock, AskTimeout
from papyra.ref import ActorRef
from papyra.system import STOP, ActorSystem
from tests.support.waiting import wait_until


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Gated(Actor):
    """Blocks on the event passed in the message, then answers."""

    def __init__(self) -> None:
        self.handled: list[Any] = []

    def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "wait":
            if len(message) > 2:
                message[2].set()  # entered: the actor is now blocked on message[1]
            message[1].wait(10)
        self.handled.append(message)
        return "done"


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(max_workers=2) as s:
        yield s


def test_ask_timeout_and_late_reply_is_dropped(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gated)
    with pytest.raises(AskTimeout, match=re.escape("timed out after 0.05 seconds")) as info:
        ref.ask(("wait", gate), timeout=0.05)
    assert isinstance(info.value, TimeoutError) and isinstance(info.value.__cause__, TimeoutError)
    gate.set()
    assert ref.ask("next", timeout=5) == "done"  # the late reply did not harm the actor
    assert ref.is_alive()
    assert not any(isinstance(e, ActorCrashed) for e in system.events())


def test_ask_timeout_covers_waiting_for_mailbox_space(system: ActorSystem) -> None:
    gate = threading.Event()
    ref = system.spawn(Gated, mailbox_capacity=1)
    entered = threading.Event()
    ref.tell(("wait", gate, entered))
    # Fill the single slot once the actor is inside the blocking message.
    assert entered.wait(10)
    ref.tell("filler")
    with pytest.raises(AskTimeout):
        ref.ask("no-space", timeout=0.05)
    assert [d.message for d in system.dead_letters.messages] == ["no-space"]
    assert system.dead_letters.messages[0].reason == "mailbox-full"
    gate.set()
    assert ref.ask("after", timeout=5) == "done"


def test_pending_asks_fail_with_actor_stopped_on_immediate_stop(system: ActorSystem) -> None:
    gate = threading.Event()
    entered = threading.Event()

    class Stopper(Actor):
        def receive(self, message: Any) -> Any:
            if message == "wait":
                entered.set()
                gate.wait(10)
                self.context.stop_self()
            return message

    ref = system.spawn(Stopper)
    ref.tell("wait")
    results: list[Any] = []

    def asker(i: int) -> None:
        try:
            results.append(ref.ask(i, timeout=10))
        except ActorStopped as exc:
            results.append(exc)

    assert entered.wait(10)
    threads = [threading.Thread(target=asker, args=(i,), name=f"papyra-test-asker-{i}") for i in range(3)]
    for t in threads:
        t.start()
    # The three asks are queued (or taken by the blocked worker's batch: counted all the same).
    wait_until(lambda: system.metrics.snapshot()["mailbox_depth"].get("Stopper") == 3, what="3 queued asks")
    gate.set()
    for t in threads:
        t.join(10)
    assert len(results) == 3 and all(isinstance(r, ActorStopped) for r in results)
    dead = system.dead_letters.messages
    assert sorted(d.message for d in dead) == [0, 1, 2]
    assert all(d.expects_reply and d.reason == "unprocessed" for d in dead)


def test_ask_stop_is_a_graceful_stop_request(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    assert ref.ask(STOP) is None
    with pytest.raises(ActorStopped):
        ref.ask("x")


def test_ask_future(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    futures = [ref.ask_future(i) for i in range(10)]
    assert [f.result(timeout=5) for f in futures] == list(range(10))

    class Boom(Actor):
        def receive(self, message: Any) -> Any:
            raise KeyError(message)

    fut: Future[Any] = system.spawn(Boom).ask_future("k")
    with pytest.raises(KeyError):
        fut.result(timeout=5)


def test_ask_future_fails_when_actor_stops_before_answering(system: ActorSystem) -> None:
    gate = threading.Event()

    class Stopper(Actor):
        def receive(self, message: Any) -> Any:
            if message == "wait":
                gate.wait(10)
                self.context.stop_self()
            return message

    ref = system.spawn(Stopper)
    ref.tell("wait")
    fut = ref.ask_future("pending")
    gate.set()
    with pytest.raises(ActorStopped):
        fut.result(timeout=5)


def test_self_ask_raises_deadlock_at_once(system: ActorSystem) -> None:
    class SelfAsker(Actor):
        def receive(self, message: Any) -> Any:
            if message == "self":
                return self.context.self_ref.ask("inner", timeout=30)
            return message

    ref = system.spawn(SelfAsker, name="selfish")
    with pytest.raises(AskDeadlock) as info:
        ref.ask("self", timeout=30)
    assert isinstance(info.value, RuntimeError)


def test_ask_cycle_raises_deadlock(system: ActorSystem) -> None:
    b_inside = threading.Event()

    class A(Actor):
        def receive(self, message: Any) -> Any:
            if message == "go":
                b_inside.wait(10)
                try:
                    return self.peer.ask("from-a", timeout=30)
                except AskDeadlock as exc:
                    return exc
            if isinstance(message, ActorRef):
                self.peer = message
            return "a-ok"

    class B(Actor):
        def receive(self, message: Any) -> Any:
            if isinstance(message, ActorRef):
                self.peer = message
                return None
            if message == "go":
                b_inside.set()
                try:
                    return self.peer.ask("from-b", timeout=30)
                except AskDeadlock as exc:
                    return exc
            return "b-ok"

    a = system.spawn(A)
    b = system.spawn(B)
    a.ask(b)
    b.ask(a)
    fa = a.ask_future("go")
    fb = b.ask_future("go")
    results = [fa.result(timeout=30), fb.result(timeout=30)]
    # Exactly one side detects the cycle; the other then gets its answer.
    assert sum(isinstance(r, AskDeadlock) for r in results) == 1
    assert any(r in ("a-ok", "b-ok") for r in results)


def test_ask_chain_deeper_than_pool_completes() -> None:
    depth = 12

    class Link(Actor):
        def __init__(self, nxt: ActorRef | None) -> None:
            self.nxt = nxt

        def receive(self, message: Any) -> Any:
            if self.nxt is None:
                return message
            return self.nxt.ask(message + 1, timeout=30)

    with ActorSystem(max_workers=2) as system:
        nxt: ActorRef | None = None
        for _ in range(depth):
            nxt = system.spawn(lambda n=nxt: Link(n))  # type: ignore[misc]
        assert nxt is not None
        assert nxt.ask(0, timeout=30) == depth - 1


def test_ref_equality_hash_repr(system: ActorSystem) -> None:
    ref = system.spawn(Echo)
    other = system.ref_for(ref.address)
    assert ref == other and hash(ref) == hash(other)
    assert ref != "local:1"
    assert repr(ref) == "ActorRef(local:1)"
    assert ref.is_alive()
    ref.stop()
    assert not ref.is_alive() and not other.is_alive()
