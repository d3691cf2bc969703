"""The :class:`Actor` base class.

Subclass it and implement ``receive``. All hooks are plain (synchronous) methods, run on a worker
thread of the system's pool, one at a time per actor:

* ``on_start()`` — before the first message (and on each fresh instance after a restart);
* ``receive(message)`` — one message; its return value answers an ``ask`` (ignored for ``tell``);
  an exception is a crash handled by supervision and re-raised in the asker;
* ``on_stop()`` — once per instance: on the old instance at a restart, on the last one at
  termination (after the last message, before the ``ActorStopped`` event). Exceptions are logged
  and swallowed;
* ``on_child_failure(child_ref, exc)`` — a parent may override a failed child's policy by
  returning a :class:`~papyra.supervisor.SupervisorDecision` (``None``: use the child's policy).
  It runs **on the parent's own thread, between its messages** (never concurrently with its
  ``receive``), while the failed child waits (processing nothing). A parent that is stopping,
  or that is itself waiting (``ask``) on the failed child, decides nothing: the child's own
  policy applies.

Coroutine (``async def``) hooks are refused at spawn with a ``TypeError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from papyra.context import ActorContext
    from papyra.ref import ActorRef
    from papyra.supervisor import SupervisorDecision

__all__ = ["Actor"]


class Actor:
    """Base class of user actors (see the module docstring)."""

    # Class-level default so subclasses may define __init__ without calling super().__init__().
    _context: ActorContext | None = None

    @property
    def context(self) -> ActorContext:
        """This instance's context (self ref, parent, system). Not available inside ``__init__``. O(1)."""
        ctx = self._context
        if ctx is None:
            raise RuntimeError(
                "ActorContext is not available yet. Access `self.context` from on_start/receive/on_stop."
            )
        return ctx

    def on_start(self) -> None:
        """Called before the first message. Default: nothing.
        Runs on a worker thread; blocking here holds that worker."""

    def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``. Runs on a worker thread, one
        message at a time; blocking here holds that worker (a blocked ``ask`` is compensated)."""
        raise NotImplementedError("Actors must implement receive(...)")

    def on_stop(self) -> None:
        """Called once when this instance is retired (restart or termination). Default: nothing.
        Runs on a worker thread; exceptions are logged and ignored."""

    def on_child_failure(self, child_ref: ActorRef[Any], exc: BaseException) -> SupervisorDecision | None:
        """Decide for a failed child (``None``: the child's own policy applies). Runs on this
        actor's thread between its messages; the child waits meanwhile, so keep it short."""
        return None
