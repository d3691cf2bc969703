"""Two actor systems and their stores on one OpenTelemetry MeterProvider.

Run:  pip install -e '.[otel,prometheus]' opentelemetry-sdk && python examples/otel_metrics.py

Each system persists to its own NDJSON file. The four targets (two systems, two backends) are
instrumented on the same provider: the instruments are registered once and every observation
carries the identifying attributes of its target (``papyra.system_id``; ``papyra.backend`` and
``papyra.store``), so each system's series stay apart. The example prints what one collection
of the SDK's in-memory reader holds, then the same numbers as Prometheus text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from papyra.actor import Actor
from papyra.contrib.otel import instrument
from papyra.contrib.prometheus import render
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem

SHOWN = (
    "papyra.actor.messages.processed",
    "papyra.actor.restarts",
    "papyra.actor.ask.duration",
    "papyra.persistence.records.written",
    "papyra.persistence.up",
)


class Greeter(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        return f"hello {message}"


def work(system: ActorSystem, asks: int) -> None:
    ref = system.spawn(Greeter, name="greeter")
    for i in range(asks):
        ref.ask(i, timeout=5)
    try:
        ref.ask("boom", timeout=5)
    except RuntimeError:
        pass  # supervised: the named actor restarts
    system.audit()


def print_collection(reader: InMemoryMetricReader) -> None:
    data = reader.get_metrics_data()
    assert data is not None
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sorted(sm.metrics, key=lambda m: m.name):
                if metric.name not in SHOWN:
                    continue
                for point in metric.data.data_points:
                    attrs = ", ".join(f"{k}={v}" for k, v in sorted(point.attributes.items()))
                    value = getattr(point, "value", None)
                    shown = value if value is not None else f"count={point.count} sum={point.sum:.6f}s"
                    print(f"{metric.name} [{metric.unit}] {{{attrs}}} = {shown}")


def main() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with tempfile.TemporaryDirectory() as tmp:
        orders = JsonFilePersistence(Path(tmp) / "orders.ndjson")
        billing = JsonFilePersistence(Path(tmp) / "billing.ndjson")
        with ActorSystem(system_id="orders", persistence=orders) as s1, ActorSystem(
            system_id="billing", persistence=billing
        ) as s2:
            handles = [instrument(target, meter_provider=provider) for target in (s1, orders, s2, billing)]
            work(s1, 100)
            work(s2, 40)
            for system in (s1, s2):
                system.flush(timeout=5)
            print("== OpenTelemetry (one collection, one provider)")
            print_collection(reader)
            print("== Prometheus")
            print(render([s1, orders, s2, billing]), end="")
            for handle in handles:
                handle.uninstrument()
    provider.shutdown()


if __name__ == "__main__":
    main()
