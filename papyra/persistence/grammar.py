"""The record grammar: the one definition of a persisted line, for every path.

Every path that writes or reads records goes through this module: the writer (file and Redis),
reads and tail reads, ``scan()``, REPAIR/QUARANTINE, compaction, the CLI (``inspect``,
``--follow``, statistics) and the Redis ``data`` field. So what the writer writes, the reader
reads, and what the reader would not accept, the writer refuses.

**A line** is the bytes up to (not including) ``\\n``; a final fragment without ``\\n`` is
*incomplete* (a torn tail, never a record for reads). A line is

* *blank* — only spaces, tabs and ``\\r`` (after an optional BOM): ignored by reads, scan and
  repair (kept as it is), never an anomaly;
* a *record* — one UTF-8 JSON object with a known ``kind`` and the :data:`REQUIRED_FIELDS` of
  that kind; a leading UTF-8 BOM (``EF BB BF``) and a trailing ``\\r`` (CRLF) are accepted; any
  other key order, spacing, ``\\u`` escapes, ``NaN``/``Infinity``/``-Infinity`` (read as floats),
  lone-surrogate escapes (read as lone surrogates), unknown keys, object-form addresses and
  missing optional fields (defaults) are accepted;
* otherwise *unreadable* (``CORRUPTED_LINE`` for ``scan()``, with the reason): invalid UTF-8
  anywhere (keys included), NUL bytes, bad JSON, not an object, unknown or missing ``kind``, a
  missing required field, a field of the wrong type, a damaged key name (an unknown key within
  two edits of a field of the kind that is missing, such as ``"total_actorr"``), longer than
  :data:`MAX_LINE_BYTES` ("line too long") or nested deeper than :data:`MAX_NESTING_DEPTH`
  ("nested too deeply").

**Limits** (the same constants for writer and reader): a line holds at most
:data:`MAX_LINE_BYTES` bytes (64 MiB, newline excluded) and nests at most
:data:`~papyra.persistence.plain.MAX_NESTING_DEPTH` (128) JSON levels, the record object
itself being level 1 (so a payload may nest 127 levels). Depth is measured on the bytes without
recursion, before any decoding; decoding never raises ``RecursionError``, whatever the caller's stack depth.

**Writing** (:func:`encode_record`): compact UTF-8 JSON, ``kind`` first, every field, then
``\\n`` — strict JSON (``json.loads`` reads every line). Payloads become plain JSON values by
:func:`~papyra.persistence.plain.to_plain` (non-string keys as ``json.dumps`` converts them,
bytes as base64, NaN and infinities ``null``, lone surrogates escaped as ``\\udcXX``). A record
that cannot be written within the grammar — a cyclic or too-deep payload, two keys that become the
same string, a non-finite timestamp, a line over the size limit — raises
:class:`~papyra.exceptions.EncodingError` (a ``ValueError``) and nothing is written.

**Splitting**: :func:`iter_lines` (forwards) and :func:`iter_lines_reversed` (backwards from the
end, for tail reads) stream a binary file in bounded memory; a line over the limit is reported
as oversized and never buffered.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from itertools import accumulate, count, repeat
from operator import add
from typing import Any, BinaryIO, TypeVar, Union

import msgspec

from papyra.address import ActorAddress
from papyra.conf.validation import is_finite_number
from papyra.exceptions import EncodingError
from papyra.persistence.models import (
    RECORD_KINDS,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistedRecord,
)
from papyra.persistence.plain import MAX_NESTING_DEPTH, normalize_address, to_plain

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_NESTING_DEPTH",
    "REQUIRED_FIELDS",
    "LineError",
    "LineTally",
    "RawLine",
    "decode_record",
    "encode_record",
    "encode_record_body",
    "is_blank",
    "iter_lines",
    "iter_lines_reversed",
    "iter_unreadable_lines",
    "nesting_depth",
    "parse_line",
    "record_kind",
]

#: Longest line (bytes, newline excluded) the writer writes and the reader decodes: 64 MiB.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: Keys a line must hold to be a record of its kind. Every other field has a default (minimal
#: rows of the earlier release, such as ``{"kind": "event", "timestamp": 1}``, are records).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "event": ("kind", "timestamp"),
    "audit": ("kind", "timestamp"),
    "dead_letter": ("kind", "timestamp"),
}

_BOM = b"\xef\xbb\xbf"
_CHUNK = 1024 * 1024
_BLANK = b" \t\r"
_BLANK_FIRST = b" \t\r\xef"  # first byte of a blank line (\xef: a BOM)

_encoder = msgspec.json.Encoder()
_typed_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    Union[PersistedEvent, PersistedAudit, PersistedDeadLetter]  # noqa: UP007
)
_KIND_OF: dict[type, str] = {cls: kind for kind, cls in RECORD_KINDS.items()}
_FIELDS: dict[str, tuple[str, ...]] = {k: cls.__struct_fields__ for k, cls in RECORD_KINDS.items()}

T = TypeVar("T")


class LineError(ValueError):
    """One line could not be decoded into a record. ``reason`` is a short readable cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def record_kind(record: PersistedRecord) -> str:
    """The ``kind`` discriminator of a record (``"event"``, ``"audit"``, ``"dead_letter"``)."""
    return _KIND_OF[type(record)]


def _off_stack(fn: Callable[[Any], T], arg: Any) -> T:
    """Run ``fn(arg)`` on a fresh thread (a fresh recursion budget) and return or raise its
    outcome. Used only when the caller's own stack is too deep for a bounded-depth C
    encode/decode. Cost: one short-lived thread."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, fn(arg)))
        except BaseException as exc:  # handed back to the caller below
            box.append((False, exc))

    t = threading.Thread(target=run, name="papyra-grammar", daemon=True)
    t.start()
    t.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- limits

# A JSON string (no recursion in the regex engine: one character class loop).
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def nesting_depth(data: bytes | bytearray | memoryview) -> int:
    """The deepest JSON nesting in ``data`` (``{}`` is 1), counted on the bytes without
    recursion; brackets inside strings do not count. O(len(data)), mostly in C."""
    brackets = _STRING_RE.sub(b"", bytes(data)).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _too_deep(data: bytes) -> bool:
    # Fewer opening brackets than the limit cannot nest deeper: two C scans answer most lines.
    if data.count(b"[") + data.count(b"{") <= MAX_NESTING_DEPTH:
        return False
    return nesting_depth(data) > MAX_NESTING_DEPTH


#: Shortest valid JSON that can nest deeper than the limit (an opening and a closing bracket
#: per level): a shorter line that decodes, or that the encoder wrote, needs no depth count.
_DEEP_LINE = 2 * (MAX_NESTING_DEPTH + 1)


def _limit_error(data: bytes) -> str | None:
    """Why ``data`` (one line, newline excluded) breaks a limit, or None."""
    if len(data) > MAX_LINE_BYTES:
        return f"line too long ({len(data)} bytes; the limit is {MAX_LINE_BYTES})"
    if _too_deep(data):
        return f"nested too deeply (more than {MAX_NESTING_DEPTH} levels)"
    return None


# --------------------------------------------------------------------------- encode

_AUDIT_COUNTS = tuple(
    name for name, kind in PersistedAudit.__annotations__.items() if kind == "int"
)
_TEXT = "a str"
_ADDRESS = "a str 'system:actor_id', an ActorAddress or None"
_COUNT = "an int (not a bool)"
_NAMES = "a tuple or list of str"
#: What each record field (payload and timestamp aside) must be, as the error states it.
_FIELD_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    kind: tuple(
        (name, _TEXT if name in ("system_id", "event_type", "message_type")
         else _ADDRESS if name in ("actor_address", "target")
         else _COUNT if name in _AUDIT_COUNTS else _NAMES)
        for name in fields
        if name not in ("payload", "timestamp")
    )
    for kind, fields in _FIELDS.items()
}


def _fields_typed(record: PersistedRecord) -> bool:
    """True when the record's own fields (not the payload) have exactly their declared types,
    so the reader's typed decode reads them back as they are. O(number of fields)."""
    if type(record.system_id) is not str:
        return False
    if type(record) is PersistedEvent:
        return type(record.event_type) is str and (
            record.actor_address is None or type(record.actor_address) is str
        )
    if type(record) is PersistedDeadLetter:
        return type(record.message_type) is str and (record.target is None or type(record.target) is str)
    return all(type(getattr(record, name)) is int for name in _AUDIT_COUNTS) and all(
        type(names) is tuple and all(type(n) is str for n in names)
        for names in (record.registry_orphans, record.registry_dead)  # type: ignore[union-attr]
    )


_WRONG = object()


def _field_value(rule: str, value: Any) -> Any:
    """``value`` as its field's declared type, or ``_WRONG``: str subclasses (str enums) become
    their text, int subclasses (int enums) their int, an ActorAddress its ``"system:actor_id"``,
    a list of names a tuple. Nothing else is converted (an object, a dict or a number is never
    taken for an address: the reader would not give it back)."""
    if rule is _COUNT:
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else _WRONG
    if rule is _NAMES:
        if isinstance(value, (tuple, list)) and all(isinstance(n, str) for n in value):
            return tuple(str.__str__(n) for n in value)
        return _WRONG
    if rule is _ADDRESS:
        if value is None:
            return None
        if isinstance(value, ActorAddress):
            return str(value)
    return str.__str__(value) if isinstance(value, str) else _WRONG


def _typed_record(record: PersistedRecord, kind: str) -> PersistedRecord:
    """``record`` with its own fields as their declared types (see :func:`_field_value`), or
    raise :class:`~papyra.exceptions.EncodingError` naming the first field of a wrong type.
    O(number of fields); only for records :func:`_fields_typed` does not pass."""
    changes: dict[str, Any] = {}
    for name, rule in _FIELD_RULES[kind]:
        value = getattr(record, name)
        fixed = _field_value(rule, value)
        if fixed is _WRONG:
            raise EncodingError(
                f"cannot encode {kind} record: field {name!r} must be {rule}, "
                f"got {type(value).__name__} {_short_repr(value)}"
            )
        if fixed is not value:
            changes[name] = fixed
    return msgspec.structs.replace(record, **changes)


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__: the type name says enough
        return "(unprintable)"
    return text if len(text) <= 40 else text[:37] + "..."


def _encode_plain(record: PersistedRecord) -> bytes:
    fields = {"kind": record_kind(record)}
    fields.update((name, getattr(record, name)) for name in record.__struct_fields__)
    plain = to_plain(fields)
    try:
        return _encoder.encode(plain)
    except UnicodeEncodeError:  # lone surrogates: JSON escapes (\\udcXX), as json.dumps writes them
        return json.dumps(plain, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _checked_body(record: PersistedRecord, kind: str) -> bytes:
    """The slow path of :func:`encode_record_body`: check the fields (named errors), convert the
    payload by :func:`to_plain`, encode."""
    ts = record.timestamp
    if not is_finite_number(ts):
        raise EncodingError(
            f"cannot encode {kind} record: field 'timestamp' must be a finite number, "
            f"got {_short_repr(ts)}"
        )
    if not _fields_typed(record):
        record = _typed_record(record, kind)
    try:
        try:
            return _encode_plain(record)
        except RecursionError:  # the caller's stack is nearly exhausted
            return _off_stack(_encode_plain, record)
    except EncodingError as exc:
        raise EncodingError(f"cannot encode {kind} record: {exc}") from None
    except Exception as exc:  # e.g. a payload object whose __repr__ raises
        raise EncodingError(f"cannot encode {kind} record: {exc}") from exc


def encode_record_body(record: PersistedRecord) -> bytes:
    """Encode one record as compact JSON, ``kind`` first, without the newline (the Redis
    ``data`` field; :func:`encode_record` adds the newline).

    The record's own fields must have their declared types: ``system_id``, ``event_type`` and
    ``message_type`` a ``str``; ``actor_address`` and ``target`` a ``str``, an
    :class:`~papyra.address.ActorAddress` (written as ``"system:actor_id"``) or ``None``; the
    audit counts an ``int`` (not a ``bool``); ``registry_orphans``/``registry_dead`` a tuple or
    list of ``str``; ``timestamp`` a finite ``int``/``float``. The payload may be anything
    (:func:`to_plain`).

    Raises ``TypeError`` for a non-record and :class:`~papyra.exceptions.EncodingError` (a
    ``ValueError``) naming the field for a field of a wrong type, and for a record the reader
    would not accept: a non-finite timestamp, a cyclic payload, nesting deeper than
    :data:`MAX_NESTING_DEPTH`, colliding keys, more than :data:`MAX_LINE_BYTES` bytes.

    Cost, O(record size), no lock: for a record of typed fields and a plain JSON payload, one
    msgspec encode and one typed msgspec decode (the reader's, checking that the bytes read back
    as the record); otherwise the field checks and an iterative :func:`to_plain` conversion
    before the encode.
    """
    kind = _KIND_OF.get(type(record))
    if kind is None:
        raise TypeError(
            f"expected PersistedEvent, PersistedAudit or PersistedDeadLetter, got {type(record)!r}"
        )
    # Fast path: msgspec's native encoding, kept when the reader's own typed decode gives back a
    # record equal to ``record``: then every field had its declared type and the payload was
    # plain JSON data (str-keyed dicts, lists, strings, numbers, booleans, None), so the bytes
    # are exactly to_plain's. Anything else (tuples, sets, bytes, datetimes, objects, NaN, lone
    # surrogates, cycles, fields of other types) takes the checked path. (An object whose __eq__
    # claims equality with plain data is taken at its word: stored as msgspec encodes it, and
    # still a line the reader reads, as the decode just showed.)
    body: bytes | None
    try:
        body = _encoder.encode(record)
        if _typed_decoder.decode(body) != record:
            body = None
    except Exception:  # not encodable natively or not decodable alike (or a raising __eq__)
        body = None
    if body is None:
        body = _checked_body(record, kind)
    if len(body) >= _DEEP_LINE and (
        len(body) > MAX_LINE_BYTES or body.count(b"[") + body.count(b"{") > MAX_NESTING_DEPTH
    ):
        problem = _limit_error(body)  # the reader's verdict on this line
        if problem is not None:
            raise EncodingError(f"cannot encode {kind} record: {problem}")
    return body


def encode_record(record: PersistedRecord) -> bytes:
    """Encode one record as an NDJSON line (``kind`` first, all fields, trailing ``\\n``).
    Same errors and cost as :func:`encode_record_body`."""
    return encode_record_body(record) + b"\n"


# --------------------------------------------------------------------------- decode


def is_blank(data: bytes | bytearray | memoryview) -> bool:
    """True for a blank line (only spaces, tabs, ``\\r``, after an optional BOM). O(len)."""
    b = bytes(data)
    if b.startswith(_BOM):
        b = b[3:]
    return not b.strip(_BLANK)


def parse_line(data: bytes) -> PersistedRecord | None:
    """The record on one line (newline excluded), ``None`` for a blank line; raises
    :class:`LineError` for an unreadable one. Never raises anything else (no ``RecursionError``).

    Cost: one msgspec decode for lines in the current format (plus a count of brackets for lines
    long enough to nest past the limit); lines in other styles take a ``json.loads`` and
    normalisation.
    """
    if not data or (data[0] in _BLANK_FIRST and is_blank(data)):
        return None
    return _decode_bytes(data if type(data) is bytes else bytes(data))


def decode_record(line: bytes | bytearray | memoryview | str) -> PersistedRecord:
    """Decode one line (newline excluded) into a record, or raise :class:`LineError` (a blank
    line is an error here; see :func:`parse_line`). Never raises anything else."""
    if type(line) is bytes:
        data = line
    elif isinstance(line, str):
        data = line.encode("utf-8", "surrogatepass")
    else:
        data = bytes(line)
    return _decode_bytes(data)


def _decode_bytes(data: bytes) -> PersistedRecord:
    size = len(data)
    syntax: str | None = None
    if size <= MAX_LINE_BYTES:
        try:
            record: PersistedRecord = _typed_decoder.decode(data)  # the current format: one decode
        except msgspec.ValidationError:
            pass
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            syntax = str(exc)  # kept for the detail if json.loads fails too
        except RecursionError:  # nested very deeply, or the caller's stack is nearly exhausted
            pass
        else:  # valid JSON is balanced: a line shorter than _DEEP_LINE cannot nest too deeply
            if size < _DEEP_LINE or not _too_deep(data):
                return record
    problem = _limit_error(data)  # before any recursive decoding
    if problem is not None:
        raise LineError(problem)
    try:
        if syntax is not None and data.startswith(_BOM):  # a first line as editors write it: rare
            return _decode_slow(data[3:])
        return _decode_slow(data, syntax)
    except RecursionError:  # the caller's stack is nearly exhausted
        return _off_stack(_decode_slow, data)


def _text_of(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineError(f"invalid UTF-8 at byte {exc.start}") from None
    if "\x00" in text:
        raise LineError("NUL bytes in line")
    if not text.strip(" \t\r\n"):
        raise LineError("blank line")
    return text


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance of two short keys (capped: 3 means "3 or more"). O(len(a)·len(b))."""
    if abs(len(a) - len(b)) > 2 or len(a) > 64 or len(b) > 64:
        return 3
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return min(row[-1], 3)


def _decode_slow(data: bytes, syntax: str | None = None) -> PersistedRecord:
    text = _text_of(data)
    try:
        obj = json.loads(text)  # NaN/Infinity, lone-surrogate escapes, any spacing
    except ValueError as exc:
        raise LineError(f"invalid JSON: {syntax or exc}") from None
    if not isinstance(obj, dict):
        raise LineError(f"not a JSON object (got {type(obj).__name__})")
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in RECORD_KINDS:
        raise LineError(f"unknown kind {kind!r}" if "kind" in obj else "missing 'kind'")
    cls = RECORD_KINDS[kind]
    for name in REQUIRED_FIELDS[kind]:
        if obj.get(name) is None:
            raise LineError(f"missing required field {name!r} for kind {kind!r}")
    known = _FIELDS[kind]
    missing = [name for name in known if name not in obj]
    if missing:
        for key in obj:
            if key != "kind" and key not in known:
                near = next((name for name in missing if _edit_distance(key, name) <= 2), None)
                if near is not None:
                    raise LineError(f"damaged key {key!r}: field {near!r} of kind {kind!r} is missing")
    fields = {name: obj[name] for name in known if name in obj}
    ts = fields["timestamp"]
    if not is_finite_number(ts):
        raise LineError(
            f"invalid field for kind {kind!r}: timestamp must be a finite number, got {repr(ts)[:40]}"
        )
    if cls is PersistedEvent and "actor_address" in fields:
        fields["actor_address"] = normalize_address(fields["actor_address"])
    if cls is PersistedDeadLetter and "target" in fields:
        fields["target"] = normalize_address(fields["target"])
    try:
        record: PersistedRecord = msgspec.convert(fields, cls)
        return record
    except msgspec.ValidationError as exc:
        raise LineError(f"invalid field for kind {kind!r}: {exc}") from None


# --------------------------------------------------------------------------- line splitting

#: One physical line: ``(number, offset, data, complete, oversized)``. ``data`` excludes the
#: newline; ``complete`` is False for a final fragment without ``\\n``; ``oversized`` is True for
#: a line longer than :data:`MAX_LINE_BYTES` (``data`` is then empty). Numbers count from 1.
RawLine = tuple[int, int, bytes, bool, bool]


#: A run of complete lines within :data:`MAX_LINE_BYTES` — ``(number, offset, lines, tail)``:
#: ``lines`` (newlines excluded, possibly none) start at line ``number`` and byte ``offset``;
#: ``tail`` is a line outside any run (oversized, or the final fragment), or None.
_Run = tuple[int, int, list[bytes], Union[RawLine, None]]  # noqa: UP007


def _iter_runs(f: BinaryIO, start: int, end: int | None) -> Iterator[_Run]:
    """The lines of ``f`` from ``start`` to ``end`` as runs (one per block read, split in C):
    see :func:`iter_lines`, which flattens them."""
    max_line = MAX_LINE_BYTES
    f.seek(start)
    remaining = None if end is None else max(0, end - start)
    number = 1  # number of the pending (unfinished) line
    offset = start  # its offset
    pending: list[bytes] = []  # its pieces, joined once its newline arrives (linear, not quadratic)
    pending_len = 0
    skipping = False  # inside a line longer than max_line
    skip_offset = 0
    while True:
        want = _CHUNK if remaining is None else min(_CHUNK, remaining)
        block = f.read(want) if want else b""
        if not block:
            break
        if remaining is not None:
            remaining -= len(block)
        if skipping:
            nl = block.find(b"\n")
            if nl < 0:
                offset += len(block)
                continue
            yield number, offset, [], (number, skip_offset, b"", True, True)
            number += 1
            skipping = False
            offset += nl + 1
            block = block[nl + 1 :]
        cut = block.rfind(b"\n")
        if cut < 0:
            pending.append(block)
            pending_len += len(block)
        else:
            data = b"".join((*pending, block[:cut])) if pending else block[:cut]
            pending = [block[cut + 1 :]]
            pending_len = len(pending[0])
            if len(data) <= max_line:  # no line over the limit: one run
                lines = data.split(b"\n")
                yield number, offset, lines, None
                number += len(lines)
                offset += len(data) + 1
            else:
                for line in data.split(b"\n"):
                    if len(line) > max_line:
                        yield number, offset, [], (number, offset, b"", True, True)
                    else:
                        yield number, offset, [line], None
                    number += 1
                    offset += len(line) + 1
        if pending_len > max_line:
            skipping = True
            skip_offset = offset
            offset += pending_len
            pending, pending_len = [], 0
    if skipping:
        yield number, offset, [], (number, skip_offset, b"", False, True)
    elif pending_len:
        yield number, offset, [], (number, offset, b"".join(pending), False, False)


def iter_lines(f: BinaryIO, *, start: int = 0, end: int | None = None) -> Iterator[RawLine]:
    """Yield the lines of ``f`` from byte ``start`` up to ``end`` (default: EOF as read).

    Splits whole 1 MiB blocks in C; memory is bounded by the block plus :data:`MAX_LINE_BYTES`
    (an oversized line is skipped, not buffered). Line numbers count from 1 at ``start``.
    Cost: one sequential read of the range.
    """
    for number, offset, lines, tail in _iter_runs(f, start, end):
        if lines:  # the tuples of a run are made in C
            starts = accumulate(map(add, map(len, lines), repeat(1)), initial=offset)
            yield from zip(count(number), starts, lines, repeat(True), repeat(False))
        if tail is not None:
            yield tail


class LineTally:
    """What :func:`iter_unreadable_lines` passed over: ``lines`` read (the last line's number)
    and ``records`` among them."""

    __slots__ = ("lines", "records")

    def __init__(self) -> None:
        self.lines = 0
        self.records = 0


def _all_records(lines: list[bytes]) -> bool:
    """True when every line is a record in the current format within the limits: one typed
    decode per line, all in C (no Python frame per line); False sends the caller line by line."""
    try:
        deque(map(_typed_decoder.decode, lines), maxlen=0)
    except Exception:  # any line that is not (blank, other styles, damage, deep nesting)
        return False
    if max(map(len, lines)) < _DEEP_LINE:
        return True
    opening = map(add, map(bytes.count, lines, repeat(b"[")), map(bytes.count, lines, repeat(b"{")))
    return max(opening) <= MAX_NESTING_DEPTH or not any(map(_too_deep, lines))


def iter_unreadable_lines(
    f: BinaryIO, tally: LineTally, *, start: int = 0, end: int | None = None
) -> Iterator[tuple[RawLine, str]]:
    """Yield ``(line, reason)`` for every line of ``f`` (as :func:`iter_lines` gives them) that
    is not a record or blank: unreadable (the reason :func:`parse_line` gives), oversized
    (``"line too long"``) or the final fragment without a newline (``"incomplete"``). ``tally``
    counts every line passed over and the records; a gap in the yielded line numbers means
    readable lines in between.

    Cost: one sequential read; one typed decode per line, made in C for a block whose lines are
    all records in the current format (the usual case), else line by line.
    """
    for number, offset, lines, tail in _iter_runs(f, start, end):
        if lines:
            tally.lines = number + len(lines) - 1
            if _all_records(lines):
                tally.records += len(lines)
            else:
                for data in lines:
                    try:
                        record = parse_line(data)
                    except LineError as exc:
                        yield (number, offset, data, True, False), exc.reason
                    else:
                        tally.records += record is not None
                    number += 1
                    offset += len(data) + 1
        if tail is not None:
            tally.lines = tail[0]
            yield tail, "line too long" if tail[4] else "incomplete"


def iter_lines_reversed(
    f: BinaryIO, *, end: int | None = None, start: int = 0, chunk_size: int = 64 * 1024
) -> Iterator[tuple[int, bytes | None, int]]:
    """Yield ``(offset, data, length)`` for the complete lines of ``f`` newest first, reading
    backwards from ``end`` (default: the file size). ``data`` excludes the newline and is
    ``None`` for a line longer than :data:`MAX_LINE_BYTES` (never buffered); ``length`` is the
    line's size without its newline.

    A torn final fragment (no ``\\n``) is skipped; ``start`` must be a line boundary. Cost:
    reads only as far back as the caller consumes, in ``chunk_size`` blocks.
    """
    max_line = MAX_LINE_BYTES
    if end is None:
        f.seek(0, os.SEEK_END)
        end = f.tell()
    pos = end
    pending: list[bytes] = []  # pieces of the line being assembled, the piece read last first
    pending_len = 0
    oversized = False  # the line being assembled is over the limit: its pieces are dropped
    line_end = -1  # offset of the newline ending that line; -1 while inside a torn fragment
    while pos > start:
        size = min(chunk_size, pos - start)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        if line_end < 0:
            nl = block.rfind(b"\n")
            if nl < 0:
                continue  # still inside the torn fragment
            line_end = pos + nl
            block = block[:nl]
        parts = block.split(b"\n")
        if len(parts) > 1:
            tail = parts[-1]  # completes the line being assembled
            line_start = line_end - pending_len - len(tail)
            if oversized or pending_len + len(tail) > max_line:
                yield line_start, None, line_end - line_start
            else:
                pending.append(tail)
                yield line_start, b"".join(reversed(pending)), line_end - line_start
            line_end = line_start - 1
            for piece in reversed(parts[1:-1]):
                offset = line_end - len(piece)
                yield offset, (None if len(piece) > max_line else piece), len(piece)
                line_end = offset - 1
            pending, pending_len, oversized = [], 0, False
        head = parts[0]  # the end of an earlier line
        pending_len += len(head)
        if oversized or pending_len > max_line:
            oversized = True
            pending.clear()
        else:
            pending.append(head)
    if line_end >= 0:
        if oversized or pending_len > max_line:
            yield start, None, pending_len
        else:
            yield start, b"".join(reversed(pending)), pending_len
