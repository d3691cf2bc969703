"""Configuration, key naming and credential redaction for the Redis Streams backend.

Nothing here imports ``redis``: the client package is an optional extra (``papyra[redis]``)
loaded by :func:`import_redis` only when a backend is created.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any, Literal

from papyra.conf.validation import check_int, check_number
from papyra.exceptions import ConfigurationError, MissingDependencyError

__all__ = [
    "KIND_STREAMS",
    "RedisStreamsConfig",
    "StreamKind",
    "import_redis",
    "redact_url",
    "resolve_kind",
]

#: The three stream suffixes (one stream per record kind).
StreamKind = Literal["events", "audits", "dead_letters"]

#: Record ``kind`` discriminator -> stream suffix.
KIND_STREAMS: dict[str, StreamKind] = {"event": "events", "audit": "audits", "dead_letter": "dead_letters"}

_SCHEMES = ("redis", "rediss", "unix")
_SECRET_QUERY_KEYS = ("password", "pass", "pwd", "token")


def import_redis() -> ModuleType:
    """Import the ``redis`` client package or raise :class:`MissingDependencyError`."""
    try:
        import redis
    except ImportError as exc:
        raise MissingDependencyError(
            "the Redis Streams backend needs the 'redis' package: pip install 'papyra[redis]'"
        ) from exc
    return redis


def resolve_kind(kind: str) -> StreamKind:
    """Map ``"events"``/``"event"`` (and the audit/dead-letter forms) to a stream suffix."""
    if isinstance(kind, str):
        if kind in KIND_STREAMS.values():
            return kind  # type: ignore[return-value]
        if kind in KIND_STREAMS:
            return KIND_STREAMS[kind]
    raise ValueError(
        f"unknown stream kind {kind!r}; expected 'events', 'audits' or 'dead_letters'"
    )


def redact_url(url: str) -> str:
    """``url`` with any password (userinfo or query parameter) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
            # "redis://secret@host" (no colon) puts the password in the user slot for redis-py.
            netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
        query = parts.query
        if query:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            query = urllib.parse.urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
            )
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except Exception:
        return re.sub(r"//[^/@]*@", "//***@", url.split("?", 1)[0])


def url_secrets(url: str) -> tuple[str, ...]:
    """Every secret string in ``url`` (raw and percent-decoded), longest first."""
    found: set[str] = set()
    try:
        parts = urllib.parse.urlsplit(url)
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            found.add(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo)
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if k.lower() in _SECRET_QUERY_KEYS:
                found.add(v)
    except Exception:
        pass
    found |= {urllib.parse.unquote(s) for s in found}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret in ``text`` by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


@dataclass(frozen=True, repr=False)
class RedisStreamsConfig:
    """Where and how the Redis Streams backend stores records.

    * ``url`` — ``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS, or
      ``unix://``. The password is never shown by ``repr``, ``describe()``, logs or errors.
    * ``prefix``/``system_id`` — streams are ``{prefix}:{system_id}:events|audits|dead_letters``.
    * ``approx_trim`` — retention trims on write with ``MAXLEN ~``/``MINID ~`` (cheap, may keep a
      few extra entries); ``False`` trims exactly. ``compact()`` is always exact.
    * ``scan_sample_size`` — scan only the newest N entries per stream (None: every entry).
    * ``quarantine_prefix`` — base of quarantine streams (default ``{prefix}:{system_id}:quarantine``).
    * ``max_buffer`` — records held in memory while Redis is unreachable; beyond it ``record_*``
      raises :class:`~papyra.exceptions.BackPressureError` (after ``buffer_put_timeout`` seconds).
    * ``max_deliveries`` — consumer groups: an entry delivered more often goes to the dead-letter
      stream ``{dead_letter_prefix or prefix:system_id:dlq}:{kind}`` and is acked.
    * ``since_id_slack`` — ``since`` reads stop at stream ids older than ``since`` minus this many
      seconds (entry ids are arrival times, never earlier than the record's own timestamp unless
      clocks disagree); ``None`` checks every entry's timestamp.
    """

    url: str = "redis://localhost:6379/0"
    prefix: str = "papyra"
    system_id: str = "local"
    approx_trim: bool = True
    scan_sample_size: int | None = None
    quarantine_prefix: str | None = None
    max_buffer: int = 100_000
    socket_timeout: float = 5.0
    socket_connect_timeout: float | None = None
    max_deliveries: int = 5
    dead_letter_prefix: str | None = None
    page_size: int = 1000
    max_batch: int = 10_000
    buffer_put_timeout: float = 0.0
    flush_timeout: float = 30.0
    close_timeout: float = 10.0
    since_id_slack: float | None = 300.0
    client_name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or urllib.parse.urlsplit(self.url).scheme not in _SCHEMES:
            raise ConfigurationError(
                f"url must start with redis://, rediss:// or unix://, got {redact_url(str(self.url))!r}"
            )
        for name in ("prefix", "system_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or any(c.isspace() for c in value):
                raise ConfigurationError(f"{name} must be a non-empty string without spaces, got {value!r}")
        for name in ("quarantine_prefix", "dead_letter_prefix", "client_name"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{name} must be a non-empty string or None, got {value!r}")
        if self.scan_sample_size is not None:
            check_int("scan_sample_size", self.scan_sample_size)
        for name in ("max_buffer", "max_deliveries", "page_size", "max_batch"):
            check_int(name, getattr(self, name))
        for name in ("socket_timeout", "flush_timeout", "close_timeout"):
            check_number(name, getattr(self, name), positive=True)
        if self.socket_connect_timeout is not None:
            check_number("socket_connect_timeout", self.socket_connect_timeout, positive=True)
        if self.since_id_slack is not None:
            check_number("since_id_slack", self.since_id_slack)
        check_number("buffer_put_timeout", self.buffer_put_timeout)

    # ------------------------------------------------------------------ naming

    @property
    def base_key(self) -> str:
        return f"{self.prefix}:{self.system_id}"

    def stream_key(self, kind: str) -> str:
        """``{prefix}:{system_id}:{events|audits|dead_letters}``."""
        return f"{self.base_key}:{resolve_kind(kind)}"

    @property
    def stream_keys(self) -> tuple[str, str, str]:
        return (self.stream_key("events"), self.stream_key("audits"), self.stream_key("dead_letters"))

    def quarantine_key(self, source_key: str) -> str:
        """``{quarantine_prefix or prefix:system_id:quarantine}:{source key, ':' -> '_'}``."""
        base = self.quarantine_prefix or f"{self.base_key}:quarantine"
        return f"{base}:{source_key.replace(':', '_')}"

    def dead_letter_key(self, kind: str) -> str:
        """Consumer-group dead-letter stream for entries delivered more than ``max_deliveries``."""
        base = self.dead_letter_prefix or f"{self.base_key}:dlq"
        return f"{base}:{resolve_kind(kind)}"

    # ------------------------------------------------------------------ display

    @property
    def safe_url(self) -> str:
        """The URL with its password replaced by ``***``."""
        return redact_url(self.url)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, with the URL redacted."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["url"] = self.safe_url
        return d

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"RedisStreamsConfig({body})"

    __str__ = __repr__
