"""Read-side and bulk operations of an :class:`~papyra.system.ActorSystem`: name and address
lookups, refs by type, broadcast, stop-all, ``actor_info``, ``audit`` and the control panel.

Every method takes the system lock only to copy what it needs (O(retained actors)); user code,
hooks and persistence are called outside it.

*Retained actors* are every live actor plus the newest ``terminated_history`` terminated ones
(constructor setting, default 10,000); older terminated actors are forgotten (their instances are
freed as soon as they terminate). Lookups of a forgotten actor behave like an unknown one
(``ActorStopped("Actor does not exist.")``); ``audit().total_actors`` still counts every actor
ever spawned.
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

    _spawned: int

    def _as_system(self) -> ActorSystem:
        return cast("ActorSystem", self)

    def list_names(self) -> dict[str, ActorAddress]:
        """Copy of the name registry (running actors only). O(names) under the system lock."""
        with self._lock:
            return dict(self._names)

    def list_actors(self, *, alive_only: bool = False) -> tuple[ActorAddress, ...]:
        """Addresses of the retained actors in spawn order (live ones plus the newest
        ``terminated_history`` terminated ones); ``alive_only`` keeps running ones.
        O(retained) under the system lock."""
        with self._lock:
            return tuple(c.address for c in self._by_id.values() if not alive_only or c.accepting)

    def refs(self, *, alive_only: bool = True) -> tuple[ActorRef[Any], ...]:
        """Refs of the actors (running ones by default; else every retained one), in spawn order.
        O(retained): one copy under the system lock."""
        with self._lock:
            cells = list(self._by_id.values())
        return tuple(ActorRef(self._as_system(), c) for c in cells if not alive_only or c.accepting)

    def refs_by_type(self, actor_type: type | str, *, alive_only: bool = True) -> tuple[ActorRef[Any], ...]:
        """Refs whose current instance matches ``actor_type``: a class (``isinstance``), or a
        class name, qualname or ``module.QualName`` string (a terminated actor, whose instance
        is gone, matches by its class qualname only). O(retained), one copy under the lock."""
        with self._lock:
            cells = list(self._by_id.values())
        return tuple(
            ActorRef(self._as_system(), c)
            for c in cells
            if (not alive_only or c.accepting) and _matches_type(c, actor_type)
        )

    def broadcast(self, message: Any, *, actor_type: type | str | None = None) -> int:
        """``tell`` ``message`` to every running actor (optionally of ``actor_type``); returns how
        many accepted it. Rejections are dead letters as usual; a full BLOCK mailbox blocks.
        Cost: O(retained) plus one ``tell`` per running actor."""
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
        """Gracefully stop every running actor (children first); returns how many were asked.
        Never waits for them. O(retained) under the system lock."""
        submits: list[Cell] = []
        with self._lock:
            count = 0
            for cell in reversed(self._by_id.values()):
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
            rid = target._rid  # looked up like an address: a forgotten actor does not exist
        elif isinstance(target, bool):
            raise TypeError(f"Unsupported target type for actor lookup: {type(target)!r}")
        elif isinstance(target, int):
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

    def actor_info(self, target: ActorRef[Any] | ActorAddress | str | int) -> ActorInfo:
        """:class:`ActorInfo` for a ref, address, address string or rid of a retained actor
        (else ``ActorStopped``). O(children) under the system lock."""
        cell = self._resolve(target)
        with self._lock:
            return self._info_locked(cell)

    def _info_locked(self, c: Cell) -> ActorInfo:
        return ActorInfo(
            rid=c.rid,
            address=c.address,
            name=c.name,
            parent_rid=c.parent.rid if c.parent is not None else None,
            children_rids=tuple(c.children),
            alive=c.alive,
            stopping=c.stopping and not c.terminated,
            restarting=c.restarting,
            actor_type=c.actor_type,
            state=c.state,
        )

    # ================================================================== audit, events

    def audit(self, *, include_actor_details: bool = True) -> AuditReport:
        """Snapshot counts (under the lock), call ``on_audit`` with the returned report, and
        queue a ``PersistedAudit``. ``total_actors`` counts every actor ever spawned; the other
        counts and ``actors`` cover the retained ones. O(retained) under the system lock; never
        blocks on persistence (the record is queued)."""
        with self._lock:
            cells = list(self._by_id.values())
            total = self._spawned
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
            total_actors=total,
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
        """An aligned text table of the retained actors: rid, address, name, type, state, parent,
        live children. O(retained) under the system lock, formatting outside it."""
        with self._lock:
            rows = [
                (
                    str(c.rid),
                    str(c.address),
                    c.name or "-",
                    c.actor_type,
                    c.state,
                    str(c.parent.rid) if c.parent is not None else "-",
                    ",".join(str(ch.rid) for ch in c.children.values() if not ch.terminated) or "-",
                )
                for c in self._by_id.values()
            ]
        header = ("rid", "address", "name", "actor type", "state", "parent", "children")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        ]
        return "\n".join(lines)


def _matches_type(cell: Cell, actor_type: type | str) -> bool:
    actor = cell.actor
    if actor is None:  # terminated: the instance is gone
        name = actor_type.__qualname__ if isinstance(actor_type, type) else actor_type
        return name == cell.actor_type
    cls = type(actor)
    if isinstance(actor_type, type):
        return isinstance(actor, actor_type)
    names: Iterable[str] = (cls.__name__, cls.__qualname__, f"{cls.__module__}.{cls.__qualname__}")
    return actor_type in names
