"""Hypothesis strategies for the payloads that stress the record grammar: unicode with lone
surrogates, ``\\u2028``, NUL and CRLF; integers beyond 2**64; NaN and infinities; bytes;
non-string dict keys (``None``, booleans, numbers); tuples; and nesting around the depth limit
(:data:`papyra.persistence.plain.MAX_NESTING_DEPTH`). Used by the conformance kit and by
Papyra's own grammar property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from papyra.persistence.plain import MAX_NESTING_DEPTH

__all__ = ["hard_payloads", "nested"]

_odd_text = st.sampled_from(["\udce9", "a\ud800b", "\u2028", "\u2029", "\ud83d\ude00", "\x00", "\r\n", '"\\'])
_text = st.lists(st.one_of(st.text(max_size=8), _odd_text), max_size=4).map("".join)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
    st.binary(max_size=16),
)
_keys = st.one_of(_text, st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16))


def nested(depth: int) -> Any:
    """A payload nested ``depth`` levels deep (dicts for odd depths, lists for even ones)."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value} if depth % 2 else [value]
    return value


def hard_payloads() -> st.SearchStrategy[Any]:
    """Any payload ``record_*`` may be given, including ones it must refuse (too deep, colliding
    keys after ``json.dumps``-style key conversion)."""
    return st.one_of(
        st.recursive(
            _scalars,
            lambda children: st.one_of(
                st.lists(children, max_size=4),
                st.tuples(children, children),
                st.dictionaries(_keys, children, max_size=4),
            ),
            max_leaves=12,
        ),
        st.integers(MAX_NESTING_DEPTH - 3, MAX_NESTING_DEPTH + 2).map(nested),
    )
