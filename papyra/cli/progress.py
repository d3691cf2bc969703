"""A small progress indicator on stderr for long operations (compaction, copy).

Shown only when stderr is a terminal, and only once the work has taken longer than ``delay``
seconds; it is erased when the work ends. It runs on one helper thread that is always joined.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ASCII_FRAMES = "|/-\\"


def _frames(stream: TextIO) -> tuple[str, str]:
    """Spinner frames and ellipsis the stream can encode (ASCII ones for an ASCII terminal)."""
    try:
        (_FRAMES + "…").encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return _ASCII_FRAMES, "..."
    return _FRAMES, "…"


class Progress:
    """``with Progress(stderr, "compacting x"):`` — elapsed-time spinner for long work."""

    def __init__(self, stream: TextIO, label: str, *, delay: float = 1.0, interval: float = 0.1) -> None:
        self._stream = stream
        self._label = label
        self._delay = delay
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = False
        try:
            self.enabled = stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False

    def update(self, label: str) -> None:
        """Show ``label`` from the next frame on (e.g. a count of work done). O(1)."""
        self._label = label

    def __enter__(self) -> Progress:
        if self.enabled:
            self._start = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="papyra-cli-progress", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        frame = 0
        frames, dots = _frames(self._stream)
        while not self._stop.is_set():
            elapsed = time.monotonic() - self._start
            label = self._label.encode("ascii", "backslashreplace").decode() if dots == "..." else self._label
            self._stream.write(f"\r{frames[frame % len(frames)]} {label}{dots} {elapsed:.1f}s")
            self._stream.flush()
            self._shown = True
            frame += 1
            self._stop.wait(self._interval)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            self._stream.write("\r\033[K")
            self._stream.flush()
