"""Processes, forks and forgotten backends (real processes, real files, a real redis-server):
a backend inherited through ``fork()`` refuses work in the child with a typed error instead of
accepting and losing records or hanging; a backend that is never closed releases its thread and
descriptors when collected and writes its queue at interpreter exit."""

from __future__ import annotations

import gc
import os
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.json import JsonFilePersistence
from tests.persistence.conftest import event
from tests.support.procs import spawn
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

KINDS = ("json", "rotating", "redis")


def _target(kind: str, tmp_path: Path, server: RedisServer | None) -> tuple[str, Any]:
    """The child's store argument and a reader of what it stored."""
    if kind == "redis":
        assert server is not None
        prefix = f"t{uuid.uuid4().hex[:12]}"
        config = RedisStreamsConfig(url=server.url, prefix=prefix)
        return f"{server.url}#{prefix}", lambda: RedisStreamsPersistence(config)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "store.ndjson"
    if kind == "rotating":
        return str(path), lambda: RotatingFilePersistence(path, max_bytes=4096, max_files=3)
    return str(path), lambda: JsonFilePersistence(path)


def _stored(reader: Any) -> list[tuple[str, int]]:
    backend = reader()
    try:
        return [(e.actor_address, int(e.payload["seq"])) for e in backend.list_events()]
    finally:
        backend.close()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> RedisServer | None:
    kind = request.node.callspec.params["kind"]
    return request.getfixturevalue("redis_server") if kind == "redis" else None


@pytest.mark.parametrize("kind", KINDS)
def test_a_backend_inherited_through_fork_refuses_work_in_the_child_and_the_parent_loses_nothing(
    kind: str, tmp_path: Path, server: RedisServer | None
) -> None:
    arg, reader = _target(kind, tmp_path, server)
    with spawn("fork_after_open", kind, arg) as child:
        code = child.finish()
    out, err = child.lines, child.err
    assert code == 0, err
    assert out == [
        "child PersistenceClosedError PersistenceClosedError PersistenceClosedError close=True",
        "parent flush=True close=True",
    ], err
    assert _stored(reader) == [("parent", seq) for seq in range(11)]


@pytest.mark.parametrize("kind", KINDS)
def test_records_accepted_before_interpreter_exit_are_written_without_close(
    kind: str, tmp_path: Path, server: RedisServer | None
) -> None:
    arg, reader = _target(kind, tmp_path, server)
    with spawn("exit_without_close", kind, arg) as child:
        code = child.finish()
    out, err = child.lines, child.err
    assert code == 0 and out == ["accepted"], err
    assert _stored(reader) == [("exit", seq) for seq in range(100)]


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _writer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("papyra-writer") and t.is_alive())


@pytest.mark.parametrize(("kind", "count"), [("json", 300), ("rotating", 100), ("redis", 100)])
def test_forgotten_backends_release_their_threads_and_descriptors_and_keep_their_records(
    kind: str, count: int, tmp_path: Path, server: RedisServer | None
) -> None:
    targets = [_target(kind, tmp_path / f"s{i}", server) for i in range(count)]
    threads_before, fds_before = _writer_threads(), _open_fds()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for i, (_, reader) in enumerate(targets):
            backend = reader()
            backend.record_event(event(i))
            del backend  # never closed
        gc.collect()
    assert len([w for w in caught if issubclass(w.category, ResourceWarning)]) == count
    wait_until(lambda: _writer_threads() == threads_before, what="the forgotten writers to exit")
    assert _open_fds() == fds_before
    for i, (_, reader) in enumerate(targets):
        backend = reader()
        assert backend.list_events() == (event(i),)
        backend.close()


def test_an_actor_system_inherited_through_fork_refuses_work_in_the_child_and_the_parent_runs_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.ndjson"
    with spawn("fork_system", str(path)) as child:
        code = child.finish()
    out, err = child.lines, child.err
    assert code == 0, err
    assert out == [
        "child ActorStopped ActorStopped ActorStopped close=True",
        "parent ask=after close=True",
    ], err
    reader = JsonFilePersistence(path)
    try:
        assert [e.event_type for e in reader.list_events()] == ["ActorStarted", "ActorStopped"]
        assert reader.list_dead_letters() == ()  # the child's refused sends were not persisted
    finally:
        reader.close()
