"""Redis Streams backend: several application instances writing to one Redis.

Storage: one stream per record kind, ``{prefix}:{system_id}:events|audits|dead_letters``; each
entry has one field, ``data``, holding the record's JSON (the NDJSON line format without the
newline), so entries written by the earlier implementation are read and vice versa.

Writes: ``record_*`` encodes the record and queues it (O(1), no I/O). One background writer thread
sends everything queued as **one pipelined ``MULTI``/``EXEC`` round trip per batch**. With a
retention policy each ``XADD`` trims as it writes (``MAXLEN ~`` for ``max_records``, ``MINID ~``
for ``max_age_seconds``; exact with ``approx_trim=False``).

Redis down: a batch that fails with a connection error stays at the head of the queue and is
retried with back-off, so records accepted while Redis is unreachable are written **in order**
once it is back; up to ``max_buffer`` records are held, beyond which ``record_*`` raises
:class:`~papyra.exceptions.BackPressureError` (counted in ``backpressure_rejections``).
:meth:`RedisStreamsPersistence.flush` returns whether everything reached Redis. A batch whose reply
was lost with the connection may be written twice (at-least-once); nothing within the buffer bound
is lost while the process lives. Every reply after which a retry can succeed is transient in the
same way: out of memory (``OOM``, ``maxmemory`` with ``noeviction``), ``READONLY`` (a replica after a
failover), ``LOADING``, ``MASTERDOWN``, ``NOREPLICAS``, ``BUSY``, ``TRYAGAIN``, ``CLUSTERDOWN`` —
decided by redis-py's exception classes, not by reply text. Other errors (wrong key type, rejected
credentials) are fail-stop, as for the file backends.

Reads page through the stream newest first (``XREVRANGE … COUNT``), applying retention per stream
(each stream is its own log), so ``limit=N`` reads only the newest N entries. Consumer groups are
in :mod:`papyra.persistence.backends.redis_groups` (delivery is at-least-once); scan, recovery and
compaction in :mod:`papyra.persistence.backends.redis_maintenance`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from papyra._describe import describe_error
from papyra.exceptions import (
    BackendUnavailable,
    DurabilityError,
    PersistenceClosedError,
    PersistenceError,
)
from papyra.persistence.backends import redis_topology
from papyra.persistence.backends.redis_config import (
    KIND_STREAMS,
    RedisStreamsConfig,
    import_redis,
    scrub,
    url_secrets,
)
from papyra.persistence.backends.redis_groups import (
    ConsumeResult,
    ConsumerGroupsMixin,
    MovedEntry,
    PendingEntry,
    PendingSummary,
    RedisStreamEntry,
)
from papyra.persistence.backends.redis_maintenance import StreamMaintenanceMixin
from papyra.persistence.base import PersistenceBackend, PersistenceBackendCapabilities, R
from papyra.persistence.grammar import encode_record_body, record_kind
from papyra.persistence.metrics import PersistenceMetrics
from papyra.persistence.models import RECORD_KINDS, PersistedRecord
from papyra.persistence.retention import RetentionPolicy
from papyra.persistence.writer import BackgroundWriter, TransientWriteError

__all__ = [
    "ConsumeResult",
    "MovedEntry",
    "PendingEntry",
    "PendingSummary",
    "RedisStreamEntry",
    "RedisStreamsConfig",
    "RedisStreamsPersistence",
]

logger = logging.getLogger("papyra")

#: redis-py's classes of error replies after which a retry can succeed (the batch stays
#: buffered): OOM, READONLY, LOADING, TRYAGAIN, CLUSTERDOWN, MASTERDOWN. Looked up by name, since
#: older redis-py releases lack some of them.
_TRANSIENT_CLASS_NAMES = (
    "OutOfMemoryError",
    "ReadOnlyError",
    "BusyLoadingError",
    "TryAgainError",
    "ClusterDownError",
    "MasterDownError",
)
#: Retryable replies that redis-py has no class for (plain ``ResponseError``). For those, and only
#: those, redis-py keeps the reply's error code as the first word of the message.
_TRANSIENT_UNCLASSED_CODES = frozenset({"NOREPLICAS", "BUSY"})
#: Byte 9 of an encoded record body (``{"kind":"e…``) -> the kind; the grammar writes kind first.
_KIND_BYTE = {b"e": "event", b"a": "audit", b"d": "dead_letter"}
_TYPE_STREAM: dict[type, str] = {cls: KIND_STREAMS[kind] for kind, cls in RECORD_KINDS.items()}


class _ErrorMapper:
    """Classifies and describes redis-py errors (credentials scrubbed). Shared by the backend
    and its writer's sink, so that the sink needs no reference to the backend."""

    def __init__(self, redis: Any, config: RedisStreamsConfig) -> None:
        self.redis = redis
        self.safe_url = config.safe_url
        self.secrets = url_secrets(config.url)
        errors = redis.exceptions
        self.auth_errors: tuple[type[BaseException], ...] = tuple(
            getattr(errors, name)
            for name in ("AuthenticationError", "AuthorizationError", "AuthenticationWrongNumberOfArgsError")
            if hasattr(errors, name)
        )
        self.transient_errors: tuple[type[BaseException], ...] = tuple(
            getattr(errors, name) for name in _TRANSIENT_CLASS_NAMES if hasattr(errors, name)
        )
        #: connection loss, timeouts and a Cluster's MOVED/ASK/slot errors: the batch is retried
        self.unavailable_errors = redis_topology.unavailable_errors(redis)

    def is_transient_reply(self, exc: BaseException) -> bool:
        """True for an error reply after which the same write can succeed later (see
        ``_TRANSIENT_CLASS_NAMES``): decided by redis-py's exception class; a plain
        ``ResponseError`` is transient only for the codes redis-py has no class for."""
        if isinstance(exc, self.transient_errors):
            return True
        if type(exc) is not self.redis.ResponseError or not exc.args:
            return False
        reply = str(exc.args[0]).rsplit("caused error: ", 1)[-1]  # pipelines prefix the command
        return reply.split(" ", 1)[0] in _TRANSIENT_UNCLASSED_CODES

    def describe(self, op: str, exc: BaseException) -> str:
        text = describe_error(exc)
        if len(text) > 300:
            text = text[:300] + "…"
        return scrub(f"redis {op} failed ({self.safe_url}): {text}", self.secrets)


class _StreamSink:
    """Writer sink: one pipelined MULTI/EXEC of XADDs per batch (per slot on a Cluster, see
    :mod:`~papyra.persistence.backends.redis_topology`). Holds the client, never the backend (a
    forgotten backend must be collectable while its writer drains)."""

    def __init__(
        self, client: Any, errors: _ErrorMapper, config: RedisStreamsConfig, policy: RetentionPolicy,
        metrics: PersistenceMetrics,
    ) -> None:
        self._client = client
        self._errors = errors
        self._approx = "~" if config.approx_trim else "="
        self._policy = policy
        self._metrics = metrics
        self._keys = {k: config.stream_key(kind) for k, kind in _KIND_BYTE.items()}
        self._down = False
        self._batches = redis_topology.BatchWriter(config)

    def write_batch(self, items: list[bytes], *, sync: bool) -> None:
        policy = self._policy
        approx = self._approx
        errors = self._errors
        trim: tuple[Any, ...] = ()
        minid: str | None = None
        if policy.max_age_seconds is not None:
            minid = str(max(0, int((time.time() - policy.max_age_seconds) * 1000)))
        if policy.max_records is not None:
            trim = ("MAXLEN", approx, policy.max_records)
        elif minid is not None:
            trim, minid = ("MINID", approx, minid), None
        keys = self._keys
        redis = errors.redis
        entries = [(keys[item[9:10]], ("XADD", *trim, "*", "data", item)) for item in items]
        tail = ("XTRIM", "MINID", approx, minid) if minid is not None else None  # MAXLEN is on XADD
        try:
            self._batches.write(self._client, items[0] if items else None, entries, tail)
        except redis_topology.ReplicaAckError as exc:
            self._down = True
            raise TransientWriteError(str(exc)) from exc
        except errors.auth_errors as exc:
            raise BackendUnavailable(errors.describe("write", exc)) from exc
        except errors.unavailable_errors as exc:
            self._down = True
            raise TransientWriteError(errors.describe("write", exc)) from exc
        except redis.ResponseError as exc:
            if errors.is_transient_reply(exc):
                self._down = True
                raise TransientWriteError(errors.describe("write", exc)) from exc
            raise DurabilityError(errors.describe("write", exc)) from exc
        if self._down:
            self._down = False
            self._metrics.incr("reconnects")
            logger.info("papyra redis: %s reachable again", errors.safe_url)

    def sync(self) -> None:
        """Nothing to do: durability on the server is Redis's AOF/RDB setting."""

    def close(self) -> None:
        """Close the idle pooled sockets; never one a concurrent read on the same client is
        using (the backend's reads re-dial if they need to)."""
        with contextlib.suppress(Exception):
            redis_topology.release_idle(self._client)

    def interrupt(self) -> None:
        """Shut down every pooled socket (also one in use by the writer), so a blocked call
        returns with a connection error now instead of after ``socket_timeout``."""
        redis_topology.interrupt(self._client)

    def after_fork_in_child(self) -> None:
        """Nothing to release: redis-py resets a connection pool used by another process."""


class RedisStreamsPersistence(ConsumerGroupsMixin, StreamMaintenanceMixin, PersistenceBackend):
    """Records in Redis Streams (see module docs). Thread-safe; creating it does no I/O (except
    with ``cluster=True``: the client reads the slot map, one round trip, and raises
    :class:`~papyra.exceptions.BackendUnavailable` when no node answers).

    Costs (no file locks, no fsync — durability is the server's AOF/RDB setting; every network
    call is bounded by ``socket_timeout``; "visibility wait" = reads first wait until this
    process's buffered records reached Redis, up to ``flush_timeout``):

    * ``record_*``: one msgspec encode + an O(1) enqueue; no I/O. Raises
      :class:`~papyra.exceptions.BackPressureError` once ``max_buffer`` records are held.
    * Writer thread: **one round trip per batch** (pipelined ``MULTI``/``XADD``…/``EXEC``, up to
      ``max_batch`` records; trimming rides along on each ``XADD``).
    * ``list_*``: visibility wait, then ``XREVRANGE … COUNT`` pages of one stream, newest first:
      with ``limit`` about ``limit / page_size`` round trips, without it O(stream length) in
      ``page_size`` round trips (retention can stop early).
    * ``scan()``: every entry of the three streams in ``XRANGE`` pages (or the newest
      ``scan_sample_size`` of each): O(entries) round trips / page size. Read-only.
    * ``recover()``: a scan, then one ``MULTI``/``EXEC`` per stream with bad entries (copy to
      the quarantine stream and ``XDEL``). ``compact()``: ``XLEN`` of each stream before and
      after, one ``XTRIM`` per stream for ``max_records``; age/byte limits add one newest-first
      paged pass per stream.
    * Consumer groups: ``ack``, ``pending``, ``pending_entries``, ``ensure_consumer_group``: one
      round trip each. ``consume``/``claim``/``autoclaim``: the command (``consume`` repeats its
      ``XREADGROUP`` in slices shorter than ``socket_timeout`` while waiting up to
      ``block_ms``), one pipelined round trip for the delivery counts, and one more ``MULTI``/
      ``EXEC`` when poison or malformed entries are moved.
    * ``flush()``: waits for the writer; no I/O itself. ``close()``: waits up to
      ``close_timeout`` for the buffer to drain, then stops the writer (see :meth:`close`).
    * ``config``, ``buffered``, ``reachable``, ``capabilities``, ``stream_key()``, ``metrics``,
      ``describe()``: O(1), no I/O.
    """

    backend_name = "redis"

    def __init__(
        self,
        config: RedisStreamsConfig | None = None,
        *,
        retention_policy: RetentionPolicy | None = None,
    ) -> None:
        if config is None:
            config = RedisStreamsConfig()
        if not isinstance(config, RedisStreamsConfig):
            raise TypeError(f"config must be a RedisStreamsConfig, got {type(config)!r}")
        self._redis = import_redis()
        super().__init__(retention_policy=retention_policy)
        self._config = config
        self._errors = _ErrorMapper(self._redis, config)
        self._auth_errors = self._errors.auth_errors
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._unavailable_errors = self._errors.unavailable_errors
        try:
            self._client = redis_topology.build_client(
                config,
                self._redis,
                protocol=2,
                decode_responses=False,
                socket_timeout=config.socket_timeout,
                socket_connect_timeout=config.socket_connect_timeout or config.socket_timeout,
                retry=Retry(NoBackoff(), 1),  # one immediate retry: re-dial a stale pooled socket
                client_name=config.client_name,
            )
        except Exception as exc:
            raise BackendUnavailable(self._describe_error("connect", exc)) from None
        self._maint_lock = threading.Lock()
        sink = _StreamSink(self._client, self._errors, config, self._retention, self._metrics)
        self._writer = BackgroundWriter(
            sink,
            name=f"redis-{config.base_key}",
            metrics=self._metrics,
            fsync="never",
            max_pending=config.max_buffer,
            put_timeout=config.buffer_put_timeout,
            max_batch=config.max_batch,
            retry_initial=0.02,
            retry_max=1.0,
            # after close_timeout: shut the sockets so a blocked XADD returns, then wait this long
            close_grace=(config.socket_connect_timeout or config.socket_timeout) + 0.5,
            interrupt=sink.interrupt,
            log_extra={"papyra_location": config.base_key},
        )
        self._watch_writer(self._writer.close_soon, f"redis backend {config.base_key}")

    # ------------------------------------------------------------------ helpers

    @property
    def config(self) -> RedisStreamsConfig:
        """The connection and stream settings (its ``repr`` hides credentials). O(1)."""
        return self._config

    @property
    def capabilities(self) -> PersistenceBackendCapabilities:
        """Everything supported, consumer groups included, ``write_behind`` (the writer thread).
        O(1)."""
        return PersistenceBackendCapabilities(supports_consumer_groups=True, durable=True, write_behind=True)

    @property
    def buffered(self) -> int:
        """Records accepted but not yet in Redis: the buffer plus the batch being written (held
        in memory while Redis is unreachable or slow). O(1), no I/O."""
        return self._writer.pending

    @property
    def reachable(self) -> bool:
        """False from the moment a write attempt failed, or has been waiting longer than
        ``socket_timeout`` (a hung server), until a write succeeds again. O(1), no I/O (it
        reports the writer's attempts)."""
        writer = self._writer
        return not writer.retrying and writer.write_elapsed < self._config.socket_timeout

    def stream_key(self, kind: str) -> str:
        """The stream of a record kind (``"event"``, ``"audit"``, ``"dead_letter"``). O(1)."""
        return self._config.stream_key(kind)

    def _describe_error(self, op: str, exc: BaseException) -> str:
        return self._errors.describe(op, exc)

    @contextlib.contextmanager
    def _redis_errors(self, op: str) -> Iterator[None]:
        """Map redis-py errors to Papyra's (credentials scrubbed, cause dropped from the message)."""
        redis = self._redis
        try:
            yield
        except self._unavailable_errors as exc:
            raise BackendUnavailable(self._describe_error(op, exc)) from exc
        except redis.RedisError as exc:
            raise PersistenceError(self._describe_error(op, exc)) from exc

    def __enter__(self) -> RedisStreamsPersistence:
        """``with backend:`` — returns the backend (no I/O); leaving the block closes it."""
        return self

    def __repr__(self) -> str:
        return f"RedisStreamsPersistence(url={self._config.safe_url!r}, base={self._config.base_key!r})"

    def describe(self) -> dict[str, Any]:
        """Redacted URL, prefix, system id, stream keys, buffer state and retention. O(1), no I/O."""
        info = super().describe()
        info.update(
            url=self._config.safe_url,
            prefix=self._config.prefix,
            system_id=self._config.system_id,
            streams=list(self._config.stream_keys),
            buffered=self.buffered,
            reachable=self.reachable,
        )
        return info

    # ------------------------------------------------------------------ writes

    def _record(self, record: PersistedRecord) -> None:
        body = encode_record_body(record)
        if _KIND_BYTE.get(body[9:10]) != record_kind(record):  # the sink routes on this byte
            raise PersistenceError(f"unexpected encoding of a {record_kind(record)} record")
        self._writer.submit(body)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every accepted record is in Redis; False if some are still buffered after
        ``timeout`` seconds (default ``config.flush_timeout``), e.g. because Redis is down.

        Raises :class:`~papyra.exceptions.DurabilityError` after a fail-stop write error. Cost:
        a wait on the writer (one round trip per batch); no I/O in this thread.
        """
        return self._writer.flush(self._config.flush_timeout if timeout is None else timeout, durable=False)

    def _ensure_visible(self) -> None:
        """Reads see every record accepted before them: push the buffer out first."""
        try:
            if self._writer.pending == 0 and self._writer.flush(0, durable=False):
                return
            if self._writer.retrying and not self._writer.flush(1.5, durable=False):
                raise BackendUnavailable(
                    f"redis at {self._config.safe_url} is unreachable; "
                    f"{self._writer.pending} records are buffered"
                )
            if not self._writer.flush(self._config.flush_timeout, durable=False):
                raise BackendUnavailable(
                    f"{self._writer.pending} records could not be written to {self._config.safe_url} in time"
                )
        except (DurabilityError, PersistenceClosedError):
            pass  # writes are fail-stop (or this is a forked child); reads show what Redis holds

    @property
    def failed(self) -> BaseException | None:
        """The error that made the writer fail-stop (e.g. ``WRONGTYPE``), or None. O(1)."""
        return self._writer.failed

    def _close(self, timeout: float | None) -> bool:
        """Give the writer ``timeout`` seconds (``None``: ``close_timeout``) to empty its buffer;
        after that it stops (see :meth:`BackgroundWriter.close`): a write in progress is cut
        off by shutting the sockets down, and records it did not write are counted in
        ``records_dropped`` and logged with the server's (redacted) URL."""
        return self._writer.close(self._config.close_timeout if timeout is None else timeout)

    # ------------------------------------------------------------------ reads

    def _list(
        self, kind: type[R], *, limit: int | None, since: float | None, until: float | None
    ) -> list[R]:
        self._ensure_visible()
        first_page = None
        if limit is not None and since is None and until is None and self._retention.max_age_seconds is None:
            first_page = min(limit, self._config.page_size)
        stream = self._stream_kind(_TYPE_STREAM[kind], kind, since, until, first_page=first_page)
        with contextlib.closing(stream) as newest_first:  # closed now: its skip count is recorded
            out: list[R] = list(itertools.islice(newest_first, limit))  # type: ignore[arg-type]
        out.reverse()
        return out
