"""Papyra quickstart: a small actor system, a crash and restart, a stop, a dead letter, then the
audit and the event history.

    python examples/quickstart.py
"""

from __future__ import annotations

from typing import Any

from papyra import Actor, ActorStopped, ActorSystem
from papyra.events import ActorRestarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.persistence.backends.memory import InMemoryPersistence


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


def main() -> None:
    # Swap this one line for a file backend to keep the history across runs.
    persistence = InMemoryPersistence()

    with ActorSystem(system_id="quickstart", persistence=persistence) as system:
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
        system.wait_for_event(lambda e: isinstance(e, ActorStoppedEvent) and e.address["actor_id"] == 2)
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
        system.flush(timeout=5)

    print()
    print("event history (as persisted):")
    for record in persistence.list_events():
        print(f"  {record.actor_address:<14} {record.event_type:<15} {record.payload}")
    print("dead letters:", [(d.target, d.payload) for d in persistence.list_dead_letters()])


if __name__ == "__main__":
    main()
