"""``papyra.conf``: PAPYRA_SETTINGS_MODULE resolution, the lazy proxy, thread-safe loading."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from papyra.conf import (
    LazySettings,
    configure,
    get_settings,
    load_settings_object,
    reload_settings,
    settings,
    settings_module_path,
)
from papyra.conf.global_settings import Settings
from papyra.exceptions import ConfigurationError


@pytest.fixture
def settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "conf_test_mod.py").write_text(
        "from papyra.conf.global_settings import Settings\n"
        "CREATED = []\n"
        "class Custom(Settings):\n"
        "    debug = True\n"
        "    def __init__(self):\n"
        "        CREATED.append(self)\n"
        "obj = Custom()\n"
        "persistence = 'module-level'\n"
        "class Broken:\n"
        "    def __init__(self):\n"
        "        raise RuntimeError('boom')\n"
    )
    (tmp_path / "conf_test_badimport.py").write_text("import no_such_dependency_abc\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "conf_test_mod"
    for name in ("conf_test_mod", "conf_test_badimport"):
        sys.modules.pop(name, None)
    reload_settings()


def test_default_settings_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPYRA_SETTINGS_MODULE", raising=False)
    reload_settings()
    try:
        assert isinstance(get_settings(), Settings)
        assert settings.persistence is None and settings.debug is False
        assert settings.source == "papyra.conf.global_settings.Settings"
    finally:
        reload_settings()


def test_class_object_and_module_paths(settings_module: str) -> None:
    made = load_settings_object("conf_test_mod.Custom")
    assert type(made).__name__ == "Custom" and made.debug is True
    mod = sys.modules["conf_test_mod"]
    assert load_settings_object("conf_test_mod.obj") is mod.obj
    assert load_settings_object("conf_test_mod") is mod
    assert load_settings_object("conf_test_mod").persistence == "module-level"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("conf_test_mod.Nope", "module 'conf_test_mod' has no attribute 'Nope'"),
        ("conf_test_mod.Broken", "creating Broken() failed: boom"),
        ("conf_test_badimport.Settings", "No module named 'no_such_dependency_abc'"),
        ("nonexistent_pkg_q", "no module named 'nonexistent_pkg_q'"),
        ("a..b", "is not a dotted Python path"),
    ],
)
def test_errors_are_configuration_errors(settings_module: str, path: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings_object(path)
    assert message in str(info.value) and "PAPYRA_SETTINGS_MODULE" in str(info.value)


def test_proxy_loads_lazily_once_and_forwards(settings_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPYRA_SETTINGS_MODULE", "conf_test_mod.Custom")
    proxy = LazySettings()
    assert not proxy.is_loaded and repr(proxy) == "<LazySettings (not loaded)>"
    created = sys.modules["conf_test_mod"].CREATED if "conf_test_mod" in sys.modules else None
    results: list[object] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        results.append(proxy._setup())

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) == 1
    created = sys.modules["conf_test_mod"].CREATED
    assert created.count(results[0]) == 1
    assert proxy.debug is True and proxy.source == "conf_test_mod.Custom"
    proxy.logging_level = "DEBUG"
    assert results[0].logging_level == "DEBUG"  # type: ignore[attr-defined]
    del proxy.logging_level
    assert proxy.logging_level == "INFO"


def test_configure_and_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    class Mine:
        persistence = "x"

    configure(Mine())
    try:
        assert settings.persistence == "x" and settings.source == "<configured>"
    finally:
        reload_settings()
    assert not settings.is_loaded


def test_settings_module_path_reads_environment() -> None:
    assert settings_module_path({"PAPYRA_SETTINGS_MODULE": "  a.b  "}) == "a.b"
    assert settings_module_path({"PAPYRA_SETTINGS_MODULE": ""}) is None
    assert settings_module_path({}) is None
