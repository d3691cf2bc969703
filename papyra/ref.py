"""Actor references: the only way to talk to an actor.

An :class:`ActorRef` is cheap, immutable and safe to share between threads. It is equal and
hashable by (owning system, address); a ref from another system never acts on a local actor.
Liveness is dynamic: a ref taken before a stop rejects sends after it.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from papyra._cell_state import STOPPING
from papyra._deadlock import WAITS, current_cell
from papyra._envelope import STOP, ProxyOp, ReplySlot
from papyra._locks import check_unlocked
from papyra.conf.validation import check_timeout
from papyra.dispatcher import current_worker_dispatcher
from papyra.exceptions import AskDeadlock, AskTimeout
from papyra.mailbox import OverflowPolicy, PutResult

if TYPE_CHECKING:
    from papyra._cell import Cell
    from papyra._kernel import Kernel
    from papyra.address import ActorAddress
    from papyra.system import ActorSystem
    from papyra.typing import Receives

__all__ = ["ActorProxy", "ActorRef"]

#: The actor type a ref points at (``ActorRef[Counter]``); covariant, so an ``ActorRef[Counter]``
#: is an ``ActorRef[Actor]`` and an ``ActorRef[Any]``.
A_co = TypeVar("A_co", covariant=True)
_M = TypeVar("_M")
_R = TypeVar("_R")


_ACCEPTED = PutResult.ACCEPTED
_SCHEDULE = PutResult.SCHEDULE


def _on_block(blocking: bool) -> None:
    """Compensation hook: a worker thread about to block lets the pool start a replacement
    (a thread start: called without any Papyra lock held)."""
    check_unlocked("blocking-put compensation")
    dispatcher = current_worker_dispatcher()
    if dispatcher is not None:
        if blocking:
            dispatcher.begin_blocking()
        else:
            dispatcher.end_blocking()


class _WaitingForSpace:
    """The wait-for graph's mark of an actor blocked on another's full mailbox."""

    __slots__ = ()
    done = False
    supervision = False


_WAITING_FOR_SPACE = _WaitingForSpace()


def _put_waiting(cell: Cell, envelope: tuple[Any, Any]) -> PutResult:
    """Put ``envelope`` into ``cell``'s full mailbox as its overflow policy says. A sender that is
    the actor itself never waits (capacity is bypassed). An actor about to block (BLOCK) is
    registered in the wait-for graph while it waits: when ``cell`` is (transitively) waiting for
    that actor — e.g. suspended until its decision — blocking could never end, so the message is
    accepted beyond the capacity instead (a supervision wait on the cycle is cancelled and the
    wait proceeds). Cost: one wait-graph lock when an actor blocks; blocks up to ``put_timeout``."""
    mailbox = cell.mailbox
    caller = current_cell()
    if caller is cell:
        return mailbox.put(envelope, bypass=True)
    if caller is None or mailbox.overflow is not OverflowPolicy.BLOCK:
        return mailbox.put(envelope, timeout=mailbox.put_timeout, on_block=_on_block)
    if not WAITS.enter_blocking(caller, cell, _WAITING_FOR_SPACE):
        return mailbox.put(envelope, bypass=True)
    try:
        return mailbox.put(envelope, timeout=mailbox.put_timeout, on_block=_on_block)
    finally:
        WAITS.leave(caller)


class ActorRef(Generic[A_co]):
    """A handle on one actor of one system, typed by the actor's class: ``system.spawn(Counter)``
    is an ``ActorRef[Counter]``, and a type checker takes :meth:`ask`'s message and reply types
    from ``Counter.receive`` (``Any`` when ``receive`` takes and returns ``Any``)."""

    __slots__ = ("__weakref__", "_address", "_cell", "_kernel")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self._kernel: Kernel = cell.kernel
        self._address = cell.address

    # ------------------------------------------------------------------ identity

    @property
    def address(self) -> ActorAddress:
        """The actor's :class:`~papyra.address.ActorAddress` (stable across restarts). O(1), no lock."""
        return self._address

    @property
    def _rid(self) -> int:
        return self._address.actor_id

    @property
    def _system(self) -> ActorSystem:
        return self._kernel.system

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorRef):
            return NotImplemented
        return self._kernel is other._kernel and self._address == other._address

    def __hash__(self) -> int:
        return hash((id(self._kernel), self._address))

    def __repr__(self) -> str:
        return f"ActorRef({self._address})"

    def is_alive(self) -> bool:
        """True while the actor accepts messages (alive, no stop requested, system running).
        O(1), no lock (racy read)."""
        return self._cell.state < STOPPING

    # ------------------------------------------------------------------ messaging

    def tell(self, message: Any) -> None:
        """Fire-and-forget send; returns once the message is enqueued.

        Cost: one mailbox lock (plus a dispatcher lock when the actor was idle). On a full
        bounded mailbox the spawn's overflow policy applies (block / ``MailboxFull`` / drop).
        A stopped target raises ``ActorStopped`` after recording one dead letter. Telling
        :data:`~papyra.system.STOP` is a graceful stop request.
        """
        cell = self._cell
        if message is STOP:
            self._kernel.stop_graceful(cell)
            return
        if cell.state >= STOPPING:
            self._kernel.reject(self, message, False)
        result = cell.mailbox.offer((message, None))
        if result is _ACCEPTED:
            return
        if result is _SCHEDULE:
            self._kernel.submit(cell)
            return
        self._tell_slow(cell, message, result)

    def _tell_slow(self, cell: Cell, message: Any, result: PutResult) -> None:
        # The mailbox was full (or closed): self-tells bypass capacity, BLOCK waits, others fail.
        if result is PutResult.FULL:
            result = _put_waiting(cell, (message, None))
        if result is _SCHEDULE:
            self._kernel.submit(cell)
        elif result is not _ACCEPTED:
            self._kernel.put_failed(self, message, result, expects_reply=False)

    def ask(self: ActorRef[Receives[_M, _R]], message: _M, *, timeout: float | None = None) -> _R:
        """Send ``message`` and block for the reply; return it or re-raise the actor's exception.

        ``timeout`` (seconds, ``None`` = forever; not a number: ``ConfigurationError`` before
        anything is sent) covers waiting for mailbox space *and* for the reply; on expiry
        ``AskTimeout`` is raised and a late reply is silently dropped. The reply to a message
        that crashed the actor is sent after supervision acted. Asking your own
        actor, or closing an ask cycle between actors, raises ``AskDeadlock`` at once. A worker
        blocked here does not starve the pool (compensation). ``ask(STOP)`` is a graceful stop
        request and returns ``None``.

        Cost: blocks the caller until the reply (or ``timeout``); one mailbox lock to enqueue
        (plus a dispatcher lock when the actor was idle), and one wait-graph lock when called
        from inside an actor (deadlock detection).
        """
        cell = self._cell
        kernel = self._kernel
        if timeout is not None:
            timeout = check_timeout(timeout)  # before anything is sent
        if message is STOP:
            kernel.stop_graceful(cell)
            return None  # type: ignore[return-value]  # ask(STOP) is a stop request
        if cell.state >= STOPPING:
            kernel.reject(self, message, True)
        caller = current_cell()
        if caller is cell:
            raise AskDeadlock(
                f"actor {cell.address} asked itself; the reply can never arrive. Use tell()."
            )
        on_worker = current_worker_dispatcher()
        started = time.perf_counter()
        slot = ReplySlot()
        if caller is not None:
            WAITS.enter(caller, cell, slot)
        try:
            mailbox = cell.mailbox
            envelope = (message, slot)
            result = mailbox.offer(envelope)
            remaining = timeout
            if result is _SCHEDULE:
                kernel.submit(cell)
            elif result is not _ACCEPTED:
                if result is PutResult.FULL and mailbox.overflow is OverflowPolicy.BLOCK:
                    result = mailbox.put(envelope, block=True, timeout=timeout, on_block=_on_block)
                if result is _SCHEDULE:
                    kernel.submit(cell)
                elif result is not _ACCEPTED:
                    kernel.put_failed(
                        self, message, result, expects_reply=True, ask_timeout=timeout, from_ask=True
                    )
                if timeout is not None:
                    remaining = timeout - (time.perf_counter() - started)
            if on_worker is None:
                ok = slot.wait(remaining)
            else:
                on_worker.begin_blocking()
                try:
                    ok = slot.wait(remaining)
                finally:
                    on_worker.end_blocking()
        finally:
            if caller is not None:
                WAITS.leave(caller)
        if not ok:
            raise AskTimeout(f"ask() timed out after {timeout} seconds.") from TimeoutError()
        kernel.metrics.observe_ask(time.perf_counter() - started)
        if slot.error is not None:
            raise slot.error
        value: _R = slot.value
        return value

    def ask_future(self: ActorRef[Receives[_M, _R]], message: _M) -> Future[_R]:
        """Send ``message`` and return a ``concurrent.futures.Future`` for the reply.

        Rejections (stopped actor, full mailbox) raise at once, like :meth:`tell`; if the actor
        terminates before answering, the future fails with ``ActorStopped``. Cancelling the
        future drops the reply. No deadlock detection (nothing blocks here).

        Cost: as :meth:`tell` — one mailbox lock; blocks only on a full BLOCK mailbox (up to the
        spawn's ``put_timeout``).
        """
        cell = self._cell
        kernel = self._kernel
        future: Future[_R] = Future()
        if message is STOP:
            kernel.stop_graceful(cell)
            future.set_result(None)  # type: ignore[arg-type]  # ask(STOP) is a stop request
            return future
        if cell.state >= STOPPING:
            kernel.reject(self, message, True)
        envelope = (message, ReplySlot(future))
        result = cell.mailbox.offer(envelope)
        if result is PutResult.FULL:
            result = _put_waiting(cell, envelope)
        if result is PutResult.SCHEDULE:
            kernel.submit(cell)
        elif result is not PutResult.ACCEPTED:
            kernel.put_failed(self, message, result, expects_reply=True)
        return future

    def stop(self) -> None:
        """Graceful stop request (messages already queued are processed first). Never blocks;
        O(descendants) under the system lock."""
        self._kernel.system.stop(self)

    def proxy(self, *, timeout: float | None = None) -> A_co:
        """A proxy whose method calls and attribute reads/writes run inside the actor (as asks
        with ``timeout``). Names starting with ``_`` are refused.

        At run time it is an :class:`ActorProxy`; a type checker sees the actor's own type
        (``ActorRef[Counter].proxy()`` is a ``Counter``), since every public method call and
        attribute read returns what the actor's would (blocking, raising the actor's errors,
        ``AskTimeout`` after ``timeout``).
        Creating it is O(1); each operation costs one :meth:`ask` (blocking)."""
        proxy: A_co = ActorProxy(self, timeout)  # type: ignore[assignment]
        return proxy


class ActorProxy:
    """Attribute-level access to an actor instance; every operation is an ``ask``.

    ``proxy.method(*args)`` calls the method inside the actor and returns its result;
    ``proxy.attr`` reads an attribute; ``proxy.attr = value`` sets it. Private names
    (leading ``_``) raise ``AttributeError``.
    """

    __slots__ = ("_proxy_ref", "_proxy_timeout")

    def __init__(self, ref: ActorRef[Any], timeout: float | None) -> None:
        object.__setattr__(self, "_proxy_ref", ref)
        object.__setattr__(self, "_proxy_timeout", timeout)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"proxies refuse private attribute {name!r}")
        ref: ActorRef[Any] = object.__getattribute__(self, "_proxy_ref")
        timeout = object.__getattribute__(self, "_proxy_timeout")
        actor_type = type(ref._cell.actor)
        if callable(getattr(actor_type, name, None)):

            def call(*args: Any, **kwargs: Any) -> Any:
                return ref.ask(ProxyOp("call", name, args=args, kwargs=kwargs), timeout=timeout)

            call.__name__ = name
            return call
        return ref.ask(ProxyOp("get", name), timeout=timeout)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"proxies refuse private attribute {name!r}")
        ref: ActorRef[Any] = object.__getattribute__(self, "_proxy_ref")
        ref.ask(ProxyOp("set", name, value=value), timeout=object.__getattribute__(self, "_proxy_timeout"))

    def __repr__(self) -> str:
        return f"ActorProxy({object.__getattribute__(self, '_proxy_ref')!r})"
