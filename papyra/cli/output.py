"""Printing: text (aligned, optional colour), JSON and NDJSON; every line is redacted.

Text conventions (kept from the earlier CLI): ``\u2139`` (information), ``✔`` success, ``✖`` problem.
Colour is used only when the format is text, stdout is a terminal and ``NO_COLOR`` is unset or
empty. Notes about the run itself (e.g. "store does not exist yet") go to **stderr**, so stdout
stays parseable in every format.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from papyra.cli.redact import redact
from papyra.persistence.retention import EPOCH_FLOOR as _EPOCH_FLOOR

__all__ = ["Output", "format_bytes", "format_ts", "to_json_text"]

INFO_MARK = "\u2139"
_RESET = "\033[0m"
_STYLES = {"info": "\033[36m", "ok": "\033[32m", "bad": "\033[31m", "bold": "\033[1m", "dim": "\033[2m"}


def format_ts(ts: float | None) -> str:
    """Epoch seconds as ``2024-06-10T12:00:00.000Z`` (UTC); ``-`` for ``None``. A timestamp
    before 2001-09-09 (1e9) is relative — the earlier release's monotonic clock — and shown as
    seconds, e.g. ``596.980 s (relative)``, never as a 1970 date."""
    if ts is None:
        return "-"
    if ts < _EPOCH_FLOOR:
        return f"{ts:.3f} s (relative)"
    try:
        dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return repr(ts)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_bytes(n: int | None) -> str:
    """``1536`` -> ``1.5 KiB``; plain bytes below 1 KiB; ``-`` for ``None``."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024.0
        if value < 1024.0 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def to_json_text(doc: Any, *, indent: int | None = 2) -> str:
    """Stable JSON text: key order as built, UTF-8 kept, unknown objects as ``str``."""
    separators = (",", ": ") if indent is not None else (",", ":")
    return json.dumps(doc, indent=indent, ensure_ascii=False, default=str, separators=separators)


def _use_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    if environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Where a command writes. ``fmt`` is ``text``, ``json``, ``ndjson`` or ``prometheus``."""

    def __init__(
        self,
        fmt: str = "text",
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.fmt = fmt
        self.secrets = secrets  # masked in every line (papyra.cli.redact)
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        env = os.environ if environ is None else environ
        self.color = fmt == "text" and _use_color(self.stdout, env)
        self.err_color = _use_color(self.stderr, env)

    @property
    def is_text(self) -> bool:
        return self.fmt == "text"

    # ------------------------------------------------------------------ low level

    def style(self, text: str, style: str, *, stderr: bool = False) -> str:
        if not (self.err_color if stderr else self.color):
            return text
        return f"{_STYLES[style]}{text}{_RESET}"

    def write(self, text: str = "") -> None:
        """One or more lines to stdout (redacted, flushed)."""
        self.stdout.write(redact(text, self.secrets) + "\n")
        self.stdout.flush()

    def write_err(self, text: str) -> None:
        self.stderr.write(redact(text, self.secrets) + "\n")
        self.stderr.flush()

    # ------------------------------------------------------------------ text helpers

    def info(self, msg: str) -> None:
        self.write(f"{self.style(INFO_MARK, 'info')} {msg}")

    def success(self, msg: str) -> None:
        self.write(f"{self.style('✔', 'ok')} {msg}")

    def problem(self, msg: str) -> None:
        self.write(f"{self.style('✖', 'bad')} {msg}")

    def heading(self, title: str) -> None:
        self.write(self.style(title, "bold"))

    def note(self, msg: str) -> None:
        """An informational line on stderr (any format)."""
        self.write_err(f"{self.style(INFO_MARK, 'info', stderr=True)} {msg}")

    def warn(self, msg: str) -> None:
        self.write_err(f"{self.style('⚠', 'bad', stderr=True)} {msg}")

    def kv(self, pairs: Sequence[tuple[str, Any]], *, indent: int = 2) -> None:
        """Aligned ``key: value`` lines."""
        if not pairs:
            return
        width = max(len(k) for k, _ in pairs) + 1
        pad = " " * indent
        for key, value in pairs:
            self.write(f"{pad}{(key + ':').ljust(width)} {value}".rstrip())

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        right: Sequence[int] = (),
        indent: int = 0,
    ) -> None:
        """An aligned table: a header line then one line per row. ``right``: right-aligned columns."""
        cells = [[str(c) for c in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))
        pad = " " * indent

        def fmt(row: Sequence[str]) -> str:
            parts = [
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)
            ]
            return (pad + "  ".join(parts)).rstrip()

        self.write(self.style(fmt(list(headers)), "bold"))
        for row in cells:
            self.write(fmt(row))

    # ------------------------------------------------------------------ machine formats

    def json(self, doc: Any) -> None:
        """One pretty JSON document."""
        self.write(to_json_text(doc))

    def ndjson(self, obj: Any) -> None:
        """One compact JSON object per line."""
        self.write(to_json_text(obj, indent=None))
