"""CLI test helpers: run the CLI in-process with an isolated environment, build real stores."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from papyra.cli.app import run
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent
from tests.support.child import ROOT, Child, child_env, hold_store_lock, release_store_lock, start_python

T0 = 1718000000.0  # 2024-06-10T06:13:20Z


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC in CLI tests (and their subprocesses), so golden outputs are stable;
    tests of local time set their own ``TZ``."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@dataclass
class Result:
    code: int
    out: str
    err: str


def invoke(*args: str, env: dict[str, str] | None = None, tmp: Path | None = None) -> Result:
    """Run ``papyra *args`` in-process with only ``env`` as environment; ``tmp`` is shown as <tmp>."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run(list(args), stdout=stdout, stderr=stderr, environ=dict(env or {}))
    out, err = stdout.getvalue(), stderr.getvalue()
    if tmp is not None:
        out, err = out.replace(str(tmp), "<tmp>"), err.replace(str(tmp), "<tmp>")
    return Result(code, out, err)


def sample_records() -> list[object]:
    """Seven records at fixed epoch times: 5 events, 1 audit, 1 dead letter."""
    records: list[object] = []
    for i in range(5):
        records.append(
            PersistedEvent(
                actor_address=f"local:{i % 2 + 1}",
                event_type="ActorStarted" if i < 3 else "ActorStopped",
                payload={"n": i},
                timestamp=T0 + i * 60,
            )
        )
    records.append(
        PersistedAudit(
            timestamp=T0 + 300,
            total_actors=2,
            alive_actors=1,
            stopping_actors=1,
            registry_size=2,
            dead_letters_count=1,
        )
    )
    records.append(
        PersistedDeadLetter(target="local:2", message_type="str", payload="hello", timestamp=T0 + 360)
    )
    return records


def write_store(path: Path, records: Iterable[object] | None = None) -> Path:
    """Write ``records`` (default: :func:`sample_records`) through a real JsonFilePersistence."""
    from papyra.persistence.json import JsonFilePersistence

    backend = JsonFilePersistence(path)
    try:
        for r in sample_records() if records is None else records:
            if isinstance(r, PersistedEvent):
                backend.record_event(r)
            elif isinstance(r, PersistedAudit):
                backend.record_audit(r)
            else:
                assert isinstance(r, PersistedDeadLetter)
                backend.record_dead_letter(r)
        backend.flush()
    finally:
        backend.close()
    path.touch()  # an empty store is an (empty) file, not a missing store
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A healthy JSON store with the sample records."""
    return write_store(tmp_path / "papyra.ndjson")


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A JSON store with one corrupted line in the middle and a torn final line."""
    path = write_store(tmp_path / "papyra.ndjson")
    lines = path.read_bytes().splitlines(keepends=True)
    data = b"".join(lines[:2]) + b"{not json}\n" + b"".join(lines[2:]) + b'{"kind": "event", "timest'
    path.write_bytes(data)
    return path


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: PYTHONPATH to the repo, no PAPYRA_* leakage."""
    return child_env(keep_papyra=False, **extra)


def start_follower(path: Path, *options: str, interval: float = 0.05, fmt: str = "ndjson") -> Child:
    """A real ``papyra inspect events --follow`` process on ``path``, its lines read by a Child."""
    return start_python(
        "-m", "papyra", "inspect", "events", "--follow", "--path", str(path),
        *options, "--format", fmt, "--interval", str(interval), "--limit", "100000",
        env=cli_env(),
    )


def run_cli(*args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``python -m papyra *args`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "papyra", *args],
        cwd=str(ROOT),
        env=cli_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path], Child]]:
    """``hold_lock(store)``: a second process holds ``<store>.lock`` (filelock) until teardown."""
    holders: list[Child] = []

    def start(store_path: Path) -> Child:
        holders.append(hold_store_lock(store_path))
        return holders[-1]

    yield start
    for holder in holders:
        release_store_lock(holder)
