"""NDJSON encoding and tolerant decoding of persisted records (msgspec).

Writing: :func:`encode_record` produces one compact UTF-8 JSON object with ``kind`` first and
every field present, followed by ``\\n``. Non-finite floats are refused in timestamps and written
as ``null`` inside payloads, so every line passes ``json.loads``. Payload values msgspec knows are
encoded natively (sets and tuples as arrays, bytes as base64, datetimes as ISO strings…); any
other object goes through :func:`to_plain` (its ``repr`` in the end). A payload that cannot be
encoded at all — a reference cycle, nesting deeper than the interpreter's recursion limit —
raises :class:`~papyra.exceptions.EncodingError` (a ``ValueError``), never a raw
``RecursionError``. Backends return what :func:`decode_record` makes of the encoded line, so every
backend (memory included) hands back the same plain JSON values.

Reading: :func:`decode_record` takes one line's bytes (without the newline) and returns the
typed record, or raises :class:`LineError` naming what is wrong (invalid UTF-8, bad JSON, not an
object, unknown kind, missing field…). Lines written by the earlier implementation are accepted:
kind first or last, spaced separators, ``\\u`` escapes, object-form or ActorRef-shaped addresses,
minimal rows with defaults, unknown keys. The fast path is one typed msgspec decode; only lines
that fail it take the slower, normalising path.

:func:`iter_lines` and :func:`iter_lines_reversed` stream a binary file line by line in bounded
memory (a line longer than ``max_line`` is reported, not buffered).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple, Union

import msgspec

from papyra.exceptions import EncodingError
from papyra.persistence.models import (
    RECORD_KINDS,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistedRecord,
)

__all__ = [
    "MAX_LINE_BYTES",
    "LineError",
    "RawLine",
    "decode_record",
    "encode_record",
    "encode_record_body",
    "iter_lines",
    "iter_lines_reversed",
    "normalize_address",
    "record_kind",
    "to_plain",
]

#: Lines longer than this are reported as corrupted instead of being buffered (64 MiB).
MAX_LINE_BYTES = 64 * 1024 * 1024
_CHUNK = 1024 * 1024

def _enc_hook(value: Any) -> Any:
    """Objects msgspec cannot encode natively become plain data (see :func:`to_plain`).

    msgspec encodes containers (and their subclasses) natively as values, so a container here
    is a dict *key* (e.g. a tuple): it becomes its ``str``, as in :func:`to_plain`.
    """
    if isinstance(value, (tuple, list, dict, set, frozenset)):
        return str(value)
    return to_plain(value)


_encoder = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)
_typed_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    Union[PersistedEvent, PersistedAudit, PersistedDeadLetter]  # noqa: UP007
)
_any_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()

_KIND_OF: dict[type, str] = {cls: kind for kind, cls in RECORD_KINDS.items()}


class LineError(ValueError):
    """One line could not be decoded into a record. ``reason`` is a short readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def record_kind(record: PersistedRecord) -> str:
    """The ``kind`` discriminator of a record (``"event"``, ``"audit"``, ``"dead_letter"``)."""
    return _KIND_OF[type(record)]


# --------------------------------------------------------------------------- values


def to_plain(value: Any, _depth: int = 0) -> Any:
    """Convert ``value`` to plain JSON data: exceptions become ``"Type: msg"``, sequences lists,
    mappings dicts with string keys, non-finite floats ``None``, anything else its ``repr``.

    Never pickles or imports anything; cost O(size of value).
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _depth > 32:
        return repr(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, dict):
        return {str(k): to_plain(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(v, _depth + 1) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {
            name: to_plain(getattr(value, name, None), _depth + 1)
            for name in value.__dataclass_fields__
        }
    if isinstance(value, msgspec.Struct):
        return to_plain(msgspec.structs.asdict(value), _depth + 1)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


def normalize_address(value: Any) -> str | None:
    """Return an address as the string ``"system:actor_id"``.

    Accepts a string (kept as is), ``{"system", "actor_id"}``, an ActorRef-shaped dict with an
    ``_address`` key, an object with ``system``/``actor_id`` attributes, or ``None``.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "_address" in value:
            return normalize_address(value["_address"])
        if "system" in value and "actor_id" in value:
            return f"{value['system']}:{value['actor_id']}"
        return None
    system = getattr(value, "system", None)
    actor_id = getattr(value, "actor_id", None)
    if system is not None and actor_id is not None:
        return f"{system}:{actor_id}"
    address = getattr(value, "address", None)
    if address is not None and address is not value:
        return normalize_address(address)
    return str(value)


# --------------------------------------------------------------------------- encode


_INF = float("inf")


def _check_timestamp(record: PersistedRecord) -> None:
    ts = record.timestamp
    if type(ts) is float and -_INF < ts < _INF:  # fast path: a finite float
        return
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
        raise EncodingError(f"record timestamp must be a finite number, got {ts!r}")


def encode_record_body(record: PersistedRecord) -> bytes:
    """Encode one record as compact JSON without the trailing newline (Redis ``data`` field).

    Raises ``TypeError`` for a non-record and :class:`~papyra.exceptions.EncodingError` (a
    ``ValueError``) for a non-finite timestamp or a payload that cannot be encoded (a reference
    cycle, nesting deeper than the recursion limit). Cost: one msgspec encode, O(record size).
    """
    if type(record) not in _KIND_OF:
        raise TypeError(
            f"expected PersistedEvent, PersistedAudit or PersistedDeadLetter, got {type(record)!r}"
        )
    _check_timestamp(record)
    try:
        try:
            return _encoder.encode(record)
        except (TypeError, msgspec.EncodeError):
            # e.g. dict keys msgspec cannot encode: make the whole record plain and retry.
            plain = to_plain(msgspec.structs.asdict(record))
            plain = {"kind": _KIND_OF[type(record)], **plain}
            return _encoder.encode(plain)
    except RecursionError:
        raise EncodingError(
            f"cannot encode {_KIND_OF[type(record)]} record: its payload is cyclic or nested too deeply"
        ) from None
    except Exception as exc:  # e.g. a payload object whose __repr__ raises
        raise EncodingError(f"cannot encode {_KIND_OF[type(record)]} record: {exc}") from exc


def encode_record(record: PersistedRecord) -> bytes:
    """Encode one record as an NDJSON line (``kind`` first, all fields, trailing ``\\n``)."""
    return encode_record_body(record) + b"\n"


# --------------------------------------------------------------------------- decode


def decode_record(line: bytes | bytearray | memoryview | str) -> PersistedRecord:
    """Decode one line (without its newline) into a record, or raise :class:`LineError`.

    Cost: one msgspec decode for lines in the current format; a generic decode plus
    normalisation for older styles.
    """
    try:
        record: PersistedRecord = _typed_decoder.decode(line)
        return record
    except msgspec.ValidationError:
        pass
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # msgspec raises UnicodeDecodeError for invalid UTF-8 inside a JSON string
        raise LineError(_json_reason(line, exc)) from None
    return _decode_slow(line)


def _json_reason(line: bytes | bytearray | memoryview | str, exc: Exception) -> str:
    data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
    if b"\x00" in data:
        return "NUL bytes in line"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return f"invalid UTF-8 at byte {uexc.start}"
    if not data.strip():
        return "blank line"
    return f"invalid JSON: {exc}"


def _decode_slow(line: bytes | bytearray | memoryview | str) -> PersistedRecord:
    try:
        obj = _any_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise LineError(_json_reason(line, exc)) from None
    if not isinstance(obj, dict):
        raise LineError(f"not a JSON object (got {type(obj).__name__})")
    kind = obj.get("kind")
    cls = RECORD_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise LineError(f"unknown kind {kind!r}" if "kind" in obj else "missing 'kind'")
    fields = {name: obj[name] for name in cls.__struct_fields__ if name in obj}
    if "timestamp" not in fields or fields["timestamp"] is None:
        raise LineError(f"missing required field 'timestamp' for kind {kind!r}")
    if cls is PersistedEvent and "actor_address" in fields:
        fields["actor_address"] = normalize_address(fields["actor_address"])
    if cls is PersistedDeadLetter and "target" in fields:
        fields["target"] = normalize_address(fields["target"])
    try:
        record: PersistedRecord = msgspec.convert(fields, cls)
        return record
    except msgspec.ValidationError as exc:
        raise LineError(f"invalid field for kind {kind!r}: {exc}") from None


# --------------------------------------------------------------------------- line iteration


class RawLine(NamedTuple):
    """One physical line of a file.

    ``data`` excludes the newline; ``complete`` is False for a final line with no ``\\n``;
    ``oversized`` is True when the line exceeded the limit (``data`` is then empty).
    """

    number: int
    offset: int
    data: bytes
    complete: bool
    oversized: bool = False


def iter_lines(
    f: BinaryIO, *, start: int = 0, end: int | None = None, max_line: int = MAX_LINE_BYTES
) -> Iterator[RawLine]:
    """Yield the lines of ``f`` from byte ``start`` up to ``end`` (default: EOF at call time).

    Memory is bounded by the chunk size plus ``max_line``. Line numbers count from 1 at
    ``start``. Cost: one sequential read of the range.
    """
    f.seek(start)
    remaining = None if end is None else max(0, end - start)
    buf = bytearray()
    buf_offset = start
    number = 0
    skipping = False  # inside an oversized line
    skip_offset = 0
    while True:
        want = _CHUNK if remaining is None else min(_CHUNK, remaining)
        chunk = f.read(want) if want else b""
        if remaining is not None:
            remaining -= len(chunk)
        if not chunk:
            break
        pos = 0
        if skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                buf_offset += len(chunk)
                continue
            number += 1
            yield RawLine(number, skip_offset, b"", True, True)
            skipping = False
            pos = nl + 1
            buf_offset += pos
        buf += chunk[pos:]
        start_idx = 0
        while True:
            nl = buf.find(b"\n", start_idx)
            if nl < 0:
                break
            number += 1
            if nl - start_idx > max_line:
                yield RawLine(number, buf_offset + start_idx, b"", True, True)
            else:
                yield RawLine(number, buf_offset + start_idx, bytes(buf[start_idx:nl]), True)
            start_idx = nl + 1
        if start_idx:
            del buf[:start_idx]
            buf_offset += start_idx
        if len(buf) > max_line:
            skipping = True
            skip_offset = buf_offset
            buf_offset += len(buf)
            buf.clear()
    if skipping:
        number += 1
        yield RawLine(number, skip_offset, b"", False, True)
    elif buf:
        number += 1
        yield RawLine(number, buf_offset, bytes(buf), False)


def iter_lines_reversed(
    f: BinaryIO, *, end: int | None = None, start: int = 0, chunk_size: int = 64 * 1024
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, data)`` for the complete lines of ``f`` newest first, reading backwards.

    Only ``\\n``-terminated lines are yielded (a torn final fragment is skipped); ``start`` must
    be a line boundary. Cost: reads only as far back as the caller consumes, in
    ``chunk_size`` blocks.
    """
    if end is None:
        f.seek(0, os.SEEK_END)
        end = f.tell()
    pos = end
    carry = b""  # start of the line that ends where the previous block began
    seen_newline = False
    while pos > start:
        size = min(chunk_size, pos - start)
        pos -= size
        f.seek(pos)
        data = f.read(size) + carry
        if not seen_newline:
            nl = data.rfind(b"\n")
            if nl < 0:
                carry = b""  # still inside the torn fragment: discard it
                continue
            data = data[:nl]
            seen_newline = True
        parts = data.split(b"\n")
        carry = parts[0]
        line_end = pos + len(data)  # offset of the newline that ends the last part
        for piece in reversed(parts[1:]):
            offset = line_end - len(piece)
            yield offset, piece
            line_end = offset - 1
    if seen_newline:
        yield start, carry
