"""Machine output on awkward stdouts: a non-UTF-8 encoding, a full disk, a closed pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from papyra.persistence.models import PersistedDeadLetter, PersistedEvent
from tests.cli.conftest import ROOT, T0, cli_env, write_store


def _papyra(
    *args: str, stdout: int | object = subprocess.PIPE, **extra_env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "papyra", *args],
        cwd=str(ROOT), env=cli_env(**extra_env), stdout=stdout, stderr=subprocess.PIPE, timeout=60,
    )


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_machine_output_is_utf8_json_on_a_latin1_stdout(tmp_path: Path, fmt: str) -> None:
    path = write_store(tmp_path / "é.ndjson", [
        PersistedEvent(actor_address="local:é", event_type="ActorStarted", payload="naïve", timestamp=T0),
        PersistedDeadLetter(target="é", message_type="str", payload="x", timestamp=T0),
    ])
    for args in (
        ("persistence", "inspect", "--path", str(path)),
        ("persistence", "scan", "--path", str(path)),
        ("inspect", "dead-letters", "--path", str(path)),
        ("inspect", "events", "--path", str(path)),
    ):
        r = _papyra(*args, "--format", fmt, PYTHONIOENCODING="latin-1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.isascii()  # non-ASCII is escaped: valid UTF-8 whatever the reader assumes
        for line in r.stdout.decode("utf-8").splitlines():
            json.loads(line)
    r = _papyra("inspect", "dead-letters", "--path", str(path), "--format", fmt, PYTHONIOENCODING="latin-1")
    doc = json.loads(r.stdout.splitlines()[0])
    assert (doc["records"][0] if fmt == "json" else doc)["target"] == "é"


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_error_documents_are_utf8_json_on_a_latin1_stdout(tmp_path: Path, fmt: str) -> None:
    r = _papyra("persistence", "scan", "--path", str(tmp_path / "absent-é.ndjson"), "--format", fmt,
                PYTHONIOENCODING="latin-1")
    assert r.returncode == 3
    assert r.stdout.isascii()
    assert "absent-é.ndjson" in json.loads(r.stdout.decode("utf-8"))["error"]["message"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["text", "json", "ndjson"])
def test_a_full_stdout_is_a_one_line_error_and_exit_3(tmp_path: Path, fmt: str) -> None:
    store = write_store(tmp_path / "ok.ndjson")
    for args in (("persistence", "scan"), ("inspect", "events")):
        with open("/dev/full", "wb") as full:
            r = _papyra(*args, "--path", str(store), "--format", fmt, stdout=full)
        assert r.returncode == 3
        message = "cannot write the output to stdout: No space left on device"
        assert r.stderr.decode() == f"papyra: error: {message}\n"


def test_a_closed_pipe_stays_exit_0(tmp_path: Path) -> None:
    store = write_store(tmp_path / "ok.ndjson", [
        PersistedEvent(actor_address="local:1", event_type="E", payload=i, timestamp=T0 + i)
        for i in range(5000)
    ])
    proc = subprocess.Popen(
        [sys.executable, "-m", "papyra", "inspect", "events", "--path", str(store), "--format", "ndjson",
         "--limit", "100000"],
        cwd=str(ROOT), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert (proc.wait(timeout=60), err) == (0, b"")
