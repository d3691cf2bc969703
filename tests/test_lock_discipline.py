"""No user code, hook or thread start runs while a Papyra lock is held. The suite runs with
``PAPYRA_DEBUG_LOCKS=1`` (tests/conftest.py), so every test checks it; these tests cover the
places that used to break it and the debug check itself."""

from __future__ import annotations

import threading
from typing import Any

from papyra import _locks
from papyra.actor import Actor
from papyra.context import ActorContext
from papyra.ref import ActorRef
from papyra.system import ActorSystem
from tests.support.waiting import wait_until


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


def test_the_debug_check_records_user_code_run_under_a_papyra_lock() -> None:
    lock, rlock = _locks.new_lock(), _locks.new_rlock()
    with lock:
        _locks.check_unlocked("user code")
    with rlock, rlock:
        condition = threading.Condition(rlock)
        with condition:
            condition.wait(0)  # a wait releases every level of the re-entrant lock, then restores
        _locks.check_unlocked("more user code")
    _locks.check_unlocked("user code after the locks")
    recorded = list(_locks.VIOLATIONS)
    del _locks.VIOLATIONS[:]
    assert recorded == [
        "user code ran while 1 Papyra lock(s) were held",
        "more user code ran while 2 Papyra lock(s) were held",
    ]


class Meddler(Actor):
    """Its context setter (user code) waits for another thread that spawns an actor."""

    def __init__(self) -> None:
        self.spawned_elsewhere = False

    @property  # type: ignore[override]
    def _context(self) -> ActorContext | None:
        return self.__dict__.get("_ctx")

    @_context.setter
    def _context(self, value: ActorContext) -> None:
        self.__dict__["_ctx"] = value
        spawned: list[ActorRef[Echo]] = []
        other = threading.Thread(target=lambda: spawned.append(value.system.spawn(Echo)))
        other.start()
        other.join(30)  # under the old system lock this could never finish
        self.spawned_elsewhere = bool(spawned)

    def receive(self, message: Any) -> Any:
        return self.spawned_elsewhere


def test_spawn_injects_the_context_without_holding_the_system_lock() -> None:
    with ActorSystem() as system:
        meddler = system.spawn(Meddler)
        assert meddler.ask("spawned?", timeout=30) is True
        assert len(system.list_actors()) == 2


class Gate(Actor):
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def receive(self, message: Any) -> Any:
        if message == "wait":
            self.entered.set()
            self.release.wait()
        return message


class Flooder(Actor):
    def receive(self, message: Any) -> Any:
        target, count = message
        for i in range(count):
            target.tell(i)  # blocks on the full mailbox: the pool compensates
        return count


def test_a_blocked_sender_inside_an_actor_is_compensated_outside_the_mailbox_lock() -> None:
    with ActorSystem(max_workers=2) as system:
        gate = Gate()
        target = system.spawn(lambda: gate, mailbox_capacity=1)
        target.tell("wait")
        assert gate.entered.wait(10)
        flooding = system.spawn(Flooder).ask_future((target, 3))
        wait_until(lambda: target._cell.mailbox._putters == 1, what="the flooder blocked on the mailbox")
        assert system.spawn(Echo).ask("the pool still serves", timeout=10) == "the pool still serves"
        gate.release.set()
        assert flooding.result(10) == 3
