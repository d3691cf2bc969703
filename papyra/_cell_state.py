"""The one state of an actor cell (internal).

A cell moves forward through these states only, and only the kernel changes them, under the
system lock (:mod:`papyra._kernel`). The order is meaningful, so the hot paths test a state with
one integer comparison:

* ``< STOPPING`` — *accepting*: refs deliver messages (``STARTING``, ``RUNNING``, ``RESTARTING``);
* ``>= STOPPING`` — a stop was requested; ``STOPPING_NOW`` — an immediate one (after the current
  message);
* ``>= AWAITING_CHILDREN`` — *done*: phase 1 of termination ran, the cell never runs a message
  again; ``AWAITING_CHILDREN`` waits for its last child, ``FINALIZING`` runs phase 2 (watchers,
  ``on_stop``, the ``ActorStopped`` event), ``TERMINATED`` is the end.

The only backward step is ``RESTARTING`` → ``RUNNING`` (a restart that finished while no stop was
requested).
"""

from __future__ import annotations

import enum

__all__ = [
    "AWAITING_CHILDREN", "FINALIZING", "RESTARTING", "RUNNING", "STARTING", "STOPPING", "STOPPING_NOW",
    "TERMINATED", "CellState",
]


class CellState(enum.IntEnum):
    """Lifecycle state of one actor cell, in order (see the module docstring)."""

    STARTING = 0
    RUNNING = 1
    RESTARTING = 2
    STOPPING = 3
    STOPPING_NOW = 4
    AWAITING_CHILDREN = 5
    FINALIZING = 6
    TERMINATED = 7

    @property
    def label(self) -> str:
        """The public state name (``ActorInfo.state``): ``starting``, ``running``,
        ``restarting``, ``stopping`` or ``stopped``."""
        if self >= CellState.FINALIZING:
            return "stopped"
        if self >= CellState.STOPPING:
            return "stopping"
        return self.name.lower()


# Module-level names for the hot paths (a global lookup, not an enum attribute lookup).
STARTING = CellState.STARTING
RUNNING = CellState.RUNNING
RESTARTING = CellState.RESTARTING
STOPPING = CellState.STOPPING
STOPPING_NOW = CellState.STOPPING_NOW
AWAITING_CHILDREN = CellState.AWAITING_CHILDREN
FINALIZING = CellState.FINALIZING
TERMINATED = CellState.TERMINATED
