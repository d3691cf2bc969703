"""Actor runtime benchmarks, each side by side with pykka's ``ThreadingActor`` in the same run.

Every test alternates papyra rounds with reference rounds (``benchmarks.measure.side_by_side``)
and records its figures (``benchmarks.figures``) in ``extra_info``:

* ``tell_vs_pykka`` — N ``tell``s into one actor, then one ``ask`` to wait for the last one;
  ``tell_vs_raw_limit`` — the same papyra rounds against the raw limit: the same N messages
  through a bare ``collections.deque`` drained by one consumer thread that polls (no wake-up
  signalling, no actor; best of 3 per round), i.e. how close ``tell`` is to Python's thread
  hand-off limit.
* ``ask_vs_pykka`` — M ``ask``s in a row to an idle actor (round trip).
* ``spawn_stop_vs_pykka`` — spawn S actors, stop them all, wait until all terminated; the peak
  thread count of each side is stored in ``extra_info``, and papyra's worker peak must stay
  within its pool (``POOL``).
* ``fan_in_vs_pykka`` — 8 producer threads ``tell`` F messages each into one actor; nothing may
  be lost.

Sizes are modest by default (CI runs ``pytest benchmarks --benchmark-disable``: one round each);
``PAPYRA_BENCH_FULL=1`` for the tracked sizes (see benchmarks/README.md).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from benchmarks.measure import side_by_side
from papyra.actor import Actor
from papyra.system import ActorSystem

pykka = pytest.importorskip("pykka")

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
TELLS = 100_000 if FULL else 10_000
ASKS = 2_000 if FULL else 200
SPAWNS = 10_000 if FULL else 300
SPAWN_ROUNDS = 5 if FULL else 3  # a pykka round starts 10,000 threads
FAN_IN_EACH = 20_000 if FULL else 2_000
PRODUCERS = 8
ROUNDS = 11 if FULL else 3
WARMUP = 1 if FULL else 0


# ----------------------------------------------------------------------------- actors


class PapyraCounter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "get":
            return self.count
        self.count += 1
        return None


class PykkaCounter(pykka.ThreadingActor):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message == "get":
            return self.count
        self.count += 1
        return None


class PapyraEcho(Actor):
    def receive(self, message: Any) -> Any:
        return message


class StopLatch:
    """Counts terminations (from ``on_stop``) and opens when ``expected`` were seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.expected = 0
        self.count = 0
        self.done = threading.Event()

    def reset(self, expected: int) -> None:
        with self._lock:
            self.expected, self.count = expected, 0
            self.done.clear()

    def hit(self) -> None:
        with self._lock:
            self.count += 1
            if self.count == self.expected:
                self.done.set()


LATCH = StopLatch()


class PapyraStoppable(Actor):
    def receive(self, message: Any) -> Any:
        return message

    def on_stop(self) -> None:
        LATCH.hit()


class PykkaEcho(pykka.ThreadingActor):  # type: ignore[misc]
    def on_receive(self, message: Any) -> Any:
        return message


POOL = 4  # worker threads of the benchmark's system (the default on a 2-CPU machine)


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(system_id="bench", max_workers=POOL) as s:
        yield s


@pytest.fixture(autouse=True)
def _stop_pykka() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


def _tell_round(ref: Any, sent: list[int]) -> Callable[[], None]:
    """N tells, then one ask that must see all of them (the actor has processed the last)."""

    def work() -> None:
        for _ in range(TELLS):
            ref.tell("inc")
        sent[0] += TELLS
        assert ref.ask("get", timeout=60) == sent[0]

    return work


def _raw_hand_off() -> float:
    """TELLS messages through a bare deque to one consumer thread that polls; seconds to the last."""
    queue: deque[str] = deque()
    consumed = threading.Event()

    def consume() -> None:
        popleft = queue.popleft
        count = 0
        while count < TELLS:
            try:
                popleft()
            except IndexError:
                time.sleep(0)  # yield the GIL to the producer
                continue
            count += 1
        consumed.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.perf_counter()
    append = queue.append
    for _ in range(TELLS):
        append("inc")
    assert consumed.wait(60)
    elapsed = time.perf_counter() - started
    consumer.join()
    return elapsed


def _raw_limit_round() -> float:
    """The limit is the best of 3 hand-offs (a round this short is at the mercy of one preemption)."""
    return min(_raw_hand_off() for _ in range(3))


def test_tell_throughput(benchmark: Any, system: ActorSystem) -> None:
    papyra = system.spawn(PapyraCounter, mailbox_capacity=None)
    pykka_ref = PykkaCounter.start()
    side_by_side(
        benchmark,
        _tell_round(papyra, [0]),
        {"tell_vs_pykka": _tell_round(pykka_ref, [0]), "tell_vs_raw_limit": _raw_limit_round},
        rounds=ROUNDS, warmup=WARMUP, work=TELLS, unit="messages",
    )


def test_ask_roundtrip(benchmark: Any, system: ActorSystem) -> None:
    papyra = system.spawn(PapyraEcho)
    pykka_ref = PykkaEcho.start()

    def asks(ref: Any) -> Callable[[], None]:
        def work() -> None:
            for _ in range(ASKS):
                assert ref.ask("ping") == "ping"

        return work

    side_by_side(
        benchmark, asks(papyra), {"ask_vs_pykka": asks(pykka_ref)},
        rounds=ROUNDS, warmup=WARMUP, work=ASKS, unit="round trips",
    )


@pytest.mark.timeout(900)  # pykka starts 10,000 threads per round: minutes on a loaded machine
def test_spawn_stop(benchmark: Any, system: ActorSystem) -> None:
    peak = {"papyra": threading.active_count(), "pykka": threading.active_count()}

    def papyra() -> None:
        LATCH.reset(SPAWNS)
        refs = [system.spawn(PapyraStoppable) for _ in range(SPAWNS)]
        peak["papyra"] = max(peak["papyra"], threading.active_count())
        for ref in refs:
            ref.stop()
        assert LATCH.done.wait(120)  # every on_stop ran
        peak["papyra"] = max(peak["papyra"], threading.active_count())

    def reference() -> None:
        refs = [PykkaEcho.start() for _ in range(SPAWNS)]
        peak["pykka"] = max(peak["pykka"], threading.active_count())
        futures = [ref.stop(block=False) for ref in refs]
        for future in futures:
            future.get(timeout=120)

    side_by_side(
        benchmark, papyra, {"spawn_stop_vs_pykka": reference},
        rounds=SPAWN_ROUNDS, warmup=WARMUP, work=SPAWNS, unit="actors",
    )
    benchmark.extra_info["peak_threads"] = peak
    # 10,000 actors never cost more threads than the pool (nothing else blocks here)
    assert system.metrics.snapshot(since_reset=False)["workers_peak"] <= POOL


def _fan_in_round(ref: Any, sent: list[int]) -> Callable[[], None]:
    def work() -> None:
        barrier = threading.Barrier(PRODUCERS)

        def producer() -> None:
            barrier.wait()
            for _ in range(FAN_IN_EACH):
                ref.tell("inc")

        threads = [threading.Thread(target=producer) for _ in range(PRODUCERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent[0] += PRODUCERS * FAN_IN_EACH
        assert ref.ask("get", timeout=60) == sent[0]  # no message lost

    return work


def test_fan_in(benchmark: Any, system: ActorSystem) -> None:
    papyra = system.spawn(PapyraCounter)
    side_by_side(
        benchmark,
        _fan_in_round(papyra, [0]),
        {"fan_in_vs_pykka": _fan_in_round(PykkaCounter.start(), [0])},
        rounds=ROUNDS, warmup=WARMUP, work=PRODUCERS * FAN_IN_EACH, unit="messages",
    )
