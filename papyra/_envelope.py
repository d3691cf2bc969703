"""Internal message-level types: the STOP sentinel, one-shot reply slots, control items,
``ActorTerminated`` and ``DeadLetter``.

A user envelope is the tuple ``(message, reply_slot_or_None)``; control items (start, stop
wake-up, escalated failure) travel on the mailbox's control lane.
"""

from __future__ import annotations

from _thread import allocate_lock
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from papyra.ref import ActorRef

__all__ = ["STOP", "ActorTerminated", "DeadLetter", "ReplySlot"]


class _Stop:
    """Type of the :data:`STOP` sentinel."""

    _instance: _Stop | None = None

    def __new__(cls) -> _Stop:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<PapyraStop>"

    def __reduce__(self) -> str:
        return "STOP"


#: Telling ``STOP`` to an actor is a graceful stop request (same as ``ref.stop()``).
STOP: Final = _Stop()

class ReplySlot:
    """One-shot reply channel of an ``ask``: pending → done (value or error) or abandoned.

    Two plain locks (never Papyra locks, so holding them is no "lock held" for the debug
    checks): ``_waiter``, acquired at creation and released by :meth:`set`, is what the asker
    blocks on; ``_claim``, acquired without blocking by whoever finishes the slot first — the
    replier in :meth:`set`, or an asker whose wait timed out — makes the slot one-shot. ``set``
    after ``abandon`` (a late reply after a timeout) is a silent no-op.

    Cost: creating one allocates two locks; ``set`` is two lock operations (plus the future's
    callbacks for ``ask_future``); waiting is one lock acquire with a timeout.
    """

    __slots__ = ("_claim", "_waiter", "error", "future", "value")

    #: True for a :class:`DecisionSlot` (a child waiting for its parent's supervision decision).
    supervision = False

    def __init__(self, future: Future[Any] | None = None) -> None:
        self._waiter = allocate_lock()
        self._waiter.acquire()
        self._claim = allocate_lock()
        self.value: Any = None
        self.error: BaseException | None = None
        self.future = future

    @property
    def done(self) -> bool:
        """A reply was delivered (or is being delivered right now), or the asker gave up."""
        return self._claim.locked()

    def set(self, value: Any, error: BaseException | None = None) -> bool:
        """Deliver the reply; False (and nothing happens) if already done or abandoned."""
        if not self._claim.acquire(False):
            return False
        self.value = value
        self.error = error
        self._waiter.release()
        future = self.future
        if future is not None:
            from papyra.hooks import run_callback  # lazily: hooks imports the dispatcher

            run_callback("an ask_future callback", _settle, (future, value, error))
        return True

    def wait(self, timeout: float | None) -> bool:
        """Block until the reply arrives (True) or ``timeout`` elapses (False, slot abandoned)."""
        if self._waiter.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            return True
        if self._claim.acquire(False):
            return False  # abandoned: a late set() is a no-op
        # The replier claimed the slot just before the deadline: its release is imminent.
        self._waiter.acquire()
        return True


def _settle(outcome: tuple[Future[Any], Any, BaseException | None]) -> None:
    """Complete an ``ask_future`` future (its callbacks run here); a cancelled one drops it."""
    future, value, error = outcome
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:  # cancelled: the late reply is dropped
        pass


class DecisionSlot(ReplySlot):
    """A suspended child's supervision decision (a ``SupervisorDecision``, or ``None``: the
    child's own policy applies). Whoever settles it first — the parent on its own thread, the
    wait-for graph cancelling a wait that would deadlock, a terminating parent — also calls
    ``resume`` (outside any Papyra lock), which wakes the child through its control lane; the
    child holds no thread while it waits."""

    __slots__ = ("resume",)
    supervision = True

    def __init__(self, resume: Callable[[], None]) -> None:
        super().__init__()
        self.resume = resume

    def set(self, value: Any, error: BaseException | None = None) -> bool:
        """Settle the decision and wake the child; False when it was already settled."""
        if not super().set(value, error):
            return False
        self.resume()
        return True


@dataclass(frozen=True)
class ActorTerminated:
    """Delivered to each watcher (through ``receive``) exactly once when a watched actor ends."""

    ref: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that was not (and will never be) processed.

    ``target`` is the ref the message was sent through; ``reason`` is ``"stopped"`` (target not
    running), ``"unprocessed"`` (left in the mailbox at termination), ``"mailbox-full"`` (overflow
    ``fail`` or a timed-out blocking put) or ``"dropped"`` (overflow ``drop``).
    """

    target: ActorRef[Any]
    message: Any
    expects_reply: bool
    reason: str = "stopped"


# ----------------------------------------------------------------------------- control items


class _Control:
    __slots__ = ()


class StartItem(_Control):
    """Run ``on_start`` (always the first item of a new actor)."""

    __slots__ = ()


class WakeItem(_Control):
    """Wake the actor so it notices an immediate stop request."""

    __slots__ = ()


class ResumeItem(_Control):
    """Wake a suspended actor: its parent's supervision decision is settled."""

    __slots__ = ()


class EscalatedFailure(_Control):
    """A child escalated ``error``; the parent handles it as its own failure — unless the parent
    was restarted since (``incarnation`` differs): the child belonged to the replaced instance
    and was stopped with it, so its failure is stale."""

    __slots__ = ("child_rid", "error", "incarnation")

    def __init__(self, error: BaseException, child_rid: int, incarnation: int) -> None:
        self.error = error
        self.child_rid = child_rid
        self.incarnation = incarnation


class ChildFailure(_Control):
    """``child`` failed with ``error`` and is suspended; the parent runs ``on_child_failure`` on
    its own thread, between its messages, and answers through ``slot`` (which resumes the child)."""

    __slots__ = ("child", "error", "slot")

    def __init__(self, child: Any, error: BaseException, slot: DecisionSlot) -> None:
        self.child = child
        self.error = error
        self.slot = slot


START_ITEM: Final = StartItem()
WAKE_ITEM: Final = WakeItem()
RESUME_ITEM: Final = ResumeItem()


class ProxyOp:
    """A proxy operation executed inside the actor: ``get``, ``set`` or ``call`` an attribute."""

    __slots__ = ("args", "kind", "kwargs", "name", "value")

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        value: Any = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.value = value
        self.args = args
        self.kwargs = kwargs or {}

    def __repr__(self) -> str:
        return f"ProxyOp({self.kind} {self.name})"
