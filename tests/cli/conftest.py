"""CLI test helpers: run the CLI in-process with an isolated environment, build real stores."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from papyra.cli.app import run
from papyra.persistence.models import PersistedAudit, PersistedDeadLetter, PersistedEvent

ROOT = Path(__file__).resolve().parents[2]
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPYRA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_follower(
    path: Path, *options: str, interval: float = 0.05, fmt: str = "ndjson"
) -> subprocess.Popen[str]:
    """A real ``papyra inspect events --follow`` process on ``path`` (stdout/stderr piped)."""
    return subprocess.Popen(
        [
            sys.executable, "-m", "papyra", "inspect", "events", "--follow", "--path", str(path),
            *options, "--format", fmt, "--interval", str(interval), "--limit", "100000",
        ],
        cwd=str(ROOT),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class PipeLines:
    """Lines a child process writes on one of its pipes, read as they come: the child's own
    acknowledgement, never a sleep. Reads the file descriptor directly (unbuffered, so
    ``select`` is exact); use it instead of the pipe object until the child is waited for."""

    def __init__(self, proc: subprocess.Popen[str], stream: str = "stdout") -> None:
        pipe = getattr(proc, stream)
        assert pipe is not None
        self._fd = pipe.fileno()
        self._buffer = b""
        self.lines: list[str] = []  # every line read so far

    def next(self, count: int = 1, *, timeout: float = 30.0) -> list[str]:
        """The next ``count`` lines (without newline); fails after ``timeout`` s without one."""
        import select

        out: list[str] = []
        while len(out) < count:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                out.append(line.decode())
                continue
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                raise AssertionError(f"no line within {timeout} s (got {self.lines + out!r})")
            data = os.read(self._fd, 65536)
            if not data:
                raise AssertionError(f"the pipe closed (got {self.lines + out!r})")
            self._buffer += data
        self.lines += out
        return out

    def until(self, predicate: Callable[[str], bool], *, timeout: float = 30.0) -> list[str]:
        """Lines up to and including the first one ``predicate`` accepts."""
        out: list[str] = []
        while True:
            [line] = self.next(timeout=timeout)
            out.append(line)
            if predicate(line):
                return out

    def rest(self) -> list[str]:
        """The remaining lines once the child has exited (reads to end of file)."""
        while True:
            data = os.read(self._fd, 65536)
            if not data:
                break
            self._buffer += data
        lines = [x.decode() for x in self._buffer.split(b"\n") if x]
        self._buffer = b""
        self.lines += lines
        return lines


def run_cli(*args: str, timeout: float = 30, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """``python -m papyra *args`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "papyra", *args],
        cwd=str(ROOT),
        env=cli_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


LOCK_HOLDER = """
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def hold_lock() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Start a second process holding ``<store>.lock`` with flock; killed (by pid) at teardown."""
    procs: list[subprocess.Popen[str]] = []

    def start(store_path: Path, seconds: float = 30.0) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, str(store_path) + ".lock", str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
