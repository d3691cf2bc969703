"""Credential redaction for everything the CLI prints.

``redis://user:secret@host`` becomes ``redis://user:***@host`` (any URL scheme), and
``password=…`` / ``pass=…`` / ``passwd=…`` / ``pwd=…`` / ``token=…`` / ``secret=…`` query
parameters lose their values. Applied to every line of output and every error message.

Fails closed: when the user information of a URL in the text is not plain ``user:password``
(it holds ``/ ? # @`` — a password typed without percent-encoding), everything from ``://`` to the
last ``@`` of that word is masked. The CLI also passes the secrets of every URL it was given
(command line and ``PAPYRA_REDIS_URL``, see
:func:`~papyra.persistence.backends.redis_config.url_secrets`): those strings, raw and
percent-decoded, are masked wherever they appear, whatever the text around them.

A query value runs to the next ``&``, ``;``, ``#`` or whitespace, so a URL quoted in a message —
``failed (redis://h/0?password=x): …`` or ``'redis://h/0?password=x'`` — would swallow the
closing bracket or quote. Trailing closers are given back when an opener before the URL is
still unclosed (a ``)`` inside the password is never shown: only closers that balance the text
around the URL are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["cli_secrets", "redact"]

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>\S*)@")
_PLAIN_USERINFO = re.compile(r"^[^:@/?#]*:[^@/?#]+$")
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


def _mask_userinfo(m: re.Match[str]) -> str:
    userinfo = m["userinfo"]
    if _PLAIN_USERINFO.match(userinfo):
        return f"{m['scheme']}{userinfo.split(':', 1)[0]}:***@"
    return f"{m['scheme']}***@"  # not plain user:password: mask all of it (fails closed)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with URL passwords, secret query parameters and every string of
    ``secrets`` (longest first) replaced by ``***``. O(len(text) * len(secrets))."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(_mask_userinfo, text)
    return _redact_query(text)


def cli_secrets(argv: Iterable[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets (4 characters or more) of every URL on the command line (``--redis-url=URL``
    included) and in ``PAPYRA_REDIS_URL``, for :func:`redact` (see the module docs)."""
    from papyra.persistence.backends.redis_config import url_secrets

    urls = [a.partition("=")[2] if a.startswith("--") else a for a in argv]
    urls.append(environ.get("PAPYRA_REDIS_URL", ""))
    # shorter strings are left to the URL-shaped redaction: masking every "x" of the output
    # would garble it, and no 4-character piece of a password can hide in them
    return tuple({s for u in urls if "://" in u for s in url_secrets(u) if len(s) >= 4})
