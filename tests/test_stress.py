"""Stress: 8 threads spawning, telling, asking and stopping at once (bounded in time)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ActorStopped
from papyra.system import ActorSystem


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "inc":
            self.count += 1
        return self.count


@pytest.mark.timeout(120)
def test_eight_threads_spawn_tell_ask_stop_lose_nothing() -> None:
    n_threads, rounds = 8, 60
    errors: list[BaseException] = []
    sent: dict[Any, int] = {}
    sent_lock = threading.Lock()
    rejected = [0]

    with ActorSystem(max_workers=4) as system:
        shared = system.spawn(Counter, name="shared")
        barrier = threading.Barrier(n_threads)

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            mine: list[Any] = []
            try:
                barrier.wait(60)
                for _ in range(rounds):
                    op = rng.random()
                    if op < 0.2 or not mine:
                        mine.append(system.spawn(Counter))
                    elif op < 0.6:
                        ref = rng.choice(mine)
                        try:
                            ref.tell("inc")
                            with sent_lock:
                                sent[ref] = sent.get(ref, 0) + 1
                        except ActorStopped:
                            with sent_lock:
                                rejected[0] += 1
                    elif op < 0.85:
                        ref = rng.choice(mine)
                        try:
                            ref.ask("get", timeout=30)
                        except ActorStopped:
                            with sent_lock:
                                rejected[0] += 1
                    else:
                        rng.choice(mine).stop()
                    shared.tell("inc")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads)
        assert not errors, errors
        # Every tell from every thread to the shared actor was processed.
        assert shared.ask("get", timeout=30) == n_threads * rounds
        # Every accepted tell to a still-running actor was processed.
        for ref, count in sent.items():
            if ref.is_alive():
                assert ref.ask("get", timeout=30) == count
        assert len(system.dead_letters.messages) >= rejected[0]
    # Accepted messages either were processed or became dead letters: nothing vanished.
    processed = system.metrics.snapshot()["messages_processed_total"]
    assert processed > 0
