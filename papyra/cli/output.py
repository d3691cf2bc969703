"""Printing: text (aligned, optional colour), JSON and NDJSON; every line is redacted.

Text conventions (kept from the earlier CLI): ``\u2139`` (information), ``✔`` success, ``✖`` problem.
Colour is used only when the format is text, stdout is a terminal and ``NO_COLOR`` is unset or
empty. Notes about the run itself (e.g. "store does not exist yet") go to **stderr**, so stdout
stays parseable in every format.

Machine formats: ``json`` prints one document per run, indented only when stdout is a terminal
(one compact line otherwise, so ``>> file.ndjson`` stays line-oriented); ``ndjson`` prints one
compact line per result (a single line for single-result commands). Output never dies on
encoding: on a stream that cannot encode the symbols (``PYTHONIOENCODING=ascii``, a latin-1
terminal) they are ASCII (``i``, ``OK``, ``X``, ``!``); any other character the stream cannot
encode is written as a backslash escape (``\\xe9``). JSON (records and error documents alike) is
always valid UTF-8: on a stream whose encoding is not UTF-8 (``PYTHONIOENCODING=latin-1``) every
non-ASCII character is a ``\\uXXXX`` escape. Writing to stdout failing with an ``OSError`` other
than a broken pipe (``> /dev/full``) raises :class:`~papyra.cli.errors.OutputWriteError` (exit 3).
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TextIO

from papyra.cli.errors import OutputWriteError
from papyra.cli.redact import redact
from papyra.persistence.retention import EPOCH_FLOOR as _EPOCH_FLOOR

__all__ = ["Output", "format_bytes", "format_ts", "to_json_text", "use_utc", "write_line"]

INFO_MARK = "\u2139"
#: Rows of a text table whose cells set the column widths (the rest are streamed).
TABLE_SAMPLE = 1000
_RESET = "\033[0m"
_STYLES = {"info": "\033[36m", "ok": "\033[32m", "bad": "\033[31m", "bold": "\033[1m", "dim": "\033[2m"}


_UTC = [False]  # --utc of the running command (set by papyra.cli.app.run for each run)


def use_utc(enabled: bool) -> None:
    """Show times in UTC (``--utc``) instead of local time, from now on in this process."""
    _UTC[0] = enabled


def format_ts(ts: float | None) -> str:
    """Epoch seconds as local time with its zone, ``2024-06-10T14:00:00.000+02:00``, or in UTC
    with ``--utc`` (:func:`use_utc`); a zero offset is written ``Z``: ``2024-06-10T12:00:00.000Z``.
    ``-`` for ``None``. A timestamp before 2001-09-09 (1e9) is relative — the earlier release's
    monotonic clock — and shown as seconds, e.g. ``596.980 s (relative)``, never as a 1970 date."""
    if ts is None:
        return "-"
    if ts < _EPOCH_FLOOR:
        return f"{ts:.3f} s (relative)"
    try:
        dt = datetime.fromtimestamp(ts, tz=timezone.utc)
        if not _UTC[0]:
            dt = dt.astimezone()  # the local zone (TZ)
    except (OverflowError, OSError, ValueError):
        return repr(ts)
    offset = dt.utcoffset()
    if not offset:
        zone = "Z"
    else:
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}{zone}"


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


def to_json_text(doc: Any, *, indent: int | None = 2, ascii_only: bool = False) -> str:
    """Stable JSON text: key order as built, UTF-8 kept (``\\uXXXX`` escapes with
    ``ascii_only``), unknown objects as ``str``."""
    separators = (",", ": ") if indent is not None else (",", ":")
    return json.dumps(doc, indent=indent, ensure_ascii=ascii_only, default=str, separators=separators)


_MARKS = {"info": INFO_MARK, "ok": "✔", "bad": "✖", "warn": "⚠", "bar": "█"}
#: Stand-ins for the marks on a stream that cannot encode them.
_ASCII_MARKS = {"info": "i", "ok": "OK", "bad": "X", "warn": "!", "bar": "#"}


def _marks(stream: TextIO) -> dict[str, str]:
    """The marks ``stream`` can encode: :data:`_MARKS`, else :data:`_ASCII_MARKS`."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return _MARKS  # an in-memory text stream takes any character
    try:
        "".join(_MARKS.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return _ASCII_MARKS
    return _MARKS


def write_line(stream: TextIO, text: str) -> None:
    """``text`` plus a newline on ``stream``, flushed; never raises ``UnicodeEncodeError``: a
    line the stream cannot encode is written with backslash escapes for what it cannot hold."""
    try:
        stream.write(text + "\n")
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


def _utf8(stream: TextIO) -> bool:
    """Whether ``stream`` encodes UTF-8 (an in-memory text stream, without an encoding, counts)."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """Turn an ``OSError`` writing stdout (not ``BrokenPipeError``) into :class:`OutputWriteError`."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputWriteError(f"cannot write the output to stdout: {exc.strerror or exc}") from exc


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _use_color(stream: TextIO, environ: Mapping[str, str]) -> bool:
    return not environ.get("NO_COLOR") and _is_tty(stream)


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
        self._marks = _marks(self.stdout)
        self._err_marks = _marks(self.stderr)
        self._ascii_json = not _utf8(self.stdout)

    @property
    def is_text(self) -> bool:
        return self.fmt == "text"

    # ------------------------------------------------------------------ low level

    def style(self, text: str, style: str, *, stderr: bool = False) -> str:
        if not (self.err_color if stderr else self.color):
            return text
        return f"{_STYLES[style]}{text}{_RESET}"

    def symbol(self, name: str) -> str:
        """A symbol of text output (``info``, ``ok``, ``bad``, ``warn``, ``bar``) that stdout can
        encode (its ASCII stand-in otherwise)."""
        return self._marks[name]

    def write(self, text: str = "") -> None:
        """One or more lines to stdout (redacted, flushed; ASCII fallback, see module doc)."""
        with _writing():
            write_line(self.stdout, redact(text, self.secrets))

    def flush(self) -> None:
        """Flush stdout; raises :class:`OutputWriteError` when that fails (not on a broken pipe)."""
        with _writing():
            self.stdout.flush()

    def write_err(self, text: str) -> None:
        write_line(self.stderr, redact(text, self.secrets))

    # ------------------------------------------------------------------ text helpers

    def info(self, msg: str) -> None:
        self.write(f"{self.style(self._marks['info'], 'info')} {msg}")

    def success(self, msg: str) -> None:
        self.write(f"{self.style(self._marks['ok'], 'ok')} {msg}")

    def problem(self, msg: str) -> None:
        self.write(f"{self.style(self._marks['bad'], 'bad')} {msg}")

    def heading(self, title: str) -> None:
        self.write(self.style(title, "bold"))

    def note(self, msg: str) -> None:
        """An informational line on stderr (any format)."""
        self.write_err(f"{self.style(self._err_marks['info'], 'info', stderr=True)} {msg}")

    def warn(self, msg: str) -> None:
        self.write_err(f"{self.style(self._err_marks['warn'], 'bad', stderr=True)} {msg}")

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
        rows: Iterable[Sequence[Any]],
        *,
        right: Sequence[int] = (),
        indent: int = 0,
    ) -> None:
        """An aligned table: a header line then one line per row. ``right``: right-aligned columns.

        Streams: column widths come from the first :data:`TABLE_SAMPLE` rows (a longer cell
        further down widens only its own line), so memory does not grow with the row count."""
        it = iter(rows)
        cells = [[str(c) for c in row] for row in itertools.islice(it, TABLE_SAMPLE)]
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
        for row in itertools.chain(cells, ([str(c) for c in row] for row in it)):
            self.write(fmt(row))

    # ------------------------------------------------------------------ machine formats

    def json(self, doc: Any) -> None:
        """The command's one result document: indented for ``--format json`` on a terminal,
        else one compact line (``--format ndjson``, or json into a pipe or file)."""
        self._json_line(doc, indent=2 if self.fmt == "json" and _is_tty(self.stdout) else None)

    def ndjson(self, obj: Any) -> None:
        """One compact JSON object on one line."""
        self._json_line(obj, indent=None)

    def json_stream(
        self, head: dict[str, Any], key: str, items: Iterable[Any], tail: Callable[[], dict[str, Any]]
    ) -> None:
        """One JSON document ``{**head, key: [*items], **tail()}`` written as ``items`` come
        (``tail`` is called after the last one, e.g. for a count): constant memory when compact.
        Indented (a terminal) it is built whole, then printed like :meth:`json`."""
        if self.fmt == "json" and _is_tty(self.stdout):
            doc = dict(head)
            doc[key] = list(items)
            doc.update(tail())
            self.json(doc)
            return
        opening = self._json_text({**head, key: []})
        self._raw(opening[:-2])
        for n, item in enumerate(items):
            self._raw(("," if n else "") + self._json_text(item))
        rest = self._json_text(tail())
        self._raw("]" + ("," + rest[1:] if rest != "{}" else "}"))
        self._raw("\n")

    def _json_text(self, doc: Any) -> str:
        """Compact JSON text, ``\\uXXXX`` escapes unless stdout encodes UTF-8."""
        return to_json_text(doc, indent=None, ascii_only=self._ascii_json)

    def _raw(self, text: str) -> None:
        with _writing():
            self.stdout.write(redact(text, self.secrets))

    def error(self, exit_code: int, message: str) -> None:
        """With a machine format, the ``{"error": {"exit_code": N, "message": ...}}`` object on
        stdout (the one-line stderr message is the caller's); nothing with text formats."""
        if self.fmt in ("json", "ndjson"):
            self.ndjson({"error": {"exit_code": exit_code, "message": message}})

    def _json_line(self, doc: Any, *, indent: int | None) -> None:
        text = to_json_text(doc, indent=indent, ascii_only=self._ascii_json)
        with _writing():
            write_line(self.stdout, redact(text, self.secrets))
