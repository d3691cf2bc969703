"""The :class:`ActorContext` an actor reaches through ``self.context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from papyra.mailbox import OverflowPolicy
from papyra.ref import ActorRef
from papyra.supervision import SupervisionPolicy

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ["ActorContext"]

A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class ActorContext:
    """What an actor instance knows about its place: its system, its own ref and its parent.

    A fresh context is injected into each instance (at spawn and at every restart).
    """

    system: ActorSystem
    self_ref: ActorRef[Any]
    parent: ActorRef[Any] | None = None

    def spawn_child(
        self,
        factory: Callable[[], A],
        *,
        name: str | None = None,
        mailbox_capacity: int | None = 1024,
        policy: SupervisionPolicy | None = None,
        overflow: OverflowPolicy | str = OverflowPolicy.BLOCK,
        put_timeout: float | None = None,
    ) -> ActorRef[A]:
        """Spawn a child of this actor (same as ``system.spawn(..., parent=self_ref)``). Cost: as
        ``spawn`` (two short system-lock sections plus the factory call); never waits for the child."""
        return self.system.spawn(
            factory,
            name=name,
            mailbox_capacity=mailbox_capacity,
            policy=policy,
            parent=self.self_ref,
            overflow=overflow,
            put_timeout=put_timeout,
        )

    def stop_self(self) -> None:
        """Immediate stop: terminate after the current message; queued messages become dead
        letters, pending asks fail with ``ActorStopped``; children are stopped first. The name is
        released at once, and the reply to the current ``ask`` is sent after termination (or,
        when live children exist, once their stop was requested).
        Never blocks; O(descendants) under the system lock."""
        ref = self.self_ref
        ref._kernel.request_stop(ref._cell, immediate=True, reason="stopped")

    def stop(self, ref: ActorRef[Any]) -> None:
        """Stop ``ref`` (immediate if it is this actor, graceful otherwise). Never blocks."""
        if ref == self.self_ref:
            self.stop_self()
        else:
            self.system.stop(ref)

    def watch(self, ref: ActorRef[Any]) -> None:
        """Receive exactly one ``ActorTerminated(ref)`` when ``ref`` terminates (at once if it
        already has) — one per watched actor, however often it is watched. Watches survive
        restarts of either side. O(1) under the system lock."""
        _watch(self.self_ref, ref, True)

    def unwatch(self, ref: ActorRef[Any]) -> None:
        """Cancel a :meth:`watch` (no-op if not watching). O(1) under the system lock."""
        _watch(self.self_ref, ref, False)


def _watch(watcher: ActorRef[Any], target: ActorRef[Any], on: bool) -> None:
    """Watch (or unwatch) ``target`` from ``watcher``; a ref of another system is ignored."""
    if isinstance(target, ActorRef) and target._kernel is watcher._kernel:
        watcher._kernel.watch(watcher._cell, target._cell, on)
