"""The gauges alerting rules use: ``papyra_persistence_up`` (0 after a real fail-stop),
``papyra_persistence_last_write_timestamp_seconds`` and, for Redis,
``papyra_persistence_buffered_records`` (records held during a real outage)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from papyra.contrib.prometheus import render
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent
from tests.contrib.test_prometheus import parse, series

ROOT = Path(__file__).resolve().parents[2]

# A child with RLIMIT_FSIZE set: the kernel refuses writes past the limit (EFBIG), a real
# I/O error that puts the writer in fail-stop. It prints the exposition after the failure.
_FILL_UNTIL_FAILURE = """
import resource, signal, sys
from papyra.contrib.prometheus import render
from papyra.exceptions import DurabilityError
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
backend = JsonFilePersistence(sys.argv[1], fsync="always")
try:
    for i in range(10_000):
        backend.record_event(PersistedEvent(system_id="s", event_type="E", payload={"i": i}, timestamp=1.0))
        backend.flush()
except DurabilityError:
    pass
sys.stdout.write(render(backend))
backend.close()
"""


def test_up_is_1_while_the_writer_works_and_0_after_fail_stop(tmp_path: Path) -> None:
    path = tmp_path / "store.ndjson"
    healthy = JsonFilePersistence(tmp_path / "healthy.ndjson")
    healthy.record_event(PersistedEvent(timestamp=1.0))
    assert healthy.flush(timeout=30)
    _, samples = parse(render(healthy))
    assert samples[series("papyra_persistence_up", backend="json", store=str(healthy.path))] == 1
    healthy.close()

    child = subprocess.run(
        [sys.executable, "-c", _FILL_UNTIL_FAILURE, str(path)],
        capture_output=True, text=True, timeout=120, cwd=str(ROOT),
    )
    assert child.returncode == 0, child.stderr
    _, samples = parse(child.stdout)
    ident = {"backend": "json", "store": str(path)}
    assert samples[series("papyra_persistence_up", **ident)] == 0
    assert samples[series("papyra_persistence_write_errors_total", **ident)] == 1
    written = samples[series("papyra_persistence_records_written_total", **ident)]
    assert written == len(path.read_bytes().splitlines()) > 0
    # the last successful write is still known: the "store stale" rule keeps working
    assert samples[series("papyra_persistence_last_write_timestamp_seconds", **ident)] > 0


def test_last_write_timestamp_is_the_time_of_the_last_written_batch(tmp_path: Path) -> None:
    backend = JsonFilePersistence(tmp_path / "s.ndjson")
    name = "papyra_persistence_last_write_timestamp_seconds"
    ident = {"backend": "json", "store": str(backend.path)}
    _, samples = parse(render(backend))
    assert series(name, **ident) not in samples  # nothing written yet: absent, not 0
    before = time.time()
    backend.record_event(PersistedEvent(timestamp=1.0))
    assert backend.flush(timeout=30)
    after = time.time()
    _, samples = parse(render(backend))
    assert before <= samples[series(name, **ident)] <= after
    backend.metrics.reset()  # a reset does not forget when the store was last written
    _, samples = parse(render(backend))
    assert before <= samples[series(name, **ident)] <= after
    backend.close()


def test_buffered_records_counts_every_record_held_while_redis_hangs() -> None:
    pytest.importorskip("redis")
    from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
    from tests.support.redis_server import RedisServer, require_redis_binary

    server = RedisServer(require_redis_binary()).start()
    assert server.pid is not None
    prefix = f"buffered-{uuid.uuid4().hex[:8]}"
    backend = RedisStreamsPersistence(
        RedisStreamsConfig(url=server.url, prefix=prefix, system_id="sys", socket_timeout=60.0)
    )
    ident = {"backend": "redis", "store": prefix, "system_id": "sys"}
    buffered = series("papyra_persistence_buffered_records", **ident)
    stopped = False
    try:
        for i in range(3):
            backend.record_event(PersistedEvent(timestamp=float(i)))
        assert backend.flush(timeout=60)
        os.kill(server.pid, signal.SIGSTOP)  # Redis hangs: the writer's XADD blocks in flight
        stopped = True
        for i in range(7):
            backend.record_event(PersistedEvent(timestamp=float(i)))
        assert backend.flush(timeout=1.0) is False
        _, samples = parse(render(backend))
        assert samples[buffered] == 7  # the batch being written is still held in memory
        assert samples[series("papyra_persistence_up", **ident)] == 1  # an outage is not fail-stop
        os.kill(server.pid, signal.SIGCONT)
        stopped = False
        assert backend.flush(timeout=30)
        _, samples = parse(render(backend))
        assert samples[buffered] == 0
        assert samples[series("papyra_persistence_records_written_total", **ident)] == 10
    finally:
        if stopped:
            os.kill(server.pid, signal.SIGCONT)
        backend.close()
        server.cleanup()
