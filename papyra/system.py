"""The :class:`ActorSystem`: spawning, addressing, stopping, supervision plumbing, events,
audits, dead letters and persistence of one actor system.

Threading model (M:N): actors run on an elastic pool of daemon worker threads
(``papyra-worker-N``, default ``max_workers = 2 x CPUs``), each actor on at most one thread at a
time, FIFO, a fairness quantum of 32 messages per turn. Idle actors cost no thread. A worker
blocked in ``ask`` is compensated (it does not count against ``max_workers``); self-asks and ask
cycles raise ``AskDeadlock``. One background thread, ``papyra-recorder-<system_id>``, hands every
lifecycle event, audit and dead letter to the persistence backend; actors never wait on I/O.

Locks: one system ``RLock`` guards the tables (actors, names, flags, children, watchers); it is
never held while user code (factories, actor hooks, system hooks, callbacks) or persistence
runs. The event log has its own condition; each mailbox its own lock. No Papyra lock is held
while user code, a hook or a thread start runs (lock order and the ``PAPYRA_DEBUG_LOCKS=1``
check: :mod:`papyra._locks`).

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
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from papyra._cell import Cell, check_actor_instance
from papyra._dead_letters import DeadLetterMailbox
from papyra._deadlock import current_cell
from papyra._describe import describe_error
from papyra._envelope import START_ITEM, STOP, DeadLetter
from papyra._event_log import EventLog, EventQueries
from papyra._introspection import Introspection
from papyra._locks import check_unlocked, new_rlock
from papyra._recorder import Recorder
from papyra.address import ActorAddress
from papyra.conf.validation import check_int, check_name
from papyra.context import ActorContext
from papyra.dispatcher import Dispatcher
from papyra.exceptions import ActorStopped, DurabilityError
from papyra.hooks import DefaultHooks
from papyra.mailbox import Mailbox, OverflowPolicy, PutResult
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

_CREATED, _STARTING, _RUNNING, _CLOSING, _CLOSED = "created", "starting", "running", "closing", "closed"


def _as_durability_error(what: str, exc: Exception) -> DurabilityError:
    """A backend's failure as a DurabilityError (itself when it is one), keeping the cause."""
    if isinstance(exc, DurabilityError):
        return exc
    error = DurabilityError(f"persistence {what} failed: {describe_error(exc)}")
    error.__cause__ = exc
    return error


_live_systems: weakref.WeakSet[ActorSystem] = weakref.WeakSet()
def _after_fork_in_child() -> None:
    for system in list(_live_systems):
        system._after_fork_in_child(os.getppid())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _default_workers() -> int:
    return max(4, 2 * (os.cpu_count() or 2))


class ActorSystem(Introspection, EventQueries):
    """A synchronous, threaded actor system (see the module docstring).

    ``persistence=None`` means a fresh :class:`~papyra.persistence.backends.memory.InMemoryPersistence`.
    ``persistence_startup`` (a ``PersistenceStartupConfig``) makes ``start()`` check the store
    before anything can be spawned. ``max_workers`` bounds the pool (blocked askers excepted);
    ``dead_letter_capacity`` bounds the dead-letter ring; ``recorder_capacity`` bounds the
    persistence recorder's queue (records beyond it are dropped and counted).
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
        check_name("system_id", system_id)
        if max_workers is not None:
            check_int("max_workers", max_workers)
        check_int("recorder_capacity", recorder_capacity)
        check_int("terminated_history", terminated_history, minimum=0)
        if persistence is None:
            from papyra.persistence.backends.memory import InMemoryPersistence

            persistence = InMemoryPersistence()
        self.system_id = system_id
        self._persistence = persistence
        self._persistence_startup = persistence_startup
        self._hooks = hooks if hooks else DefaultHooks()
        self._time_fn: Callable[[], float] = time_fn if time_fn is not None else time.time
        self._max_workers = max_workers or _default_workers()
        self._recorder_capacity = recorder_capacity
        self.dead_letters = DeadLetterMailbox(capacity=dead_letter_capacity, on_dead_letter=on_dead_letter)

        self._lock = new_rlock()
        self._all_done = threading.Condition(self._lock)
        self._state_changed = threading.Condition(self._lock)  # the end of a start()
        self._state = _CREATED
        # Retained cells by rid, in spawn order: every live cell plus the newest
        # ``terminated_history`` terminated ones (``_terminated_rids``, oldest first).
        self._by_id: dict[int, Cell] = {}
        self._terminated_rids: deque[int] = deque()
        self._terminated_history = terminated_history
        self._evicted = 0
        self._live_cells: dict[int, Cell] = {}
        self._names: dict[str, ActorAddress] = {}
        self._reserved: set[str] = set()
        self._next_id = 1
        self._spawned = 0
        self._stopped = 0
        self._retired = {"processed": 0, "crashes": 0, "restarts": 0}

        self._event_log = EventLog(event_log_capacity)

        self._dispatcher: Dispatcher | None = None
        self._recorder: Recorder | None = None
        self._closer: threading.Thread | None = None
        self._closed_event = threading.Event()
        self._close_result = True
        self._close_error: DurabilityError | None = None
        self._forked_from: int | None = None  # the parent's pid, in a forked child
        self._lost_reported = 0  # recorder failures (+ drops) already raised by flush/close
        _live_systems.add(self)
        self._metrics = RuntimeMetrics(self._collect_metrics)

    # ================================================================== properties

    @property
    def persistence(self) -> PersistenceBackend:
        """The persistence backend. O(1)."""
        return self._persistence

    @property
    def persistence_startup(self) -> PersistenceStartupConfig | None:
        """The ``PersistenceStartupConfig`` that ``start()`` checks the store with, or ``None``. O(1)."""
        return self._persistence_startup

    @persistence_startup.setter
    def persistence_startup(self, value: PersistenceStartupConfig | None) -> None:
        self._persistence_startup = value

    @property
    def _actors(self) -> list[Cell]:
        """Retained cells in spawn order (live ones plus recent terminated ones). O(retained)."""
        with self._lock:
            return list(self._by_id.values())

    @property
    def metrics(self) -> RuntimeMetrics:
        """Runtime metrics (``snapshot()``/``reset()``; names in :mod:`papyra.runtime_metrics`).
        Cost: O(1) to get; see :class:`~papyra.runtime_metrics.RuntimeMetrics` for ``snapshot()``."""
        return self._metrics

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``close()``. O(1), no lock (racy read)."""
        return self._state == _RUNNING

    @property
    def closed(self) -> bool:
        """True once ``close()`` began. O(1), no lock (racy read)."""
        return self._state in (_CLOSING, _CLOSED)

    def now(self) -> float:
        """``time_fn()`` — epoch seconds by default. Cost: one ``time_fn`` call, no lock."""
        return self._time_fn()

    # ================================================================== lifecycle

    def start(self) -> ActorSystem:
        """Run the persistence startup check (if configured), then start the worker pool and the
        recorder. Idempotent while running; raises ``ActorStopped`` after close. If the check
        fails (``PersistenceStartupError``) the system stays unstarted and ``start()`` may be
        retried. Blocks for the duration of the check; a concurrent ``start()`` waits for the
        first. The check (and its hooks) runs without any Papyra lock held."""
        with self._lock:
            while self._state == _STARTING:
                self._state_changed.wait()
            if self._state in (_CLOSING, _CLOSED):
                raise ActorStopped("ActorSystem is closed.", reason="shutdown")
            if self._state == _RUNNING:
                return self
            self._state = _STARTING
        try:
            if self._persistence_startup is not None:
                from papyra.persistence.startup import run_startup_check

                run_startup_check(self._persistence, self._persistence_startup, hooks=self._hooks)
            recorder = Recorder(self._persistence, system_id=self.system_id, capacity=self._recorder_capacity)
        except BaseException:
            with self._lock:
                if self._state == _STARTING:
                    self._state = _CREATED
                self._state_changed.notify_all()
            raise
        with self._lock:
            closing = self._state != _STARTING  # closed while checking
            if not closing:
                self._dispatcher = Dispatcher(max_workers=self._max_workers)
                self._recorder = recorder
                self._state = _RUNNING
            self._state_changed.notify_all()
        if closing:
            recorder.close()
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")
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
        parents), wait for them, stop the workers, drain the recorder so the final events reach
        persistence, then close the backend with the time left (``backend.close(time_left)``:
        it stores what it accepted, or counts and logs what it could not).

        **Returns within** ``timeout`` plus a small constant (each stage gets the time left; a
        backend call nothing can interrupt is left to finish on its own daemon thread).
        ``None`` waits for the actors, the recorder and the backend's own bound (file stores:
        until written; Redis: ``close_timeout``).

        Returns True when everything finished: every actor terminated, every worker exited,
        every record reached the backend and was stored. Returns False when time ran out (what
        was not stored is counted: ``recorder_drops_total``, ``records_dropped``; a still-busy
        recorder is abandoned and closes the backend once its blocked call returns). Raises
        :class:`~papyra.exceptions.DurabilityError` (after the shutdown is complete) when the
        store **failed** — a fail-stop write error lost records — so a failure is never mistaken
        for a timeout. Idempotent; a concurrent caller waits for the first and gets the same
        outcome. Called from inside an actor, it only starts the shutdown (a ``papyra-closer``
        thread finishes it) and returns False. Cost: blocks up to ``timeout``; takes the
        system lock briefly.
        """
        submits: list[Cell] = []
        with self._lock:
            state = self._state
            first = state in (_CREATED, _STARTING, _RUNNING)
            if first:
                self._state = _CLOSING
                for cell in reversed(self._by_id.values()):
                    if not cell.done:
                        self._request_stop_locked(cell, False, "shutdown", submits)
        for cell in submits:
            self._dispatcher_submit(cell)
        inside = current_cell() is not None and current_cell().system is self
        if not first:
            if inside:
                return False
            done = self._closed_event.wait(timeout)
            closer = self._closer
            if closer is not None and closer is not threading.current_thread():
                closer.join(timeout)
            if done and self._close_error is not None:
                raise self._close_error
            return done and self._close_result
        if inside:
            self._closer = threading.Thread(
                target=self._finish_close, args=(None,), name=f"papyra-closer-{self.system_id}", daemon=True
            )
            self._closer.start()
            return False
        ok = self._finish_close(timeout)
        if self._close_error is not None:
            raise self._close_error
        return ok

    def _finish_close(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        with self._lock:
            while self._live_cells:
                left = remaining()
                if left is not None and left <= 0:
                    break
                self._all_done.wait(left)
            stragglers = [str(c.address) for c in self._live_cells.values()]
        ok = not stragglers
        if stragglers:
            logger.warning("papyra: close() timed out; actors still running: %s", ", ".join(stragglers[:20]))
        if self._dispatcher is not None:
            ok = self._dispatcher.shutdown(remaining()) and ok
        recorder_done = True
        if self._recorder is not None:
            # Past the deadline the recorder is abandoned: it drops what is left (counted in
            # recorder_drops_total) and closes the backend itself once its current call returns.
            recorder_done = self._recorder.close(remaining(), on_abandon=self._close_backend)
            if not recorder_done:
                ok = False
                logger.warning("papyra: close() timed out before every record reached persistence")
        error: DurabilityError | None = None
        if recorder_done:
            stored, error = self._close_backend(remaining())
            ok = ok and stored
            if error is None and self._recorder is not None:
                try:  # the backend refused records (drops at an abandoned close are a timeout)
                    self._raise_if_lost(self._recorder.failures, "close")
                except DurabilityError as exc:
                    error = exc
        with self._lock:
            self._state = _CLOSED
            self._close_result = ok
            self._close_error = error
        self._closed_event.set()
        return ok

    def _close_backend(self, timeout: float | None = None) -> tuple[bool, DurabilityError | None]:
        """Close the backend within ``timeout``: (everything stored?, the store's failure)."""
        backend = self._persistence
        try:
            if isinstance(backend, PersistenceBackend):
                stored = backend.close(timeout)
                failed = backend.failed
                if failed is None:
                    return stored, None
                error = DurabilityError(f"persistence failed, records were lost: {describe_error(failed)}")
                error.__cause__ = failed
                return False, error
            stored = backend.flush(timeout) is not False  # a duck-typed backend: flush, then close
            backend.close()
            return stored, None
        except Exception as exc:
            logger.warning("papyra: persistence close failed", exc_info=True)
            return False, _as_durability_error("close", exc)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record produced so far was handed to the backend, then
        ``persistence.flush(time_left)``.

        Returns True when all of them are stored (per the backend's fsync policy), False when
        ``timeout`` (seconds; ``None``: no bound but the backend's own) ran out first. Raises
        :class:`~papyra.exceptions.DurabilityError` when the store failed (a fail-stop write
        error; another error from a custom backend is wrapped, keeping the cause), and — once
        per loss — when records never reached the backend since the last report (its
        ``record_*`` raised, or the recorder queue was full). Blocks; do not call from an actor
        that other actors' records wait on.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        ok = True
        recorder = self._recorder
        if recorder is not None:
            ok = recorder.flush(timeout)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            stored = bool(self._persistence.flush(left)) and ok
        except Exception as exc:
            raise _as_durability_error("flush", exc) from exc
        if recorder is not None:
            self._raise_if_lost(recorder.failures + recorder.drops, "flush")
        return stored

    def _raise_if_lost(self, lost: int, what: str) -> None:
        """Raise once for records lost on the way to the backend since the last report."""
        with self._lock:
            new, self._lost_reported = lost - self._lost_reported, max(lost, self._lost_reported)
        if new > 0:
            raise DurabilityError(
                f"{what}: {new} records never reached persistence (the backend refused them or the "
                "recorder queue was full; recorder_failures_total / recorder_drops_total, papyra log)"
            )

    def compact(self) -> Any:
        """``persistence.compact()``: its report; the backend's error (e.g. ``LockTimeout``,
        ``DurabilityError``) is raised as is. Blocks for the backend's compaction (I/O); no
        system lock."""
        return self._persistence.compact()

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
        coroutine hooks raise ``TypeError``. Cost: two short system-lock sections plus the
        factory call (the factory and the context injection run without any Papyra lock).
        """
        mailbox = Mailbox(mailbox_capacity, overflow=overflow, put_timeout=put_timeout)
        if policy is None:
            policy = SupervisionPolicy(strategy=Strategy.RESTART if name is not None else Strategy.STOP)
        elif not isinstance(policy, SupervisionPolicy):
            raise TypeError(f"policy must be a SupervisionPolicy, got {policy!r}")
        if name is not None:
            check_name("name", name)
        if not callable(factory):
            raise TypeError("factory must be a zero-argument callable returning an actor")
        if isinstance(factory, type):
            check_actor_instance(factory)
        parent_cell: Cell | None = None
        if parent is not None:
            if not isinstance(parent, ActorRef) or parent._system is not self:
                raise ValueError("parent must be an ActorRef of this ActorSystem")
            parent_cell = parent._cell
        if name is None:
            # No name to reserve: call the factory first, then one lock section.
            if self._state != _RUNNING:  # fail fast (re-checked under the lock below)
                raise self._not_running()
            check_unlocked("actor factory")
            instance = factory()
            check_actor_instance(instance)
        else:
            with self._lock:
                self._check_spawn_allowed(parent_cell)
                if name in self._names or name in self._reserved:
                    raise ValueError(f"Actor name '{name}' already exists.")
                self._reserved.add(name)
            check_unlocked("actor factory")
            try:
                instance = factory()
                check_actor_instance(instance)
            except BaseException:
                with self._lock:
                    self._reserved.discard(name)
                raise
        with self._lock:
            if name is not None:
                self._reserved.discard(name)
            self._check_spawn_allowed(parent_cell)
            rid = self._next_id
            self._next_id += 1
            address = ActorAddress(self.system_id, rid)
            cell = Cell(self, rid, address, factory, instance, mailbox, policy, name, parent_cell)
            self._by_id[rid] = cell
            self._live_cells[rid] = cell
            if name is not None:
                self._names[name] = address
            if parent_cell is not None:
                parent_cell.children[rid] = cell
                parent_cell.live_children += 1
            self._spawned += 1
            # Scheduled now (so no concurrent send submits it), submitted after the context
            # reached the instance: user code (a __setattr__) runs outside the lock.
            scheduled = mailbox.put_control(START_ITEM) is PutResult.SCHEDULE
        self._inject_context(cell)
        if scheduled:
            self._dispatcher_submit(cell)
        ref: ActorRef[A] = cell.self_ref
        return ref

    def _not_running(self) -> ActorStopped:
        if self._forked_from is not None:
            return ActorStopped(
                f"this ActorSystem was started by process {self._forked_from}, which forked this "
                "one; it does not run here. Create a new ActorSystem after fork()",
                reason="shutdown",
            )
        return ActorStopped("ActorSystem is not running.", reason="shutdown")

    def _after_fork_in_child(self, parent: int) -> None:
        """Only the forking thread survives a fork: no workers, no recorder, and any lock may be
        held by a thread that no longer exists. The inherited system refuses everything
        (``ActorStopped``) and ``close()`` returns at once; the parent is unaffected."""
        self._forked_from = parent
        self._lock = new_rlock()
        self._all_done = threading.Condition(self._lock)
        self._state_changed = threading.Condition(self._lock)
        self._recorder = None
        self._dispatcher = None
        self._closer = None
        for cell in self._by_id.values():
            cell.accepting = False
        self._state = _CLOSED
        self._close_result, self._close_error = True, None
        self._closed_event = threading.Event()
        self._closed_event.set()

    def _check_spawn_allowed(self, parent_cell: Cell | None) -> None:
        if self._state != _RUNNING:
            raise self._not_running()
        if parent_cell is not None and not parent_cell.accepting:
            raise ActorStopped("Parent actor is not running.", reason="shutdown")

    def _inject_context(self, cell: Cell) -> None:
        check_unlocked("context injection")
        parent_ref = cell.parent.self_ref if cell.parent is not None else None
        try:
            cell.actor._context = ActorContext(self, cell.self_ref, parent_ref)
        except AttributeError:
            logger.debug("papyra: cannot inject a context into %r", cell.actor)

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
        with self._lock:
            cell = self._by_id.get(address.actor_id)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        if not cell.accepting:
            raise ActorStopped("Actor is not running.", reason="shutdown")
        return ActorRef(self, cell)

    def ref_for_name(self, name: str) -> ActorRef[Any]:
        """A fresh ref for the running actor registered under ``name`` (else ``ActorStopped``).
        Cost: O(1), one short system-lock section."""
        with self._lock:
            address = self._names.get(name)
            cell = None if address is None else self._by_id.get(address.actor_id)
        if cell is None:
            raise ActorStopped(f"Actor with name '{name}' does not exist.", reason="shutdown")
        if not cell.accepting:
            raise ActorStopped("Actor is not running.", reason="shutdown")
        return ActorRef(self, cell)

    # ================================================================== stopping (public)

    def stop(self, ref: ActorRef[Any]) -> None:
        """Request a stop of ``ref`` and its children; never waits. Graceful (queued messages
        processed first) unless called by the actor itself on its own ref (immediate). No-op
        for a foreign ref, an unknown actor, a stopped actor or a closed system.
        Cost: O(descendants) under the system lock, plus a mailbox lock each."""
        if not isinstance(ref, ActorRef) or ref._system is not self:
            return
        cell = ref._cell
        if current_cell() is cell:
            self._request_stop(cell, immediate=True, reason="stopped")
        else:
            self._stop_graceful(cell)

    def __repr__(self) -> str:
        return f"ActorSystem(system_id={self.system_id!r}, state={self._state})"
