"""Credential redaction for everything the CLI prints.

``redis://user:secret@host`` becomes ``redis://user:***@host`` (any URL scheme), and
``password=…`` / ``passwd=…`` / ``token=…`` query parameters lose their values. Applied to every
line of output and every error message.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/\s]*):(?P<pw>[^@/\s]+)@")
_QUERY = re.compile(r"(?P<key>[?&;](?:password|passwd|pwd|token|secret)=)[^&;#\s]*", re.IGNORECASE)


def redact(text: str) -> str:
    """Return ``text`` with URL passwords and secret query parameters replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _QUERY.sub(lambda m: f"{m['key']}***", text)
