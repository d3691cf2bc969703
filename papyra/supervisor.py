"""Decisions a parent's ``Actor.on_child_failure`` may return to override a child's policy.

* ``RESTART`` — restart the child (its own restart limits still apply; its children are stopped).
* ``STOP`` — stop the child immediately.
* ``ESCALATE`` — stop the child and handle the failure as the parent's own (on the parent's thread).
* ``IGNORE`` — keep the child *and its state*; the failed message is dropped (an asker still gets
  the exception).

Returning ``None`` means "use the child's own policy".
"""

from __future__ import annotations

import enum

__all__ = ["SupervisorDecision"]


class SupervisorDecision(str, enum.Enum):
    RESTART = "restart"
    STOP = "stop"
    ESCALATE = "escalate"
    IGNORE = "ignore"
