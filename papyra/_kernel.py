"""The runtime kernel: the one object that owns an actor system's state (internal).

:class:`~papyra.system.ActorSystem` is a thin public facade over one :class:`Kernel`. The kernel
owns the system lock, the actor tables (cells by id, live cells, names, reserved names), the
dispatcher, the event log, the dead-letter ring and the record path to persistence, and it makes
**every** cell state change (:class:`~papyra._cell_state.CellState`, under the system lock).
Cells, refs and contexts talk to the kernel's small internal API below, never to the facade.

Lock order, outermost first (a thread holding one may take only those after it)::

    start state (Kernel.state_changed, same lock as the system lock)
    1. system lock          Kernel.lock: tables, cell states, names, children, watchers
    2. mailbox lock         one per cell (papyra.mailbox)
    3. dispatcher lock      papyra.dispatcher
    leaves (take nothing):  wait-for graph, event log, dead-letter ring, record path and its
                            adapter queue, reply slots, metrics

**No user code, hook, backend call or thread start runs while any of them is held**: methods that
lock collect what to do (cells to submit, watchers to notify) and act after releasing.
``PAPYRA_DEBUG_LOCKS=1`` turns :func:`~papyra._locks.check_unlocked` into an assertion the test
suite checks after every test (:mod:`papyra._locks`).
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from papyra._cell import Cell, check_new_instance
from papyra._cell_state import (
    AWAITING_CHILDREN,
    FINALIZING,
    RESTARTING,
    RUNNING,
    STARTING,
    STOPPING,
    STOPPING_NOW,
    TERMINATED,
)
from papyra._dead_letters import DeadLetterMailbox
from papyra._envelope import START_ITEM, STOP, WAKE_ITEM, ActorTerminated, DeadLetter, EscalatedFailure
from papyra._event_log import EventLog
from papyra._locks import check_unlocked, new_rlock
from papyra._record_path import RecordPath, time_left
from papyra.address import ActorAddress
from papyra.context import ActorContext
from papyra.dispatcher import Dispatcher
from papyra.events import ActorEvent
from papyra.exceptions import ActorStopped, AskTimeout, DurabilityError, MailboxFull
from papyra.hooks import call_hook, run_callback
from papyra.mailbox import Mailbox, OverflowPolicy, PutResult
from papyra.persistence.runtime_records import dead_letter_record, event_record
from papyra.ref import ActorRef
from papyra.runtime_metrics import RuntimeMetrics
from papyra.supervision import SupervisionPolicy

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ["Kernel", "System"]

logger = logging.getLogger("papyra")


class System(str, enum.Enum):
    """States of the system as a whole (``Kernel.state``), in order."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


class Kernel:
    """The state of one actor system and every change to it (see the module docstring)."""

    def __init__(
        self,
        system: ActorSystem,
        *,
        system_id: str,
        persistence: Any,
        hooks: Any,
        time_fn: Callable[[], float],
        max_workers: int,
        dead_letters: DeadLetterMailbox,
        recorder_capacity: int,
        terminated_history: int,
        event_log_capacity: int,
    ) -> None:
        self.system = system  # the public facade, handed to user code (contexts, refs' owners)
        self.system_id = system_id
        self.persistence = persistence
        self.hooks = hooks
        self.time_fn = time_fn
        self._clock_failed = False
        self.max_workers = max_workers
        self.dead_letters = dead_letters
        self.event_log = EventLog(event_log_capacity)
        self.records = RecordPath(persistence, system_id=system_id, recorder_capacity=recorder_capacity)
        self.metrics = RuntimeMetrics(self.collect_metrics)

        self.lock = new_rlock()
        self.all_done = threading.Condition(self.lock)
        self.state_changed = threading.Condition(self.lock)  # the end of a start()
        self.state = System.CREATED
        self.dispatcher: Dispatcher | None = None
        self.forked_from: int | None = None  # the parent's pid, in a forked child
        # Retained cells by rid, in spawn order: every live cell plus the newest
        # ``terminated_history`` terminated ones (``terminated_rids``, oldest first).
        self.cells: dict[int, Cell] = {}
        self.live: dict[int, Cell] = {}
        self.terminated_rids: deque[int] = deque()
        self.terminated_history = terminated_history
        self.evicted = 0
        self.names: dict[str, ActorAddress] = {}
        self.reserved: set[str] = set()
        self.owners: dict[int, Cell] = {}  # id(instance) -> its live cell: one actor per instance
        self.next_id = 1
        self.spawned = 0
        self.stopped = 0
        self.retired = {"processed": 0, "crashes": 0, "restarts": 0}

    # ================================================================== system lifecycle

    def begin_start(self) -> bool:
        """Move CREATED → STARTING (waiting for a concurrent start). False when already running;
        ``ActorStopped`` once closing. Takes the system lock."""
        with self.lock:
            while self.state == System.STARTING:
                self.state_changed.wait()
            if self.state in (System.CLOSING, System.CLOSED):
                raise ActorStopped("ActorSystem is closed.", reason="shutdown")
            if self.state == System.RUNNING:
                return False
            self.state = System.STARTING
            return True

    def abort_start(self) -> None:
        """The startup check failed: back to CREATED (``start()`` may be retried)."""
        with self.lock:
            if self.state == System.STARTING:
                self.state = System.CREATED
            self.state_changed.notify_all()

    def finish_start(self) -> None:
        """Open the record path and the worker pool, then RUNNING; ``ActorStopped`` when the
        system was closed meanwhile. Thread starts run outside the system lock."""
        self.records.open()  # a no-op once a concurrent close() closed the record path
        dispatcher = Dispatcher(max_workers=self.max_workers)
        with self.lock:
            closing = self.state != System.STARTING
            if not closing:
                self.dispatcher = dispatcher
                self.state = System.RUNNING
            self.state_changed.notify_all()
        if closing:
            dispatcher.shutdown(0)
            raise ActorStopped("ActorSystem is closed.", reason="shutdown")

    def begin_close(self) -> bool:
        """Refuse spawns and messages, request a graceful stop of every actor (children first).
        True for the first caller only. O(retained) under the system lock."""
        submits: list[Cell] = []
        with self.lock:
            first = self.state in (System.CREATED, System.STARTING, System.RUNNING)
            if first:
                self.state = System.CLOSING
                for cell in reversed(self.cells.values()):
                    if cell.state < AWAITING_CHILDREN:
                        self._request_stop_locked(cell, False, "shutdown", submits)
        self._submit_all(submits)
        return first

    def finish_close(self, deadline: float | None) -> tuple[bool, DurabilityError | None]:
        """Wait for every actor to terminate, stop the workers, then close the record path (and
        the backend) with the time left: (everything finished and stored?, the store's failure).
        Blocks until ``deadline`` (``time.monotonic()``; ``None``: no bound but the backend's)."""
        with self.lock:
            while self.live:
                left = time_left(deadline)
                if left is not None and left <= 0:
                    break
                self.all_done.wait(left)
            stragglers = [str(c.address) for c in self.live.values()]
        ok = not stragglers
        if stragglers:
            logger.warning("papyra: close() timed out; actors still running: %s", ", ".join(stragglers[:20]))
        fatal: BaseException | None = None  # from a user callback on this (non-worker) thread
        if self.dispatcher is not None:
            ok = self.dispatcher.shutdown(time_left(deadline)) and ok
            for task in self.dispatcher.dropped:
                try:
                    self.abandon(task)
                except BaseException as exc:  # every other task is still disposed of
                    fatal = fatal or exc
        stored, error = self.records.close(time_left(deadline))
        with self.lock:
            self.state = System.CLOSED
        if fatal is not None:
            raise fatal
        return ok and stored, error

    def not_running(self) -> ActorStopped:
        """The error for a spawn or send while the system is not running."""
        if self.forked_from is not None:
            return ActorStopped(
                f"this ActorSystem was started by process {self.forked_from}, which forked this "
                "one; it does not run here. Create a new ActorSystem after fork()",
                reason="shutdown",
            )
        return ActorStopped("ActorSystem is not running.", reason="shutdown")

    def after_fork_in_child(self) -> None:
        """Only the forking thread survives a fork: no workers, no adapter thread, and any lock
        may be held by a thread that no longer exists. Everything is refused from now on."""
        self.forked_from = os.getppid()
        self.lock = new_rlock()
        self.all_done = threading.Condition(self.lock)
        self.state_changed = threading.Condition(self.lock)
        self.dispatcher = None
        self.records.after_fork()
        self.dead_letters.after_fork()
        self.event_log.after_fork()
        self.metrics.after_fork()
        for cell in self.cells.values():
            if cell.state < STOPPING:
                cell.state = STOPPING
        self.state = System.CLOSED

    def now(self) -> float:
        """``time_fn()`` (epoch seconds by default). A ``time_fn`` that raises never stops an
        actor: ``time.time()`` is used instead and the first failure is logged. No lock."""
        try:
            return self.time_fn()
        except Exception:
            if not self._clock_failed:
                self._clock_failed = True
                logger.error("papyra: time_fn raised; using time.time() instead", exc_info=True)
            return time.time()

    # ================================================================== spawning

    def spawn(
        self,
        factory: Callable[[], Any],
        name: str | None,
        mailbox: Mailbox,
        policy: SupervisionPolicy,
        parent: Cell | None,
    ) -> Cell:
        """Create, register and schedule a cell (arguments already validated by the facade).
        The factory and the context injection run without any Papyra lock; with a ``name`` it
        is reserved first (``ValueError`` when taken). Cost: one or two short system-lock
        sections plus the factory call."""
        if name is None:
            if self.state != System.RUNNING:  # fail fast (re-checked under the lock below)
                raise self.not_running()
            check_unlocked("actor factory")
            instance = factory()
            check_new_instance(instance)
        else:
            with self.lock:
                self._check_spawn_allowed(parent)
                if name in self.names or name in self.reserved:
                    raise ValueError(f"Actor name '{name}' already exists.")
                self.reserved.add(name)
            check_unlocked("actor factory")
            try:
                instance = factory()
                check_new_instance(instance)
            except BaseException:
                with self.lock:
                    self.reserved.discard(name)
                raise
        with self.lock:
            if name is not None:
                self.reserved.discard(name)
            self._check_spawn_allowed(parent)
            self._check_unowned_locked(instance)
            rid = self.next_id
            self.next_id += 1
            address = ActorAddress(self.system_id, rid)
            cell = Cell(self, rid, address, factory, instance, mailbox, policy, name, parent)
            self.owners[id(instance)] = cell
            self.cells[rid] = cell
            self.live[rid] = cell
            if name is not None:
                self.names[name] = address
            if parent is not None:
                parent.children[rid] = cell
                parent.live_children += 1
            self.spawned += 1
            # Scheduled now (so no concurrent send submits it), submitted after the context
            # reached the instance: user code (a __setattr__) runs outside the lock.
            scheduled = mailbox.put_control(START_ITEM) is PutResult.SCHEDULE
        try:
            self.inject_context(cell)
        finally:  # even when a context setter raised a BaseException: the actor runs
            if scheduled:
                self.submit(cell)
        return cell

    def _check_unowned_locked(self, instance: Any) -> None:
        owner = self.owners.get(id(instance))
        if owner is not None:
            raise ValueError(
                f"the factory returned the instance of the running actor {owner.address}; an "
                "instance runs as one actor only: return a new instance from each call"
            )

    def adopt(self, cell: Cell, fresh: Any) -> None:
        """Make ``fresh`` (a restart's new instance) the instance of ``cell``; ``ValueError`` when
        it already runs as another live actor. O(1) under the system lock."""
        with self.lock:
            self._check_unowned_locked(fresh)
            self.owners.pop(id(cell.actor), None)
            self.owners[id(fresh)] = cell
            cell.actor = fresh

    def _check_spawn_allowed(self, parent: Cell | None) -> None:
        if self.state != System.RUNNING:
            raise self.not_running()
        if parent is not None and parent.state >= STOPPING:
            raise ActorStopped("Parent actor is not running.", reason="shutdown")

    def inject_context(self, cell: Cell) -> None:
        """Give the (fresh) instance its ``context``; runs user code (``__setattr__``). An
        instance that refuses it (``__slots__``, a raising setter) runs without a context: a
        setter's error is logged, never raised (see :func:`~papyra.hooks.run_callback` for
        ``BaseException``)."""
        context = ActorContext(self.system, cell.self_ref, cell.parent.self_ref if cell.parent else None)
        run_callback(f"setting the context of {cell.address}", _set_context, (cell.actor, context))

    def lookup(self, rid: int) -> Cell | None:
        """The retained cell with this id, or None. O(1) under the system lock."""
        with self.lock:
            return self.cells.get(rid)

    # ================================================================== scheduling

    def submit(self, cell: Any) -> None:
        """Hand a runnable cell (or finalize task) to the dispatcher; one the dispatcher refuses
        (shut down by a close that ran out of time) is abandoned at once. No system lock."""
        dispatcher = self.dispatcher
        if dispatcher is not None and not dispatcher.submit(cell):
            self.abandon(cell)

    def abandon(self, task: Any) -> None:
        """A scheduled task no worker will ever run (``close(timeout)`` ran out and shut the
        workers down): nobody else runs this cell, so its mailbox is emptied here — every
        message becomes one dead letter and every pending ask fails with ``ActorStopped`` — and
        the cell is marked stopping. No actor code runs (no ``on_stop``): the actor is abandoned,
        not terminated. O(queued messages)."""
        if not isinstance(task, Cell):
            return  # a parent's deferred phase 2: nothing waits on it
        with self.lock:
            if task.state < STOPPING_NOW:
                task.state = STOPPING_NOW
            leftovers, control = task.mailbox.close_all()
        task.abandon(leftovers, control)

    def _submit_all(self, cells: list[Cell]) -> None:
        for cell in cells:
            self.submit(cell)

    # ================================================================== cell state changes

    def mark_started(self, cell: Cell) -> None:
        """``on_start`` returned (or a parent decided IGNORE): STARTING → RUNNING."""
        with self.lock:
            if cell.state is STARTING:
                cell.state = RUNNING

    def begin_restart(self, cell: Cell) -> None:
        """A restart begins: STARTING/RUNNING → RESTARTING (a stop requested meanwhile wins)."""
        with self.lock:
            if cell.state < RESTARTING:
                cell.state = RESTARTING

    def end_restart(self, cell: Cell) -> None:
        """A restart ended (either way): RESTARTING → RUNNING unless a stop was requested."""
        with self.lock:
            if cell.state is RESTARTING:
                cell.state = RUNNING

    def stop_graceful(self, cell: Cell) -> None:
        """Graceful stop of ``cell`` and its children (queued messages are processed first)."""
        self.request_stop(cell, immediate=False, reason="stopped")

    def request_stop(self, cell: Cell, *, immediate: bool, reason: str) -> None:
        """Stop ``cell`` and its children (children first). Never waits. O(descendants) under
        the system lock, plus one mailbox lock each."""
        submits: list[Cell] = []
        with self.lock:
            self._request_stop_locked(cell, immediate, reason, submits)
        self._submit_all(submits)

    def _request_stop_locked(self, cell: Cell, immediate: bool, reason: str, submits: list[Cell]) -> None:
        state = cell.state
        if state >= AWAITING_CHILDREN:
            return
        child_reason = "shutdown" if reason == "shutdown" else "parent-stopped"
        for child in reversed(cell.children.values()):
            if child.state < AWAITING_CHILDREN:
                self._request_stop_locked(child, immediate, child_reason, submits)
        if state < STOPPING:
            cell.stop_reason = reason
            if cell.name is not None and self.names.get(cell.name) == cell.address:
                del self.names[cell.name]
            if immediate:
                cell.state = STOPPING_NOW
                result = cell.mailbox.put_control(WAKE_ITEM)
            else:
                cell.state = STOPPING
                result = cell.mailbox.put((STOP, None), bypass=True)
        elif immediate and state is STOPPING:
            cell.state = STOPPING_NOW
            cell.stop_reason = reason
            result = cell.mailbox.put_control(WAKE_ITEM)
        else:
            return
        if result is PutResult.SCHEDULE:
            submits.append(cell)

    def stop_fatal(self, cell: Cell, reason: str) -> None:
        """Immediate stop whose reason is ``reason`` even when a stop was already under way (a
        fatal error outranks it)."""
        submits: list[Cell] = []
        with self.lock:
            self._request_stop_locked(cell, True, reason, submits)
            if cell.state < AWAITING_CHILDREN:
                cell.stop_reason = reason
        self._submit_all(submits)

    def stop_children(self, cell: Cell) -> None:
        """Immediate stop of every child of ``cell`` (before its restart or stop)."""
        submits: list[Cell] = []
        with self.lock:
            for child in reversed(cell.children.values()):
                if child.state < AWAITING_CHILDREN:
                    self._request_stop_locked(child, True, "parent-stopped", submits)
        self._submit_all(submits)

    def stop_all(self) -> int:
        """Graceful stop of every accepting actor (children first); how many were asked."""
        submits: list[Cell] = []
        count = 0
        with self.lock:
            for cell in reversed(self.cells.values()):
                if cell.state < STOPPING:
                    count += 1
                    self._request_stop_locked(cell, False, "stopped", submits)
        self._submit_all(submits)
        return count

    def escalate(self, parent: Cell, error: BaseException, child_rid: int) -> None:
        """Hand a child's failure to ``parent``'s control lane, to handle as its own."""
        item = EscalatedFailure(error, child_rid, parent.incarnation)
        if parent.mailbox.put_control(item) is PutResult.SCHEDULE:
            self.submit(parent)

    def begin_termination(self, cell: Cell) -> tuple[list[tuple[Any, Any]], list[Any], list[Cell] | None]:
        """Phase 1: the cell is done; close its mailbox. Returns the user envelopes and control
        items left and — when no child is alive, so phase 2 can follow at once (FINALIZING) —
        its watchers; ``None`` when it waits for its children (AWAITING_CHILDREN)."""
        with self.lock:
            if cell.state < STOPPING and cell.name is not None and self.names.get(cell.name) == cell.address:
                del self.names[cell.name]
            leftovers, control = cell.mailbox.close_all()
            if cell.live_children > 0:
                cell.state = AWAITING_CHILDREN
                return leftovers, control, None
            cell.state = FINALIZING
            return leftovers, control, self._take_watchers_locked(cell)

    def begin_finalize(self, cell: Cell) -> list[Cell] | None:
        """Phase 2 of a cell that waited for its children: AWAITING_CHILDREN → FINALIZING; its
        watchers, or None when phase 2 already began."""
        with self.lock:
            if cell.state is not AWAITING_CHILDREN:
                return None
            cell.state = FINALIZING
            return self._take_watchers_locked(cell)

    @staticmethod
    def _take_watchers_locked(cell: Cell) -> list[Cell]:
        watchers = list(cell.watchers.values())
        cell.watchers.clear()
        cell.notified = {w.rid for w in watchers}  # each watcher is told once, ever
        return watchers

    def mark_terminated(self, cell: Cell) -> None:
        """Last step of phase 2: TERMINATED; drop the instance and everything heavy (the cell
        stays small, since refs may still point at it), fold its counters into the retired
        totals, keep at most ``terminated_history`` terminated cells, and schedule the parent's
        phase 2 when this was its last live child. O(1) amortised under the system lock."""
        finalize = None
        with self.lock:
            cell.state = TERMINATED
            self.owners.pop(id(cell.actor), None)
            cell.release()
            history = self.terminated_rids
            history.append(cell.rid)
            while len(history) > self.terminated_history:
                self._evict_locked(history.popleft())
            self.live.pop(cell.rid, None)
            self.stopped += 1
            retired = self.retired
            retired["processed"] += cell.processed
            retired["crashes"] += cell.crashes
            retired["restarts"] += cell.restarts
            parent = cell.parent
            if parent is not None:
                parent.live_children -= 1
                if parent.live_children == 0 and parent.state is AWAITING_CHILDREN:
                    finalize = parent.finalize_task()
            if not self.live:
                self.all_done.notify_all()
        if finalize is not None:
            self.submit(finalize)

    def _evict_locked(self, rid: int) -> None:
        cell = self.cells.pop(rid, None)
        if cell is None:
            return
        self.evicted += 1
        if cell.parent is not None:
            cell.parent.children.pop(rid, None)
        cell.children = {}

    # ================================================================== watches

    def watch(self, watcher: Cell, target: Cell, on: bool) -> None:
        """Register (or cancel) a watch; a target already past phase 1 is reported at once.
        A watcher gets exactly one ``ActorTerminated`` per target, however often it watches.
        O(1) under the system lock."""
        if watcher is target:
            return
        with self.lock:
            if not on:
                target.watchers.pop(watcher.rid, None)
                return
            if target.state < FINALIZING:
                target.watchers[watcher.rid] = watcher
                return
            if watcher.rid in target.notified:  # already told: exactly one notice per pair
                return
            target.notified.add(watcher.rid)
        self.deliver_terminated(watcher, target)

    def deliver_terminated(self, watcher: Cell, target: Cell) -> None:
        """Put one ``ActorTerminated`` into ``watcher``'s mailbox (bypassing its capacity)."""
        notice = ActorTerminated(ActorRef(target))
        if watcher.mailbox.put((notice, None), bypass=True) is PutResult.SCHEDULE:
            self.submit(watcher)

    # ================================================================== dead letters

    def reject(self, ref: ActorRef[Any], message: Any, expects_reply: bool) -> None:
        """A send to an actor that does not accept messages: one dead letter, ``ActorStopped``."""
        self.dead_letter(ref, message, expects_reply, "stopped")
        raise ActorStopped("Actor is not running.")

    def put_failed(
        self,
        ref: ActorRef[Any],
        message: Any,
        result: PutResult,
        *,
        expects_reply: bool,
        ask_timeout: float | None = None,
        from_ask: bool = False,
    ) -> None:
        """A put that was refused (closed or full mailbox): one dead letter, then the sender's
        error (none for a DROP mailbox's tell)."""
        if result is PutResult.CLOSED:
            self.reject(ref, message, expects_reply)
        mailbox = ref._cell.mailbox
        overflow = mailbox.overflow
        if overflow is OverflowPolicy.DROP and not expects_reply:
            self.dead_letter(ref, message, False, "dropped")
            return
        self.dead_letter(ref, message, expects_reply, "mailbox-full")
        if from_ask and overflow is OverflowPolicy.BLOCK:
            raise AskTimeout(f"ask() timed out after {ask_timeout} seconds.") from TimeoutError()
        raise MailboxFull(f"Mailbox of {ref.address} is full (capacity {mailbox.capacity}).")

    def dead_letter(self, ref: ActorRef[Any], message: Any, expects_reply: bool, reason: str) -> None:
        """Record one dead letter: the ring, the ``on_dead_letter`` hook, persistence."""
        dead_letter = DeadLetter(ref, message, expects_reply, reason)
        self.dead_letters.push(dead_letter)
        self.hook("on_dead_letter", dead_letter)
        self.records.record(
            "record_dead_letter",
            lambda: dead_letter_record(self.system_id, ref.address, message, self.now()),
        )

    # ================================================================== events, hooks

    def emit(self, event: ActorEvent) -> None:
        """Hand the event to persistence, then publish it (event log, ``on_event``): an event
        seen in ``events()``/``wait_for_event`` is already covered by the next ``flush``."""
        self.records.record("record_event", lambda: event_record(self.system_id, event))
        self.event_log.append(event)
        self.hook("on_event", event)

    def hook(self, name: str, arg: Any) -> None:
        """Call the system hook ``name`` (user code: never under a Papyra lock)."""
        call_hook(self.hooks, name, arg)

    # ================================================================== metrics

    def collect_metrics(self) -> dict[str, Any]:
        """The raw numbers behind ``system.metrics.snapshot()``. O(live actors); one short
        system-lock section to copy the tables."""
        with self.lock:
            live = list(self.live.values())
            retired = dict(self.retired)
            spawned, stopped = self.spawned, self.stopped
        depth: dict[str, int] = {}
        processed, crashes, restarts = retired["processed"], retired["crashes"], retired["restarts"]
        alive = 0
        for c in live:
            processed += c.processed
            crashes += c.crashes
            restarts += c.restarts
            if c.state < STOPPING:
                alive += 1
            depth[c.actor_type] = depth.get(c.actor_type, 0) + len(c.mailbox)
        records = self.records
        dispatcher = self.dispatcher
        return {
            "actors_spawned_total": spawned,
            "actors_stopped_total": stopped,
            "messages_processed_total": processed,
            "actor_crashes_total": crashes,
            "actor_restarts_total": restarts,
            "dead_letters_total": self.dead_letters.total,
            "dead_letters_evicted_total": self.dead_letters.dropped,
            "recorder_failures_total": records.failures,
            "recorder_drops_total": records.drops,
            "actors_alive": alive,
            "workers": dispatcher.thread_count if dispatcher else 0,
            "workers_peak": dispatcher.peak_threads if dispatcher else 0,
            "recorder_queue_depth": records.depth,
            "mailbox_depth": depth,
        }


def _set_context(target: tuple[Any, ActorContext]) -> None:
    actor, context = target
    try:
        actor._context = context
    except AttributeError:  # __slots__ without _context: the actor runs without a context
        logger.debug("papyra: cannot inject a context into %r", actor)
