"""Credential redaction for everything the CLI prints.

``redis://user:secret@host`` becomes ``redis://user:***@host`` (any URL scheme), and
``password=…`` / ``pass=…`` / ``passwd=…`` / ``pwd=…`` / ``token=…`` / ``secret=…`` query
parameters lose their values. Applied to every line of output and every error message.

A query value runs to the next ``&``, ``;``, ``#`` or whitespace, so a URL quoted in a message —
``failed (redis://h/0?password=x): …`` or ``'redis://h/0?password=x'`` — would swallow the
closing bracket or quote. Trailing closers are given back when an opener before the URL is
still unclosed (a ``)`` inside the password is never shown: only closers that balance the text
around the URL are).
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")
_QUERY = re.compile(
    r"(?P<key>[?&;](?:password|pass|passwd|pwd|token|secret)=)(?P<value>[^&;#\s]*)", re.IGNORECASE
)
_BRACKETS = {")": "(", "]": "[", "}": "{", ">": "<"}
_QUOTES = ("'", '"', "`")
_TRAILING_PUNCT = ":,."


def _kept_suffix(value: str, before: str) -> str:
    """The closing brackets/quotes (with punctuation after them) at the end of ``value`` that
    close something opened in ``before`` — these belong to the message, not to the secret."""
    opened = {c: before.count(o) - before.count(c) for c, o in _BRACKETS.items()}
    quotes = {q: before.count(q) % 2 for q in _QUOTES}
    cut = i = len(value)
    while i > 0:
        ch = value[i - 1]
        if ch in _BRACKETS and opened[ch] > 0:
            opened[ch] -= 1
            cut = i - 1
        elif quotes.get(ch):
            quotes[ch] = 0
            cut = i - 1
        elif ch not in _TRAILING_PUNCT:  # "x):" keeps "):"; a bare "x." keeps nothing
            break
        i -= 1
    return value[cut:]


def _redact_query(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        suffix = _kept_suffix(m["value"], text[: m.start()])
        return f"{m['key']}***{suffix}"

    return _QUERY.sub(sub, text)


def redact(text: str) -> str:
    """Return ``text`` with URL passwords and secret query parameters replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _redact_query(text)
