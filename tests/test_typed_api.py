"""The public API is typed: a user script passes ``mypy --strict`` and pyright strict, the types
are real (mistakes are reported, not hidden behind ``Any``), and invalid runtime settings raise
``ConfigurationError`` (also a ``ValueError``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from papyra.actor import Actor
from papyra.exceptions import ConfigurationError
from papyra.mailbox import Mailbox
from papyra.supervision import SupervisionPolicy
from papyra.system import ActorSystem

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "support" / "typed_user.py"
MISTAKES = """
from papyra import ActorSystem
from tests.support.typed_user import Counter

with ActorSystem() as system:
    counter = system.spawn(Counter)
    wrong_message = counter.ask("two")
    wrong_reply: str = counter.ask(2)
    wrong_attribute: str = counter.proxy().count
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--python-version", "3.10", str(path)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )


def test_a_user_script_passes_mypy_strict() -> None:
    result = _mypy(SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reports_a_wrong_message_reply_or_proxy_attribute_type(tmp_path: Path) -> None:
    path = tmp_path / "mistakes.py"
    path.write_text(MISTAKES)
    result = _mypy(path)
    assert result.returncode == 1
    assert 'Argument 1 to "ask" of "ActorRef" has incompatible type "str"; expected "int"' in result.stdout
    wrong_type = 'Incompatible types in assignment (expression has type "int", variable has type "str")'
    assert result.stdout.count(wrong_type) == 2, result.stdout  # the reply and the proxy attribute


def _pyright() -> list[str]:
    if shutil.which("node") is None:
        pytest.skip("pyright needs node, which is not installed here")
    try:
        import pyright  # noqa: F401
    except ImportError:
        pytest.skip("pyright is not installed (pip install pyright, in the test extra)")
    return [sys.executable, "-m", "pyright"]


def _pyright_run(tmp_path: Path, target: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "pyrightconfig.json"
    config.write_text(
        json.dumps({"typeCheckingMode": "strict", "pythonVersion": "3.10", "extraPaths": [str(ROOT)]})
    )
    return subprocess.run(
        [*_pyright(), "--project", str(config), str(target)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )


def test_a_user_script_passes_pyright_strict(tmp_path: Path) -> None:
    result = _pyright_run(tmp_path, SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pyright_reports_a_wrong_message_reply_or_proxy_attribute_type(tmp_path: Path) -> None:
    path = tmp_path / "mistakes.py"
    path.write_text(MISTAKES)
    result = _pyright_run(tmp_path, path)
    assert result.returncode == 1
    assert "3 errors" in result.stdout, result.stdout


def test_the_user_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "7"  # 2, then 2 + 3


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


@pytest.mark.parametrize(
    "settings",
    [
        {"system_id": ""},
        {"max_workers": 0},
        {"max_workers": True},
        {"dead_letter_capacity": 0},
        {"recorder_capacity": -1},
        {"terminated_history": -1},
        {"terminated_history": 1.5},
        {"event_log_capacity": 0},
    ],
)
def test_an_invalid_system_setting_is_a_configuration_error(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(settings))):
        ActorSystem(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"mailbox_capacity": 0},
        {"mailbox_capacity": "8"},
        {"overflow": "explode"},
        {"put_timeout": -1},
        {"name": ""},
    ],
)
def test_an_invalid_spawn_setting_is_a_configuration_error(settings: dict[str, Any]) -> None:
    with ActorSystem() as system:
        with pytest.raises(ConfigurationError, match=next(iter(settings))):
            system.spawn(Echo, **settings)
        assert system.list_actors() == ()


@pytest.mark.parametrize(
    "settings",
    [{"strategy": "sometimes"}, {"max_restarts": -1}, {"max_restarts": 1.0}, {"within_seconds": -1}],
)
def test_an_invalid_supervision_policy_is_a_configuration_error(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(settings))):
        SupervisionPolicy(**settings)


def test_configuration_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="mailbox_capacity must be a positive integer, got 0"):
        Mailbox(0)
