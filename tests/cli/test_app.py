"""Top level: --version, help, group help, usage errors (64), error lines, --debug, colour."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from papyra import __version__
from papyra.cli import main
from papyra.cli.app import run
from tests.cli.conftest import invoke, run_cli


def test_version_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"papyra {__version__}\n"


def test_help_lists_groups_and_exit_codes() -> None:
    r = invoke("--help")
    assert r.code == 0
    for word in ("persistence", "doctor", "inspect", "metrics", "64  usage error", "PAPYRA_SETTINGS_MODULE"):
        assert word in r.out


def test_no_arguments_prints_help() -> None:
    r = invoke()
    assert r.code == 0 and r.out.startswith("usage: papyra")


@pytest.mark.parametrize(
    ("group", "text"),
    [
        ("persistence", "Persistence maintenance"),
        ("doctor", "Run system pre-flight checks"),
        ("inspect", "Inspect persisted Papyra system state"),
        ("metrics", "Inspect runtime metrics and observability counters"),
    ],
)
def test_group_without_subcommand_prints_its_help(group: str, text: str) -> None:
    r = invoke(group)
    assert (r.code, r.err) == (0, "")
    assert r.out.startswith(f"usage: papyra {group}") and text in r.out


def test_subcommand_help() -> None:
    r = invoke("persistence", "recover", "--help")
    assert r.code == 0 and "--quarantine-dir" in r.out and "--lock-timeout" in r.out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bogus"], "invalid choice: 'bogus'"),
        (["persistence", "scan", "--nope"], "unrecognized arguments: --nope"),
        (["persistence", "recover", "--path", "x", "--mode", "rebuild"], "invalid choice 'rebuild'"),
        (["doctor", "run", "--path", "x", "--mode", "sometimes"], "invalid choice 'sometimes'"),
        (["inspect", "events", "--path", "x", "--limit", "0"], "expected a positive integer, got '0'"),
        (["inspect", "events", "--path", "x", "--limit", "-3"], "expected a positive integer"),
        (["persistence", "scan", "--path", "x", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["persistence", "scan", "--path", "x", "--lock-timeout", "soon"], "expected a number of seconds"),
        (["persistence", "scan", "--path", "x", "--max-age", "forever"], "invalid duration 'forever'"),
        (["persistence", "scan", "--path", "x", "--backend", "json", "--max-files", "2"], "rotating only"),
    ],
)
def test_usage_errors_exit_64_on_one_line(args: list[str], fragment: str) -> None:
    r = invoke(*args)
    assert r.code == 64
    assert r.out == ""
    assert r.err.startswith("papyra: error: ") and r.err.count("\n") == 1
    assert fragment in r.err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["bogus"],
            "papyra: error: argument {persistence,doctor,inspect,metrics}: invalid choice: 'bogus' "
            "(choose from 'persistence', 'doctor', 'inspect', 'metrics') (see 'papyra --help')\n",
        ),
        (
            ["persistence", "scan", "--nope"],
            "papyra: error: unrecognized arguments: --nope (see 'papyra persistence scan --help')\n",
        ),
        (
            ["persistence", "--nope"],
            "papyra: error: unrecognized arguments: --nope (see 'papyra persistence --help')\n",
        ),
        (
            ["inspect", "events", "--path", "x", "--limit", "0"],
            "papyra: error: argument --limit: expected a positive integer, got '0' "
            "(see 'papyra inspect events --help')\n",
        ),
    ],
)
def test_argparse_errors_have_one_prefix(args: list[str], expected: str) -> None:
    r = invoke(*args)
    assert (r.code, r.out) == (64, "")
    assert r.err.count("papyra:") == 1
    assert r.err == expected


def test_no_store_configured_is_usage_error() -> None:
    r = invoke("persistence", "scan")
    assert r.code == 64
    assert r.err == (
        "papyra: error: no store configured: pass --path PATH (or --backend redis --redis-url URL), "
        "set PAPYRA_PATH / PAPYRA_REDIS_URL, or PAPYRA_SETTINGS_MODULE\n"
    )


def test_path_is_a_directory_is_operational_error(tmp_path: Path) -> None:
    r = invoke("persistence", "inspect", "--path", str(tmp_path), tmp=tmp_path)
    assert (r.code, r.err) == (3, "papyra: error: <tmp> is a directory, not a store file\n")


def test_symlinked_store_is_refused_in_one_line(tmp_path: Path, store: Path) -> None:
    link = tmp_path / "link.ndjson"
    link.symlink_to(store)
    r = invoke("inspect", "events", "--path", str(link))
    assert r.code == 3 and "symlink" in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_debug_shows_traceback(tmp_path: Path) -> None:
    link = tmp_path / "link.ndjson"
    link.symlink_to(tmp_path / "elsewhere")
    r = invoke("inspect", "events", "--path", str(link), "--debug")
    assert r.code == 3
    assert r.err.startswith("Traceback (most recent call last):")
    assert r.err.splitlines()[-1].startswith("papyra: error: ")


def test_unreachable_redis_is_operational_and_redacted() -> None:
    url = "redis://admin:hunter2@127.0.0.1:1/0"
    r = invoke("persistence", "scan", "--redis-url", url, "--format", "json")
    assert r.code == 3, r.err
    error = json.loads(r.out)["error"]
    assert error["exit_code"] == 3 and error["message"] == r.err[len("papyra: error: ") : -1]
    assert "hunter2" not in r.out + r.err and r.err.count("\n") == 1


def test_query_password_redaction_keeps_the_closing_bracket() -> None:
    r = invoke("persistence", "scan", "--redis-url", "redis://127.0.0.1:1/0?password=hunter2")
    assert r.code == 3 and "hunter2" not in r.err
    assert r.err.startswith(
        "papyra: error: backend unavailable: redis read failed (redis://127.0.0.1:1/0?password=***): "
    )


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_tty_without_no_color(store: Path) -> None:
    args = ["persistence", "scan", "--path", str(store)]
    tty = _Tty()
    assert run(args, stdout=tty, stderr=io.StringIO(), environ={}) == 0
    assert "\033[32m✔\033[0m Persistence is healthy." in tty.getvalue()
    tty = _Tty()
    run(args, stdout=tty, stderr=io.StringIO(), environ={"NO_COLOR": "1"})
    assert "\033[" not in tty.getvalue()
    plain = io.StringIO()
    run(args, stdout=plain, stderr=io.StringIO(), environ={})
    assert "\033[" not in plain.getvalue()
    tty = _Tty()
    run([*args, "--format", "json"], stdout=tty, stderr=io.StringIO(), environ={})
    assert "\033[" not in tty.getvalue() and json.loads(tty.getvalue())


def test_prometheus_module_missing_is_exit_3(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "papyra.contrib.prometheus", None)
    r = invoke("metrics", "persistence", "--path", str(store), "--format", "prometheus")
    assert r.code == 3
    assert r.err == (
        "papyra: error: --format prometheus needs papyra.contrib.prometheus, "
        "which is not available in this installation\n"
    )


# --------------------------------------------------------------------------- subprocesses


def test_python_m_papyra_version_and_entry() -> None:
    r = run_cli("--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"papyra {__version__}\n", "")


def test_help_imports_no_optional_dependency_or_backend() -> None:
    code = (
        "import sys\n"
        "from papyra.cli import main\n"
        "rc = main(['--help'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'opentelemetry')"
        " or m in ('papyra.persistence.json', 'papyra.persistence.backends.redis',"
        " 'papyra.persistence.backends.rotating', 'papyra.contrib.otel', 'papyra.contrib.prometheus'))\n"
        "print(rc, bad, file=sys.stderr)\n"
    )
    import subprocess

    from tests.cli.conftest import ROOT, cli_env

    r = subprocess.run(
        [sys.executable, "-c", code], cwd=str(ROOT), env=cli_env(), capture_output=True, text=True
    )
    assert r.stderr.strip() == "0 []"


def test_subprocess_usage_error_exit_64() -> None:
    r = run_cli("persistence", "frobnicate")
    assert r.returncode == 64 and r.stdout == ""
    assert r.stderr.startswith("papyra: error: ") and r.stderr.count("\n") == 1
