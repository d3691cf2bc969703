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


class _Done:
    """A task that opens an event when it ran."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def run(self) -> None:
        self.ran.set()


def test_a_parked_worker_takes_the_next_task_without_a_new_thread() -> None:
    dispatcher = Dispatcher(max_workers=4)
    for _ in range(50):
        task = _Done()
        dispatcher.submit(task)
        assert task.ran.wait(30)
        wait_until(lambda: dispatcher._parked, what="the worker to park")
    assert dispatcher.peak_threads == 1
    assert dispatcher.shutdown(30)
    assert dispatcher.thread_count == 0


def test_retiring_at_keep_alive_never_loses_a_handed_over_task() -> None:
    # keep_alive=0: every parked worker times out at once, racing the next submit's hand-over.
    dispatcher = Dispatcher(max_workers=1, keep_alive=0.0)
    for _ in range(300):
        task = _Done()
        dispatcher.submit(task)
        assert task.ran.wait(30)
    wait_until(lambda: dispatcher.thread_count == 0, what="the worker to retire")
    assert dispatcher.peak_threads == 1
    assert dispatcher.shutdown(30)


def test_shutdown_wakes_and_joins_parked_workers() -> None:
    dispatcher = Dispatcher(max_workers=3)
    gate = threading.Event()
    started = threading.Barrier(4)

    class Hold:
        def run(self) -> None:
            started.wait(30)
            gate.wait(30)

    for _ in range(3):
        dispatcher.submit(Hold())
    started.wait(30)  # three workers exist
    gate.set()
    wait_until(lambda: len(dispatcher._parked) == 3, what="three parked workers")
    assert dispatcher.shutdown(30)
    assert dispatcher.thread_count == 0
    assert not any(t.is_alive() for t in dispatcher._threads)


def test_a_busy_actor_keeps_its_worker_while_no_other_task_waits() -> None:
    # One worker, one actor: after each quantum the actor goes on instead of going through the
    # dispatcher queue, so its messages are all processed in one turn of the same thread.
    with ActorSystem(max_workers=1) as system:
        class Count(Actor):
            def __init__(self) -> None:
                self.count = 0

            def receive(self, message: Any) -> Any:
                if isinstance(message, threading.Event):
                    message.wait(30)
                self.count += 1
                return self.count

        ref = system.spawn(Count)
        gate = threading.Event()
        ref.tell(gate)
        for _ in range(500):
            ref.tell("x")
        runs: list[int] = []
        cell = ref._cell
        original = cell.run

        def counting_run() -> None:
            runs.append(1)
            original()

        cell.run = counting_run  # type: ignore[method-assign]
        gate.set()
        assert ref.ask("count", timeout=30) == 502
        assert len(runs) <= 2  # the turn in progress, then at most the one the ask scheduled
