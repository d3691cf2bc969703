"""An ActorSystem inherited by a forked child refuses everything and never hangs on a lock that a
parent thread held at the moment of the fork."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import pytest

from papyra import Actor, ActorSystem
from papyra.exceptions import ActorStopped

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


class Sink(Actor):
    def receive(self, message: Any) -> Any:
        return message


class Spammer(Actor):
    """Keeps producing dead letters (ring lock, hook, record path) and events on its worker."""

    def receive(self, message: Any) -> Any:
        target, stop = message
        for _ in range(100):
            try:
                target.tell("late")
            except ActorStopped:
                pass
        if not stop.is_set():
            self.context.self_ref.tell(message)
        return None


def _child(system: ActorSystem, dead: Any) -> int:
    """In the fork: every call must return (the alarm kills a hung child) and refuse."""
    signal.alarm(10)
    try:
        dead.tell("x")
        return 3
    except ActorStopped:
        pass
    system.events()
    system.dead_letters.messages  # noqa: B018
    system.audit()
    system.metrics.snapshot()
    return 0 if system.close(timeout=1) is True else 4


def test_a_forked_child_never_hangs_on_a_lock_a_parent_thread_held() -> None:
    stop = threading.Event()
    with ActorSystem(system_id="forked", dead_letter_capacity=50) as system:
        dead = system.spawn(Sink)
        dead.stop()
        system.wait_for_event(lambda e: e.event_type == "ActorStopped", timeout=30)
        for _ in range(3):
            system.spawn(Spammer).tell((dead, stop))
        statuses = []
        for _ in range(40):
            pid = os.fork()
            if pid == 0:  # pragma: no cover (the child process)
                code = 5
                try:
                    code = _child(system, dead)
                finally:
                    os._exit(code)
            statuses.append(os.waitpid(pid, 0)[1])
        stop.set()
    hung = [s for s in statuses if os.WIFSIGNALED(s)]
    assert hung == [] and {os.WEXITSTATUS(s) for s in statuses} == {0}
