"""A child process whose stdout lines the test waits on: the readiness and progress handshake.

Tests never synchronise with a child by sleeping. The child prints a line when it is ready or has
done something (a record acknowledged, an event printed); the test blocks in :meth:`Child.wait_for`
until the lines read so far satisfy a predicate, and only then acts (sends a signal, writes more,
kills). Both pipes are drained on threads, so a chatty child never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable
from typing import IO

__all__ = ["Child", "hold_store_lock", "release_store_lock"]


class Child:
    """Wraps a started ``Popen`` (text mode, stdout and stderr piped) and collects its lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.lines: list[str] = []  # stdout, without line ends; grows while the child runs
        self._err: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._threads = [
            threading.Thread(target=self._pump, args=(proc.stdout, True), name="test-child-stdout"),
            threading.Thread(target=self._pump, args=(proc.stderr, False), name="test-child-stderr"),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str], is_stdout: bool) -> None:
        for line in stream:
            with self._cond:
                (self.lines if is_stdout else self._err).append(line.rstrip("\n"))
                self._cond.notify_all()
        stream.close()
        if is_stdout:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[list[str]], object], *, what: str, timeout: float = 120.0
    ) -> list[str]:
        """Block until ``predicate(lines so far)`` is truthy; return a copy of the lines. Fails
        the test when the child closes stdout first; ``timeout`` (seconds) is a hang guard only."""
        with self._cond:
            self._cond.wait_for(lambda: bool(predicate(self.lines)) or self._eof, timeout)
            if predicate(self.lines):
                return list(self.lines)
            state = "closed its stdout" if self._eof else f"stayed silent for {timeout} s"
            raise AssertionError(f"child {state} before {what}: lines={self.lines[-5:]} stderr={self.err}")

    def wait_line(self, expected: str, *, timeout: float = 120.0) -> None:
        """Block until some stdout line equals ``expected``."""
        self.wait_for(lambda lines: expected in lines, what=repr(expected), timeout=timeout)

    @property
    def err(self) -> str:
        with self._cond:
            return "\n".join(self._err)

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the child to exit and for both pipes to be drained; return its exit code."""
        code = self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout)
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the child is gone: nothing left to flush to
                self.proc.stdin.close()
        return code

    def kill(self) -> None:
        """SIGKILL the child (if still running) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()


def hold_store_lock(path: object, how: str) -> Child:
    """A second process holding the store lock of ``path`` (``filelock`` or ``portalocker``);
    returns once it reported ``locked``. Release it with :func:`release_store_lock`."""
    from tests.support.procs import spawn

    holder = Child(spawn("hold_lock", str(path), how, stdin=True))
    holder.wait_line("locked")
    return holder


def release_store_lock(holder: Child) -> None:
    """Tell the holder to release the lock, wait for ``released`` and its clean exit."""
    assert holder.proc.stdin is not None
    holder.proc.stdin.write("go\n")
    holder.proc.stdin.flush()
    holder.wait_line("released")
    assert holder.finish() == 0, holder.err
