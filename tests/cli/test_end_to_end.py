"""End to end, real processes: an application writes through an ActorSystem while the CLI
inspects, follows, compacts and recovers the same store; nothing is lost or printed twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from papyra.persistence.models import PersistedEvent
from tests.cli.conftest import ROOT, PipeLines, cli_env, run_cli, start_follower

APP = r"""
import sys, time
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent

path, count = sys.argv[1], int(sys.argv[2])
backend = JsonFilePersistence(path)
try:
    from papyra.actor import Actor
    from papyra.system import ActorSystem
except ImportError:  # runtime not available: write through the backend directly
    for i in range(count):
        for kind in ("ActorStarted", "ActorStopped"):
            event = PersistedEvent(actor_address=f"local:{i}", event_type=kind, timestamp=time.time())
            backend.record_event(event)
        if i == 0:  # the store exists (the CLI treats a missing store as an error)
            backend.flush()
            print("started", flush=True)
        time.sleep(0.004)
    backend.close()
else:
    class Worker(Actor):
        def receive(self, message):
            return message

    with ActorSystem(persistence=backend) as system:
        for i in range(count):
            ref = system.spawn(Worker, name=f"w{i}")
            ref.ask("ping", timeout=5)
            system.stop(ref)
            if i == 0:  # the store exists (the CLI treats a missing store as an error)
                assert system.flush(10)
                print("started", flush=True)
            time.sleep(0.004)
print("done", flush=True)
"""


def _follow(path: Path) -> subprocess.Popen[str]:
    return start_follower(path)


def _events_in_file(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["actor_address"], r["event_type"]) for r in rows if r["kind"] == "event"]


def test_concurrent_application_and_cli_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.ndjson"
    count = 120
    follower = _follow(path)
    f_lines = PipeLines(follower)
    app = subprocess.Popen(
        [sys.executable, "-c", APP, str(path), str(count)],
        cwd=str(ROOT),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "started"
        rounds = 0
        while app.poll() is None:
            for args in (
                ("persistence", "compact"),
                ("persistence", "recover", "--mode", "repair"),
                ("inspect", "events", "--limit", "5"),
                ("persistence", "scan"),
            ):
                r = run_cli(*args, "--path", str(path), "--lock-timeout", "20")
                assert r.returncode in (0, 2), (args, r.stderr)
            rounds += 1
        _out, err = app.communicate(timeout=60)
        assert app.returncode == 0, err
        assert rounds >= 1
        stored = _events_in_file(path)
        f_lines.next(len(stored))  # the follower prints every stored event (or the test fails)
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(20)
        if app.poll() is None:
            app.kill()
            app.wait()
    assert follower.returncode == 0
    f_lines.rest()
    started = {a for a, t in stored if t == "ActorStarted"}
    stopped = {a for a, t in stored if t == "ActorStopped"}
    assert len(started) == count and started == stopped
    assert len(stored) == len(set(stored))
    followed = [json.loads(line) for line in f_lines.lines]
    pairs = [(r["actor_address"], r["event_type"]) for r in followed]
    assert len(pairs) == len(set(pairs)), "an event was printed twice"
    assert set(pairs) == set(stored), "the follower missed events"
    assert run_cli("persistence", "scan", "--path", str(path)).returncode == 0


def test_follow_survives_compaction_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    from tests.cli.conftest import write_store

    path = write_store(tmp_path / "f.ndjson")
    follower = _follow(path)
    out = PipeLines(follower)
    try:
        first = out.next(5)  # the five sample events
        assert run_cli("persistence", "compact", "--path", str(path)).returncode == 0  # a new inode
        from papyra.persistence.json import JsonFilePersistence

        late = JsonFilePersistence(path)
        try:
            late.record_event(
                PersistedEvent(actor_address="local:9", event_type="Late", timestamp=time.time())
            )
            late.flush()
        finally:
            late.close()
        [after] = out.next(1)  # the one event written after the compaction, nothing re-printed
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(20)
    assert follower.returncode == 0
    assert [json.loads(line)["payload"]["n"] for line in first] == [0, 1, 2, 3, 4]
    assert json.loads(after)["event_type"] == "Late" and out.rest() == []


def test_follow_text_output_and_ctrl_c(tmp_path: Path) -> None:
    from tests.cli.conftest import write_store

    path = write_store(tmp_path / "t.ndjson")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "papyra",
            "inspect",
            "events",
            "-f",
            "--path",
            str(path),
            "--limit",
            "2",
            "--event-type",
            "ActorStopped",
            "--interval",
            "0.05",
        ],
        cwd=str(ROOT),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = PipeLines(proc)
    lines.next(3)  # the header and the two newest matching events
    proc.send_signal(signal.SIGINT)
    proc.wait(20)
    assert proc.returncode == 0
    out = "".join(line + "\n" for line in lines.lines + lines.rest())
    assert out == (
        "time                      event                 actor                 payload\n"
        '2024-06-10T06:16:20.000Z  ActorStopped          local:2               {"n":3}\n'
        '2024-06-10T06:17:20.000Z  ActorStopped          local:1               {"n":4}\n'
    )


def test_subprocess_compact_refuses_while_another_process_holds_the_lock(tmp_path: Path, hold_lock) -> None:  # type: ignore[no-untyped-def]
    from tests.cli.conftest import write_store

    path = write_store(tmp_path / "locked.ndjson")
    hold_lock(path)
    started = time.monotonic()
    r = run_cli("persistence", "compact", "--path", str(path), "--lock-timeout", "0.5")
    assert r.returncode == 3 and r.stdout == ""
    assert (
        r.stderr.startswith("papyra: error: store is locked by another process") and r.stderr.count("\n") == 1
    )
    assert time.monotonic() - started < 10
