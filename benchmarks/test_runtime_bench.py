"""Actor runtime benchmarks, each side by side with pykka's ``ThreadingActor`` in the same run.

Groups (each papyra figure sits next to its pykka reference):

* ``tell-throughput`` — N ``tell``s into one actor, then one ``ask`` to wait for the last one.
  Target: papyra ≥ 2x pykka's rate.
* ``ask-roundtrip`` — one ``ask`` per call to an idle actor. Target: papyra median ≤ pykka's.
* ``spawn-stop`` — spawn N actors, stop them all, wait until all terminated. Target: papyra ≥ 5x
  pykka's per-actor rate; the peak thread count of each side is printed.
* ``fan-in`` — 8 producer threads ``tell`` M messages each into one actor; nothing may be lost.

The ratios (from the medians of our own timings) are printed at the end of the module and stored
in ``extra_info``. Sizes are modest by default (CI runs ``pytest benchmarks --benchmark-disable``,
each benchmark once); ``PAPYRA_BENCH_FULL=1`` uses the sizes from the issue (10,000 actors):

    PAPYRA_BENCH_FULL=1 python -m pytest benchmarks/test_runtime_bench.py --benchmark-only -s
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.system import ActorSystem

pykka = pytest.importorskip("pykka")

FULL = os.environ.get("PAPYRA_BENCH_FULL") == "1"
TELLS = 100_000 if FULL else 10_000
SPAWNS = 10_000 if FULL else 300
FAN_IN_EACH = 20_000 if FULL else 2_000
PRODUCERS = 8
ROUNDS = 5 if FULL else 3

TIMINGS: dict[str, list[float]] = {}
PEAK_THREADS: dict[str, int] = {}


def _timed(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        started = time.perf_counter()
        result = fn()
        TIMINGS.setdefault(name, []).append(time.perf_counter() - started)
        return result

    return run


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


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(system_id="bench") as s:
        yield s


@pytest.fixture(autouse=True)
def _stop_pykka() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def median(name: str) -> float | None:
        values = TIMINGS.get(name)
        return statistics.median(values) if values else None

    lines = [f"runtime benchmark ratios (FULL={FULL}; medians of our own timings):"]
    for label, papyra_name, pykka_name in (
        ("tell throughput (papyra rate / pykka rate, target >= 2)", "tell-papyra", "tell-pykka"),
        ("ask round trip (pykka median / papyra median, target >= 1)", "ask-papyra", "ask-pykka"),
        ("spawn+stop per-actor rate (papyra / pykka, target >= 5)", "spawn-papyra", "spawn-pykka"),
        ("fan-in 8 producers (papyra rate / pykka rate)", "fanin-papyra", "fanin-pykka"),
    ):
        p, k = median(papyra_name), median(pykka_name)
        if p and k:
            lines.append(f"  {label}: {k / p:.2f}x  (papyra {p * 1e3:.2f} ms, pykka {k * 1e3:.2f} ms)")
    for name, peak in sorted(PEAK_THREADS.items()):
        lines.append(f"  peak threads during {name}: {peak}")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)
        else:  # pragma: no cover
            print(line)


# ----------------------------------------------------------------------------- tell throughput


@pytest.mark.benchmark(group="tell-throughput")
def test_tell_throughput_papyra(benchmark: Any, system: ActorSystem) -> None:
    ref = system.spawn(PapyraCounter, mailbox_capacity=None)
    expected = [0]

    def work() -> None:
        for _ in range(TELLS):
            ref.tell("inc")
        expected[0] += TELLS
        assert ref.ask("get", timeout=60) == expected[0]

    benchmark.pedantic(_timed("tell-papyra", work), rounds=ROUNDS, iterations=1)


@pytest.mark.benchmark(group="tell-throughput")
def test_tell_throughput_pykka(benchmark: Any) -> None:
    ref = PykkaCounter.start()
    expected = [0]

    def work() -> None:
        for _ in range(TELLS):
            ref.tell("inc")
        expected[0] += TELLS
        assert ref.ask("get", timeout=60) == expected[0]

    benchmark.pedantic(_timed("tell-pykka", work), rounds=ROUNDS, iterations=1)


# ----------------------------------------------------------------------------- ask round trip


@pytest.mark.benchmark(group="ask-roundtrip")
def test_ask_roundtrip_papyra(benchmark: Any, system: ActorSystem) -> None:
    ref = system.spawn(PapyraEcho)
    ref.ask("warm-up")
    assert benchmark(_timed("ask-papyra", lambda: ref.ask("ping"))) == "ping"


@pytest.mark.benchmark(group="ask-roundtrip")
def test_ask_roundtrip_pykka(benchmark: Any) -> None:
    ref = PykkaEcho.start()
    ref.ask("warm-up")
    assert benchmark(_timed("ask-pykka", lambda: ref.ask("ping"))) == "ping"


# ----------------------------------------------------------------------------- spawn + stop


@pytest.mark.benchmark(group="spawn-stop")
def test_spawn_stop_papyra(benchmark: Any, system: ActorSystem) -> None:
    peak = [threading.active_count()]

    def work() -> None:
        LATCH.reset(SPAWNS)
        refs = [system.spawn(PapyraStoppable) for _ in range(SPAWNS)]
        peak[0] = max(peak[0], threading.active_count())
        for ref in refs:
            ref.stop()
        assert LATCH.done.wait(120)  # every on_stop ran
        peak[0] = max(peak[0], threading.active_count())

    benchmark.pedantic(_timed("spawn-papyra", work), rounds=ROUNDS, iterations=1)
    PEAK_THREADS["papyra spawn+stop"] = peak[0]
    benchmark.extra_info["peak_threads"] = peak[0]


@pytest.mark.benchmark(group="spawn-stop")
def test_spawn_stop_pykka(benchmark: Any) -> None:
    peak = [threading.active_count()]

    def work() -> None:
        refs = [PykkaEcho.start() for _ in range(SPAWNS)]
        peak[0] = max(peak[0], threading.active_count())
        futures = [ref.stop(block=False) for ref in refs]
        for future in futures:
            future.get(timeout=120)

    benchmark.pedantic(_timed("spawn-pykka", work), rounds=ROUNDS, iterations=1)
    PEAK_THREADS["pykka spawn+stop"] = peak[0]
    benchmark.extra_info["peak_threads"] = peak[0]


# ----------------------------------------------------------------------------- fan-in


def _fan_in(tell: Callable[[Any], None]) -> None:
    barrier = threading.Barrier(PRODUCERS)

    def producer() -> None:
        barrier.wait()
        for _ in range(FAN_IN_EACH):
            tell("inc")

    threads = [threading.Thread(target=producer) for _ in range(PRODUCERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.benchmark(group="fan-in")
def test_fan_in_papyra(benchmark: Any, system: ActorSystem) -> None:
    ref = system.spawn(PapyraCounter)
    expected = [0]

    def work() -> None:
        _fan_in(ref.tell)
        expected[0] += PRODUCERS * FAN_IN_EACH
        assert ref.ask("get", timeout=60) == expected[0]  # no message lost

    benchmark.pedantic(_timed("fanin-papyra", work), rounds=ROUNDS, iterations=1)


@pytest.mark.benchmark(group="fan-in")
def test_fan_in_pykka(benchmark: Any) -> None:
    ref = PykkaCounter.start()
    expected = [0]

    def work() -> None:
        _fan_in(ref.tell)
        expected[0] += PRODUCERS * FAN_IN_EACH
        assert ref.ask("get", timeout=60) == expected[0]

    benchmark.pedantic(_timed("fanin-pykka", work), rounds=ROUNDS, iterations=1)
