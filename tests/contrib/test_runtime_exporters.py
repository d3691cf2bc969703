"""Exporters on an ActorSystem: runtime counters, per-class mailbox depth, ask latency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.contrib.prometheus import render
from papyra.system import ActorSystem
from tests.contrib.test_prometheus import parse, series


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message


class Blocker(Actor):
    def __init__(self, started: threading.Event, gate: threading.Event) -> None:
        self.started = started
        self.gate = gate

    def receive(self, message: Any) -> Any:
        if message == "block":
            self.started.set()
            self.gate.wait(30)
        return message


def test_prometheus_renders_runtime_counters_with_system_label() -> None:
    with ActorSystem(system_id="exp") as system:
        ref = system.spawn(Echo, name="echo")
        for i in range(10):
            assert ref.ask(i, timeout=60) == i
        with pytest.raises(ValueError):
            ref.ask("boom", timeout=60)
        types, samples = parse(render(system))
        assert types["papyra_actor_messages_processed"] == "counter"
        assert samples[series("papyra_actor_messages_processed_total", system_id="exp")] == 11
        assert samples[series("papyra_actor_crashes_total", system_id="exp")] == 1
        assert samples[series("papyra_actor_restarts_total", system_id="exp")] == 1
        assert samples[series("papyra_actor_alive", system_id="exp")] == 1
        assert samples[series("papyra_actor_ask_duration_seconds_count", system_id="exp")] == 11
        assert types["papyra_actor_mailbox_depth"] == "gauge"


def test_mailbox_depth_is_labelled_by_actor_class() -> None:
    started, gate = threading.Event(), threading.Event()
    with ActorSystem(system_id="mbox") as system:
        ref = system.spawn(lambda: Blocker(started, gate))
        future = ref.ask_future("block")
        for i in range(3):
            ref.tell(i)
        try:
            assert started.wait(60)  # "block" is in receive: exactly the three tells are queued
            _, samples = parse(render(system))
            name = "papyra_actor_mailbox_depth"
            depth = {dict(labels)["actor_class"]: v for (n, labels), v in samples.items() if n == name}
            assert depth == {Blocker.__qualname__: 3}
        finally:
            gate.set()
        assert future.result(timeout=60) == "block"
