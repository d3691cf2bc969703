"""Operations walkthrough: write a store, then operate it with the ``papyra`` CLI.

Run from the repository root::

    python examples/operations.py

1. An application writes lifecycle events, an audit and dead letters into a JSON store (through
   an ``ActorSystem`` when the runtime is available, else through the backend directly).
2. A crash is simulated: a torn final line and a corrupted line.
3. The operator runs the CLI as a CI job / init container / cron would: scan, doctor,
   recover (dry run, then for real), inspect, follow-free listings, compaction with a
   retention policy, and metrics, showing each command's output and exit code.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistedDeadLetter, PersistedEvent


def write_store(path: Path) -> None:
    backend = JsonFilePersistence(path)
    try:
        from papyra.actor import Actor
        from papyra.system import ActorSystem
    except ImportError:
        for i in range(5):
            backend.record_event(
                PersistedEvent(actor_address=f"local:{i}", event_type="ActorStarted", timestamp=time.time())
            )
        backend.record_dead_letter(
            PersistedDeadLetter(target="local:9", message_type="str", payload="hi", timestamp=time.time())
        )
        backend.close()
        return

    class Greeter(Actor):
        def receive(self, message: object) -> object:
            return f"hello {message}"

    with ActorSystem(persistence=backend) as system:
        refs = [system.spawn(Greeter, name=f"greeter-{i}") for i in range(3)]
        for ref in refs:
            print("  app:", ref.ask("operator", timeout=5))
        system.audit()
        system.stop(refs[0])
        time.sleep(0.1)
        try:
            refs[0].tell("too late")  # a dead letter
        except Exception as exc:
            print("  app:", type(exc).__name__, "(recorded as a dead letter)")


def damage(path: Path) -> None:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"kind": "event", garbage\n' + b"".join(lines[1:]) + b'{"kind": "ev')


def papyra(*args: str) -> int:
    cmd = [sys.executable, "-m", "papyra", *args]
    print(f"\n$ papyra {' '.join(args)}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.stderr:
        sys.stdout.write("".join(f"  [stderr] {line}\n" for line in proc.stderr.splitlines()))
    print(f"  -> exit {proc.returncode}")
    return proc.returncode


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="papyra-ops-") as tmp:
        path = Path(tmp) / "papyra.ndjson"
        print(f"Writing a store at {path}")
        write_store(path)
        store = ("--path", str(path))
        papyra("persistence", "scan", *store)
        print("\nSimulating a crash (a corrupted line and a torn tail)")
        damage(path)
        papyra("persistence", "scan", *store)
        papyra("doctor", "run", *store)  # CI / init container gate: exit 1
        papyra("persistence", "recover", "--mode", "quarantine", "--dry-run", *store)
        papyra(
            "persistence", "recover", "--mode", "quarantine", "--quarantine-dir", str(Path(tmp) / "q"), *store
        )
        papyra("doctor", "run", *store)
        papyra("persistence", "inspect", *store)
        papyra("inspect", "events", "--limit", "5", *store)
        papyra("inspect", "dead-letters", *store)
        papyra("inspect", "summary", *store)
        papyra("persistence", "compact", "--dry-run", "--max-records", "4", *store)
        papyra("persistence", "compact", "--max-records", "4", *store)
        papyra("metrics", "persistence", *store)


if __name__ == "__main__":
    main()
