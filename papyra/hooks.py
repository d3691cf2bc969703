"""System hooks: optional, synchronous callbacks an application passes as ``ActorSystem(hooks=...)``.

Any object works; each method is looked up by name and may be missing. Hooks run synchronously on
the thread that produced the fact (an actor's worker, or the caller of ``tell``/``audit``/
``start``), never while the system holds a lock. They must be quick and thread-safe. Exceptions
they raise (also from looking the method up) are logged on the ``papyra`` logger and swallowed —
on a worker thread even ``SystemExit``/``KeyboardInterrupt`` (:func:`run_callback`); an awaitable
they return is closed and ignored (hooks are synchronous).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from papyra._locks import check_unlocked
from papyra.address import ActorAddress
from papyra.dispatcher import current_worker_dispatcher
from papyra.supervision import Strategy
from papyra.supervisor import SupervisorDecision

__all__ = ["DefaultHooks", "FailureInfo", "SystemHooks", "call_hook", "run_callback"]

logger = logging.getLogger("papyra")


@dataclass(frozen=True, slots=True)
class FailureInfo:
    """A failure seen by supervision: the actor, the live exception, and what was applied.

    ``on_failure`` is called once with ``supervisor_decision=None`` before ``ActorCrashed`` is
    emitted, and a second time when the parent's ``on_child_failure`` returned a decision.
    """

    address: ActorAddress
    error: BaseException
    strategy: Strategy | None = None
    supervisor_decision: SupervisorDecision | None = None


@runtime_checkable
class SystemHooks(Protocol):
    """The hook methods the system calls (implement any subset)."""

    def on_event(self, event: Any) -> None: ...

    def on_dead_letter(self, dead_letter: Any) -> None: ...

    def on_failure(self, failure: FailureInfo) -> None: ...

    def on_audit(self, report: Any) -> None: ...

    def on_persistence_scan(self, report: Any) -> None: ...

    def on_persistence_recovery(self, report: Any) -> None: ...


class DefaultHooks:
    """Does nothing; the default when no hooks are given."""

    def on_event(self, event: Any) -> None:
        return None

    def on_dead_letter(self, dead_letter: Any) -> None:
        return None

    def on_failure(self, failure: FailureInfo) -> None:
        return None

    def on_audit(self, report: Any) -> None:
        return None

    def on_persistence_scan(self, report: Any) -> None:
        return None

    def on_persistence_recovery(self, report: Any) -> None:
        return None


def run_callback(what: str, callback: Callable[[Any], object], arg: Any) -> object:
    """Run a user callback (a system hook, ``on_dead_letter``) and return its result, or None
    when it raised. An ``Exception`` is logged at WARNING and swallowed. A ``BaseException``
    (``SystemExit``, ``KeyboardInterrupt``…) raised on a Papyra worker thread is logged at ERROR
    and swallowed too, so it can never cut short the runtime's bookkeeping (a termination, a
    supervision step); on the application's own thread it propagates as usual. Cost: the
    callback's own; no lock is held (checked under ``PAPYRA_DEBUG_LOCKS``)."""
    check_unlocked(what)
    try:
        return callback(arg)
    except Exception:
        logger.warning("papyra: %s raised; ignored", what, exc_info=True)
    except BaseException:
        if current_worker_dispatcher() is None:
            raise
        logger.error("papyra: %s raised a fatal error on a worker thread; ignored", what, exc_info=True)
    return None


def call_hook(hooks: Any, name: str, arg: Any) -> None:
    """Call ``hooks.<name>(arg)`` if it exists (a lookup that raises counts as the hook
    raising), through :func:`run_callback`; an awaitable it returns is closed and ignored."""
    if hooks is None:
        return
    result = run_callback(f"hook {name}", _call_named, (hooks, name, arg))
    if result is not None and inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if close is not None:
            close()
        logger.debug("papyra: hook %s returned an awaitable; hooks are synchronous, ignored", name)


def _call_named(call: tuple[Any, str, Any]) -> object:
    hooks, name, arg = call
    method = getattr(hooks, name, None)
    return None if method is None else method(arg)
