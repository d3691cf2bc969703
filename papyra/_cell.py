"""The actor cell: one actor's runtime record and its run loop (internal).

A cell is the dispatcher task of its actor. Everything that touches the actor instance —
``on_start``, ``receive``, supervision, restarts, ``on_stop`` — runs on the worker currently
running the cell, so an instance never runs concurrently with itself. A failed child is
*suspended*: it sends its failure to its parent's control lane (``ChildFailure``), processes
nothing but control items and holds no thread; the parent runs ``on_child_failure`` on its own
thread, between its messages, and the decision wakes the child through its control lane, where it
is applied (:meth:`Cell._suspend`, :meth:`Cell._decide`, :meth:`Cell._resume`). The cell's one
:class:`~papyra._cell_state.CellState` is changed only by the kernel (:mod:`papyra._kernel`) under
the system lock and read without it on hot paths (a stale read is caught by the mailbox, which
refuses puts once closed).

Termination has two phases. *Phase 1* (``_terminate``) closes the mailbox and turns every
message left in it into a dead letter (pending asks fail with ``ActorStopped``). *Phase 2*
(``_finalize``) notifies watchers, calls ``on_stop`` and emits ``ActorStopped``; it runs only
once every child has terminated, so children always finish before their parents. Nothing ever
blocks waiting for a child: the last child to terminate schedules its parent's phase 2.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from papyra._cell_state import AWAITING_CHILDREN, RUNNING, STARTING, STOPPING, STOPPING_NOW
from papyra._deadlock import WAITS, set_current_cell
from papyra._describe import describe_error
from papyra._envelope import (
    RESUME_ITEM,
    STOP,
    ActorTerminated,
    ChildFailure,
    DecisionSlot,
    EscalatedFailure,
    ProxyOp,
    ReplySlot,
    ResumeItem,
    StartItem,
)
from papyra._locks import DEBUG_LOCKS, check_unlocked
from papyra.actor import Actor
from papyra.dispatcher import current_worker_dispatcher
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped
from papyra.hooks import FailureInfo
from papyra.mailbox import PutResult
from papyra.ref import ActorRef
from papyra.supervision import Strategy
from papyra.supervisor import SupervisorDecision

if TYPE_CHECKING:
    from papyra._kernel import Kernel
    from papyra.address import ActorAddress
    from papyra.mailbox import Mailbox
    from papyra.supervision import SupervisionPolicy

__all__ = ["Cell", "check_actor_instance", "check_new_instance", "type_name"]

logger = logging.getLogger("papyra")


#: Messages an actor handles per turn before yielding its worker (fairness quantum).
THROUGHPUT = 32
#: Restarts in a row whose fresh instance failed in ``on_start``, whatever the policy's window
#: says (a zero-length window never fills): the actor is then stopped (``restart-limit``).
_MAX_FAILED_STARTS = 64
_HOOKS = ("receive", "on_start", "on_stop", "on_child_failure")
_HOOKS_SET = frozenset(_HOOKS)
_STRATEGY_DECISION = {
    Strategy.STOP: SupervisorDecision.STOP,
    Strategy.RESTART: SupervisorDecision.RESTART,
    Strategy.ESCALATE: SupervisorDecision.ESCALATE,
}


def type_name(instance: Any) -> str:
    """The instance's class qualname without ``<locals>`` prefixes (``Outer.Inner``, ``Counter``)."""
    return type(instance).__qualname__.rsplit("<locals>.", 1)[-1]


_CHECKED_TYPES: set[type] = set()


def check_actor_instance(instance: Any) -> None:
    """Raise ``TypeError`` unless ``instance`` (or class) has a synchronous ``receive`` and no
    coroutine hooks. Classes that passed are cached, so the check costs O(1) per spawn."""
    cls = instance if isinstance(instance, type) else type(instance)
    if cls in _CHECKED_TYPES:
        attrs = None if cls is instance else getattr(instance, "__dict__", None)
        if not attrs or not attrs.keys() & _HOOKS_SET:
            return
    _check_hooks(instance)
    if cls is instance:
        _CHECKED_TYPES.add(cls)


def check_new_instance(instance: Any) -> None:
    """What a factory returned must be an actor instance (``TypeError`` for a class, e.g.
    ``lambda: Counter``, or anything without a synchronous ``receive``)."""
    if isinstance(instance, type):
        raise TypeError(
            f"the factory returned the class {instance.__qualname__!r}, not an instance; pass the "
            "class itself or a callable returning a new instance"
        )
    check_actor_instance(instance)


def _check_hooks(instance: Any) -> None:
    cls = instance if isinstance(instance, type) else type(instance)
    label = cls.__qualname__.rsplit("<locals>.", 1)[-1]
    if not callable(getattr(instance, "receive", None)):
        what = "actor class" if cls is instance else "actor factory returned"
        raise TypeError(f"{what} {label!r} has no receive()")
    for name in _HOOKS:
        method = getattr(instance, name, None)
        if method is not None and (
            inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)
        ):
            raise TypeError(
                f"{label}.{name} is a coroutine function; Papyra actors are "
                f"synchronous: define {name} with plain 'def'."
            )


def _decides(actor: Any) -> bool:
    """True when ``actor`` has its own ``on_child_failure`` — on its class or set on the instance
    (the base class's returns None, so a failed child need not wait for it). Reads the class and
    the instance ``__dict__`` only: no user ``__getattr__`` runs on the child's thread."""
    method = getattr(type(actor), "on_child_failure", None)
    if method is not None and method is not Actor.on_child_failure:
        return True
    own = getattr(actor, "__dict__", None)
    return isinstance(own, dict) and callable(own.get("on_child_failure"))


class _CallerMistake(Exception):
    """A proxy operation the sender got wrong; ``error`` goes back to the sender unsupervised."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Suspension:
    """A failed actor waiting for its parent's decision: the failure, the decision slot, the
    reply to the ask that failed (sent once the decision was applied) and escalations from its
    own children that arrived meanwhile."""

    __slots__ = ("escalations", "exc", "reason", "reply", "slot")

    def __init__(self, slot: DecisionSlot, exc: Exception, reason: str) -> None:
        self.slot = slot
        self.exc = exc
        self.reason = reason
        self.reply: tuple[ReplySlot | None, Any, BaseException | None] | None = None
        self.escalations: list[EscalatedFailure] = []

    def answer(self) -> None:
        """Send the reply to the ask whose message failed (once its fate is decided)."""
        if self.reply is not None:
            reply_slot, result, error = self.reply
            self.reply = None
            if reply_slot is not None:
                reply_slot.set(result, error)


class _FinalizeTask:
    """Dispatcher task running a parent's deferred phase 2 once its last child terminated."""

    __slots__ = ("cell",)

    def __init__(self, cell: Cell) -> None:
        self.cell = cell

    def run(self) -> None:
        prev = set_current_cell(self.cell)
        try:
            self.cell._finalize()
        finally:
            set_current_cell(prev)


class Cell:
    """Runtime record of one actor (see the module docstring)."""

    def __init__(
        self,
        kernel: Kernel,
        rid: int,
        address: ActorAddress,
        factory: Any,
        actor: Any,
        mailbox: Mailbox,
        policy: SupervisionPolicy,
        name: str | None,
        parent: Cell | None,
    ) -> None:
        self.kernel = kernel
        self.rid = rid
        self.address = address
        self.address_dict = address.to_dict()
        self.factory = factory
        self.actor = actor
        self.actor_type = type_name(actor)
        self.mailbox = mailbox
        self.policy = policy
        self.name = name
        self.parent = parent
        self.children: dict[int, Cell] = {}  # retained children by rid, in spawn order
        self.live_children = 0
        self.watchers: dict[int, Cell] = {}
        self.notified: set[int] = set()  # rids of watchers told of this actor's termination
        # The one state (changed only by the kernel, under the system lock; read without it).
        self.state = STARTING
        self.stop_reason = "stopped"
        self.fatal_error: BaseException | None = None  # a non-Exception error stopped the actor
        self.restart_timestamps: list[float] = []
        self.suspension: _Suspension | None = None  # waiting for the parent's decision
        self.incarnation = 0  # restarts so far (escalations carry the one they were sent to)
        self._failed_starts = 0  # restarts in a row whose on_start failed
        # Counters (written only by the cell's own worker).
        self.processed = 0
        self.crashes = 0
        self.restarts = 0
        self.self_ref: ActorRef[Any] = ActorRef(self)

    def release(self) -> None:
        """Drop the actor instance and other heavy state once terminated (under the system lock)."""
        self.actor = None
        self.factory = None
        self.watchers = {}
        self.restart_timestamps = []

    @property
    def done(self) -> bool:
        """Phase 1 of termination ran: the cell never runs a message again (racy read)."""
        return self.state >= AWAITING_CHILDREN

    # ------------------------------------------------------------------ run loop

    def run(self) -> None:
        """Process items until the mailbox is empty, yielding the worker after ``THROUGHPUT``
        of them when another task waits for one (resubmitting itself: fairness).

        The control lane is served before every user message, so neither a control item nor an
        immediate stop waits behind queued messages. Pops take no lock (this worker is the
        mailbox's only consumer); the mailbox lock is taken to go idle, and to wake a sender
        blocked on a full mailbox.
        """
        prev = set_current_cell(self)
        try:
            mailbox = self.mailbox
            control = mailbox.control_lane
            user = mailbox.user_lane
            budget = THROUGHPUT
            while True:
                if control:
                    self._handle_control(control.popleft())
                elif user and self.suspension is None:
                    message, slot = user.popleft()
                    if mailbox.blocked_senders:
                        mailbox.wake_sender()
                    if DEBUG_LOCKS:
                        check_unlocked("receive")
                    if slot is None and message is not STOP and type(message) is not ProxyOp:
                        # Fast path: a plain tell.
                        try:
                            self.actor.receive(message)
                        except BaseException as exc:
                            self._on_failure(exc)
                        self.processed += 1
                    elif self._handle_envelope(message, slot):
                        return
                elif mailbox.idle(suspended=self.suspension is not None):
                    return
                else:
                    continue
                state = self.state
                if state >= STOPPING_NOW:
                    if state is STOPPING_NOW:  # an immediate stop: after this message
                        self._terminate()
                    return
                budget -= 1
                if not budget:
                    budget = THROUGHPUT
                    dispatcher = current_worker_dispatcher()
                    if dispatcher is None or dispatcher.queued:
                        if not mailbox.idle():
                            self.kernel.submit(self)
                        return
        finally:
            set_current_cell(prev)

    def _handle_envelope(self, message: Any, slot: ReplySlot | None) -> bool:
        """Asks, proxy operations and the STOP sentinel. True when the cell is done."""
        if message is STOP:
            self._terminate()
            return True
        try:
            is_proxy = type(message) is ProxyOp
            result = self._proxy(message) if is_proxy else self.actor.receive(message)
            error: BaseException | None = None
        except _CallerMistake as mistake:  # the sender's error, not the actor's: no supervision
            result, error = None, mistake.error
        except BaseException as exc:
            result = None
            error = exc
            self._on_failure(exc)
        self.processed += 1
        if self.suspension is not None:  # the reply waits for the parent's decision
            self.suspension.reply = (slot, result, error)
            return False
        done = False
        if self.state is STOPPING_NOW:
            # Finalize before the reply (when no child is left to wait for).
            self._terminate()
            done = True
        if slot is not None:
            if error is not None and error is self.fatal_error:
                error = self._stopped_error("Actor stopped by a fatal error.")
            slot.set(result, error)
        return done or self.state >= AWAITING_CHILDREN

    def _proxy(self, op: ProxyOp) -> Any:
        """Run one proxy operation on the instance. A private name, a missing attribute or
        arguments that do not fit the method's signature are the caller's mistake: they reach
        the caller (``_CallerMistake``) without counting as the actor's failure. Whatever the
        attribute or method itself raises is the actor's failure, supervised as usual."""
        if op.name.startswith("_"):
            raise _CallerMistake(AttributeError(f"proxies refuse private attribute {op.name!r}"))
        if op.kind == "set":
            setattr(self.actor, op.name, op.value)
            return None
        try:
            target: Any = getattr(self.actor, op.name)
        except AttributeError as exc:
            if op.name not in dir(type(self.actor)):  # missing, not a property that raised
                raise _CallerMistake(exc) from None
            raise
        if op.kind == "get":
            return target
        try:
            inspect.signature(target).bind(*op.args, **op.kwargs)
        except TypeError as exc:
            raise _CallerMistake(exc) from None
        except ValueError:  # no signature to check (a builtin): the call itself decides
            pass
        return target(*op.args, **op.kwargs)

    def _handle_control(self, item: Any) -> None:
        if type(item) is StartItem:
            if self._call_on_start(self.actor):
                kernel = self.kernel
                kernel.mark_started(self)
                kernel.emit(ActorStarted(address=self.address_dict, timestamp=kernel.now()))
        elif type(item) is ResumeItem:
            if self.suspension is not None and self.suspension.slot.done:
                self._resume()
        elif type(item) is ChildFailure:
            self._decide(item)
        elif type(item) is EscalatedFailure and self.state < STOPPING:
            if item.incarnation != self.incarnation:
                logger.info("papyra: %s dropped an escalation from a child of its replaced instance",
                            self.address)
            elif self.suspension is not None:
                self.suspension.escalations.append(item)  # handled once this actor resumes
            else:
                self._on_failure(item.error)
        # WakeItem: nothing to do; the loop checks for an immediate stop after every item.

    # ------------------------------------------------------------------ user callbacks

    def _call_on_start(self, actor: Any) -> bool:
        check_unlocked("on_start")
        try:
            actor.on_start()
            return True
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._on_fatal(exc)
                return False
            error = RuntimeError(f"actor.on_start() failed: {describe_error(exc)}")
            error.__cause__ = exc
            self._on_failure(error, on_start=True)
            return False

    def _call_on_stop(self, actor: Any) -> None:
        check_unlocked("on_stop")
        try:
            actor.on_stop()
        except Exception:
            logger.warning("papyra: %s on_stop() raised; ignored", self.address, exc_info=True)
        except BaseException:
            logger.error("papyra: %s on_stop() raised a fatal error; ignored", self.address, exc_info=True)

    # ------------------------------------------------------------------ supervision

    def _on_failure(self, exc: BaseException, *, on_start: bool = False) -> None:
        """Supervise one failure. For an ``on_start`` failure ``exc`` is the ``RuntimeError``
        wrapper; the events carry the original error (its ``__cause__``). A non-``Exception``
        error (``SystemExit``, ``KeyboardInterrupt``…) is fatal: see :meth:`_on_fatal`."""
        if not isinstance(exc, Exception):
            self._on_fatal(exc)
            return
        kernel = self.kernel
        self.crashes += 1
        if self.state >= STOPPING:
            # A stop is already under way: no supervision, terminate now.
            logger.warning("papyra: %s failed while stopping: %s", self.address, describe_error(exc))
            kernel.request_stop(self, immediate=True, reason=self.stop_reason)
            return
        policy = self.policy
        kernel.hook("on_failure", FailureInfo(self.address, exc, policy.strategy, None))
        original = exc.__cause__ if on_start and exc.__cause__ is not None else exc
        text = describe_error(original)
        reason = f"on_start failed: {text}" if on_start else text
        kernel.emit(
            ActorCrashed(address=self.address_dict, timestamp=kernel.now(), error=original, reason=reason)
        )
        parent = self.parent
        if (
            parent is not None
            and parent.state < STOPPING
            and _decides(parent.actor)
            and self._suspend(parent, exc, reason)
        ):
            return  # the parent decides on its own thread; _resume applies the decision
        self._apply(None, exc, reason)

    def _apply(self, decision: SupervisorDecision | None, exc: Exception, reason: str) -> None:
        """Carry out a supervision decision (``None``: this actor's own policy)."""
        kernel = self.kernel
        policy = self.policy
        if decision is not None:
            kernel.hook("on_failure", FailureInfo(self.address, exc, policy.strategy, decision))
        action = decision if decision is not None else _STRATEGY_DECISION[policy.strategy]
        if action is SupervisorDecision.IGNORE:
            kernel.mark_started(self)
            return
        kernel.stop_children(self)
        parent = self.parent
        if action is SupervisorDecision.RESTART:
            self._restart(reason)
        elif action is SupervisorDecision.ESCALATE:
            if parent is not None and parent.state < STOPPING:
                kernel.escalate(parent, exc, self.rid)
            kernel.request_stop(self, immediate=True, reason="escalated")
        else:
            kernel.request_stop(self, immediate=True, reason="supervisor")

    def _suspend(self, parent: Cell, exc: Exception, reason: str) -> bool:
        """Suspend this actor until its parent decided about ``exc`` on the parent's own thread
        (:meth:`_decide`, between the parent's messages). A suspended actor processes nothing
        but control items and **holds no thread**: the run loop returns and the decision wakes
        it through its control lane (:meth:`_resume`). False (not suspended: this actor's own
        policy applies at once) when the parent is (transitively) waiting for this actor, or
        its mailbox is closed. Cost: one wait-graph lock and one control-lane put."""
        slot = DecisionSlot(self._wake)
        if not WAITS.enter_supervision(self, parent, slot):
            return False
        self.suspension = _Suspension(slot, exc, reason)  # before the parent can answer
        result = parent.mailbox.put_control(ChildFailure(self, exc, slot))
        if result is PutResult.CLOSED:
            self.suspension = None
            WAITS.leave(self)
            return False
        if result is PutResult.SCHEDULE:
            self.kernel.submit(parent)
        return True

    def _wake(self) -> None:
        """The decision is settled (any thread, no lock held): schedule this actor to apply it."""
        if self.mailbox.put_control(RESUME_ITEM) is PutResult.SCHEDULE:
            self.kernel.submit(self)

    def _resume(self) -> None:
        """On this actor's thread, once its decision is settled: apply it, then finish the
        message that failed (an immediate stop first, then the reply to its ask) and handle the
        escalations that arrived meanwhile."""
        suspension = self._end_suspension()
        if suspension is None:
            return
        if self.state < STOPPING_NOW:  # a graceful stop requested meanwhile still lets it apply
            self._apply(suspension.slot.value, suspension.exc, suspension.reason)
        if suspension.reply is not None and self.state is STOPPING_NOW:
            self._terminate()  # finalize before the reply, as for an unsupervised failure
        suspension.answer()
        for item in suspension.escalations:
            self.mailbox.put_control(item)

    def _end_suspension(self) -> _Suspension | None:
        suspension = self.suspension
        if suspension is not None:
            self.suspension = None
            WAITS.leave(self)
            suspension.slot.set(None)  # a no-op once the parent decided; else cancels its decision
        return suspension

    def _decide(self, item: ChildFailure) -> None:
        """On this (parent) actor's thread: run ``on_child_failure`` for a failed child and send
        the decision back. A parent that is stopping or restarting, or a child whose stop was
        requested meanwhile, decides nothing (``None``); so does a parent that is itself
        suspended for its own parent's decision."""
        child: Cell = item.child
        decision: SupervisorDecision | None = None
        if item.slot.done:  # the wait was cancelled: the child's own policy applied
            return
        if self.state <= RUNNING and self.suspension is None and child.state < STOPPING:
            check_unlocked("on_child_failure")
            try:
                raw = self.actor.on_child_failure(child.self_ref, item.error)
                decision = None if raw is None else SupervisorDecision(raw)
            except Exception:
                logger.warning("papyra: %s on_child_failure raised; using the child's policy",
                               self.address, exc_info=True)
            except BaseException as fatal:  # fatal for the parent, not for the child
                item.slot.set(None)
                self._on_fatal(fatal)
                return
        item.slot.set(decision)

    def _on_fatal(self, exc: BaseException) -> None:
        """A non-``Exception`` error (``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit``…)
        raised by this actor's code: logged at ERROR, reported (``on_failure`` hook, an
        ``ActorCrashed`` event carrying the error), then the actor stops at once without
        supervision, reason ``"fatal: <Type>"``. Its pending asks fail with ``ActorStopped``
        whose ``__cause__`` is ``exc``. The rest of the system keeps running."""
        kernel = self.kernel
        self.crashes += 1
        reason = f"fatal: {type_name(exc)}"
        if self.fatal_error is None:
            self.fatal_error = exc
        logger.error("papyra: %s raised %s; the actor stops without supervision",
                     self.address, describe_error(exc), exc_info=exc)
        kernel.hook("on_failure", FailureInfo(self.address, exc, self.policy.strategy, None))
        kernel.emit(
            ActorCrashed(address=self.address_dict, timestamp=kernel.now(), error=exc, reason=reason)
        )
        kernel.stop_fatal(self, reason)

    def _stopped_error(self, message: str) -> ActorStopped:
        """The ``ActorStopped`` a pending ask of this (terminating) actor fails with; its
        ``__cause__`` is the fatal error when one stopped the actor."""
        error = ActorStopped(message, reason=self.stop_reason)
        error.__cause__ = self.fatal_error
        return error

    def _restart(self, reason: str) -> None:
        kernel = self.kernel
        policy = self.policy
        now = kernel.now()
        window = policy.within_seconds
        self.restart_timestamps = [t for t in self.restart_timestamps if now - t <= window]
        if len(self.restart_timestamps) >= policy.max_restarts or self._failed_starts >= _MAX_FAILED_STARTS:
            kernel.request_stop(self, immediate=True, reason="restart-limit")
            return
        kernel.begin_restart(self)
        self._call_on_stop(self.actor)
        self.restart_timestamps.append(now)
        check_unlocked("actor factory")
        try:
            fresh = self.factory()
            check_new_instance(fresh)
            kernel.adopt(self, fresh)
        except BaseException:
            logger.error("papyra: %s could not be restarted: the factory failed", self.address, exc_info=True)
            kernel.end_restart(self)
            kernel.request_stop(self, immediate=True, reason="restart-limit")
            return
        self.actor_type = type_name(fresh)
        self.incarnation += 1  # escalations from the old instance's children are now stale
        kernel.inject_context(self)
        self._failed_starts += 1  # until on_start returned (a failure nests supervision)
        ok = self._call_on_start(fresh)
        if ok:
            self._failed_starts = 0
        if not ok or self.actor is not fresh:
            kernel.end_restart(self)
            return
        kernel.end_restart(self)
        self.restarts += 1
        kernel.emit(
            ActorRestarted(address=self.address_dict, timestamp=kernel.now(), reason=reason)
        )

    # ------------------------------------------------------------------ termination

    def _terminate(self) -> None:
        """Phase 1: close the mailbox, dead-letter the leftovers, then finalize (or wait for children)."""
        if self.done:
            return
        suspension = self._end_suspension()  # stopped while suspended: no decision is awaited
        leftovers, control, watchers = self.kernel.begin_termination(self)
        self.dispose_of(leftovers, control, "Actor stopped before processing the message.")
        if watchers is not None:  # else the last child to terminate schedules phase 2
            self._finalize(watchers)
        if suspension is not None:
            suspension.answer()  # the ask that failed: its own error

    def abandon(self, leftovers: list[tuple[Any, Any]], control: list[Any]) -> None:
        """The system closed and no worker will run this actor again (the kernel owns it now):
        its messages become dead letters, its asks fail — the one that failed while suspended
        gets its own error, as at a termination — and a suspension is ended."""
        suspension = self._end_suspension()
        self.dispose_of(leftovers, control, "The actor system closed before the actor processed it.")
        if suspension is not None:
            suspension.answer()

    def dispose_of(self, leftovers: list[tuple[Any, Any]], control: list[Any], why: str) -> None:
        """What a closed mailbox held: every user message becomes one dead letter and every
        pending ask fails with ``ActorStopped(why)``; a child waiting for this actor's decision
        gets none (its own policy applies)."""
        for item in control:
            if type(item) is ChildFailure:
                item.slot.set(None)  # a terminating parent decides nothing
        kernel = self.kernel
        fatal: BaseException | None = None  # a callback's, off a worker: raised once all are done
        for message, slot in leftovers:
            if message is STOP or type(message) is ActorTerminated:
                continue
            try:
                kernel.dead_letter(self.self_ref, message, slot is not None, "unprocessed")
            except BaseException as exc:
                fatal = fatal or exc
            if slot is not None:
                try:
                    slot.set(None, self._stopped_error(why))
                except BaseException as exc:
                    fatal = fatal or exc
        if fatal is not None:
            raise fatal

    def _finalize(self, watchers: list[Cell] | None = None) -> None:
        """Phase 2: watchers, ``on_stop``, ``ActorStopped`` event, bookkeeping. Runs once."""
        kernel = self.kernel
        if watchers is None:
            watchers = kernel.begin_finalize(self)
            if watchers is None:
                return
        for watcher in watchers:
            kernel.deliver_terminated(watcher, self)
        self._call_on_stop(self.actor)
        kernel.emit(
            ActorStoppedEvent(address=self.address_dict, timestamp=kernel.now(), reason=self.stop_reason)
        )
        kernel.mark_terminated(self)

    def finalize_task(self) -> _FinalizeTask:
        return _FinalizeTask(self)
