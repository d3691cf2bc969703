"""Machine output never lies: one JSON document (``json``), one compact line per result
(``ndjson``, accepted by every command), an ``{"error": ...}`` object on stdout for every error
with a machine format, and no crash when stdout cannot encode the text symbols."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from papyra.cli.app import build_parser, run
from papyra.persistence.models import PersistedEvent
from tests.cli.conftest import T0, invoke, run_cli, write_store


def _leaf_commands() -> list[tuple[str, str]]:
    """Every ``(group, command)`` of the parser (walked, so a new command is covered)."""
    leaves = []
    root = build_parser()
    for group_action in root._subparsers._group_actions:  # type: ignore[union-attr]
        assert isinstance(group_action, argparse._SubParsersAction)
        for group, group_parser in group_action.choices.items():
            for action in group_parser._subparsers._group_actions:  # type: ignore[union-attr]
                leaves += [(group, name) for name in action.choices]
    return leaves


def _args(group: str, name: str, store: Path, tmp: Path) -> list[str]:
    if (group, name) == ("persistence", "copy"):
        return [group, name, "--from", str(store), "--to", f"json:{tmp / 'copy.ndjson'}"]
    return [group, name, "--path", str(store)]


#: Commands whose ndjson output is one line per result (records, buckets); the others print one.
MULTI_RESULT = {
    ("inspect", "events"): "kind",
    ("inspect", "audits"): "kind",
    ("inspect", "dead-letters"): "kind",
    ("inspect", "timeline"): "start",
}
LEAVES = _leaf_commands()
IDS = [" ".join(leaf) for leaf in LEAVES]


@pytest.mark.parametrize(("group", "name"), LEAVES, ids=IDS)
def test_every_command_accepts_ndjson_and_prints_compact_lines(
    tmp_path: Path, group: str, name: str
) -> None:
    store = write_store(tmp_path / "s.ndjson")
    r = invoke(*_args(group, name, store, tmp_path), "--format", "ndjson")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    docs = [json.loads(line) for line in lines]
    if (group, name) in MULTI_RESULT:
        assert len(docs) >= 1 and all(MULTI_RESULT[group, name] in d for d in docs)
    else:
        assert len(docs) == 1 and docs[0]["exit_code"] == 0
    assert all(": " not in line.split('"payload"')[0] for line in lines)  # compact separators


@pytest.mark.parametrize(("group", "name"), LEAVES, ids=IDS)
def test_json_is_one_document_one_line_into_a_pipe(tmp_path: Path, group: str, name: str) -> None:
    store = write_store(tmp_path / "s.ndjson")
    r = invoke(*_args(group, name, store, tmp_path), "--format", "json")
    assert r.code == 0, r.err
    assert r.out.count("\n") == 1 and json.loads(r.out)["exit_code"] == 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_is_indented_on_a_terminal(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s.ndjson")
    out = _Terminal()
    code = run(["persistence", "scan", "--path", str(store), "--format", "json"], stdout=out,
               stderr=io.StringIO(), environ={})
    assert code == 0
    assert out.getvalue().startswith('{\n  "command": "persistence scan",\n  "exit_code": 0,\n')


def test_scan_json_appended_by_cron_stays_one_line_per_run(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s.ndjson")
    log = tmp_path / "scans.ndjson"
    for _ in range(2):  # the README's cron recipe: scan --format json >> scans.ndjson
        r = run_cli("persistence", "scan", "--path", str(store), "--format", "json")
        with log.open("a") as f:
            f.write(r.stdout)
    assert [json.loads(line)["status"] for line in log.read_text().splitlines()] == ["healthy", "healthy"]


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("persistence", "scan", "--path", "/nonexistent-dir/x.ndjson"), 3),
        (("persistence", "scan", "--redis-url", "redis://u:hunter2@127.0.0.1:1/0"), 3),
        (("inspect", "events", "--path", "{store}", "--since", "yesterday-ish"), 64),
        (("doctor", "run", "--path", "{store}", "--mode", "bogus"), 64),
        (("persistence", "recover", "--path", "{store}", "--quarantine-dir", "/tmp/q"), 64),
    ],
)
def test_errors_with_a_machine_format_print_one_error_object_on_stdout(
    tmp_path: Path, args: tuple[str, ...], code: int, fmt: str
) -> None:
    store = write_store(tmp_path / "s.ndjson")
    argv = [a.replace("{store}", str(store)) for a in args]
    r = invoke(*argv, "--format", fmt)
    assert r.code == code
    assert r.err.startswith("papyra: error: ") and r.err.count("\n") == 1
    assert r.out.count("\n") == 1
    assert json.loads(r.out) == {"error": {"exit_code": code, "message": r.err[len("papyra: error: "):-1]}}
    assert "hunter2" not in r.out


def test_errors_in_text_format_print_nothing_on_stdout(tmp_path: Path) -> None:
    r = invoke("persistence", "scan", "--path", str(tmp_path / "absent.ndjson"))
    assert (r.code, r.out) == (3, "")


def test_an_ascii_stdout_gets_ascii_symbols_and_keeps_the_result(tmp_path: Path) -> None:
    path = write_store(tmp_path / "é.ndjson", [
        PersistedEvent(actor_address="local:é", event_type="ActorStarted", payload="✔ naïve", timestamp=T0)
    ])
    with path.open("ab") as f:
        f.write(b"{not json}\n")
    r = run_cli("persistence", "scan", "--path", str(path), PYTHONIOENCODING="ascii")
    assert r.returncode == 2, r.stderr  # the scan result survives (anomalies found)
    assert "X Found 1 persistence anomalies:" in r.stdout
    assert r.stdout.startswith("i Scanned json store ") and "\\xe9.ndjson" in r.stdout
    r = run_cli("inspect", "events", "--path", str(path), PYTHONIOENCODING="ascii")
    assert r.returncode == 0 and "\\u2714 na\\xefve" in r.stdout  # data is escaped, never altered
    assert r.stderr == "! 1 unreadable line skipped; run `papyra persistence scan`\n"
    r = run_cli("inspect", "events", "--path", str(path), "--format", "json", PYTHONIOENCODING="ascii")
    assert r.returncode == 0
    assert json.loads(r.stdout)["records"][0]["payload"] == "✔ naïve"
    r = run_cli("persistence", "scan", "--path", str(tmp_path / "ü"), PYTHONIOENCODING="ascii")
    assert r.returncode == 3 and r.stderr.startswith("papyra: error: no store at ")
