"""Runtime plumbing of :class:`~papyra.system.ActorSystem` used by refs and cells (internal).

Stop requests and cascades, termination bookkeeping, watches, dead letters, event emission,
hook dispatch, persistence recording and metric collection. Every method here that takes the
system lock releases it before calling user code, hooks or the backend.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from papyra._dead_letters import DeadLetterMailbox
from papyra._describe import describe_payload
from papyra._envelope import STOP, WAKE_ITEM, ActorTerminated, DeadLetter, EscalatedFailure
from papyra._event_log import EventLog
from papyra._recorder import Recorder
from papyra.dispatcher import Dispatcher
from papyra.events import ActorEvent
from papyra.exceptions import ActorStopped, AskTimeout, MailboxFull
from papyra.hooks import call_hook
from papyra.mailbox import OverflowPolicy, PutResult
from papyra.persistence.models import PersistedDeadLetter, PersistedEvent
from papyra.ref import ActorRef
from papyra.runtime_metrics import RuntimeMetrics

if TYPE_CHECKING:
    from papyra._cell import Cell
    from papyra.address import ActorAddress
    from papyra.system import ActorSystem

__all__ = ["RuntimeCore"]

logger = logging.getLogger("papyra")


class RuntimeCore:
    """Mixin holding the internals of ``ActorSystem`` (attributes are set by its ``__init__``)."""

    system_id: str
    dead_letters: DeadLetterMailbox
    _lock: threading.RLock
    _all_done: threading.Condition
    _names: dict[str, ActorAddress]
    _live_cells: dict[int, Cell]
    _stopped: int
    _spawned: int
    _retired: dict[str, int]
    _event_log: EventLog
    _by_id: dict[int, Cell]
    _terminated_rids: deque[int]
    _terminated_history: int
    _evicted: int
    _hooks: Any
    _dispatcher: Dispatcher | None
    _recorder: Recorder | None
    _metrics: RuntimeMetrics

    def now(self) -> float:
        raise NotImplementedError

    def _dispatcher_submit(self, cell: Any) -> None:
        dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.submit(cell)

    def _stop_graceful(self, cell: Cell) -> None:
        self._request_stop(cell, immediate=False, reason="stopped")

    def _stop_from_actor(self, ref: ActorRef[Any]) -> None:
        if ref._system is self:
            self._request_stop(ref._cell, immediate=True, reason="stopped")

    def _request_stop(self, cell: Cell, *, immediate: bool, reason: str) -> None:
        submits: list[Cell] = []
        with self._lock:
            self._request_stop_locked(cell, immediate, reason, submits)
        for c in submits:
            self._dispatcher_submit(c)

    def _request_stop_locked(self, cell: Cell, immediate: bool, reason: str, submits: list[Cell]) -> None:
        if cell.done:
            return
        child_reason = "shutdown" if reason == "shutdown" else "parent-stopped"
        for child in reversed(cell.children.values()):
            if not child.done:
                self._request_stop_locked(child, immediate, child_reason, submits)
        if not cell.stopping:
            cell.stopping = True
            cell.accepting = False
            cell.stop_reason = reason
            if cell.name is not None and self._names.get(cell.name) == cell.address:
                del self._names[cell.name]
            if immediate:
                cell.stop_now = True
                result = cell.mailbox.put_control(WAKE_ITEM)
            else:
                result = cell.mailbox.put((STOP, None), bypass=True)
        elif immediate and not cell.stop_now:
            cell.stop_now = True
            cell.stop_reason = reason
            result = cell.mailbox.put_control(WAKE_ITEM)
        else:
            return
        if result is PutResult.SCHEDULE:
            submits.append(cell)

    def _stop_fatal(self, cell: Cell, reason: str) -> None:
        """Immediate stop of ``cell`` whose reason is ``reason`` even when a stop was already
        under way (a fatal error outranks it)."""
        submits: list[Cell] = []
        with self._lock:
            self._request_stop_locked(cell, True, reason, submits)
            if not cell.done:
                cell.stop_reason = reason
        for c in submits:
            self._dispatcher_submit(c)

    def _stop_children(self, cell: Cell) -> None:
        submits: list[Cell] = []
        with self._lock:
            for child in reversed(cell.children.values()):
                if not child.done:
                    self._request_stop_locked(child, True, "parent-stopped", submits)
        for c in submits:
            self._dispatcher_submit(c)

    def _escalate(self, parent: Cell, error: BaseException, child_rid: int) -> None:
        if parent.mailbox.put_control(EscalatedFailure(error, child_rid)) is PutResult.SCHEDULE:
            self._dispatcher_submit(parent)

    def _set_restarting(self, cell: Cell, flag: bool) -> None:
        with self._lock:
            cell.restarting = flag

    def _begin_termination(
        self, cell: Cell
    ) -> tuple[list[tuple[Any, Any]], list[Any], bool, list[Cell] | None]:
        """Phase 1 bookkeeping: the user envelopes and control items left, whether to wait for
        children, and (without live children, when the actor is also marked dead here: one lock
        section instead of two) its watchers."""
        with self._lock:
            cell.done = True
            if not cell.stopping:
                cell.stopping = True
                if cell.name is not None and self._names.get(cell.name) == cell.address:
                    del self._names[cell.name]
            cell.accepting = False
            leftovers, control = cell.mailbox.close_all()
            wait = cell.live_children > 0
            cell.awaiting_children = wait
            watchers: list[Cell] | None = None
            if not wait:
                cell.alive = False
                watchers = list(cell.watchers.values())
                cell.watchers.clear()
        return leftovers, control, wait, watchers

    def _mark_dead(self, cell: Cell) -> list[Cell] | None:
        with self._lock:
            if not cell.alive:
                return None
            cell.alive = False
            watchers = list(cell.watchers.values())
            cell.watchers.clear()
        return watchers

    def _deliver_terminated(self, watcher: Cell, target: Cell) -> None:
        notice = ActorTerminated(ActorRef(cast("ActorSystem", self), target))
        if watcher.mailbox.put((notice, None), bypass=True) is PutResult.SCHEDULE:
            self._dispatcher_submit(watcher)

    def _mark_terminated(self, cell: Cell) -> None:
        """Last step of phase 2: drop the instance and everything heavy (the cell object stays
        small, since refs may still point at it), fold its counters into the retired totals and
        keep at most ``terminated_history`` terminated cells for introspection. O(1) amortised
        under the system lock."""
        finalize = None
        with self._lock:
            cell.terminated = True
            cell.release()
            history = self._terminated_rids
            history.append(cell.rid)
            while len(history) > self._terminated_history:
                self._evict_locked(history.popleft())
            self._live_cells.pop(cell.rid, None)
            self._stopped += 1
            retired = self._retired
            retired["processed"] += cell.processed
            retired["crashes"] += cell.crashes
            retired["restarts"] += cell.restarts
            parent = cell.parent
            if parent is not None:
                parent.live_children -= 1
                if parent.live_children == 0 and parent.awaiting_children:
                    parent.awaiting_children = False
                    finalize = parent.finalize_task()
            if not self._live_cells:
                self._all_done.notify_all()
        if finalize is not None:
            self._dispatcher_submit(finalize)

    def _evict_locked(self, rid: int) -> None:
        cell = self._by_id.pop(rid, None)
        if cell is None:
            return
        self._evicted += 1
        if cell.parent is not None:
            cell.parent.children.pop(rid, None)
        cell.children = {}

    def _watch(self, watcher_ref: ActorRef[Any], target_ref: ActorRef[Any], on: bool) -> None:
        if not isinstance(target_ref, ActorRef) or target_ref._system is not self:
            return
        if watcher_ref._system is not self:
            return
        watcher = watcher_ref._cell
        target = target_ref._cell
        if watcher is target:
            return
        with self._lock:
            if not on:
                target.watchers.pop(watcher.rid, None)
                return
            if target.alive:
                target.watchers[watcher.rid] = watcher
                return
        self._deliver_terminated(watcher, target)

    # ------------------------------------------------------------------ dead letters

    def _reject(self, ref: ActorRef[Any], message: Any, expects_reply: bool) -> None:
        self._dead_letter(ref, message, expects_reply, "stopped")
        raise ActorStopped("Actor is not running.")

    def _put_failed(
        self,
        ref: ActorRef[Any],
        message: Any,
        result: PutResult,
        *,
        expects_reply: bool,
        ask_timeout: float | None = None,
        from_ask: bool = False,
    ) -> None:
        if result is PutResult.CLOSED:
            self._reject(ref, message, expects_reply)
        overflow = ref._cell.mailbox.overflow
        if overflow is OverflowPolicy.DROP and not expects_reply:
            self._dead_letter(ref, message, False, "dropped")
            return
        self._dead_letter(ref, message, expects_reply, "mailbox-full")
        if from_ask and overflow is OverflowPolicy.BLOCK:
            raise AskTimeout(f"ask() timed out after {ask_timeout} seconds.") from TimeoutError()
        raise MailboxFull(f"Mailbox of {ref.address} is full (capacity {ref._cell.mailbox.capacity}).")

    def _dead_letter(self, ref: ActorRef[Any], message: Any, expects_reply: bool, reason: str) -> None:
        dead_letter = DeadLetter(ref, message, expects_reply, reason)
        self.dead_letters.push(dead_letter)
        self._hook("on_dead_letter", dead_letter)
        self._record(
            "record_dead_letter",
            lambda: PersistedDeadLetter(
                system_id=self.system_id,
                target=str(ref.address),
                message_type=type(message).__name__,
                payload=describe_payload(message),
                timestamp=self.now(),
            ),
        )

    # ------------------------------------------------------------------ events, hooks, records

    def _emit(self, event: ActorEvent) -> None:
        """Hand the event to persistence, then publish it (event log, ``on_event``): an event
        seen in ``events()``/``wait_for_event`` is already covered by the next ``flush``."""
        address = event.address
        self._record(
            "record_event",
            lambda: PersistedEvent(
                system_id=self.system_id,
                actor_address=f"{address['system']}:{address['actor_id']}",
                event_type=type(event).__name__,
                payload=describe_payload(event.payload),
                timestamp=event.timestamp,
            ),
        )
        self._event_log.append(event)
        self._hook("on_event", event)

    def _hook(self, name: str, arg: Any) -> None:
        call_hook(self._hooks, name, arg)

    def _record(self, method: str, build: Callable[[], Any]) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        try:
            record = build()
        except Exception:
            logger.warning("papyra: could not build a %s record", method, exc_info=True)
            return
        recorder.submit(method, record)

    # ------------------------------------------------------------------ metrics

    def _collect_metrics(self) -> dict[str, Any]:
        with self._lock:
            live = list(self._live_cells.values())
            retired = dict(self._retired)
            spawned, stopped = self._spawned, self._stopped
        depth: dict[str, int] = {}
        processed, crashes, restarts = retired["processed"], retired["crashes"], retired["restarts"]
        alive = 0
        for c in live:
            processed += c.processed
            crashes += c.crashes
            restarts += c.restarts
            if c.accepting:
                alive += 1
            depth[c.actor_type] = depth.get(c.actor_type, 0) + len(c.mailbox)
        recorder = self._recorder
        dispatcher = self._dispatcher
        return {
            "actors_spawned_total": spawned,
            "actors_stopped_total": stopped,
            "messages_processed_total": processed,
            "actor_crashes_total": crashes,
            "actor_restarts_total": restarts,
            "dead_letters_total": self.dead_letters.total,
            "dead_letters_evicted_total": self.dead_letters.dropped,
            "recorder_failures_total": recorder.failures if recorder else 0,
            "recorder_drops_total": recorder.drops if recorder else 0,
            "actors_alive": alive,
            "workers": dispatcher.thread_count if dispatcher else 0,
            "workers_peak": dispatcher.peak_threads if dispatcher else 0,
            "recorder_queue_depth": recorder.depth if recorder else 0,
            "mailbox_depth": depth,
        }


