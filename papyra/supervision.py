"""Supervision policies: what happens to an actor whose ``receive`` (or ``on_start``) raised.

* ``Strategy.STOP`` — stop the actor (immediately; queued messages become dead letters).
* ``Strategy.RESTART`` — replace the instance with a fresh one from the factory (the mailbox and
  every ref survive), at most ``max_restarts`` times within a sliding ``within_seconds`` window;
  beyond that the actor is stopped.
* ``Strategy.ESCALATE`` — stop the actor and let its parent handle the failure as its own (on the
  parent's thread). A root actor is simply stopped.

Children of an actor that is restarted or stopped are stopped first. The default policy is
RESTART for named actors and STOP for unnamed ones.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from papyra.conf.validation import check_choice, check_int, check_number

__all__ = ["Strategy", "SupervisionPolicy"]


class Strategy(str, enum.Enum):
    STOP = "stop"
    RESTART = "restart"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    """Strategy plus restart limits (``max_restarts`` within ``within_seconds``, sliding window).
    An invalid value raises :class:`~papyra.exceptions.ConfigurationError` (a ``ValueError``)."""

    strategy: Strategy = Strategy.STOP
    max_restarts: int = 3
    within_seconds: float = 60.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", check_choice("strategy", self.strategy, Strategy))
        check_int("max_restarts", self.max_restarts, minimum=0)
        check_number("within_seconds", self.within_seconds)
