"""Child processes the tests talk to: the readiness and progress handshake, one helper for all.

Tests never synchronise with a child by sleeping. The child prints a line (on stdout, or on
stderr for a warning it gives) when it is ready or has done something (a record acknowledged, an
event printed); the test blocks in :meth:`Child.wait_for` until the lines read so far satisfy a
predicate, and only then acts (sends a signal or a line, writes more, kills). Both pipes are
drained on threads, so a chatty child never blocks on a full pipe, and every line is kept.

Start children with :func:`start_python` (this checkout's papyra on ``PYTHONPATH``, the
repository root as working directory) and use the :class:`Child` as a context manager, or call
:meth:`Child.kill` in a ``finally``: a failing test then leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

__all__ = ["LIVE", "ROOT", "Child", "child_env", "hold_store_lock", "release_store_lock", "start_python"]

ROOT = Path(__file__).resolve().parents[2]

STREAMS = ("stdout", "stderr")

LIVE: set[Child] = set()  # started and not yet finished or killed (tests/conftest.py checks it)


def child_env(*, keep_papyra: bool = True, **extra: str) -> dict[str, str]:
    """This process's environment for a child, with the repository root first on ``PYTHONPATH``
    (so the child imports this checkout's papyra), ``extra`` added; ``keep_papyra=False`` drops
    every ``PAPYRA_*`` variable (a CLI child sees only what its test gives it)."""
    env = {k: v for k, v in os.environ.items() if keep_papyra or not k.startswith("PAPYRA_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_python(*argv: str, stdin: bool = False, env: Mapping[str, str] | None = None) -> Child:
    """``python *argv`` from the repository root, stdout and stderr read by a :class:`Child`;
    stdin is a pipe for :meth:`Child.send` when ``stdin`` is true (else ``/dev/null``); ``env``
    defaults to :func:`child_env`."""
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=str(ROOT),
        env=dict(child_env() if env is None else env),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Child(proc)


class Child:
    """Wraps a started ``Popen`` (text mode, stdout and stderr piped) and collects its lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.lines: list[str] = []  # stdout, without line ends; grows while the child runs
        self.err_lines: list[str] = []  # stderr, likewise
        self._cond = threading.Condition()
        self._open = set(STREAMS)
        self._threads = [
            threading.Thread(target=self._pump, args=(proc.stdout, "stdout"), name="test-child-stdout"),
            threading.Thread(target=self._pump, args=(proc.stderr, "stderr"), name="test-child-stderr"),
        ]
        for thread in self._threads:
            thread.start()
        LIVE.add(self)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()

    def _collected(self, stream: str) -> list[str]:
        return self.lines if stream == "stdout" else self.err_lines

    def _pump(self, pipe: IO[str], stream: str) -> None:
        for line in pipe:
            with self._cond:
                self._collected(stream).append(line.rstrip("\n"))
                self._cond.notify_all()
        pipe.close()
        with self._cond:
            self._open.discard(stream)
            self._cond.notify_all()

    def wait_for(
        self,
        predicate: Callable[[list[str]], object],
        *,
        what: str,
        timeout: float = 120.0,
        stream: str = "stdout",
    ) -> list[str]:
        """Block until ``predicate(lines of stream so far)`` is truthy; return a copy of those
        lines. Fails the test when the child closes that stream first; ``timeout`` (seconds) is
        a hang guard only."""
        assert stream in STREAMS, stream
        lines = self._collected(stream)
        with self._cond:
            self._cond.wait_for(lambda: bool(predicate(lines)) or stream not in self._open, timeout)
            if predicate(lines):
                return list(lines)
            state = f"closed its {stream}" if stream not in self._open else f"stayed silent for {timeout} s"
            raise AssertionError(f"child {state} before {what}: {self._tail()}")

    def wait_line(self, expected: str, *, timeout: float = 120.0, stream: str = "stdout") -> None:
        """Block until some line of ``stream`` equals ``expected``."""
        self.wait_for(lambda lines: expected in lines, what=repr(expected), timeout=timeout, stream=stream)

    def send(self, line: str) -> None:
        """Write ``line`` and a newline to the child's stdin (started with ``stdin=True``)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def _tail(self) -> str:
        """The last lines of both streams, for a failure message."""
        return f"stdout={self.lines[-5:]} stderr={self.err_lines[-5:]}"

    @property
    def err(self) -> str:
        with self._cond:
            return "\n".join(self.err_lines)

    def finish(self, timeout: float = 120.0) -> int:
        """Wait for the child to exit and for both pipes to be drained; return its exit code.
        ``timeout`` (seconds) is a hang guard: the child is killed when it has not exited by
        then, and the test fails."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"child did not exit within {timeout} s: {self._tail()}") from None
        self._reap(timeout)
        return code

    def _reap(self, timeout: float) -> None:
        LIVE.discard(self)
        for thread in self._threads:
            thread.join(timeout)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the child is gone: nothing left to flush to
                self.proc.stdin.close()

    def kill(self) -> None:
        """SIGKILL the child (if still running) and reap it; idempotent."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reap(120.0)


def hold_store_lock(path: object, how: str = "filelock") -> Child:
    """A second process holding the store lock of ``path`` (``filelock`` or ``portalocker``);
    returns once it reported ``locked``. Release it with :func:`release_store_lock`."""
    holder = start_python("-m", "tests.support.procs", "hold_lock", str(path), how, stdin=True)
    try:
        holder.wait_line("locked")
    except BaseException:
        holder.kill()
        raise
    return holder


def release_store_lock(holder: Child) -> None:
    """Tell the holder to release the lock, wait for ``released`` and its clean exit."""
    try:
        holder.send("go")
        holder.wait_line("released")
        assert holder.finish() == 0, holder.err
    finally:
        holder.kill()
