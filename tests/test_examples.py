"""The examples are documentation: each one runs to completion and prints what it promises."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_quickstart_persists_to_a_file_that_the_cli_then_reads(tmp_path: Path) -> None:
    store = tmp_path / "demo.ndjson"
    first = run(str(EXAMPLES / "quickstart.py"), str(store), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "startup scan: clean" in first.stdout
    assert "ActorRestarted" in first.stdout
    assert "dead letters: [('quickstart:2', 'anyone there?')]" in first.stdout
    # The README's follow-up commands.
    summary = run("-m", "papyra", "inspect", "summary", "--path", str(store), "--format", "json", cwd=ROOT)
    assert summary.returncode == 0, summary.stderr
    events = run("-m", "papyra", "inspect", "events", "--path", str(store), "--format", "json", cwd=ROOT)
    assert events.returncode == 0, events.stderr
    types = [e["event_type"] for e in json.loads(events.stdout)["records"]]
    assert types.count("ActorStarted") == 2 and "ActorCrashed" in types
    # A torn tail from a crash is repaired by the startup check on the next run.
    with store.open("ab") as f:
        f.write(b'{"kind": "event", "system_id": "quickst')
    second = run(str(EXAMPLES / "quickstart.py"), str(store), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "startup scan: 1 anomalies" in second.stdout
    assert "startup recovery: repaired" in second.stdout
    scan = run("-m", "papyra", "persistence", "scan", "--path", str(store), cwd=ROOT)
    assert scan.returncode == 0, scan.stdout + scan.stderr


def test_operations_walkthrough_runs(tmp_path: Path) -> None:
    result = run(str(EXAMPLES / "operations.py"), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_otel_example_reports_two_systems_on_one_provider(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk.metrics")
    result = run(str(EXAMPLES / "otel_metrics.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "papyra.actor.messages.processed [{message}] {papyra.system_id=orders} = 101\n" in out
    assert "papyra.actor.messages.processed [{message}] {papyra.system_id=billing} = 41\n" in out
    assert 'papyra_actor_messages_processed_total{system_id="orders"} 101.0\n' in out
    assert 'papyra_actor_messages_processed_total{system_id="billing"} 41.0\n' in out
    assert out.count("papyra.persistence.up [1] {papyra.backend=json, papyra.store=") == 2


def test_redis_consumers_example_runs(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server binary not installed")
    result = run(str(EXAMPLES / "redis_consumers.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
