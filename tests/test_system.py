"""ActorSystem: lifecycle, spawn, lookups, registry, audit, events, hooks, persistence, metrics."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import papyra
from papyra.actor import Actor
from papyra.address import ActorAddress
from papyra.audit import ActorInfo, AuditReport
from papyra.events import ActorCrashed, ActorRestarted, ActorStarted
from papyra.events import ActorStopped as ActorStoppedEvent
from papyra.exceptions import ActorStopped, DurabilityError, PersistenceStartupError
from papyra.hooks import FailureInfo
from papyra.persistence.backends.memory import InMemoryPersistence
from papyra.persistence.models import (
    PersistedAudit,
    PersistedDeadLetter,
    PersistedEvent,
    PersistenceAnomaly,
    PersistenceAnomalyType,
    PersistenceScanReport,
)
from papyra.persistence.startup import PersistenceStartupConfig, PersistenceStartupMode
from papyra.system import STOP, ActorSystem
from tests.support.backends import SynchronousMemoryPersistence


class Recorder(Actor):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.count = 0

    def on_start(self) -> None:
        self.events.append("start")

    def receive(self, message: Any) -> Any:
        self.events.append(f"recv:{message}")
        if message == "inc":
            self.count += 1
        elif message == "get":
            return self.count
        elif message == "boom":
            raise RuntimeError("boom")
        elif message == "value-error":
            raise ValueError("bad value")
        elif message == "stop":
            self.context.stop_self()
            return "stopping"
        return message

    def on_stop(self) -> None:
        self.events.append("stop")


@pytest.fixture
def system() -> Iterator[ActorSystem]:
    with ActorSystem(max_workers=4) as s:
        yield s


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _public_values(obj: Any) -> list[Any]:
    out = []
    for name in dir(obj):
        if name.startswith("_") or name == "actor_address":  # the documented typed view of `address`
            continue
        if name == "error" and isinstance(obj, ActorCrashed):  # the documented live exception
            continue
        value = getattr(obj, name)
        if not callable(value):
            out.append(value)
    return out


# ----------------------------------------------------------------------------- lifecycle


def test_lifecycle_normal_flow() -> None:
    instances: list[Recorder] = []

    def factory() -> Recorder:
        instances.append(Recorder())
        return instances[-1]

    with ActorSystem() as system:
        ref = system.spawn(factory)
        ref.tell("a")
        ref.tell("b")
    assert instances[0].events == ["start", "recv:a", "recv:b", "stop"]


def test_lifecycle_on_crash() -> None:
    instances: list[Recorder] = []

    def factory() -> Recorder:
        instances.append(Recorder())
        return instances[-1]

    with ActorSystem() as system:
        ref = system.spawn(factory)
        with pytest.raises(RuntimeError):
            ref.ask("boom")
        with pytest.raises(ActorStopped):
            ref.tell("after")
    assert [i.events for i in instances] == [["start", "recv:boom", "stop"]]


def test_tell_and_ask_roundtrip(system: ActorSystem) -> None:
    ref = system.spawn(Recorder)
    ref.tell("inc")
    ref.tell("inc")
    assert ref.ask("get") == 2


def test_fifo_mixed_tell_and_ask(system: ActorSystem) -> None:
    ref = system.spawn(Recorder)
    for i in range(200):
        if i % 7 == 0:
            assert ref.ask(i) == i
        else:
            ref.tell(i)
    assert ref.ask("end") == "end"
    assert ref._cell.actor.events[1:] == [f"recv:{i}" for i in range(200)] + ["recv:end"]


def test_ask_propagates_the_same_exception_object(system: ActorSystem) -> None:
    seen: list[BaseException] = []

    class Raiser(Actor):
        def receive(self, message: Any) -> Any:
            exc = ValueError("mine")
            seen.append(exc)
            raise exc

    ref = system.spawn(Raiser)
    with pytest.raises(ValueError) as info:
        ref.ask("x")
    assert info.value is seen[0]


def test_spawn_returns_before_on_start_and_on_start_runs_first(system: ActorSystem) -> None:
    gate = threading.Event()
    order: list[str] = []

    class Slow(Actor):
        def on_start(self) -> None:
            gate.wait(5)
            order.append("start")

        def receive(self, message: Any) -> Any:
            order.append(message)
            return message

    ref = system.spawn(Slow)  # returns although on_start is blocked
    ref.tell("first")
    assert system.actor_info(ref).state == "starting"
    gate.set()
    assert ref.ask("second") == "second"
    assert order == ["start", "first", "second"]
    assert isinstance(system.wait_for_event(ActorStarted), ActorStarted)


def test_on_start_failure_is_a_crash_with_cause(system: ActorSystem) -> None:
    failures: list[FailureInfo] = []

    class Hooks:
        def on_failure(self, info: FailureInfo) -> None:
            failures.append(info)

    system._kernel.hooks = Hooks()

    class BadStart(Actor):
        def on_start(self) -> None:
            raise KeyError("nope")

        def receive(self, message: Any) -> Any:
            return message

    ref = system.spawn(BadStart)
    crashed = system.wait_for_event(ActorCrashed)
    system.wait_for_event(ActorStoppedEvent)
    assert not any(isinstance(e, ActorStarted) for e in system.events())
    # The persisted history names the real error, not the RuntimeError wrapper.
    assert crashed.payload == {"error": "KeyError: 'nope'", "reason": "on_start failed: KeyError: 'nope'"}
    assert isinstance(crashed.error, KeyError) and crashed.error is failures[0].error.__cause__
    assert isinstance(failures[0].error, RuntimeError)
    assert isinstance(failures[0].error.__cause__, KeyError)
    with pytest.raises(ActorStopped):
        ref.tell("x")


def test_start_is_idempotent_and_start_after_close_raises() -> None:
    system = ActorSystem()
    assert system.start() is system
    assert system.start() is system
    system.close()
    with pytest.raises(ActorStopped, match="closed"):
        system.start()
    with pytest.raises(ActorStopped, match="not running") as info:
        system.spawn(Recorder)
    assert info.value.reason == "shutdown"
    assert system.close() is True  # idempotent


def test_spawn_before_start_raises() -> None:
    system = ActorSystem()
    try:
        with pytest.raises(ActorStopped, match=re.escape("ActorSystem is not running.")):
            system.spawn(Recorder)
    finally:
        system.close()


def test_close_never_started_system_closes_backend() -> None:
    backend = InMemoryPersistence()
    ActorSystem(persistence=backend).close()
    assert backend.closed


def test_coroutine_hooks_refused_at_spawn(system: ActorSystem) -> None:
    class AsyncActor(Actor):
        async def receive(self, message: Any) -> Any:  # type: ignore[override]
            await asyncio.sleep(0)

    class AsyncStop(Actor):
        def receive(self, message: Any) -> Any:
            return None

        async def on_stop(self) -> None:  # type: ignore[override]
            return None

    with pytest.raises(TypeError, match="receive"):
        system.spawn(AsyncActor)
    with pytest.raises(TypeError, match="on_stop"):
        system.spawn(lambda: AsyncStop())
    assert system.list_actors() == ()


def test_factory_error_propagates_and_releases_name(system: ActorSystem) -> None:
    def factory() -> Actor:
        raise OSError("factory failed")

    with pytest.raises(OSError):
        system.spawn(factory, name="x")
    ref = system.spawn(Recorder, name="x")
    assert system.ref_for_name("x") == ref


def test_mailbox_capacity_validation(system: ActorSystem) -> None:
    with pytest.raises(ValueError):
        system.spawn(Recorder, mailbox_capacity=0)
    with pytest.raises(ValueError):
        system.spawn(Recorder, mailbox_capacity=-3)
    ref = system.spawn(Recorder, mailbox_capacity=None)
    for _ in range(5000):
        ref.tell("inc")
    assert ref.ask("get") == 5000


# ----------------------------------------------------------------------------- context


def test_actor_context_self_and_parent_and_spawn_child(system: ActorSystem) -> None:
    class Child(Actor):
        def receive(self, message: Any) -> Any:
            return self.context.parent is not None and self.context.parent.address.actor_id == 1

    class Parent(Actor):
        def on_start(self) -> None:
            assert self.context.parent is None
            self.child = self.context.spawn_child(Child)

        def receive(self, message: Any) -> Any:
            return self.child.ask("parent?")

    ref = system.spawn(Parent)
    assert ref.ask("child_ref?") is True


def test_context_unavailable_in_init(system: ActorSystem) -> None:
    class Early(Actor):
        def __init__(self) -> None:
            with pytest.raises(RuntimeError, match="not available yet"):
                _ = self.context

        def receive(self, message: Any) -> Any:
            return self.context.self_ref.address

    ref = system.spawn(Early)
    assert ref.ask("x") == ref.address


def test_named_child_via_spawn_child(system: ActorSystem) -> None:
    class Parent(Actor):
        def receive(self, message: Any) -> Any:
            return self.context.spawn_child(Recorder, name="kid")

    child = system.spawn(Parent).ask("spawn")
    assert system.ref_for_name("kid") == child
    assert system.actor_info(child).parent_rid == 1


def test_spawn_under_foreign_or_stopped_parent_is_refused(system: ActorSystem) -> None:
    with ActorSystem() as other:
        foreign = other.spawn(Recorder)
        with pytest.raises(ValueError):
            system.spawn(Recorder, parent=foreign)
    parent = system.spawn(Recorder)
    parent.stop()
    with pytest.raises(ActorStopped):
        system.spawn(Recorder, parent=parent)


# ----------------------------------------------------------------------------- registry and lookups


def test_named_actor_is_resolvable_and_duplicates_rejected(system: ActorSystem) -> None:
    ref = system.spawn(Recorder, name="worker")
    assert system.ref_for_name("worker").address == ref.address
    with pytest.raises(ValueError, match=re.escape("Actor name 'worker' already exists.")):
        system.spawn(Recorder, name="worker")


def test_name_removed_after_stop_self_and_reusable(system: ActorSystem) -> None:
    ref = system.spawn(Recorder, name="gone")
    assert ref.ask("stop") == "stopping"
    with pytest.raises(ActorStopped):
        system.ref_for_name("gone")
    assert "gone" not in system.list_names()
    report = system.audit()
    assert "gone" not in report.registry_dead and "gone" not in report.registry_orphans
    system.spawn(Recorder, name="gone")


def test_name_released_at_graceful_stop_request(system: ActorSystem) -> None:
    gate = threading.Event()

    class Blocked(Actor):
        def receive(self, message: Any) -> Any:
            gate.wait(5)

    ref = system.spawn(Blocked, name="busy")
    ref.tell("hold")
    ref.stop()
    assert "busy" not in system.list_names()
    with pytest.raises(ActorStopped):
        system.ref_for_name("busy")
    gate.set()


def test_name_survives_restart(system: ActorSystem) -> None:
    ref = system.spawn(Recorder, name="svc")
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    assert system.ref_for_name("svc").address == ref.address
    report = system.audit()
    assert "svc" in system.list_names()
    assert "svc" not in report.registry_dead and "svc" not in report.registry_orphans


def test_ref_for_semantics(system: ActorSystem) -> None:
    ref = system.spawn(Recorder)
    r1 = system.ref_for(ref.address)
    r2 = system.ref_for(str(ref.address))
    assert r1 is not r2 and r1._rid == r2._rid == ref._rid
    assert r1 == r2 == ref and len({r1, r2, ref}) == 1
    assert ref.address.actor_id == ref._rid and isinstance(ref.address.system, str)
    with pytest.raises(ValueError):
        system.ref_for("not-an-address")
    with pytest.raises(ActorStopped, match=re.escape("Actor does not exist.")):
        system.ref_for(ActorAddress(system.system_id, 999))
    with pytest.raises(ActorStopped, match="Remote actor systems"):
        system.ref_for(ActorAddress("remote-system", 1))
    with pytest.raises(ActorStopped, match="does not exist"):
        system.ref_for_name("missing")
    assert ref.ask("stop") == "stopping"
    with pytest.raises(ActorStopped, match=re.escape("Actor is not running.")):
        system.ref_for(ref.address)
    with pytest.raises(ActorStopped):
        r1.tell("x")  # liveness is dynamic


def test_refs_from_another_system_never_act_locally() -> None:
    with ActorSystem(system_id="a") as a, ActorSystem(system_id="a") as b:
        ra = a.spawn(Recorder)
        rb = b.spawn(Recorder)
        assert ra.address == rb.address and ra != rb
        b.stop(ra)  # foreign: no-op
        assert ra.is_alive()
        with pytest.raises(ActorStopped):
            b.actor_info(ra)
        assert ra.ask("inc") == "inc"


def test_list_actors_and_actor_info(system: ActorSystem) -> None:
    a = system.spawn(Recorder, name="a")
    b = system.spawn(Recorder)
    assert b.ask("stop") == "stopping"
    assert system.list_actors() == (a.address, b.address)
    assert system.list_actors(alive_only=True) == (a.address,)
    for target in (a, a._rid, a.address, str(a.address)):
        info = system.actor_info(target)
        assert isinstance(info, ActorInfo)
        assert info.rid == a._rid and info.name == "a" and info.alive and info.state == "running"
        assert info.actor_type == "Recorder"
    dead = system.actor_info(b)
    assert not dead.alive and dead.state == "stopped"
    with pytest.raises(ActorStopped, match=re.escape("Actor does not exist.")):
        system.actor_info(999)
    with pytest.raises(TypeError, match="Unsupported target type"):
        system.actor_info(1.5)  # type: ignore[arg-type]


def test_refs_refs_by_type_broadcast_stop_all(system: ActorSystem) -> None:
    class Other(Actor):
        def receive(self, message: Any) -> Any:
            return message

    r1 = system.spawn(Recorder)
    r2 = system.spawn(Recorder)
    o = system.spawn(Other)
    assert set(system.refs()) == {r1, r2, o}
    assert system.refs_by_type(Recorder) == (r1, r2)
    assert system.refs_by_type("Other") == (o,)
    assert system.refs_by_type(f"{Other.__module__}.{Other.__qualname__}") == (o,)
    assert system.refs_by_type(Other.__qualname__) == (o,)
    assert system.broadcast("inc", actor_type=Recorder) == 2
    assert r1.ask("get") == 1 and r2.ask("get") == 1
    assert system.broadcast("hello") == 3
    assert system.stop_all() == 3
    assert system.refs() == ()
    assert system.broadcast("late") == 0


def test_control_panel(system: ActorSystem) -> None:
    class Parent(Actor):
        def on_start(self) -> None:
            self.context.spawn_child(Recorder, name="kid")

        def receive(self, message: Any) -> Any:
            return None

    system.spawn(Parent, name="boss")
    for rid in (1, 2):  # the child may start before its parent's on_start returned
        system.wait_for_event(lambda e, rid=rid: isinstance(e, ActorStarted) and e.address["actor_id"] == rid)
    lines = system.control_panel().splitlines()
    assert lines[0].split() == ["rid", "address", "name", "actor", "type", "state", "parent", "children"]
    assert lines[1].split() == ["1", "local:1", "boss", "Parent", "running", "-", "2"]
    assert lines[2].split() == ["2", "local:2", "kid", "Recorder", "running", "1", "-"]
    assert len({line.index("state") for line in lines[:1]}) == 1


# ----------------------------------------------------------------------------- proxy


def test_proxy_calls_reads_and_writes(system: ActorSystem) -> None:
    class Store(Actor):
        def __init__(self) -> None:
            self.value = 1
            self._secret = 2

        def add(self, n: int) -> int:
            self.value += n
            return self.value

        def receive(self, message: Any) -> Any:
            return message

    proxy = system.spawn(Store).proxy(timeout=5)
    assert proxy.add(2) == 3
    assert proxy.value == 3
    proxy.value = 10
    assert proxy.value == 10
    with pytest.raises(AttributeError):
        _ = proxy._secret
    with pytest.raises(AttributeError):
        proxy._secret = 3
    with pytest.raises(AttributeError):
        _ = proxy.missing


def test_a_callers_proxy_mistake_reaches_the_caller_without_failing_the_actor(system: ActorSystem) -> None:
    class Store(Actor):
        def add(self, n: int) -> int:
            if n < 0:
                raise ValueError("negative")
            return n

        def receive(self, message: Any) -> Any:
            return message

    ref = system.spawn(Store)  # unnamed: a failure would stop it (STOP policy)
    proxy = ref.proxy(timeout=30)
    with pytest.raises(AttributeError):
        _ = proxy.missing
    with pytest.raises(TypeError):
        proxy.add(1, 2)  # wrong arity: the caller's mistake
    with pytest.raises(TypeError):
        proxy.add(nope=1)
    assert system.metrics.snapshot()["actor_crashes_total"] == 0 and ref.is_alive()
    with pytest.raises(ValueError):
        proxy.add(-1)  # raised by the method itself: the actor's failure, supervised
    system.wait_for_event(lambda e: e.event_type == "ActorStopped", timeout=30)
    assert system.metrics.snapshot()["actor_crashes_total"] == 1


# ----------------------------------------------------------------------------- events


def test_events_are_plain_data_and_carry_epoch_timestamps(system: ActorSystem) -> None:
    before = time.time()
    named = system.spawn(Recorder, name="n")
    unnamed = system.spawn(Recorder)
    with pytest.raises(RuntimeError):
        named.ask("boom")
    with pytest.raises(RuntimeError):
        unnamed.ask("boom")
    named.tell(STOP)
    system.wait_for_event(lambda e: isinstance(e, ActorStoppedEvent) and e.address["actor_id"] == 1)
    kinds = {type(e) for e in system.events()}
    assert {ActorStarted, ActorCrashed, ActorRestarted, ActorStoppedEvent} <= kinds
    for event in system.events():
        for value in _public_values(event):
            assert _is_plain(value), (event, value)
            assert not hasattr(value, "tell") and not hasattr(value, "ask")
        assert before - 1 <= event.timestamp <= time.time() + 1
    crashed = next(e for e in system.events() if isinstance(e, ActorCrashed))
    assert crashed.reason is not None and "boom" in crashed.reason
    assert crashed.payload == {"error": "RuntimeError: boom", "reason": "RuntimeError: boom"}
    assert isinstance(crashed.error, RuntimeError) and crashed.error.__traceback__ is not None
    restarted = next(e for e in system.events() if isinstance(e, ActorRestarted))
    assert restarted.reason == "RuntimeError: boom"


def test_crash_restart_and_stop_events_present_when_ask_returns(system: ActorSystem) -> None:
    ref = system.spawn(Recorder, name="svc")
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    names = [type(e).__name__ for e in system.events()]
    assert "ActorCrashed" in names and "ActorRestarted" in names
    assert ref.ask("stop") == "stopping"
    assert isinstance(system.events()[-1], ActorStoppedEvent)


def test_wait_for_event_start_index_and_timeout(system: ActorSystem) -> None:
    fake = [1.0]
    system._kernel.time_fn = lambda: fake[0]
    ref = system.spawn(Recorder, name="svc")
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    system.wait_for_event(ActorRestarted)
    index = len(system.events())
    fake[0] = 2.0
    with pytest.raises(RuntimeError):
        ref.ask("boom")
    event = system.wait_for_event(ActorRestarted, start_index=index)
    assert event.timestamp == 2.0
    with pytest.raises(TimeoutError):
        system.wait_for_event(ActorRestarted, start_index=len(system.events()), timeout=0.05)


# ----------------------------------------------------------------------------- audit and hooks


def test_audit_counts_and_summary_lines(system: ActorSystem) -> None:
    system.spawn(Recorder, name="svc")
    dead = system.spawn(Recorder)
    assert dead.ask("stop") == "stopping"
    with pytest.raises(ActorStopped):
        dead.tell("late")
    report = system.audit()
    assert isinstance(report, AuditReport)
    assert (report.total_actors, report.alive_actors, report.stopping_actors) == (2, 1, 0)
    assert report.registry_size == 1 and report.dead_letters_count == 1
    assert [a.rid for a in report.actors] == [1, 2]
    assert system.audit(include_actor_details=False).actors == ()
    assert report.summary_lines() == [
        "system_id=local",
        "actors(total=2, alive=1, stopping=0, restarting=0)",
        "registry(size=1, orphans=0, dead=0)",
        "dead_letters=1",
    ]


def test_hooks_receive_events_failures_audits_and_dead_letters() -> None:
    class Hooks:
        def __init__(self) -> None:
            self.events: list[Any] = []
            self.failures: list[FailureInfo] = []
            self.audits: list[AuditReport] = []
            self.dead: list[Any] = []

        def on_event(self, event: Any) -> None:
            self.events.append(event)

        def on_failure(self, info: FailureInfo) -> None:
            self.failures.append(info)

        def on_audit(self, report: AuditReport) -> None:
            self.audits.append(report)

        def on_dead_letter(self, dl: Any) -> None:
            self.dead.append(dl)

    hooks = Hooks()
    with ActorSystem(hooks=hooks) as system:
        ref = system.spawn(Recorder, name="svc")
        with pytest.raises(RuntimeError):
            ref.ask("boom")
        report = system.audit()
        assert hooks.audits[-1] is report
        ref.tell(STOP)
        with pytest.raises(ActorStopped):
            ref.tell("late")
        assert [d.message for d in hooks.dead] == ["late"]
    assert any(isinstance(e, ActorStarted) for e in hooks.events)
    assert any(isinstance(e, ActorCrashed) for e in hooks.events)
    assert hooks.failures and hooks.failures[0].error is not None


def test_hook_and_callback_exceptions_are_swallowed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    class BadHooks:
        def on_event(self, event: Any) -> None:
            raise RuntimeError("hook failure")

        def on_dead_letter(self, dl: Any) -> None:
            raise RuntimeError("hook failure")

    def bad_callback(dl: Any) -> None:
        raise RuntimeError("callback failure")

    with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem(
        hooks=BadHooks(), on_dead_letter=bad_callback
    ) as system:
        ref = system.spawn(Recorder)
        assert ref.ask("x") == "x"
        ref.stop()
        with pytest.raises(ActorStopped):
            ref.tell("late")
    assert "hook on_event raised" in caplog.text
    assert "on_dead_letter callback raised" in caplog.text


def test_on_stop_exception_is_swallowed(system: ActorSystem) -> None:
    class BadStop(Actor):
        def receive(self, message: Any) -> Any:
            return message

        def on_stop(self) -> None:
            raise RuntimeError("on_stop failed")

    ref = system.spawn(BadStop)
    ref.stop()
    system.wait_for_event(ActorStoppedEvent)


# ----------------------------------------------------------------------------- persistence


def test_events_audits_dead_letters_are_persisted() -> None:
    backend = InMemoryPersistence()
    with ActorSystem(persistence=backend) as system:
        ref = system.spawn(Recorder)
        system.audit()
        ref.tell(STOP)
        with pytest.raises(ActorStopped):
            ref.tell("late")
        system.wait_for_event(ActorStoppedEvent)
        assert system.flush(timeout=60)
        assert backend.audits[0].total_actors == 1
    types = [e.event_type for e in backend.events]
    assert types == ["ActorStarted", "ActorStopped"]
    assert all(isinstance(e, PersistedEvent) and e.actor_address == "local:1" for e in backend.events)
    assert backend.events[1].payload == {"reason": "stopped"}
    assert isinstance(backend.audits[0], PersistedAudit)
    dl = backend.dead_letters[0]
    assert isinstance(dl, PersistedDeadLetter)
    assert (dl.message_type, dl.payload, dl.target) == ("str", "late", "local:1")
    assert backend.closed


def test_close_persists_final_stop_events() -> None:
    backend = InMemoryPersistence()
    with ActorSystem(persistence=backend) as system:
        for _ in range(20):
            system.spawn(Recorder)
    stopped = [e for e in backend.events if e.event_type == "ActorStopped"]
    assert len(stopped) == 20 and all(e.payload == {"reason": "shutdown"} for e in stopped)


class _FailingBackend(SynchronousMemoryPersistence):
    def record_event(self, event: PersistedEvent) -> None:
        raise OSError("disk on fire")

    def record_dead_letter(self, dead_letter: PersistedDeadLetter) -> None:
        raise OSError("disk on fire")


def test_failing_backend_never_crashes_actors_and_flush_reports_the_loss(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = _FailingBackend()
    with caplog.at_level(logging.WARNING, logger="papyra"), ActorSystem(persistence=backend) as system:
        ref = system.spawn(Recorder, name="svc")
        with pytest.raises(RuntimeError):
            ref.ask("boom")
        assert ref.ask("inc") == "inc"
        ref.stop()
        with pytest.raises(ActorStopped):
            ref.tell("late")
        # The stop is asynchronous: its last event (and record) comes before the first flush.
        system.wait_for_event(lambda e: isinstance(e, ActorStoppedEvent) and e.actor_address == ref.address)
        with pytest.raises(DurabilityError, match="never reached persistence"):
            system.flush(timeout=60)  # never True for records the backend refused
        assert system.flush(timeout=60) is True  # reported once; nothing new was lost
        snap = system.metrics.snapshot()
        assert snap["recorder_failures_total"] >= 4
        assert snap["actor_restarts_total"] == 1
    assert "persistence record_event failed" in caplog.text


class _SlowBackend(SynchronousMemoryPersistence):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def record_event(self, event: PersistedEvent) -> None:
        self.gate.wait(10)
        super().record_event(event)


def test_recording_never_blocks_actors() -> None:
    backend = _SlowBackend()
    with ActorSystem(persistence=backend) as system:
        refs = [system.spawn(Recorder) for _ in range(5)]
        for ref in refs:
            assert ref.ask("x") == "x"  # actors run although the backend is stuck
        assert backend.events == ()
        backend.gate.set()
    assert len(backend.events) == 10  # 5 started + 5 stopped, all delivered at close


class _AnomalousBackend(InMemoryPersistence):
    def __init__(self, anomalies: int) -> None:
        super().__init__()
        self.remaining = anomalies
        self.recovered = 0

    def scan(self) -> PersistenceScanReport:
        anomalies = tuple(
            PersistenceAnomaly(type=PersistenceAnomalyType.TRUNCATED_LINE, path="mem", line=1)
            for _ in range(self.remaining)
        )
        return PersistenceScanReport(backend="memory", anomalies=anomalies)

    def recover(self, config: Any = None) -> Any:
        self.recovered += 1
        self.remaining = 0
        return super().recover(config)


def test_startup_fail_on_anomaly_leaves_system_unstarted_and_retryable() -> None:
    started: list[str] = []

    class Flag(Actor):
        def on_start(self) -> None:
            started.append("x")

        def receive(self, message: Any) -> Any:
            return None

    backend = _AnomalousBackend(1)
    scans: list[Any] = []

    class Hooks:
        def on_persistence_scan(self, report: Any) -> None:
            scans.append(report)

    system = ActorSystem(
        persistence=backend,
        hooks=Hooks(),
        persistence_startup=PersistenceStartupConfig(mode=PersistenceStartupMode.FAIL_ON_ANOMALY),
    )
    with pytest.raises(PersistenceStartupError, match="Persistence anomalies detected"):
        system.start()
    with pytest.raises(ActorStopped, match=re.escape("ActorSystem is not running.")):
        system.spawn(Flag)
    assert len(scans) == 1 and not system.running
    backend.remaining = 0
    system.start()
    system.spawn(Flag)
    system.close()
    assert started == ["x"]


@pytest.mark.parametrize("mode", [PersistenceStartupMode.SCAN_ONLY, PersistenceStartupMode.IGNORE])
def test_startup_scan_only_and_ignore_start_with_anomalies(mode: PersistenceStartupMode) -> None:
    backend = _AnomalousBackend(2)
    with ActorSystem(persistence=backend, persistence_startup=PersistenceStartupConfig(mode=mode)) as system:
        assert system.spawn(Recorder).ask("x") == "x"


def test_startup_recover_repairs_then_starts() -> None:
    backend = _AnomalousBackend(1)
    recoveries: list[Any] = []

    class Hooks:
        def on_persistence_recovery(self, report: Any) -> None:
            recoveries.append(report)

    config = PersistenceStartupConfig(mode=PersistenceStartupMode.RECOVER)
    with ActorSystem(persistence=backend, persistence_startup=config, hooks=Hooks()) as system:
        assert system.running
    assert backend.recovered == 1 and len(recoveries) == 1


def test_compact_returns_the_report_and_raises_the_backends_error(system: ActorSystem) -> None:
    assert system.compact() is not None

    class Broken(InMemoryPersistence):
        def compact(self) -> Any:
            raise OSError("nope")

    with ActorSystem(persistence=Broken()) as other, pytest.raises(OSError, match="nope"):
        other.compact()


# ----------------------------------------------------------------------------- metrics, exports


def test_metrics_snapshot_and_reset(system: ActorSystem) -> None:
    ref = system.spawn(Recorder)
    for _ in range(10):
        ref.tell("inc")
    assert ref.ask("get") == 10
    snap = system.metrics.snapshot()
    assert snap["actors_alive"] == 1 and snap["actors_spawned_total"] == 1
    assert snap["messages_processed_total"] == 11
    assert snap["ask_latency_seconds"]["count"] == 1
    assert snap["mailbox_depth"] == {"Recorder": 0}
    assert snap["workers"] >= 1
    system.metrics.reset()
    snap = system.metrics.snapshot()
    assert snap["messages_processed_total"] == 0 and snap["ask_latency_seconds"]["count"] == 0
    assert snap["actors_alive"] == 1


def test_top_level_exports() -> None:
    for name in papyra.__all__:
        assert getattr(papyra, name) is not None
    assert papyra.ActorSystem is ActorSystem and papyra.STOP is STOP
    assert issubclass(papyra.AskTimeout, TimeoutError)
