"""One validator for settings: every invalid value raises :class:`~papyra.exceptions.ConfigurationError`.

:class:`~papyra.exceptions.ConfigurationError` is a :class:`~papyra.exceptions.PapyraError` and
also a :class:`ValueError`, so ``except ValueError`` keeps working. Each check returns the value
in its canonical type (an ``int``, a ``float``, an :data:`FsyncPolicy`) and names the setting and
the bad value in the message: ``"max_pending must be a positive integer, got 0"``. ``bool`` is
never accepted as a number. All checks are O(1) and take no lock.
"""

from __future__ import annotations

import enum
import math
from typing import Literal, TypeVar, get_args

from papyra.exceptions import ConfigurationError

__all__ = [
    "FsyncPolicy",
    "FsyncSetting",
    "check_choice",
    "check_fsync",
    "check_int",
    "check_name",
    "check_number",
    "check_timeout",
    "is_finite_number",
]

E = TypeVar("E", bound=enum.Enum)

#: When a durable file backend fsyncs: after every batch, every ``fsync_interval`` seconds, or
#: never (the OS decides).
FsyncPolicy = Literal["always", "interval", "never"]
#: What ``fsync=`` accepts: a policy, or ``True``/``False`` for ``"always"``/``"never"``.
FsyncSetting = FsyncPolicy | bool

_FSYNC_POLICIES: tuple[FsyncPolicy, ...] = get_args(FsyncPolicy)


def check_fsync(value: object, name: str = "fsync") -> FsyncPolicy:
    """``value`` as a policy: ``"always"``/``"interval"``/``"never"`` (any case), ``True`` ->
    ``"always"``, ``False`` -> ``"never"``. Anything else: ConfigurationError."""
    if value is True:
        return "always"
    if value is False:
        return "never"
    if isinstance(value, str):
        for policy in _FSYNC_POLICIES:
            if value.lower() == policy:
                return policy
    raise ConfigurationError(f"{name} must be 'always', 'interval', 'never' or a bool, got {value!r}")


def check_int(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An ``int`` (not a ``bool``) with ``minimum <= value <= maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigurationError(f"{name} must be {kind}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}, got {value!r}")
    return value


def is_finite_number(value: object) -> bool:
    """True for an ``int`` or ``float`` (not a ``bool``) that is a finite float: NaN, the
    infinities and integers beyond the float range (``10**400``) are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_timeout(value: object, name: str = "timeout") -> float | None:
    """A wait bound in seconds: ``None`` or ``+inf`` (no bound, returned as ``None``), else a
    number; a negative one is ``0.0`` (do not wait). NaN or a non-number: ConfigurationError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ConfigurationError(f"{name} must be a number of seconds or None, got {value!r}")
    if value == math.inf:
        return None
    return max(0.0, float(value))


def check_number(name: str, value: object, *, positive: bool = False) -> float:
    """A finite ``int`` or ``float`` (not a ``bool``): ``> 0`` when ``positive``, else ``>= 0``.
    Returned as a ``float``."""
    ok = is_finite_number(value)
    if not ok or value < 0 or (positive and value == 0):  # type: ignore[operator]
        kind = "a positive number" if positive else "a non-negative number"
        raise ConfigurationError(f"{name} must be {kind}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_choice(name: str, value: object, choices: type[E]) -> E:
    """A member of the enum ``choices``, given as the member or its value (``"block"``)."""
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in choices)
        raise ConfigurationError(f"{name} must be one of {allowed}, got {value!r}") from None


def check_name(name: str, value: object) -> str:
    """A non-empty ``str``, returned as an exact ``str`` (a subclass such as a ``StrEnum`` member
    becomes its plain value without calling its methods), so that hashing and comparing it later
    — under Papyra's locks — never runs user code."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string, got {value!r}")
    return value if type(value) is str else str.__str__(value)
