"""End to end, real processes: an application writes through an ActorSystem while the CLI
inspects, follows, compacts and recovers the same store; nothing is lost or printed twice.

No step waits for time to pass: the application writes until the test tells it to stop (so every
CLI round provably runs while it writes), and a follower is signalled only after it has printed
what the test waits for (so its handlers are installed and it polled after the last change)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedEvent
from tests.cli.conftest import T0, cli_env, run_cli, start_follower, write_store
from tests.support.child import start_python

APP = r"""
import selectors, sys, time
from papyra.actor import Actor
from papyra.persistence.json import JsonFilePersistence
from papyra.system import ActorSystem

class Worker(Actor):
    def receive(self, message):
        return message

stop = selectors.DefaultSelector()
stop.register(sys.stdin, selectors.EVENT_READ)
with ActorSystem(persistence=JsonFilePersistence(sys.argv[1])) as system:
    count = 0
    while not stop.select(timeout=0):  # until the test writes a line
        ref = system.spawn(Worker, name=f"w{count}")
        ref.ask("ping", timeout=30)
        system.stop(ref)
        count += 1
        if count == 1:  # the store exists now (the CLI treats a missing store as an error)
            assert system.flush(60)
            print("started", flush=True)
        time.sleep(0.004)  # pacing only (keeps the store small), not synchronisation
print(f"done {count}", flush=True)
"""


def _pairs(lines: list[str]) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in lines]
    return [(r["actor_address"], r["event_type"]) for r in rows]


def _events_in_file(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r["actor_address"], r["event_type"]) for r in rows if r["kind"] == "event"]


def test_concurrent_application_and_cli_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.ndjson"
    rounds = 3
    follower = start_follower(path)
    app = start_python("-c", APP, str(path), stdin=True, env=cli_env())
    try:
        app.wait_line("started")
        for _ in range(rounds):  # the application writes until told to stop: all of this is concurrent
            for args in (
                ("persistence", "compact"),
                ("persistence", "recover", "--mode", "repair"),
                ("inspect", "events", "--limit", "5"),
                ("persistence", "scan"),
            ):
                r = run_cli(*args, "--path", str(path), "--lock-timeout", "60", timeout=120)
                assert r.returncode in (0, 2), (args, r.stderr)
            assert app.proc.poll() is None
        app.send("stop")
        done = app.wait_for(lambda lines: lines[-1].startswith("done "), what="done")[-1]
        assert app.finish() == 0, app.err
        count = int(done.split()[-1])
        stored = _events_in_file(path)
        # the follower has printed everything stored (it is in its poll loop, its handlers are set)
        follower.wait_for(lambda lines: set(_pairs(lines)) >= set(stored), what="every stored event")
    finally:
        follower.proc.send_signal(signal.SIGINT)
        follower_rc = follower.finish()
        app.kill()
    assert follower_rc == 0, follower.err
    started = {a for a, t in stored if t == "ActorStarted"}
    stopped = {a for a, t in stored if t == "ActorStopped"}
    assert count >= 1 and len(started) == count and started == stopped
    assert len(stored) == len(set(stored))
    pairs = _pairs(follower.lines)
    assert len(pairs) == len(set(pairs)), "an event was printed twice"
    assert set(pairs) == set(stored), "the follower printed events that are not stored"
    assert run_cli("persistence", "scan", "--path", str(path)).returncode == 0


def test_follow_survives_compaction_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    path = write_store(tmp_path / "f.ndjson")
    follower = start_follower(path)
    later = PersistedEvent(actor_address="local:9", event_type="ActorStarted", timestamp=T0 + 3600)
    try:
        follower.wait_for(lambda lines: len(lines) >= 5, what="the five sample events")
        assert run_cli("persistence", "compact", "--path", str(path)).returncode == 0
        backend = JsonFilePersistence(path)
        backend.record_event(later)
        backend.close()
        # printed only by a poll after the compaction: any reprint of the old five comes before it
        follower.wait_for(lambda lines: "local:9" in "".join(lines), what="the event written after it")
    finally:
        follower.proc.send_signal(signal.SIGTERM)
        rc = follower.finish()
    assert rc == 0, follower.err
    lines = follower.lines
    assert len(lines) == 6 and len(set(lines)) == 6  # the five sample events and the new one, once each
    assert _pairs(lines)[-1] == ("local:9", "ActorStarted")


def test_follow_text_output_and_ctrl_c(tmp_path: Path) -> None:
    path = write_store(tmp_path / "t.ndjson")
    follower = start_follower(path, "--event-type", "ActorStopped", fmt="text")
    try:
        follower.wait_for(lambda lines: len(lines) >= 3, what="the header and two events")
    finally:
        follower.proc.send_signal(signal.SIGINT)
        rc = follower.finish()
    assert rc == 0 and "Traceback" not in follower.err
    assert follower.lines == [
        "time                      event                 actor                 payload",
        '2024-06-10T06:16:20.000Z  ActorStopped          local:2               {"n":3}',
        '2024-06-10T06:17:20.000Z  ActorStopped          local:1               {"n":4}',
    ]


def test_subprocess_compact_refuses_while_another_process_holds_the_lock(tmp_path: Path, hold_lock) -> None:  # type: ignore[no-untyped-def]
    path = write_store(tmp_path / "locked.ndjson")
    hold_lock(path)
    r = run_cli("persistence", "compact", "--path", str(path), "--lock-timeout", "0.5")
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr.startswith("papyra: error: store is locked by another process")
    assert r.stderr.endswith("(waited 0.5 s)\n") and r.stderr.count("\n") == 1  # --lock-timeout honoured
