"""The runtime kernel: one object owns the state, every cell state change goes through it, and
``ActorSystem`` is a facade built by composition."""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

import papyra
from papyra import Actor, ActorSystem
from papyra._cell_state import CellState
from papyra._kernel import Kernel

PACKAGE = Path(papyra.__file__).parent


def test_actor_system_is_a_facade_over_one_kernel_without_mixins() -> None:
    assert ActorSystem.__mro__ == (ActorSystem, object)
    system = ActorSystem()
    assert isinstance(system._kernel, Kernel) and system._kernel.system is system


def _state_assignments(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of every ``<something>.state = ...`` outside a class body."""
    found: list[tuple[str, int]] = []

    class Visitor(ast.NodeVisitor):
        def __init__(self) -> None:
            self.function = "<module>"

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            outer, self.function = self.function, node.name
            self.generic_visit(node)
            self.function = outer

        def visit_Assign(self, node: ast.Assign) -> None:
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "state":
                    found.append((self.function, node.lineno))
            self.generic_visit(node)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_only_the_kernel_changes_a_cell_state() -> None:
    runtime = [p for p in PACKAGE.glob("*.py") if p.name != "_kernel.py"]
    outside = {
        f"{p.name}:{line} in {function}"
        for p in runtime
        for function, line in _state_assignments(p)
        if not (p.name == "_cell.py" and function == "__init__")  # the initial STARTING
    }
    assert outside == set()


class Gate(Actor):
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def receive(self, message: Any) -> Any:
        if message == "hold":
            self.entered.set()
            self.release.wait(30)
        return message


def test_one_cell_state_moves_forward_through_the_lifecycle() -> None:
    with ActorSystem() as system:
        gate = Gate()
        ref = system.spawn(lambda: gate)
        cell = ref._cell
        assert ref.ask("x") == "x"
        assert cell.state is CellState.RUNNING and system.actor_info(ref).state == "running"
        ref.tell("hold")
        assert gate.entered.wait(30)
        ref.stop()  # graceful: requested while the actor is busy
        assert cell.state is CellState.STOPPING and system.actor_info(ref).state == "stopping"
        assert not ref.is_alive()
        gate.release.set()
        system.wait_for_event(lambda e: e.event_type == "ActorStopped")
        assert cell.state is CellState.TERMINATED and system.actor_info(ref).state == "stopped"


def test_a_parent_waits_for_its_children_in_awaiting_children() -> None:
    with ActorSystem() as system:
        child_gate = Gate()
        parent = system.spawn(Gate)
        child = system.spawn(lambda: child_gate, parent=parent)
        child.tell("hold")
        assert child_gate.entered.wait(30)
        parent.ask("x")
        system.stop(parent)  # graceful cascade: the child is busy, so the parent waits for it
        info = system.actor_info(parent)
        assert parent._cell.state in (CellState.STOPPING, CellState.AWAITING_CHILDREN)
        assert info.stopping and info.alive
        child_gate.release.set()
        system.wait_for_event(
            lambda e: e.event_type == "ActorStopped" and e.actor_address == parent.address, timeout=30
        )
        assert parent._cell.state is CellState.TERMINATED
        assert child._cell.state is CellState.TERMINATED


class _GateHooks:
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_persistence_scan(self, report: Any) -> None:
        self.entered.set()
        self.release.wait(30)


def test_a_system_closed_during_its_startup_check_starts_nothing_and_leaves_no_thread() -> None:
    from papyra.exceptions import ActorStopped
    from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
    from tests.support.backends import SynchronousMemoryPersistence

    hooks = _GateHooks()
    backend = SynchronousMemoryPersistence()  # would need a recorder thread once started
    system = ActorSystem(
        system_id="racy", persistence=backend, hooks=hooks,
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.SCAN_ONLY),
    )
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            system.start()
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    starter = threading.Thread(target=start)
    starter.start()
    assert hooks.entered.wait(30)  # start() is inside its startup check
    assert system.close(timeout=30) is True
    hooks.release.set()
    starter.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], ActorStopped)
    assert backend.closed and system.closed and not system.running
    assert not [t.name for t in threading.enumerate() if t.name.startswith("papyra-")]
