"""The :class:`ActorSystem`: spawning, addressing, stopping, supervision plumbing, events,
audits, dead letters and persistence of one actor system.

Threading model (M:N): actors run on an elastic pool of daemon worker threads
(``papyra-worker-N``, default ``max_workers = 2 x CPUs``), each actor on at most one thread at a
time, FIFO, a fairness quantum of 32 messages per turn. Idle actors cost no thread. A worker
blocked in ``ask`` is compensated (it does not count against ``max_workers``); self-asks and ask
cycles raise ``AskDeadlock``.

Persistence: every lifecycle event, audit and dead letter becomes a record on one path
(:mod:`papyra._record_path`): a built-in backend (``capabilities.write_behind``) gets it directly
from the producing thread and queues it for its own writer thread, so actors never wait on I/O
(a full queue blocks briefly, then the record is dropped and counted); any other backend is fed
by one adapter thread, ``papyra-recorder-<system_id>``.

Structure: ``ActorSystem`` is a thin facade over one internal kernel (:mod:`papyra._kernel`),
which owns the system lock, the actor tables, the dispatcher, the event log, the dead letters
and the record path, and makes every actor state change. Its module docstring gives the one lock
order; no Papyra lock is held while user code, a hook, a backend call or a thread start runs
(checked by ``PAPYRA_DEBUG_LOCKS=1``: :mod:`papyra._locks`).

Stops: ``ref.stop()``, ``system.stop(ref)``, ``tell(STOP)`` and ``close()`` are *graceful*
(messages accepted before the request are processed first); ``stop_self()``, ``stop()`` of an
actor's own ref from inside it, and supervision stops are *immediate* (after the current
message). Either way the ref rejects new sends and the name is released at the request, every
message left unprocessed becomes exactly one dead letter, pending asks fail with
``ActorStopped``, children terminate before their parent, and watchers get exactly one
``ActorTerminated``.

Processes: an ``ActorSystem`` does not survive ``os.fork()``. In the child, the inherited system
refuses ``spawn``/``tell``/``ask`` with ``ActorStopped`` and ``close()`` returns at once (its
backend refuses records with ``PersistenceClosedError``); the parent is unaffected. Create
systems and backends after forking.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from papyra import _introspection as view
from papyra._cell import check_actor_instance
from papyra._cell_state import STOPPING
from papyra._dead_letters import DeadLetterMailbox
from papyra._deadlock import current_cell
from papyra._envelope import STOP, DeadLetter
from papyra._kernel import Kernel, System
from papyra._record_path import time_left
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.conf.validation import check_int, check_name, check_timeout
from papyra.events import ActorEvent
from papyra.exceptions import ActorStopped, DurabilityError
from papyra.hooks import DefaultHooks
from papyra.mailbox import Mailbox, OverflowPolicy
from papyra.persistence.base import PersistenceBackend
from papyra.ref import ActorRef
from papyra.runtime_metrics import RuntimeMetrics
from papyra.supervision import Strategy, SupervisionPolicy

if TYPE_CHECKING:
    from papyra.persistence.startup import PersistenceStartupConfig

__all__ = ["STOP", "ActorSystem", "DeadLetterMailbox"]

logger = logging.getLogger("papyra")

#: The actor type ``spawn`` returns a ref to (the factory's return type).
A = TypeVar("A")

#: The default policies (RESTART for named actors, STOP otherwise), built once.
_DEFAULT_POLICY = {True: SupervisionPolicy(strategy=Strategy.RESTART), False: SupervisionPolicy()}

#: What a duck-typed backend (not a ``PersistenceBackend``) must have.
_BACKEND_METHODS = ("record_event", "record_audit", "record_dead_letter", "flush", "close")

_live_systems: weakref.WeakSet[ActorSystem] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for system in list(_live_systems):
        system._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_workers() -> int:
    return max(4, 2 * (os.cpu_count() or 2))


class ActorSystem:
    """A synchronous, threaded actor system (see the module docstring).

    ``persistence=None`` means a fresh :class:`~papyra.persistence.backends.memory.InMemoryPersistence`.
    ``persistence_startup`` (a ``PersistenceStartupConfig``) makes ``start()`` check the store
    before anything can be spawned. ``max_workers`` bounds the pool (blocked askers excepted);
    ``dead_letter_capacity`` bounds the dead-letter ring; ``recorder_capacity`` bounds the
    adapter queue of a backend without ``write_behind`` (records beyond it are dropped and
    counted; the built-in backends' own writer queue is the bound for them).
    ``terminated_history`` (default 10,000, ``0`` allowed) is how many terminated actors stay
    visible to ``list_actors``/``actor_info``/``audit``/``control_panel`` (a stopped actor's
    instance is freed at termination either way); ``event_log_capacity`` (default 100,000)
    bounds the in-memory event log (``events()``; older events are dropped and counted in
    ``events_dropped``, but were persisted). Memory is thus bounded by the live actors plus
    these settings, however many actors a long-running system spawns and stops. An invalid
    setting raises :class:`~papyra.exceptions.ConfigurationError` (a ``ValueError``) naming it.

    Typing: ``spawn(Counter)`` returns an ``ActorRef[Counter]``, whose ``ask`` takes and returns
    the types of ``Counter.receive``.
    """

    def __init__(
        self,
        *,
        system_id: str = "local",
        persistence: PersistenceBackend | None = None,
        persistence_startup: PersistenceStartupConfig | None = None,
        hooks: Any = None,
        on_dead_letter: Callable[[DeadLetter], object] | None = None,
        time_fn: Callable[[], float] | None = time.time,
        max_workers: int | None = None,
        dead_letter_capacity: int = 10_000,
        recorder_capacity: int = 65_536,
        terminated_history: int = 10_000,
        event_log_capacity: int = 100_000,
    ) -> None:
        system_id = check_name("system_id", system_id)
        _check_collaborators(persistence, persistence_startup, time_fn)
        if max_workers is not None:
            check_int("max_workers", max_workers)
        check_int("recorder_capacity", recorder_capacity)
        check_int("terminated_history", terminated_history, minimum=0)
        if persistence is None:
            from papyra.persistence.backends.memory import InMemoryPersistence

            persistence = InMemoryPersistence()
        self.system_id = system_id
        self._persistence_startup = persistence_startup
        self.dead_letters = DeadLetterMailbox(capacity=dead_letter_capacity, on_dead_letter=on_dead_letter)
        self._kernel = Kernel(
            self,
            system_id=system_id,
            persistence=persistence,
            hooks=hooks if hooks else DefaultHooks(),
            time_fn=time_fn if time_fn is not None else time.time,
            max_workers=max_workers or _default_workers(),
            dead_letters=self.dead_letters,
            recorder_capacity=recorder_capacity,
            terminated_history=terminated_history,
            event_log_capacity=event_log_capacity,
        )
        self._closer: threading.Thread | None = None
        self._closing_thread: int | None = None  # the thread inside _finish_close
        self._closed_event = threading.Event()
        self._close_result = True
        self._close_error: DurabilityError | None = None
        _live_systems.add(self)

    # ================================================================== properties

    @property
    def persistence(self) -> PersistenceBackend:
        """The persistence backend. O(1)."""
        backend: PersistenceBackend = self._kernel.persistence
        return backend

    @property
    def persistence_startup(self) -> PersistenceStartupConfig | None:
        """The ``PersistenceStartupConfig`` that ``start()`` checks the store with, or ``None``. O(1)."""
        return self._persistence_startup

    @persistence_startup.setter
    def persistence_startup(self, value: PersistenceStartupConfig | None) -> None:
        self._persistence_startup = value

    @property
    def metrics(self) -> RuntimeMetrics:
        """Runtime metrics (``snapshot()``/``reset()``; names in :mod:`papyra.runtime_metrics`).
        Cost: O(1) to get; see :class:`~papyra.runtime_metrics.RuntimeMetrics` for ``snapshot()``."""
        return self._kernel.metrics

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``close()``. O(1), no lock (racy read)."""
        return self._kernel.state is System.RUNNING

    @property
    def closed(self) -> bool:
        """True once ``close()`` began. O(1), no lock (racy read)."""
        return self._kernel.state in (System.CLOSING, System.CLOSED)

    def now(self) -> float:
        """``time_fn()`` — epoch seconds by default. Cost: one ``time_fn`` call, no lock."""
        return self._kernel.now()

    # ================================================================== lifecycle

    def start(self) -> ActorSystem:
        """Run the persistence startup check (if configured), then start the worker pool (and,
        for a backend without ``write_behind``, the recorder thread). Idempotent while running;
        raises ``ActorStopped`` after close. If the check fails (``PersistenceStartupError``)
        the system stays unstarted and ``start()`` may be retried. Blocks for the duration of
        the check; a concurrent ``start()`` waits for the first. The check (and its hooks) runs
        without any Papyra lock held."""
        kernel = self._kernel
        if not kernel.begin_start():
            return self
        try:
            if self._persistence_startup is not None:
                from papyra.persistence.startup import run_startup_check

                run_startup_check(kernel.persistence, self._persistence_startup, hooks=kernel.hooks)
        except BaseException:
            kernel.abort_start()
            raise
        kernel.finish_start()
        return self

    def __enter__(self) -> ActorSystem:
        """``start()`` (blocks for the persistence startup check, if configured)."""
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        """``close()`` without a timeout (blocks until every actor terminated). A
        :class:`~papyra.exceptions.DurabilityError` from ``close`` is raised only when the block
        itself did not raise (it is logged otherwise, so the block's error is not replaced)."""
        try:
            self.close()
        except DurabilityError:
            if exc_type is None:
                raise
            logger.error("papyra: persistence failed while closing the system", exc_info=True)

    def close(self, timeout: float | None = None) -> bool:
        """Shut down: refuse new spawns and messages, gracefully stop every actor (children before
        parents), wait for them, stop the workers, then drain the record path and close the
        backend with the time left (``backend.close(time_left)``: it stores what it accepted, or
        counts and logs what it could not).

        **Returns within** ``timeout`` plus a small constant (each stage gets the time left; a
        backend call nothing can interrupt is left to finish on its own daemon thread).
        ``None`` waits for the actors and the backend's own bound (file stores: until written;
        Redis: ``close_timeout``).

        Returns True when everything finished: every actor terminated, every worker exited,
        every record reached the backend and was stored. Returns False when time ran out (what
        was not stored is counted: ``recorder_drops_total``, ``records_dropped``; a still-busy
        recorder thread is abandoned and closes the backend once its blocked call returns).
        Raises :class:`~papyra.exceptions.DurabilityError` (after the shutdown is complete) when
        the store **failed** — a fail-stop write error lost records — so a failure is never
        mistaken for a timeout. Idempotent; a concurrent caller waits for the first and gets the
        same outcome. Called from inside an actor, it only starts the shutdown (a
        ``papyra-closer`` thread finishes it) and returns False. Cost: blocks up to ``timeout``;
        takes the system lock briefly.
        """
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        kernel = self._kernel
        first = kernel.begin_close()
        running = current_cell()
        # inside an actor, or in a callback the closing thread runs (on_dead_letter)
        inside = running is not None and running.kernel is kernel
        inside = inside or self._closing_thread == threading.get_ident()
        if not first:
            if inside:
                return False
            done = self._closed_event.wait(timeout)
            closer = self._closer
            if closer is not None and closer is not threading.current_thread():
                closer.join(time_left(deadline))
            if done and self._close_error is not None:
                raise self._close_error
            return done and self._close_result
        if inside:
            self._closer = threading.Thread(
                target=self._finish_close, args=(None,), name=f"papyra-closer-{self.system_id}", daemon=True
            )
            self._closer.start()
            return False
        ok = self._finish_close(time_left(deadline))
        if self._close_error is not None:
            raise self._close_error
        return ok

    def _finish_close(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        self._closing_thread = threading.get_ident()
        ok = False
        try:
            ok, self._close_error = self._kernel.finish_close(deadline)
        finally:  # even when a user callback raised a BaseException here: close is over
            self._close_result = ok
            self._closing_thread = None
            self._closed_event.set()
        return ok

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record produced so far is stored: drain the recorder thread (for a
        backend without ``write_behind``), then ``persistence.flush(time_left)``.

        Returns True when all of them are stored (per the backend's fsync policy), False when
        ``timeout`` (seconds; ``None``: no bound but the backend's own) ran out first. Raises
        :class:`~papyra.exceptions.DurabilityError` when the store failed (a fail-stop write
        error; another error from a custom backend is wrapped, keeping the cause), and — once
        per loss — when records never reached the backend since the last report (its
        ``record_*`` raised, or the queue stayed full). Blocks; do not call from an actor that
        other actors' records wait on.
        """
        return self._kernel.records.flush(check_timeout(timeout))

    def compact(self) -> Any:
        """``persistence.compact()``: its report; the backend's error (e.g. ``LockTimeout``,
        ``DurabilityError``) is raised as is. Blocks for the backend's compaction (I/O); no
        system lock."""
        return self._kernel.persistence.compact()

    def _after_fork_in_child(self) -> None:
        """The inherited system refuses everything (``ActorStopped``) and ``close()`` returns at
        once; the parent is unaffected."""
        self._kernel.after_fork_in_child()
        self._closer = None
        self._close_result, self._close_error = True, None
        self._closed_event = threading.Event()
        self._closed_event.set()

    # ================================================================== spawning

    def spawn(
        self,
        factory: Callable[[], A],
        *,
        name: str | None = None,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        parent: ActorRef[Any] | None = None,
        overflow: OverflowPolicy | str = OverflowPolicy.BLOCK,
        put_timeout: float | None = None,
    ) -> ActorRef[A]:
        """Create an actor and return its ref at once (``on_start`` runs later, on a worker,
        before the first message).

        ``factory`` is a zero-argument callable (usually the class), called in the caller's
        thread. ``mailbox_capacity`` ``None`` is unbounded; ``overflow`` and ``put_timeout``
        choose what a full mailbox does (:class:`~papyra.mailbox.OverflowPolicy`). The default
        ``policy`` is RESTART for named actors and STOP otherwise. An invalid setting (capacity,
        overflow, ``put_timeout``, an empty name) is a ``ConfigurationError`` (a ``ValueError``),
        a duplicate name a ``ValueError``; a stopped parent or system raises ``ActorStopped``;
        coroutine hooks raise ``TypeError``. Cost: one or two short system-lock sections plus
        the factory call (the factory and the context injection run without any Papyra lock).
        """
        mailbox = Mailbox(mailbox_capacity, overflow=overflow, put_timeout=put_timeout)
        if policy is None:
            policy = _DEFAULT_POLICY[name is not None]
        elif not isinstance(policy, SupervisionPolicy):
            raise TypeError(f"policy must be a SupervisionPolicy, got {policy!r}")
        if name is not None:
            name = check_name("name", name)
        if not callable(factory):
            raise TypeError("factory must be a zero-argument callable returning an actor")
        if isinstance(factory, type):
            check_actor_instance(factory)
        parent_cell = None
        if parent is not None:
            if not isinstance(parent, ActorRef) or parent._kernel is not self._kernel:
                raise ValueError("parent must be an ActorRef of this ActorSystem")
            parent_cell = parent._cell
        ref: ActorRef[A] = self._kernel.spawn(factory, name, mailbox, policy, parent_cell).self_ref
        return ref

    # ================================================================== lookup

    def ref_for(self, address: ActorAddress | str) -> ActorRef[Any]:
        """A fresh ref for a running local actor. Malformed strings raise ``ValueError``;
        another system, an unknown id or a stopped actor raise ``ActorStopped``.
        Cost: O(1), one short system-lock section."""
        if isinstance(address, str):
            address = ActorAddress.parse(address)
        elif not isinstance(address, ActorAddress):
            raise TypeError(f"expected an ActorAddress or a string, got {type(address)!r}")
        if address.system != self.system_id:
            raise ActorStopped("Remote actor systems are not supported yet.", reason="shutdown")
        return _running_ref(self._kernel.lookup(address.actor_id), "Actor does not exist.")

    def ref_for_name(self, name: str) -> ActorRef[Any]:
        """A fresh ref for the running actor registered under ``name`` (else ``ActorStopped``).
        Cost: O(1), one short system-lock section."""
        if not isinstance(name, str):
            raise TypeError(f"an actor name is a str, got {type(name).__name__}")
        name = str.__str__(name)  # hashed under the lock: never a subclass's own __hash__
        kernel = self._kernel
        with kernel.lock:
            address = kernel.names.get(name)
            cell = None if address is None else kernel.cells.get(address.actor_id)
        return _running_ref(cell, f"Actor with name '{name}' does not exist.")

    def list_names(self) -> dict[str, ActorAddress]:
        """Copy of the name registry (running actors only). O(names) under the system lock."""
        return view.list_names(self._kernel)

    def list_actors(self, *, alive_only: bool = False) -> tuple[ActorAddress, ...]:
        """Addresses of the retained actors in spawn order (live ones plus the newest
        ``terminated_history`` terminated ones); ``alive_only`` keeps running ones.
        O(retained) under the system lock."""
        return view.list_actors(self._kernel, alive_only)

    def refs(self, *, alive_only: bool = True) -> tuple[ActorRef[Any], ...]:
        """Refs of the actors (running ones by default; else every retained one), in spawn order.
        O(retained): one copy under the system lock."""
        return view.refs(self._kernel, alive_only)

    def refs_by_type(self, actor_type: type | str, *, alive_only: bool = True) -> tuple[ActorRef[Any], ...]:
        """Refs whose current instance matches ``actor_type``: a class (``isinstance``), or a
        class name, qualname or ``module.QualName`` string (a terminated actor, whose instance
        is gone, matches by its class qualname only). O(retained), one copy under the lock."""
        return view.refs_by_type(self._kernel, actor_type, alive_only)

    def actor_info(self, target: ActorRef[Any] | ActorAddress | str | int) -> ActorInfo:
        """:class:`ActorInfo` for a ref, address, address string or rid of a retained actor
        (else ``ActorStopped``). O(children) under the system lock."""
        return view.actor_info(self._kernel, target)

    def audit(self, *, include_actor_details: bool = True) -> AuditReport:
        """Snapshot counts (under the lock), call ``on_audit`` with the returned report, and
        record a ``PersistedAudit``. ``total_actors`` counts every actor ever spawned; the other
        counts and ``actors`` cover the retained ones. O(retained) under the system lock; never
        waits on persistence I/O (the record is queued)."""
        return view.audit(self._kernel, include_actor_details)

    def control_panel(self) -> str:
        """An aligned text table of the retained actors: rid, address, name, type, state, parent,
        live children. O(retained) under the system lock, formatting outside it."""
        return view.control_panel(self._kernel)

    # ================================================================== messaging, stopping

    def broadcast(self, message: Any, *, actor_type: type | str | None = None) -> int:
        """``tell`` ``message`` to every running actor (optionally of ``actor_type``); returns how
        many accepted it. Rejections are dead letters as usual; a full BLOCK mailbox blocks.
        Cost: O(retained) plus one ``tell`` per running actor."""
        return view.broadcast(self._kernel, message, actor_type)

    def stop(self, ref: ActorRef[Any]) -> None:
        """Request a stop of ``ref`` and its children; never waits. Graceful (queued messages
        processed first) unless called by the actor itself on its own ref (immediate). No-op
        for a foreign ref, an unknown actor, a stopped actor or a closed system; ``TypeError``
        for anything but a ref.
        Cost: O(descendants) under the system lock, plus a mailbox lock each."""
        if not isinstance(ref, ActorRef):
            raise TypeError(f"stop() takes an ActorRef, got {type(ref).__name__}")
        if ref._kernel is not self._kernel:
            return
        cell = ref._cell
        self._kernel.request_stop(cell, immediate=current_cell() is cell, reason="stopped")

    def stop_all(self) -> int:
        """Gracefully stop every running actor (children first); returns how many were asked.
        Never waits for them. O(retained) under the system lock."""
        return self._kernel.stop_all()

    # ================================================================== events

    def events(self) -> tuple[ActorEvent, ...]:
        """Snapshot of the retained event log (the newest ``event_log_capacity`` events), in
        emission order. Cost: O(retained) under the event-log lock (not the system lock)."""
        return self._kernel.event_log.snapshot()

    @property
    def event_index(self) -> int:
        """Absolute index the next event will get (= events emitted since start). Pass it as
        ``wait_for_event(start_index=...)`` to wait for an event that has not happened yet.
        O(1), no lock."""
        return self._kernel.event_log.next_index

    @property
    def events_dropped(self) -> int:
        """Events evicted from the bounded in-memory log (they were still persisted). O(1)."""
        return self._kernel.event_log.dropped

    def wait_for_event(
        self,
        predicate_or_event_type: Callable[[ActorEvent], bool] | type[ActorEvent],
        *,
        timeout: float | None = 1.0,
        start_index: int = 0,
        poll_interval: float = 0.0,
    ) -> ActorEvent:
        """Return the first event whose *absolute* index is >= ``start_index`` and that matches
        a class or predicate, waiting up to ``timeout`` seconds (``None``: forever); raise
        ``TimeoutError`` on expiry.

        Indices count every event ever emitted (see :attr:`event_index`), not positions in
        :meth:`events` — they differ once the bounded log has dropped old events. A
        ``start_index`` older than the oldest retained event starts there. Called from inside an
        actor for an event only that actor can produce, it can only time out.
        ``poll_interval`` is accepted for compatibility and ignored. Cost: blocks on the event
        log's condition (never the system lock); each event is tested once, outside the lock.
        """
        pred: Callable[[ActorEvent], bool]
        if isinstance(predicate_or_event_type, type):
            cls = predicate_or_event_type
            pred = lambda e: isinstance(e, cls)  # noqa: E731
        else:
            pred = predicate_or_event_type
        return self._kernel.event_log.wait_for(pred, timeout=timeout, start_index=start_index)

    def __repr__(self) -> str:
        return f"ActorSystem(system_id={self.system_id!r}, state={self._kernel.state.value})"


def _check_collaborators(persistence: object, startup: object, time_fn: object) -> None:
    """``TypeError`` for a backend, startup config or clock of the wrong kind, at construction
    (not at the first record or event)."""
    if time_fn is not None and not callable(time_fn):
        raise TypeError(f"time_fn must be a callable returning epoch seconds, got {time_fn!r}")
    if startup is not None:
        from papyra.persistence.startup import PersistenceStartupConfig

        if not isinstance(startup, PersistenceStartupConfig):
            raise TypeError(f"persistence_startup must be a PersistenceStartupConfig, got {startup!r}")
    if persistence is not None and not isinstance(persistence, PersistenceBackend):
        missing = [m for m in _BACKEND_METHODS if not callable(getattr(persistence, m, None))]
        if missing:
            raise TypeError(
                f"persistence must be a PersistenceBackend (or have {', '.join(_BACKEND_METHODS)}); "
                f"{persistence!r} lacks {', '.join(missing)}"
            )


def _running_ref(cell: Any, missing: str) -> ActorRef[Any]:
    if cell is None:
        raise ActorStopped(missing, reason="shutdown")
    if cell.state >= STOPPING:
        raise ActorStopped("Actor is not running.", reason="shutdown")
    return ActorRef(cell)
