"""A user's script, type-checked with ``mypy --strict`` and pyright (strict) by
``tests/test_typed_api.py`` and run there too: the public API must be typed, not ``Any``."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from papyra import Actor, ActorRef, ActorSystem, SupervisionPolicy
from papyra.persistence.backends.memory import InMemoryPersistence


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    def receive(self, message: int) -> int:
        self.count += message
        return self.count


class Echo(Actor):
    def receive(self, message: Any) -> Any:
        return message


def main() -> int:
    with ActorSystem(persistence=InMemoryPersistence(), max_workers=2) as system:
        counter: ActorRef[Counter] = system.spawn(Counter, mailbox_capacity=8)
        total: int = counter.ask(2, timeout=5)
        future: Future[int] = counter.ask_future(3)
        as_actor: ActorRef[Actor] = counter  # refs are covariant in the actor type
        counter.tell(1)
        count: int = counter.proxy(timeout=5).count  # the proxy has the actor's type
        assert count == 6
        echo = system.spawn(Echo, name="echo", policy=SupervisionPolicy())
        reply: str = echo.ask("hi", timeout=5)
        assert as_actor == counter and reply == "hi"
        return total + future.result(5)


if __name__ == "__main__":
    print(main())
