"""Choosing the store: flags beat environment beat settings; every backend option."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from papyra.cli.errors import UsageError
from papyra.cli.store import resolve_spec
from tests.cli.conftest import invoke, write_store


def ns(**kwargs: object) -> argparse.Namespace:
    return argparse.Namespace(**kwargs)


def test_path_flag_means_json() -> None:
    spec = resolve_spec(ns(path="/data/a.ndjson"), {})
    assert (spec.backend, spec.source, spec.path, spec.lock_timeout) == (
        "json",
        "flags",
        "/data/a.ndjson",
        10.0,
    )


def test_rotating_inferred_from_rotation_options() -> None:
    spec = resolve_spec(ns(path="/d/r.log", max_files=3), {"PAPYRA_MAX_BYTES": "1000"})
    assert (spec.backend, spec.max_files, spec.max_bytes) == ("rotating", 3, 1000)
    spec = resolve_spec(ns(), {"PAPYRA_PATH": "/d/r.log", "PAPYRA_MAX_FILES": "4"})
    assert (spec.backend, spec.source, spec.max_files) == ("rotating", "environment", 4)


def test_environment_only() -> None:
    spec = resolve_spec(ns(), {"PAPYRA_PATH": "/d/e.ndjson", "PAPYRA_LOCK_TIMEOUT": "2.5"})
    assert (spec.backend, spec.source, spec.path, spec.lock_timeout) == (
        "json",
        "environment",
        "/d/e.ndjson",
        2.5,
    )


def test_flags_beat_environment() -> None:
    env = {"PAPYRA_PATH": "/env.ndjson", "PAPYRA_BACKEND": "redis", "PAPYRA_REDIS_URL": "redis://h/1"}
    spec = resolve_spec(ns(path="/flag.ndjson"), env)
    assert (spec.backend, spec.path) == ("json", "/flag.ndjson")
    spec = resolve_spec(ns(redis_url="redis://flag/2"), env)
    assert (spec.backend, spec.redis_url) == ("redis", "redis://flag/2")
    spec = resolve_spec(ns(lock_timeout=1.0), {**env, "PAPYRA_LOCK_TIMEOUT": "9"})
    assert spec.lock_timeout == 1.0


def test_environment_backend_applies_to_flag_path() -> None:
    spec = resolve_spec(ns(path="/r.log"), {"PAPYRA_BACKEND": "rotating", "PAPYRA_MAX_FILES": "2"})
    assert (spec.backend, spec.max_files) == ("rotating", 2)


def test_redis_options_and_defaults() -> None:
    spec = resolve_spec(ns(backend="redis"), {"PAPYRA_PREFIX": "app", "PAPYRA_SYSTEM_ID": "s1"})
    assert (spec.redis_url, spec.prefix, spec.system_id) == ("redis://localhost:6379/0", "app", "s1")
    spec = resolve_spec(ns(redis_url="rediss://u:pw@h:6380/0", prefix="p", system_id="x"), {})
    assert spec.location == "rediss://u:***@h:6380/0 p:x:*"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ({}, {"PAPYRA_BACKEND": "sqlite"}, "PAPYRA_BACKEND='sqlite' is not one of: json, rotating, redis"),
        ({"backend": "json"}, {}, "the json backend needs --path (or PAPYRA_PATH)"),
        ({"path": "/x"}, {"PAPYRA_MAX_RECORDS": "many"}, "PAPYRA_MAX_RECORDS='many' is not an integer"),
        ({"path": "/x"}, {"PAPYRA_LOCK_TIMEOUT": "-1"}, "PAPYRA_LOCK_TIMEOUT must be >= 0"),
        ({"redis_url": "http://h"}, {}, "--redis-url must start with redis://"),
        ({"path": "/x"}, {"PAPYRA_MAX_AGE": "old"}, "PAPYRA_MAX_AGE: invalid duration 'old'"),
    ],
)
def test_invalid_configuration(args: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        resolve_spec(ns(**args), env)
    assert message in str(info.value)


def test_retention_from_environment() -> None:
    spec = resolve_spec(ns(path="/x"), {"PAPYRA_MAX_RECORDS": "5", "PAPYRA_MAX_AGE": "2h"})
    policy = spec.retention_policy()
    assert (policy.max_records, policy.max_age_seconds, policy.max_total_bytes) == (5, 7200.0, None)


def test_cli_with_environment_store(store: Path, tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--format", "json", env={"PAPYRA_PATH": str(store)}, tmp=tmp_path)
    assert r.code == 0
    assert json.loads(r.out)["store"] == {
        "backend": "json",
        "location": "<tmp>/papyra.ndjson",
        "source": "environment",
        "exists": True,
    }


# --------------------------------------------------------------------------- settings module


@pytest.fixture
def settings_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module ``cli_test_settings`` on sys.path whose settings point at a real JSON store."""
    store = write_store(tmp_path / "from_settings.ndjson")
    (tmp_path / "cli_test_settings.py").write_text(
        "from papyra.conf.global_settings import Settings\n"
        "from papyra.persistence.json import JsonFilePersistence\n"
        "from papyra.persistence.retention import RetentionPolicy\n"
        f"STORE = {str(store)!r}\n"
        "class AppSettings(Settings):\n"
        "    persistence = JsonFilePersistence(STORE, retention_policy=RetentionPolicy(max_records=3))\n"
        "class Empty(Settings):\n"
        "    pass\n"
        "instance = AppSettings()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield store
    module = sys.modules.pop("cli_test_settings", None)
    if module is not None:
        module.AppSettings.persistence.close()


def test_settings_module_supplies_the_backend(settings_pkg: Path, tmp_path: Path) -> None:
    env = {"PAPYRA_SETTINGS_MODULE": "cli_test_settings.AppSettings"}
    r = invoke("inspect", "events", "--format", "json", env=env, tmp=tmp_path)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["store"] == {
        "backend": "json",
        "location": "<tmp>/from_settings.ndjson",
        "source": "settings",
        "exists": True,
    }
    assert doc["count"] == 1  # the settings backend's own retention (max_records=3) applies
    r = invoke("persistence", "scan", env={"PAPYRA_SETTINGS_MODULE": "cli_test_settings.instance"})
    assert r.code == 0


def test_flags_and_environment_beat_settings(settings_pkg: Path, store: Path) -> None:
    env = {"PAPYRA_SETTINGS_MODULE": "cli_test_settings.AppSettings"}
    doc = json.loads(invoke("inspect", "events", "--path", str(store), "--format", "json", env=env).out)
    assert doc["store"]["source"] == "flags" and doc["count"] == 5
    doc = json.loads(
        invoke("inspect", "events", "--format", "json", env={**env, "PAPYRA_PATH": str(store)}).out
    )
    assert doc["store"]["source"] == "environment" and doc["count"] == 5


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cli_test_settings.Empty", "configure no persistence backend"),
        ("cli_test_settings.Missing", "has no attribute 'Missing'"),
        ("no_such_module_xyz.Settings", "cannot import module 'no_such_module_xyz'"),
        ("not a path", "is not a dotted Python path"),
    ],
)
def test_bad_settings_are_usage_errors(settings_pkg: Path, value: str, message: str) -> None:
    r = invoke("persistence", "scan", env={"PAPYRA_SETTINGS_MODULE": value})
    assert r.code == 64
    assert message in r.err and r.err.count("\n") == 1


def test_retention_flags_refused_with_settings(settings_pkg: Path) -> None:
    r = invoke("persistence", "compact", "--max-records", "1", env={"PAPYRA_SETTINGS_MODULE": "x.y"})
    assert r.code == 64 and "settings backend carries its own retention policy" in r.err
