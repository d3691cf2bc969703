"""Papyra quickstart: an actor system persisting to an NDJSON file, checked at startup.

    python examples/quickstart.py [STORE_PATH]          (default: papyra-demo.ndjson)

It runs a small actor system — a crash and restart, a stop, a dead letter, an audit — with
``JsonFilePersistence`` and a startup check that repairs the store before any actor starts
(``RECOVER`` mode), then prints the audit and the persisted event history. Run it twice: the
history grows, and the CLI can inspect it:

    python -m papyra inspect summary --path papyra-demo.ndjson
"""

from __future__ import annotations

import sys
from typing import Any

from papyra import Actor, ActorStopped, ActorSystem
from papyra.events import ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode


class Counter(Actor):
    """Counts "inc" messages; "get" answers the count; "boom" crashes."""

    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: Any) -> Any:
        if message == "inc":
            self.count += 1
        elif message == "get":
            return self.count
        elif message == "boom":
            raise RuntimeError("boom")
        return None


class Greeter(Actor):
    def receive(self, message: Any) -> Any:
        return f"hello, {message}"


class StartupReport:
    """System hooks: print what the startup check saw and did."""

    def on_persistence_scan(self, report: Any) -> None:
        state = f"{len(report.anomalies)} anomalies" if report.has_anomalies else "clean"
        print(f"startup scan: {state}")

    def on_persistence_recovery(self, report: Any) -> None:
        print(f"startup recovery: repaired {list(report.repaired_files)}")


def main(path: str) -> None:
    # fsync="always" (the default): a record is on disk before flush() acknowledges it.
    persistence = JsonFilePersistence(path)
    startup = PersistenceStartupConfig(
        mode=PersistenceStartupMode.RECOVER,
        recovery=PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR),
    )

    with ActorSystem(
        system_id="quickstart", persistence=persistence, persistence_startup=startup, hooks=StartupReport()
    ) as system:
        counter = system.spawn(Counter, name="counter")  # named: restarted on failure
        greeter = system.spawn(Greeter)

        for _ in range(3):
            counter.tell("inc")
        print("count before the crash:", counter.ask("get"))

        try:
            counter.ask("boom")
        except RuntimeError as exc:
            print("the counter crashed:", exc)
        system.wait_for_event(ActorRestarted)
        print("count after the restart:", counter.ask("get"))

        print(greeter.ask("world"))
        greeter.stop()
        greeter_id = greeter.address.actor_id
        system.wait_for_event(
            lambda e: isinstance(e, ActorStoppedEvent) and e.address["actor_id"] == greeter_id
        )
        try:
            greeter.tell("anyone there?")
        except ActorStopped:
            print("the greeter is stopped; the message became a dead letter")

        print()
        print("audit:")
        for line in system.audit().summary_lines():
            print("  " + line)
        print()
        print(system.control_panel())
    # close() stopped the actors, wrote their final events, fsynced and closed the store.

    reader = JsonFilePersistence(path)
    try:
        print()
        print(f"event history persisted in {path} (newest 12):")
        for record in reader.list_events(limit=12):
            print(f"  {record.actor_address:<14} {record.event_type:<15} {record.payload}")
        print("dead letters:", [(d.target, d.payload) for d in reader.list_dead_letters(limit=5)])
    finally:
        reader.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "papyra-demo.ndjson")
