"""Papyra metrics through OpenTelemetry, printed by the SDK's console exporter.

Run:  pip install -e '.[otel]' opentelemetry-sdk && python examples/otel_metrics.py

An actor system persists to an NDJSON file; both the backend and the system are instrumented
with ``papyra.contrib.otel.instrument``. The SDK exports every 500 ms to stdout; the last export
happens at ``provider.shutdown()``. The same numbers are also shown as Prometheus text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

from papyra.actor import Actor
from papyra.contrib.otel import instrument
from papyra.contrib.prometheus import render
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem


class Greeter(Actor):
    def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom")
        return f"hello {message}"


def main() -> None:
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), export_interval_millis=500)
    provider = MeterProvider(metric_readers=[reader])
    with tempfile.TemporaryDirectory() as tmp:
        backend = JsonFilePersistence(Path(tmp) / "papyra.ndjson")
        with ActorSystem(system_id="otel-demo", persistence=backend) as system:
            handles = [
                instrument(backend, meter_provider=provider),
                instrument(system, meter_provider=provider),
            ]
            ref = system.spawn(Greeter, name="greeter")
            for i in range(100):
                ref.ask(i, timeout=5)
            try:
                ref.ask("boom", timeout=5)
            except RuntimeError:
                pass  # supervised: the named actor restarts
            system.audit()
            system.flush(timeout=5)
            print(render(backend))
            print(render(system))
            provider.force_flush()
            for handle in handles:
                handle.uninstrument()
        provider.shutdown()


if __name__ == "__main__":
    main()
