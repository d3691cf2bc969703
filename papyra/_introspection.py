"""Read-side and bulk operations of an :class:`~papyra.system.ActorSystem`: name and address
lookups, refs by type, broadcast, stop-all, ``actor_info``, ``audit`` and the control panel.

Every method takes the system lock only to copy what it needs (O(actors)); user code, hooks and
persistence are called outside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from papyra._cell import Cell
from papyra._runtime import RuntimeCore
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.exceptions import ActorStopped, MailboxFull
from papyra.persistence.models import PersistedAudit
from papyra.ref import ActorRef

if TYPE_CHECKING:
    from papyra.system import ActorSystem

__all__ = ["Introspection"]


class Introspection(RuntimeCore):
    """Mixin of :class:`~papyra.system.ActorSystem` (see the module docstring)."""

    _actors: list[Cell]
    _by_id: dict[int, Cell]

    def _as_system(self) -> ActorSystem:
        return cast("ActorSystem", self)

    def list_names(self) -> dict[str, ActorAddress]:
        """Copy of the name registry."""
        with self._lock:
            return dict(self._names)

    def list_actors(self, *, alive_only: bool = False) -> tuple[ActorAddress, ...]:
        """Addresses of every actor ever spawned (spawn order); ``alive_only`` keeps running ones."""
        with self._lock:
            return tuple(c.address for c in self._actors if not alive_only or c.accepting)

    def refs(self, *, alive_only: bool = True) -> tuple[ActorRef, ...]:
        """Refs of the actors (running ones by default), in spawn order."""
        with self._lock:
            cells = list(self._actors)
        return tuple(ActorRef(self._as_system(), c) for c in cells if not alive_only or c.accepting)

    def refs_by_type(self, actor_type: type | str, *, alive_only: bool = True) -> tuple[ActorRef, ...]:
        """Refs whose current instance matches ``actor_type``: a class (``isinstance``), or a
        class name, qualname or ``module.QualName`` string."""
        with self._lock:
            cells = list(self._actors)
        return tuple(
            ActorRef(self._as_system(), c)
            for c in cells
            if (not alive_only or c.accepting) and _matches_type(c.actor, actor_type)
        )

    def broadcast(self, message: Any, *, actor_type: type | str | None = None) -> int:
        """``tell`` ``message`` to every running actor (optionally of ``actor_type``); returns how
        many accepted it. Rejections are dead letters as usual; a full BLOCK mailbox blocks."""
        refs = self.refs() if actor_type is None else self.refs_by_type(actor_type)
        accepted = 0
        for ref in refs:
            try:
                ref.tell(message)
            except (ActorStopped, MailboxFull):
                continue
            accepted += 1
        return accepted

    def stop_all(self) -> int:
        """Gracefully stop every running actor (children first); returns how many were asked."""
        submits: list[Cell] = []
        with self._lock:
            count = 0
            for cell in reversed(self._actors):
                if cell.accepting:
                    count += 1
                    self._request_stop_locked(cell, False, "stopped", submits)
        for cell in submits:
            self._dispatcher_submit(cell)
        return count

    def _resolve(self, target: Any) -> Cell:
        if isinstance(target, ActorRef):
            if target._system is not self:
                raise ActorStopped("Actor does not exist.", reason="shutdown")
            return target._cell
        if isinstance(target, bool):
            raise TypeError(f"Unsupported target type for actor lookup: {type(target)!r}")
        if isinstance(target, int):
            rid = target
        elif isinstance(target, (ActorAddress, str)):
            address = ActorAddress.parse(target) if isinstance(target, str) else target
            if address.system != self.system_id:
                raise ActorStopped("Actor does not exist.", reason="shutdown")
            rid = address.actor_id
        else:
            raise TypeError(f"Unsupported target type for actor lookup: {type(target)!r}")
        with self._lock:
            cell = self._by_id.get(rid)
        if cell is None:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        return cell

    def actor_info(self, target: ActorRef | ActorAddress | str | int) -> ActorInfo:
        """:class:`ActorInfo` for a ref, address, address string or rid."""
        cell = self._resolve(target)
        with self._lock:
            return self._info_locked(cell)

    def _info_locked(self, c: Cell) -> ActorInfo:
        return ActorInfo(
            rid=c.rid,
            address=c.address,
            name=c.name,
            parent_rid=c.parent.rid if c.parent is not None else None,
            children_rids=tuple(ch.rid for ch in c.children),
            alive=c.alive,
            stopping=c.stopping and not c.terminated,
            restarting=c.restarting,
            actor_type=c.actor_type,
            state=c.state,
        )

    # ================================================================== audit, events

    def audit(self, *, include_actor_details: bool = True) -> AuditReport:
        """Snapshot counts (under the lock), call ``on_audit`` with the returned report, and
        queue a ``PersistedAudit``. O(actors)."""
        with self._lock:
            cells = list(self._actors)
            alive = sum(1 for c in cells if c.alive and not c.stopping)
            stopping = sum(1 for c in cells if c.stopping and not c.terminated)
            restarting = sum(1 for c in cells if c.restarting)
            orphans: list[str] = []
            dead: list[str] = []
            for name, address in self._names.items():
                cell = self._by_id.get(address.actor_id)
                if cell is None:
                    orphans.append(name)
                elif not cell.alive or cell.stopping:
                    dead.append(name)
            registry_size = len(self._names)
            infos = tuple(self._info_locked(c) for c in cells) if include_actor_details else ()
        report = AuditReport(
            system_id=self.system_id,
            total_actors=len(cells),
            alive_actors=alive,
            stopping_actors=stopping,
            restarting_actors=restarting,
            registry_size=registry_size,
            registry_orphans=tuple(sorted(orphans)),
            registry_dead=tuple(sorted(dead)),
            dead_letters_count=self.dead_letters.total,
            actors=infos,
        )
        self._hook("on_audit", report)
        self._record(
            "record_audit",
            lambda: PersistedAudit(
                system_id=self.system_id,
                timestamp=self.now(),
                total_actors=report.total_actors,
                alive_actors=report.alive_actors,
                stopping_actors=report.stopping_actors,
                restarting_actors=report.restarting_actors,
                registry_size=report.registry_size,
                registry_orphans=report.registry_orphans,
                registry_dead=report.registry_dead,
                dead_letters_count=report.dead_letters_count,
            ),
        )
        return report

    def control_panel(self) -> str:
        """An aligned text table of every actor: rid, address, name, type, state, parent, children."""
        with self._lock:
            rows = [
                (
                    str(c.rid),
                    str(c.address),
                    c.name or "-",
                    c.actor_type,
                    c.state,
                    str(c.parent.rid) if c.parent is not None else "-",
                    ",".join(str(ch.rid) for ch in c.children if not ch.terminated) or "-",
                )
                for c in self._actors
            ]
        header = ("rid", "address", "name", "actor type", "state", "parent", "children")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ]
        return "\n".join(lines)


def _matches_type(actor: Any, actor_type: type | str) -> bool:
    cls = type(actor)
    if isinstance(actor_type, type):
        return isinstance(actor, actor_type)
    names: Iterable[str] = (cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}")
    return actor_type in names
