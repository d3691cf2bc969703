"""Plain JSON values from user objects: how a payload becomes what a record line can hold.

:func:`to_plain` converts any payload (lifecycle event fields, dead-letter messages) into plain
JSON values the way the record grammar (:mod:`papyra.persistence.grammar`) writes them, and
:func:`normalize_address` turns every address form into the ``"system:actor_id"`` string. Both are
iterative (no recursion) and bounded by :data:`MAX_NESTING_DEPTH`, the grammar's nesting limit,
defined here because payload conversion is the first place that enforces it.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import enum
import math
import os
import uuid
from typing import Any

import msgspec

from papyra.exceptions import EncodingError

__all__ = ["MAX_NESTING_DEPTH", "normalize_address", "to_plain"]

#: Deepest JSON nesting of a line (the record object is level 1), for writer and reader.
MAX_NESTING_DEPTH = 128

_EXIT = object()  # stack marker: a container's children are done


def _fix_str(s: str) -> str:
    """``s`` as JSON gives it back: a high+low surrogate pair becomes the character it encodes
    (lone surrogates stay). O(1) for ASCII."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return s


def _plain_key(key: Any) -> str:
    """A dict key as ``json.dumps`` writes it; other objects their ``str``."""
    if isinstance(key, str):
        return _fix_str(key)
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        if math.isnan(key):
            return "NaN"
        if math.isinf(key):
            return "Infinity" if key > 0 else "-Infinity"
        return float.__repr__(key)
    return _fix_str(str(key))


def _plain_scalar(value: Any) -> tuple[bool, Any]:
    """``(True, plain)`` for a value that is not a container, ``(False, items)`` for one:
    ``items`` is a dict (its keys already plain strings) or a list of children."""
    if value is None or value is True or value is False:
        return True, value
    if isinstance(value, str):
        return True, _fix_str(value)
    if isinstance(value, enum.Enum):
        return _plain_scalar(value.value)
    if isinstance(value, int):
        return True, int(value)
    if isinstance(value, float):
        return True, float(value) if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True, base64.b64encode(value).decode("ascii")
    if isinstance(value, BaseException):
        return True, _fix_str(f"{type(value).__name__}: {value}")
    if isinstance(value, dict):
        return False, value
    if isinstance(value, (list, tuple, set, frozenset)):
        return False, list(value)
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return False, {name: getattr(value, name, None) for name in value.__dataclass_fields__}
    if isinstance(value, msgspec.Struct):
        return False, {name: getattr(value, name, None) for name in value.__struct_fields__}
    if isinstance(value, os.PathLike):
        return _plain_scalar(os.fspath(value))
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return True, value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return True, str(value)
    return True, _fix_str(repr(value))


def to_plain(value: Any) -> Any:
    """``value`` as plain JSON data — exactly what every backend reads back after writing it.

    ``None``/bools/ints/strings stay (a surrogate *pair* becomes its character; lone
    surrogates stay); finite floats stay, NaN and infinities become ``None``; bytes become
    base64 text; exceptions ``"Type: message"``; lists, tuples and sets lists; dicts,
    dataclasses and msgspec Structs dicts with string keys (``None``→``"null"``,
    ``True``→``"true"``, ``1``→``"1"``, ``1.5``→``"1.5"``, other keys their ``str``); enums
    their value; datetimes ISO 8601 text; UUIDs and Decimals their ``str``; path-likes their
    path; anything else its ``repr``. Never pickles, imports or recurses.

    Raises :class:`~papyra.exceptions.EncodingError` (a ``ValueError``) for a cyclic value, one
    nested deeper than :data:`MAX_NESTING_DEPTH`, or two dict keys that become the same string.
    Cost: O(size of value), iterative.
    """
    done, plain = _plain_scalar(value)
    if done:
        return plain
    root: list[Any] = [None]
    # (original, its items, parent container, key in parent, depth); items is _EXIT when the
    # original's children are all done (the set of originals on the current path finds cycles).
    stack: list[tuple[Any, Any, Any, Any, int]] = [(value, plain, root, 0, 1)]
    active: set[int] = set()
    while stack:
        original, items, parent, key, depth = stack.pop()
        if items is _EXIT:
            active.discard(id(original))
            continue
        if id(original) in active:
            raise EncodingError("cannot encode a cyclic value")
        if depth > MAX_NESTING_DEPTH:
            raise EncodingError(f"value nested too deeply (more than {MAX_NESTING_DEPTH} levels)")
        active.add(id(original))
        stack.append((original, _EXIT, None, None, 0))
        out: Any
        children: list[tuple[Any, Any]]
        if isinstance(items, dict):
            out = {}
            children = []
            for k, v in items.items():
                pk = _plain_key(k)
                if pk in out:
                    raise EncodingError(f"dict keys collide: {k!r} and another key both become {pk!r}")
                out[pk] = None
                children.append((pk, v))
        else:
            out = [None] * len(items)
            children = list(enumerate(items))
        parent[key] = out
        for ck, child in reversed(children):
            done, plain = _plain_scalar(child)
            if done:
                out[ck] = plain
            else:
                stack.append((child, plain, out, ck, depth + 1))
    return root[0]


def normalize_address(value: Any) -> str | None:
    """Return an address as the string ``"system:actor_id"``.

    Accepts a string (kept as is), ``{"system", "actor_id"}``, an ActorRef-shaped dict with an
    ``_address`` key, an object with ``system``/``actor_id`` attributes, or ``None``. Iterative.
    """
    for _ in range(MAX_NESTING_DEPTH):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict):
            if "_address" in value:
                value = value["_address"]
                continue
            if "system" in value and "actor_id" in value:
                return f"{value['system']}:{value['actor_id']}"
            return None
        system = getattr(value, "system", None)
        actor_id = getattr(value, "actor_id", None)
        if system is not None and actor_id is not None:
            return f"{system}:{actor_id}"
        address = getattr(value, "address", None)
        if address is None or address is value:
            return str(value)
        value = address
    return None
