"""One validator for settings: every invalid persistence setting is a ConfigurationError (also a
ValueError) naming the setting and the value; valid ones come back in their canonical type."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from papyra.conf.validation import check_fsync, check_int, check_number
from papyra.exceptions import ConfigurationError, PapyraError
from papyra.persistence.backends.redis_config import RedisStreamsConfig
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.retention import RetentionPolicy


@pytest.mark.parametrize(
    ("value", "policy"),
    [("always", "always"), ("INTERVAL", "interval"), ("never", "never"), (True, "always"), (False, "never")],
)
def test_fsync_settings_map_to_one_of_three_policies(value: object, policy: str) -> None:
    assert check_fsync(value) == policy


@pytest.mark.parametrize("value", ["sometimes", "", None, 1, 0, 1.0, b"always"])
def test_anything_else_is_not_an_fsync_policy(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"fsync must be 'always', 'interval', 'never' or a bool"):
        check_fsync(value)


def test_numbers_and_integers_refuse_bools_non_finite_and_out_of_range() -> None:
    assert check_int("n", 3) == 3 and check_int("n", 0, minimum=0) == 0
    assert check_number("t", 0) == 0.0 and type(check_number("t", 2)) is float
    for bad in (0, -1, True, 1.5, "3", None):
        with pytest.raises(ConfigurationError, match=r"^n must be a positive integer, got "):
            check_int("n", bad)
    with pytest.raises(ConfigurationError, match=r"^n must be at most 10, got 11$"):
        check_int("n", 11, maximum=10)
    for bad in (-0.5, True, math.nan, math.inf, "1", None):
        with pytest.raises(ConfigurationError, match=r"^t must be a non-negative number, got "):
            check_number("t", bad)
    with pytest.raises(ConfigurationError, match=r"^t must be a positive number, got 0$"):
        check_number("t", 0, positive=True)


def _json(tmp: Path, **kw: Any) -> Any:
    return JsonFilePersistence(tmp / "s.ndjson", **kw)


def _rotating(tmp: Path, **kw: Any) -> Any:
    return RotatingFilePersistence(tmp / "r.ndjson", **kw)


def _redis(_tmp: Path, **kw: Any) -> Any:
    return RedisStreamsConfig(**kw)


def _retention(_tmp: Path, **kw: Any) -> Any:
    return RetentionPolicy(**kw)


INVALID: list[tuple[Callable[..., Any], str, object]] = [
    (_json, "fsync", "sometimes"),
    (_json, "fsync", None),
    (_json, "fsync_interval", 0),
    (_json, "max_pending", 0),
    (_json, "lock_timeout", -1),
    (_json, "lock_timeout", math.nan),
    (_json, "backpressure_timeout", True),
    (_json, "file_mode", 0o10000),
    (_rotating, "fsync", "daily"),
    (_rotating, "max_bytes", 1.5),
    (_rotating, "max_files", 10**6),
    (_rotating, "max_pending", -3),
    (_redis, "max_buffer", 0),
    (_redis, "socket_timeout", 0),
    (_redis, "socket_connect_timeout", -1.0),
    (_redis, "scan_sample_size", True),
    (_redis, "since_id_slack", -1),
    (_redis, "buffer_put_timeout", math.inf),
    (_retention, "max_records", 0),
    (_retention, "max_total_bytes", "1MB"),
    (_retention, "max_age_seconds", -5),
]


@pytest.mark.parametrize(
    ("make", "name", "value"), INVALID, ids=[f"{m.__name__[1:]}-{n}-{v!r}" for m, n, v in INVALID]
)
def test_every_invalid_persistence_setting_is_a_configuration_error(
    tmp_path: Path, make: Callable[..., Any], name: str, value: object
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(tmp_path, **{name: value})
    assert isinstance(info.value, ValueError) and isinstance(info.value, PapyraError)
    assert str(info.value).startswith(f"{name} must be ") and repr(value) in str(info.value)
    assert list(tmp_path.iterdir()) == []  # refused before touching the disk


def test_file_backends_report_the_canonical_fsync_policy(tmp_path: Path) -> None:
    for fsync, policy in ((True, "always"), (False, "never"), ("Interval", "interval")):
        backend = JsonFilePersistence(tmp_path / f"{policy}.ndjson", fsync=fsync)
        assert backend.fsync == policy
        backend.close()
