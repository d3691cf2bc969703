"""Turning user objects into text for events, dead letters, persisted payloads and log lines.

Every place where Papyra describes an error, a message or a payload it did not create goes
through :func:`describe`, :func:`describe_error` or :func:`describe_payload`, because user code
runs there: a ``__str__`` or ``__repr__`` may raise, recurse for ever or return megabytes. All
three are **total** (they never raise an ``Exception``) and **bounded** (every text they produce
has at most :data:`MAX_TEXT` characters plus a short marker), so a badly behaved object can never
wedge an actor, the supervision path or the recorder.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_TEXT", "describe", "describe_error", "describe_payload"]

#: Longest text kept from a user ``__str__``/``__repr__``; longer text is cut with a marker.
MAX_TEXT = 2000


def _type_name(value: object) -> str:
    try:
        name = type(value).__name__
    except Exception:  # a metaclass with a raising __name__
        return "object"
    return name if isinstance(name, str) else "object"


def _bounded(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}… [{len(text)} chars, cut]"


def _text(value: object, convert: type[str] | object) -> str:
    try:
        text = str(value) if convert is str else repr(value)
    except Exception as exc:
        how = "__str__" if convert is str else "__repr__"
        return f"<{_type_name(value)} object: {how} raised {_type_name(exc)}>"
    return _bounded(text)


def describe(value: object) -> str:
    """``repr(value)``, total and bounded: never raises (a raising ``__repr__`` gives
    ``"<Type object: __repr__ raised Error>"``) and never returns more than :data:`MAX_TEXT`
    characters plus a ``"… [N chars, cut]"`` marker. Cost: the object's own ``__repr__`` (whose
    time Papyra cannot bound) plus O(MAX_TEXT)."""
    return _text(value, repr)


def describe_error(exc: BaseException) -> str:
    """``"TypeName: message"`` for an exception (the form used in events, dead letters and
    persisted payloads), total and bounded like :func:`describe`: a raising ``__str__`` gives
    ``"TypeName: <TypeName object: __str__ raised Error>"``; the message is cut at
    :data:`MAX_TEXT` characters. Never raises. Cost: the exception's ``__str__`` plus
    O(MAX_TEXT)."""
    return f"{_type_name(exc)}: {_text(exc, str)}"


def _bound_leaves(value: Any) -> Any:
    if isinstance(value, str):
        return _bounded(value)
    if isinstance(value, dict):
        return {_bounded(k): _bound_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bound_leaves(v) for v in value]
    return value


def describe_payload(value: object) -> Any:
    """``value`` as plain JSON data for a persisted event or dead letter (the conversion of
    :func:`papyra.persistence.plain.to_plain`: exceptions as ``"Type: message"``, unknown objects
    as their ``repr``), total and bounded: every string in the result is cut at
    :data:`MAX_TEXT` characters, and a value that cannot be converted at all (a raising or
    endlessly recursive ``__repr__``, a key whose ``__str__`` raises) becomes its
    :func:`describe` text. Never raises. Cost: O(size of value) plus the objects' own
    ``__repr__``/``__str__``."""
    from papyra.persistence.plain import to_plain  # lazily: the runtime imports this module early

    try:
        return _bound_leaves(to_plain(value))
    except Exception:
        return describe(value)
