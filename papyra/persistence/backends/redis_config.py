"""Configuration, key naming and credential redaction for the Redis Streams backend.

Nothing here imports ``redis``: the client package is an optional extra (``papyra[redis]``)
loaded by :func:`import_redis` only when a backend is created.
"""

from __future__ import annotations

import re
import string
import urllib.parse
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any, Literal

from papyra.conf.validation import check_int, check_number
from papyra.exceptions import ConfigurationError, MissingDependencyError

__all__ = [
    "KIND_STREAMS",
    "SENTINEL_SCHEME",
    "RedisStreamsConfig",
    "SentinelTarget",
    "StreamKind",
    "import_redis",
    "redact_url",
    "resolve_kind",
    "scrub",
    "split_userinfo",
    "url_secrets",
]

#: The three stream suffixes (one stream per record kind).
StreamKind = Literal["events", "audits", "dead_letters"]

#: URL scheme naming a Sentinel-managed primary: ``redis+sentinel://[:pw@]h1:p1,h2:p2/service/db``.
SENTINEL_SCHEME = "redis+sentinel"

#: Record ``kind`` discriminator -> stream suffix.
KIND_STREAMS: dict[str, StreamKind] = {"event": "events", "audit": "audits", "dead_letter": "dead_letters"}

_SCHEMES = ("redis", "rediss", "unix", SENTINEL_SCHEME)
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


#: Characters RFC 3986 allows unencoded in a URL's user information (unreserved, sub-delims, ":").
_USERINFO_CHARS = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:%")
_PCT_OK = re.compile(r"%(?![0-9A-Fa-f]{2})")

AMBIGUOUS_USERINFO = (
    "the user:password part of the Redis URL cannot be parsed unambiguously: percent-encode "
    "special characters in the password (for example '/' as %2F, '@' as %40, '#' as %23, "
    "'?' as %3F, '%' as %25, a space as %20)"
)


def split_userinfo(url: str) -> tuple[str, str | None, str]:
    """``(scheme "://", userinfo or None, the rest)`` of ``url``, parsed strictly.

    The user information is what precedes the ``@`` of the authority (the part before the first
    ``/``, ``?`` or ``#``), which must be the only ``@`` of the whole URL; it may hold only the
    characters RFC 3986 allows there, ``%`` only as a ``%XX`` escape. Raises
    :class:`ConfigurationError` — without echoing the URL — when that cannot be decided (an
    unescaped ``/ ? # @``, a space, …). O(len(url)).
    """
    head, sep, rest = url.partition("://")
    if not sep:
        if "@" in url:
            raise ConfigurationError(AMBIGUOUS_USERINFO)
        return url, None, ""
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    at = rest.find("@")
    if at < 0:
        return head + sep, None, rest
    if at >= end or "@" in rest[at + 1 :]:  # "@" in a password, or a password cut by "/ ? #"
        raise ConfigurationError(AMBIGUOUS_USERINFO)
    userinfo = rest[:at]
    if not set(userinfo) <= _USERINFO_CHARS or _PCT_OK.search(userinfo):
        raise ConfigurationError(AMBIGUOUS_USERINFO)
    return head + sep, userinfo, rest[at + 1 :]


def _mask_query(rest: str) -> str:
    """``rest`` (host, path, query, fragment) with secret query parameters masked."""
    base, qmark, query = rest.partition("?")
    if not qmark:
        return rest
    query, hash_, fragment = query.partition("#")
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    masked = urllib.parse.urlencode(
        [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
    )
    return f"{base}?{masked}{hash_}{fragment}"


def redact_url(url: str) -> str:
    """``url`` with its password (user information, secret query parameters) replaced by ``***``.

    Fails closed: when the user information cannot be parsed unambiguously
    (:func:`split_userinfo`), everything between ``://`` and the last ``@`` is masked, and a
    string that is not a URL at all is masked whole when it holds an ``@``. O(len(url)).
    """
    try:
        head, userinfo, rest = split_userinfo(url)
    except ConfigurationError:
        head, sep, tail = url.partition("://")
        return f"{head}{sep}***@{_mask_query(tail.rsplit('@', 1)[1])}" if sep else "***"
    if userinfo is None:
        return head + _mask_query(rest)
    # "redis://secret@host" (no colon) puts the password in the user slot for redis-py.
    shown = f"{userinfo.split(':', 1)[0]}:***" if ":" in userinfo else "***"
    return f"{head}{shown}@{_mask_query(rest)}"


def url_secrets(url: str) -> tuple[str, ...]:
    """Every secret string in ``url`` (raw and percent-decoded), longest first; for a URL that
    cannot be parsed, the whole candidate user information (up to the last ``@``), what follows
    its first ``:`` and its pieces of 4 characters or more (fails closed)."""
    found: set[str] = set()
    try:
        _, userinfo, rest = split_userinfo(url)
    except ConfigurationError:
        candidate = url.partition("://")[2].rpartition("@")[0] or url
        pieces = (candidate.partition(":")[2], *re.split(r"[/?#@:]", candidate))
        found |= {candidate, *(p for p in pieces if len(p) >= 4)}
        userinfo, rest = None, ""
    if userinfo is not None:
        found.add(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo)
    query = rest.partition("?")[2].partition("#")[0]
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if k.lower() in _SECRET_QUERY_KEYS:
            found.add(v)
    found |= {urllib.parse.unquote(s) for s in found}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret in ``text`` by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class SentinelTarget:
    """What a ``redis+sentinel://`` URL names: the sentinels, the service, the db and password."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int
    password: str | None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Split ``redis+sentinel://[[user]:password@]h1:p1,h2:p2/service_name[/db]``.

    The password (if any) is the primary's; sentinels are asked without one. Raises
    :class:`ConfigurationError` (never showing the password) when a part is missing or malformed.
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    password: str | None = None
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        password = urllib.parse.unquote(userinfo.split(":", 1)[1] if ":" in userinfo else userinfo) or None
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                f"sentinel address must be host:port, got {item!r} in {redact_url(url)!r}"
            )
        hosts.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigurationError(
            f"sentinel URL must end in /service_name or /service_name/db, got {redact_url(url)!r}"
        )
    db = int(path[1]) if len(path) == 2 else 0
    return SentinelTarget(tuple(hosts), urllib.parse.unquote(path[0]), db, password)


@dataclass(frozen=True, repr=False)
class RedisStreamsConfig:
    """Where and how the Redis Streams backend stores records.

    * ``url`` — ``redis://[[user]:password@]host:port/db``, ``rediss://`` for TLS, or
      ``unix://``. The password is never shown by ``repr``, ``describe()``, logs or errors. A
      password holding ``/ ? # @``, a space or another character a URL does not allow there must
      be percent-encoded; otherwise :class:`~papyra.exceptions.ConfigurationError` (which never
      echoes the URL).
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
    * ``cluster`` — ``url`` names one node of a Redis Cluster; the client discovers the others
      (each stream is one key, so it lives on one shard; see
      :mod:`papyra.persistence.backends.redis_topology`).
    * ``sentinels``/``service_name`` — ask these ``(host, port)`` sentinels for the primary of
      ``service_name`` (``url`` then supplies only the password and db). A
      ``redis+sentinel://[:password@]h1:p1,h2:p2/service_name/db`` URL sets all three.
    * ``min_replicas_ack`` — a batch counts as written only once ``WAIT`` reports this many
      replicas have it (0: the primary's reply is enough); replicas that do not confirm within
      ``replica_ack_timeout`` seconds keep the batch buffered and retried (see ``flush()``).
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
    cluster: bool = False
    sentinels: tuple[tuple[str, int], ...] | None = None
    service_name: str | None = None
    min_replicas_ack: int = 0
    replica_ack_timeout: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or self.url.partition("://")[0] not in _SCHEMES:
            shown = redact_url(self.url) if isinstance(self.url, str) else type(self.url).__name__
            raise ConfigurationError(
                f"url must start with redis://, rediss://, unix:// or redis+sentinel://, got {shown!r}"
            )
        split_userinfo(self.url)  # ConfigurationError (never echoing the URL) when ambiguous
        self._check_topology()
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

    def _check_topology(self) -> None:
        if not isinstance(self.cluster, bool):
            raise ConfigurationError(f"cluster must be True or False, got {self.cluster!r}")
        if urllib.parse.urlsplit(self.url).scheme == SENTINEL_SCHEME:
            target = parse_sentinel_url(self.url)
            object.__setattr__(self, "sentinels", self.sentinels or target.sentinels)
            object.__setattr__(self, "service_name", self.service_name or target.service_name)
        if self.sentinels is not None:
            try:
                pairs = tuple((str(h), int(p)) for h, p in self.sentinels)
            except (TypeError, ValueError):
                raise ConfigurationError(
                    f"sentinels must be (host, port) pairs, got {self.sentinels!r}"
                ) from None
            if not pairs:
                raise ConfigurationError("sentinels must name at least one (host, port)")
            object.__setattr__(self, "sentinels", pairs)
            if not isinstance(self.service_name, str) or not self.service_name:
                raise ConfigurationError("sentinels need service_name (the monitored primary's name)")
            if self.cluster:
                raise ConfigurationError("cluster=True and sentinels exclude each other")
        elif self.service_name is not None:
            raise ConfigurationError("service_name is only used with sentinels")
        mra = self.min_replicas_ack
        if isinstance(mra, bool) or not isinstance(mra, int) or mra < 0:
            raise ConfigurationError(f"min_replicas_ack must be an integer >= 0, got {mra!r}")
        check_number("replica_ack_timeout", self.replica_ack_timeout, positive=True)

    @property
    def topology(self) -> Literal["single", "sentinel", "cluster"]:
        """``"cluster"``, ``"sentinel"`` or ``"single"`` (one node). O(1)."""
        return "cluster" if self.cluster else "sentinel" if self.sentinels else "single"

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
