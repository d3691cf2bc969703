"""Dispatcher: M:N execution, bounded threads, per-actor serial execution, fairness, compensation."""

from __future__ import annotations

import threading
import time
from typing import Any

from papyra.actor import Actor
from papyra.dispatcher import Dispatcher
from papyra.events import ActorStarted
from papyra.system import ActorSystem
from tests.support.waiting import wait_until


class Idle(Actor):
    def receive(self, message: Any) -> Any:
        return message


def test_ten_thousand_idle_actors_cost_no_threads() -> None:
    baseline = threading.active_count()
    with ActorSystem(max_workers=4) as system:
        refs = [system.spawn(Idle) for _ in range(10_000)]
        assert refs[-1].ask("ping", timeout=30) == "ping"
        system.wait_for_event(lambda e: isinstance(e, ActorStarted) and e.address["actor_id"] == 10_000,
                              timeout=30)
        # pool (4) + recorder (1) + slack for a compensating thread
        assert threading.active_count() <= baseline + 4 + 1 + 1
        assert system.metrics.snapshot()["workers_peak"] <= 4
    assert threading.active_count() == baseline


def test_an_actor_never_runs_on_two_threads_at_once() -> None:
    class Probe(Actor):
        def __init__(self) -> None:
            self.inside = 0
            self.max_inside = 0
            self.threads: set[str] = set()
            self.count = 0

        def receive(self, message: Any) -> Any:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
            self.threads.add(threading.current_thread().name)
            self.count += 1
            time.sleep(0)  # yield the GIL inside receive
            self.inside -= 1
            return self.count

    with ActorSystem(max_workers=8) as system:
        ref = system.spawn(Probe)

        def producer() -> None:
            for _ in range(500):
                ref.tell("x")

        threads = [threading.Thread(target=producer) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ref.ask("count", timeout=30) == 3001
        actor = ref._cell.actor
        assert actor.max_inside == 1
        assert all(name.startswith("papyra-worker-") for name in actor.threads)


def test_fairness_quantum_lets_other_actors_progress() -> None:
    # One worker: a flooded actor must yield so that another actor is served.
    with ActorSystem(max_workers=1) as system:
        order: list[str] = []

        class Busy(Actor):
            def receive(self, message: Any) -> Any:
                if isinstance(message, tuple):
                    message[1].set()
                    message[0].wait(30)
                    return
                order.append("busy")

        class Quick(Actor):
            def receive(self, message: Any) -> Any:
                order.append("quick")
                return "quick"

        busy = system.spawn(Busy)
        quick = system.spawn(Quick)
        assert quick.ask("warm", timeout=30) == "quick"
        order.clear()
        gate, entered = threading.Event(), threading.Event()
        busy.tell((gate, entered))  # holds the only worker while the rest is queued
        assert entered.wait(30)
        for _ in range(1000):
            busy.tell("x")
        reply = quick.ask_future("now")  # queued for the worker behind the busy actor
        gate.set()
        assert reply.result(timeout=30) == "quick"
        # all 1000 were queued before Quick: it ran after one quantum, not after the flood drained
        assert order.index("quick") < 200


def test_dispatcher_compensates_blocked_workers_and_retires_extras() -> None:
    dispatcher = Dispatcher(max_workers=1, keep_alive=0.05)
    release = threading.Event()
    blocking = threading.Event()
    ran = threading.Event()

    class Blocker:
        def run(self) -> None:
            dispatcher.begin_blocking()
            blocking.set()
            try:
                release.wait(10)
            finally:
                dispatcher.end_blocking()

    class Quick:
        def run(self) -> None:
            ran.set()

    dispatcher.submit(Blocker())
    assert blocking.wait(30)
    dispatcher.submit(Quick())  # the only worker is blocked: a compensating one starts
    assert ran.wait(30)
    assert dispatcher.peak_threads == 2
    release.set()
    wait_until(lambda: dispatcher.thread_count == 0, timeout=60, what="keep_alive retirement")
    assert dispatcher.shutdown(30)


def test_task_exception_does_not_kill_the_worker() -> None:
    dispatcher = Dispatcher(max_workers=1)
    ok = threading.Event()

    class Bad:
        def run(self) -> None:
            raise RuntimeError("task failed")

    class Good:
        def run(self) -> None:
            ok.set()

    dispatcher.submit(Bad())
    dispatcher.submit(Good())
    assert ok.wait(30)
    assert dispatcher.shutdown(30)
