"""Audit snapshots of an actor system: :class:`AuditReport` and per-actor :class:`ActorInfo`.

Actor states (``ActorInfo.state``): ``"starting"`` (spawned, ``on_start`` not finished),
``"running"``, ``"restarting"``, ``"stopping"`` (stop requested or decided, not yet terminated)
and ``"stopped"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from papyra.address import ActorAddress

__all__ = ["ActorInfo", "AuditReport"]


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """One actor as seen by ``ActorSystem.actor_info`` / ``audit``.

    ``children_rids`` lists the retained children (live ones and terminated ones still within
    the system's ``terminated_history``), in spawn order.
    """

    rid: int
    address: ActorAddress
    name: str | None
    parent_rid: int | None
    children_rids: tuple[int, ...]
    alive: bool
    stopping: bool
    restarting: bool
    actor_type: str = ""
    state: str = "running"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Point-in-time counts for a system.

    * ``total_actors`` — every actor ever spawned (terminated and forgotten ones included);
    * ``alive_actors`` — alive and not stopping; ``stopping_actors`` — stop requested, not yet
      terminated; ``restarting_actors`` — a restart in progress (these counts, and ``actors``,
      cover the retained actors: every live one plus the newest ``terminated_history``
      terminated ones);
    * ``registry_size`` — registered names; ``registry_orphans`` — names whose actor is unknown;
      ``registry_dead`` — names whose actor is dead or stopping (both sorted; normally empty,
      since names are released when a stop is requested);
    * ``dead_letters_count`` — dead letters recorded since start (including ones the bounded
      ring has since dropped).
    """

    system_id: str
    total_actors: int
    alive_actors: int
    stopping_actors: int
    restarting_actors: int
    registry_size: int
    registry_orphans: tuple[str, ...]
    registry_dead: tuple[str, ...]
    dead_letters_count: int
    actors: tuple[ActorInfo, ...] = ()

    def summary_lines(self) -> list[str]:
        """Four human-readable lines: system id, actor counts, registry, dead letters. O(1)."""
        return [
            f"system_id={self.system_id}",
            f"actors(total={self.total_actors}, alive={self.alive_actors}, "
            f"stopping={self.stopping_actors}, restarting={self.restarting_actors})",
            f"registry(size={self.registry_size}, orphans={len(self.registry_orphans)}, "
            f"dead={len(self.registry_dead)})",
            f"dead_letters={self.dead_letters_count}",
        ]
