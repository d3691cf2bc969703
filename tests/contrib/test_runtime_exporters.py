"""Exporters on an ActorSystem: runtime counters, per-class mailbox gauge, ask latency."""

from __future__ import annotations

from typing import Any

import pytest

from papyra.actor import Actor
from papyra.contrib.prometheus import render
from papyra.system import ActorSystem
from tests.contrib.test_prometheus import parse


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise ValueError("boom")
        return message


def test_prometheus_renders_runtime_counters_with_system_label() -> None:
    with ActorSystem(system_id="exp") as system:
        ref = system.spawn(Echo, name="echo")
        for i in range(10):
            assert ref.ask(i, timeout=5) == i
        with pytest.raises(ValueError):
            ref.ask("boom", timeout=5)
        types, samples = parse(render(system))
        assert types["papyra_actor_messages_processed_total"] == "counter"
        assert samples['papyra_actor_messages_processed_total{system_id="exp"}'] == 11
        assert samples['papyra_actor_crashes_total{system_id="exp"}'] == 1
        assert samples['papyra_actor_restarts_total{system_id="exp"}'] == 1
        assert samples['papyra_actor_alive{system_id="exp"}'] == 1
        assert samples['papyra_actor_ask_duration_seconds_count{system_id="exp"}'] == 11
        assert types["papyra_actor_mailbox_depth_messages"] == "gauge"
        assert any(k.startswith("papyra_actor_mailbox_depth_messages{actor_class=") for k in samples)


def test_otel_instrument_reads_runtime_snapshot() -> None:
    pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from papyra.contrib.otel import instrument

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with ActorSystem(system_id="otel") as system:
        handle = instrument(system, meter_provider=provider)
        ref = system.spawn(Echo)
        for i in range(5):
            ref.ask(i, timeout=5)
        data = reader.get_metrics_data()
        assert data is not None
        found = {
            m.name: m
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        }
        processed = found["papyra.actor.messages.processed"]
        assert [p.value for p in processed.data.data_points] == [5]
        assert dict(processed.data.data_points[0].attributes) == {"system_id": "otel"}
        handle.uninstrument()
    provider.shutdown()


def test_otel_ask_histogram_receives_each_ask() -> None:
    pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from papyra.contrib.otel import instrument

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with ActorSystem(system_id="otel-ask") as system:
        handle = instrument(system, meter_provider=provider)
        ref = system.spawn(Echo)
        for i in range(7):
            ref.ask(i, timeout=5)
        handle.uninstrument()
        ref.ask("after", timeout=5)  # not recorded any more
        data = reader.get_metrics_data()
        assert data is not None
        hist = next(
            m
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == "papyra.actor.ask.duration"
        )
        (point,) = hist.data.data_points
        assert point.count == 7
        assert hist.unit == "s"
    provider.shutdown()
