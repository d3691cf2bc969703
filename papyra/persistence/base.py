"""The persistence backend contract (synchronous).

Every backend subclasses :class:`PersistenceBackend` and implements the ``_``-prefixed hooks;
the public methods here validate arguments, enforce the closed state and keep the contract the
same everywhere:

* ``record_event / record_audit / record_dead_letter`` accept only the matching record type and
  raise :class:`~papyra.exceptions.PersistenceClosedError` after ``close()``;
* ``list_*`` return records oldest first after retention, ``since``/``until`` (inclusive epoch
  seconds), and ``limit`` (keeps the newest N; 0 or negative is a ``ValueError``);
* within one process every read, scan, compact and metrics call sees every record whose
  ``record_*`` returned before it.
"""

from __future__ import annotations

import abc
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from papyra.conf.validation import check_timeout
from papyra.exceptions import ConfigurationError, EncodingError, PersistenceClosedError
from papyra.persistence.metrics import PersistenceMetrics
from papyra.persistence.models import (
    CompactionReport,
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistedRecord,
    PersistenceRecoveryConfig,
    PersistenceRecoveryReport,
    PersistenceScanReport,
)
from papyra.persistence.retention import RetentionPolicy

__all__ = [
    "PersistenceBackend",
    "PersistenceBackendCapabilities",
    "backend_capabilities",
    "check_limit",
    "safe_metrics_snapshot",
    "select_window",
]

R = TypeVar("R", PersistedEvent, PersistedAudit, PersistedDeadLetter)
B = TypeVar("B", bound="PersistenceBackend")


@dataclass(frozen=True)
class PersistenceBackendCapabilities:
    """What a backend supports. Every built-in backend supports all of it.

    ``write_behind``: ``record_*`` never does I/O on the caller's thread — it validates, encodes
    and appends to a bounded in-memory queue that the backend's own writer thread stores (or, for
    the memory backend, just appends), blocking only briefly while that queue is full and then
    raising :class:`~papyra.exceptions.BackPressureError`. An actor system calls such a
    backend directly from the actor's thread; any other backend (the default for third-party
    ones, whose ``record_*`` may write synchronously) is fed by the system's recorder thread so
    that actors never wait on I/O.
    """

    supports_scan: bool = True
    supports_recover: bool = True
    supports_compact: bool = True
    supports_metrics: bool = True
    supports_consumer_groups: bool = False
    durable: bool = False
    write_behind: bool = False


def check_limit(limit: int | None) -> None:
    """Raise ``ValueError`` unless ``limit`` is None or a positive int."""
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def select_window(
    records: list[R], *, limit: int | None, since: float | None, until: float | None
) -> list[R]:
    """Apply ``since``/``until`` (inclusive) then keep the newest ``limit``, oldest first."""
    if since is not None or until is not None:
        records = [
            r
            for r in records
            if (since is None or r.timestamp >= since) and (until is None or r.timestamp <= until)
        ]
    if limit is not None and len(records) > limit:
        records = records[-limit:]
    return records


class PersistenceBackend(abc.ABC):
    """Base class of all backends. Subclasses set ``backend_name`` and implement the hooks.

    What each operation costs (I/O, locks, fsync, complexity) depends on the backend; every
    backend's class docstring has a **Costs** section covering all of its public methods, including
    the ones inherited from here. The argument checks done here are O(1).
    """

    backend_name: str = "base"

    def __init__(self, *, retention_policy: RetentionPolicy | None = None) -> None:
        if retention_policy is not None and not isinstance(retention_policy, RetentionPolicy):
            raise TypeError(
                f"retention_policy must be a RetentionPolicy, got {type(retention_policy)!r}"
            )
        self._retention = retention_policy or RetentionPolicy()
        self._metrics = PersistenceMetrics(self.backend_name)
        self._closed = False
        self._close_result = True
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def retention(self) -> RetentionPolicy:
        """The retention policy (never None; an empty policy keeps everything). O(1)."""
        return self._retention

    @property
    def metrics(self) -> PersistenceMetrics:
        """This backend's counters; ``metrics.snapshot()`` gives a consistent dict (one metrics
        lock, O(number of metrics)). File backends first wait for their writer (see there)."""
        return self._metrics

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (writes are refused; reads may still work). O(1)."""
        return self._closed

    @property
    def capabilities(self) -> PersistenceBackendCapabilities:
        """What this backend supports (scan, recover, compact, metrics, consumer groups,
        durability). O(1), no I/O."""
        return PersistenceBackendCapabilities()

    def describe(self) -> dict[str, Any]:
        """Where the store lives and how it is configured (no credentials). O(1) here; file
        backends add one ``stat`` per file."""
        return {"backend": self.backend_name, "retention": self._retention.to_dict()}

    # ------------------------------------------------------------------ writes

    def record_event(self, event: PersistedEvent) -> None:
        """Persist one lifecycle event.

        Raises ``TypeError`` for another record type,
        :class:`~papyra.exceptions.PersistenceClosedError` after close and
        :class:`~papyra.exceptions.EncodingError` (counted in ``encoding_errors``) for a payload
        that cannot be encoded. Cost: one msgspec encode (O(record size)) plus the backend's
        write — an in-memory append, or an O(1) enqueue for the durable backends' writer thread
        (no I/O, no lock; see the backend's Costs).
        """
        self._record_checked(event, PersistedEvent)

    def record_audit(self, audit: PersistedAudit) -> None:
        """Persist one audit (errors and cost as :meth:`record_event`)."""
        self._record_checked(audit, PersistedAudit)

    def record_dead_letter(self, dead_letter: PersistedDeadLetter) -> None:
        """Persist one dead letter (errors and cost as :meth:`record_event`)."""
        self._record_checked(dead_letter, PersistedDeadLetter)

    def _record_checked(self, record: PersistedRecord, expected: type) -> None:
        if type(record) is not expected:
            raise TypeError(f"expected {expected.__name__}, got {type(record).__name__}")
        if self._closed:
            raise PersistenceClosedError(f"{self.backend_name} backend is closed")
        try:
            self._record(record)
        except EncodingError:
            self._metrics.incr("encoding_errors")
            raise

    @abc.abstractmethod
    def _record(self, record: PersistedRecord) -> None: ...

    # ------------------------------------------------------------------ reads

    def list_events(
        self, *, limit: int | None = None, since: float | None = None, until: float | None = None
    ) -> tuple[PersistedEvent, ...]:
        """Retained events, oldest first, filtered by time, newest ``limit`` kept.

        Cost per backend (Costs section of its class): memory O(n) under its lock; files read
        newest first and stop once ``limit``/retention is satisfied (a tail read with ``limit``,
        a streaming read of the whole store without); Redis pages ``XREVRANGE``.
        """
        check_limit(limit)
        return tuple(self._list(PersistedEvent, limit=limit, since=since, until=until))

    def list_audits(
        self, *, limit: int | None = None, since: float | None = None, until: float | None = None
    ) -> tuple[PersistedAudit, ...]:
        """Retained audits, oldest first (arguments and cost as :meth:`list_events`)."""
        check_limit(limit)
        return tuple(self._list(PersistedAudit, limit=limit, since=since, until=until))

    def list_dead_letters(
        self, *, limit: int | None = None, since: float | None = None, until: float | None = None
    ) -> tuple[PersistedDeadLetter, ...]:
        """Retained dead letters, oldest first (arguments and cost as :meth:`list_events`)."""
        check_limit(limit)
        return tuple(self._list(PersistedDeadLetter, limit=limit, since=since, until=until))

    @abc.abstractmethod
    def _list(
        self, kind: type[R], *, limit: int | None, since: float | None, until: float | None
    ) -> list[R]: ...

    # ------------------------------------------------------------------ maintenance

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every accepted record is stored (durably, per the fsync policy).

        Returns False on timeout. The default (synchronous backends) has nothing to wait for:
        O(1), no I/O. A NaN or non-number ``timeout`` is a ConfigurationError (a ``ValueError``)
        on every backend.
        """
        check_timeout(timeout)
        return True

    @abc.abstractmethod
    def scan(self) -> PersistenceScanReport:
        """Read-only integrity check (cost: see the backend)."""

    @abc.abstractmethod
    def recover(self, config: PersistenceRecoveryConfig | None = None) -> PersistenceRecoveryReport:
        """Repair or quarantine damage found by a scan (``config=None``: report only; cost: see
        the backend)."""

    @abc.abstractmethod
    def compact(self) -> CompactionReport:
        """Make retention physical (cost: see the backend)."""

    @property
    def failed(self) -> BaseException | None:
        """The error that put the backend in the fail-stop state (its writes are refused), or
        None. O(1), no I/O."""
        return None

    def close(self, timeout: float | None = None) -> bool:
        """Store what was accepted, then release resources; **returns within ``timeout``**
        seconds plus a small constant (``None``: the backend's own bound, see there).

        Returns True when every record accepted before the call is stored; False when some
        could not be stored in time or the backend had failed — those are counted in
        ``records_dropped`` and logged once at WARNING. Never raises for I/O errors (a failed
        backend was reported by ``record_*``/``flush``; see :attr:`failed`). Idempotent: a
        second call returns False if the first one lost records. Reads may still work
        afterwards. The default is O(1); durable backends wait for their writer (see there).
        """
        if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
            raise ConfigurationError(f"timeout must be a non-negative number or None, got {timeout!r}")
        if self._closed:
            return self._close_result
        self._closed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        self._close_result = self._close(timeout)
        return self._close_result

    def _watch_writer(self, close_soon: Callable[[], None], what: str) -> None:
        """For a backend with a writer thread: when the backend is garbage-collected (or the
        interpreter exits) without :meth:`close`, emit a ``ResourceWarning`` (as the standard
        library does for unclosed files) and let the writer write what is queued, release its
        handles and exit. ``close_soon`` must not reference the backend."""
        self._finalizer = weakref.finalize(self, _forgotten, close_soon, what)

    def _close(self, timeout: float | None) -> bool:
        """Backend-specific close work; True when nothing accepted was lost."""
        return True

    def __enter__(self: B) -> B:
        """``with backend:`` — returns the backend itself (no I/O)."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Closes the backend (cost of :meth:`close`; its result is not reported here)."""
        self.close()


def _forgotten(close_soon: Callable[[], None], what: str) -> None:
    """Finaliser of a backend dropped without ``close()`` (may run on any thread, or at exit)."""
    warnings.warn(f"unclosed {what}: call close() (pending records are written now)", ResourceWarning,
                  stacklevel=2)
    close_soon()


def backend_capabilities(backend: object) -> PersistenceBackendCapabilities:
    """Capabilities of any object used as a backend; never raises."""
    try:
        if isinstance(backend, PersistenceBackend):
            return backend.capabilities
        return PersistenceBackendCapabilities(
            supports_scan=callable(getattr(backend, "scan", None)),
            supports_recover=callable(getattr(backend, "recover", None)),
            supports_compact=callable(getattr(backend, "compact", None)),
            supports_metrics=callable(getattr(getattr(backend, "metrics", None), "snapshot", None)),
        )
    except Exception:
        return PersistenceBackendCapabilities(False, False, False, False)


def safe_metrics_snapshot(backend: object) -> dict[str, Any]:
    """``backend.metrics.snapshot()`` as a dict, or ``{}`` when unavailable; never raises."""
    try:
        snap = backend.metrics.snapshot()  # type: ignore[attr-defined]
    except Exception:
        return {}
    return snap if isinstance(snap, dict) else {}
