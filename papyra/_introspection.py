"""Read-side and bulk operations over a :class:`~papyra._kernel.Kernel`, behind the facade's
``list_names``, ``list_actors``, ``refs``, ``refs_by_type``, ``broadcast``, ``actor_info``,
``audit`` and ``control_panel`` (documented there) (internal).

Every function takes the system lock only to copy what it needs (O(retained actors)); user code,
hooks and persistence are called outside it.

*Retained actors* are every live actor plus the newest ``terminated_history`` terminated ones
(constructor setting, default 10,000); older terminated actors are forgotten (their instances are
freed as soon as they terminate). Lookups of a forgotten actor behave like an unknown one
(``ActorStopped("Actor does not exist.")``); ``audit().total_actors`` still counts every actor
ever spawned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from papyra._cell_state import FINALIZING, RESTARTING, STOPPING, TERMINATED
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.exceptions import ActorStopped, MailboxFull
from papyra.persistence.runtime_records import audit_record
from papyra.ref import ActorRef

if TYPE_CHECKING:
    from papyra._cell import Cell
    from papyra._kernel import Kernel

__all__ = [
    "actor_info", "audit", "broadcast", "control_panel", "list_actors", "list_names", "refs",
    "refs_by_type", "resolve",
]


def list_names(k: Kernel) -> dict[str, ActorAddress]:
    with k.lock:
        return dict(k.names)


def list_actors(k: Kernel, alive_only: bool) -> tuple[ActorAddress, ...]:
    with k.lock:
        return tuple(c.address for c in k.cells.values() if not alive_only or c.state < STOPPING)


def refs(k: Kernel, alive_only: bool) -> tuple[ActorRef[Any], ...]:
    with k.lock:
        cells = list(k.cells.values())
    return tuple(ActorRef(c) for c in cells if not alive_only or c.state < STOPPING)


def refs_by_type(k: Kernel, actor_type: type | str, alive_only: bool) -> tuple[ActorRef[Any], ...]:
    if not isinstance(actor_type, (type, str)):
        raise TypeError(f"actor_type must be a class or a class name, got {actor_type!r}")
    with k.lock:
        cells = list(k.cells.values())
    return tuple(
        ActorRef(c)
        for c in cells
        if (not alive_only or c.state < STOPPING) and _matches_type(c, actor_type)
    )


def broadcast(k: Kernel, message: Any, actor_type: type | str | None) -> int:
    targets = refs(k, True) if actor_type is None else refs_by_type(k, actor_type, True)
    accepted = 0
    for ref in targets:
        try:
            ref.tell(message)
        except (ActorStopped, MailboxFull):
            continue
        accepted += 1
    return accepted


def resolve(k: Kernel, target: Any) -> Cell:
    """The retained cell a ref, address, address string or rid names (else ``ActorStopped``;
    ``TypeError`` for another type)."""
    if isinstance(target, ActorRef):
        if target._kernel is not k:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        rid = target._rid  # looked up like an address: a forgotten actor does not exist
    elif isinstance(target, bool):
        raise TypeError(f"Unsupported target type for actor lookup: {type(target)!r}")
    elif isinstance(target, int):
        rid = target
    elif isinstance(target, (ActorAddress, str)):
        address = ActorAddress.parse(target) if isinstance(target, str) else target
        if address.system != k.system_id:
            raise ActorStopped("Actor does not exist.", reason="shutdown")
        rid = address.actor_id
    else:
        raise TypeError(f"Unsupported target type for actor lookup: {type(target)!r}")
    cell = k.lookup(rid)
    if cell is None:
        raise ActorStopped("Actor does not exist.", reason="shutdown")
    return cell


def actor_info(k: Kernel, target: Any) -> ActorInfo:
    cell = resolve(k, target)
    with k.lock:
        return _info_locked(cell)


def _info_locked(c: Cell) -> ActorInfo:
    state = c.state
    return ActorInfo(
        rid=c.rid,
        address=c.address,
        name=c.name,
        parent_rid=c.parent.rid if c.parent is not None else None,
        children_rids=tuple(c.children),
        alive=state < FINALIZING,
        stopping=STOPPING <= state < TERMINATED,
        restarting=state is RESTARTING,
        actor_type=c.actor_type,
        state=state.label,
    )


def audit(k: Kernel, include_actor_details: bool) -> AuditReport:
    with k.lock:
        cells = list(k.cells.values())
        total = k.spawned
        alive = sum(1 for c in cells if c.state < STOPPING)
        stopping = sum(1 for c in cells if STOPPING <= c.state < TERMINATED)
        restarting = sum(1 for c in cells if c.state is RESTARTING)
        orphans: list[str] = []
        dead: list[str] = []
        for name, address in k.names.items():
            cell = k.cells.get(address.actor_id)
            if cell is None:
                orphans.append(name)
            elif cell.state >= STOPPING:
                dead.append(name)
        registry_size = len(k.names)
        infos = tuple(_info_locked(c) for c in cells) if include_actor_details else ()
    report = AuditReport(
        system_id=k.system_id,
        total_actors=total,
        alive_actors=alive,
        stopping_actors=stopping,
        restarting_actors=restarting,
        registry_size=registry_size,
        registry_orphans=tuple(sorted(orphans)),
        registry_dead=tuple(sorted(dead)),
        dead_letters_count=k.dead_letters.total,
        actors=infos,
    )
    k.hook("on_audit", report)
    k.records.record("record_audit", lambda: audit_record(report, k.now()))
    return report


def control_panel(k: Kernel) -> str:
    with k.lock:
        rows = [
            (
                str(c.rid),
                str(c.address),
                c.name or "-",
                c.actor_type,
                c.state.label,
                str(c.parent.rid) if c.parent is not None else "-",
                ",".join(str(ch.rid) for ch in c.children.values() if ch.state is not TERMINATED) or "-",
            )
            for c in k.cells.values()
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
