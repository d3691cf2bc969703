"""Child-process entry points for the persistence tests (real processes, real files).

Run as ``python -m tests.support.procs <command> <args…>`` from the repository root
(:func:`spawn` does that). Each command talks to the parent through stdout lines.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import sys
import time
from typing import Any

from tests.support.child import Child, start_python


def spawn(*args: str, stdin: bool = False) -> Child:
    """Start ``python -m tests.support.procs *args`` (stdin a pipe when ``stdin``)."""
    return start_python("-m", "tests.support.procs", *args, stdin=stdin)


def seq_event(writer: str, seq: int, pad: int = 0) -> Any:
    """Event ``seq`` of ``writer`` (its address), at time ``1000 + seq``; ``pad`` characters of
    padding in the payload make it larger."""
    from papyra.persistence.models import PersistedEvent

    payload: dict[str, Any] = {"seq": seq}
    if pad:
        payload["pad"] = "x" * pad
    return PersistedEvent(
        system_id="test", actor_address=writer, event_type="Seq", payload=payload, timestamp=1000.0 + seq
    )


def hold_lock(path: str, how: str) -> None:
    """Take the store lock (``filelock`` or ``portalocker``), print ``locked``, wait for stdin."""
    if how == "filelock":
        from papyra.persistence.locking import maintenance_lock

        with maintenance_lock(path, timeout=10):
            print("locked", flush=True)
            sys.stdin.readline()
    else:
        from papyra.persistence.locking import BatchLock

        lock = BatchLock(path)
        lock.acquire()
        print("locked", flush=True)
        sys.stdin.readline()
        lock.close()
    print("released", flush=True)


def crash_writer(path: str, name: str) -> None:
    """Append events ``name``/0, 1, 2… forever with fsync="always"; after each flush print the
    number of acknowledged records (the parent SIGKILLs us at a random moment)."""
    from papyra.persistence.json import JsonFilePersistence

    backend = JsonFilePersistence(path, fsync="always")
    seq = 0
    while True:
        for _ in range(50):
            backend.record_event(seq_event(name, seq))
            seq += 1
        backend.flush()
        print(seq, flush=True)


def mp_writer(path: str, name: str, count: str, pause_at: str = "-1") -> None:
    """Append ``count`` events tagged ``name`` with per-writer sequence numbers, then flush. After
    the flush of event ``pause_at``, print ``paused`` and wait for a line on stdin."""
    from papyra.persistence.json import JsonFilePersistence

    backend = JsonFilePersistence(path, fsync="always", max_pending=1_000_000)
    print("ready", flush=True)
    for seq in range(int(count)):
        backend.record_event(seq_event(name, seq))
        if seq % 2500 == 2499:
            backend.flush()  # interleave durable batches with the other process's compactions
        if seq == int(pause_at):
            backend.flush()
            print("paused", flush=True)
            sys.stdin.readline()
    backend.flush()
    backend.close()
    print("done", flush=True)


def mp_compactor(path: str) -> None:
    """Run ``compact()`` repeatedly until a line arrives on stdin; print ``compacted <n>`` after
    each and ``compactions <n>`` at the end."""
    import selectors

    from papyra.persistence.json import JsonFilePersistence

    backend = JsonFilePersistence(path, lock_timeout=60)
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    runs = 0
    print("ready", flush=True)
    while not sel.select(timeout=0):
        backend.compact()
        runs += 1
        print(f"compacted {runs}", flush=True)
        time.sleep(0.01)  # pacing only: leaves the store lock to the writers between compactions
    backend.close()
    print(f"compactions {runs}", flush=True)


def fill_until_limit(path: str, limit: str) -> None:
    """With RLIMIT_FSIZE set to ``limit`` bytes (a real EFBIG from the kernel), write until the
    backend fails; report what happened."""
    import logging

    from papyra.exceptions import DurabilityError
    from papyra.persistence.json import JsonFilePersistence

    logging.basicConfig(level=logging.WARNING)  # the papyra logger has only a NullHandler
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    backend = JsonFilePersistence(path, fsync="always")
    acked = 0
    seq = 0
    try:
        while True:
            for _ in range(7):
                backend.record_event(seq_event("fill", seq))
                seq += 1
            backend.flush()
            acked = seq
    except DurabilityError as exc:
        root: BaseException = exc
        while root.__cause__ is not None:
            root = root.__cause__
        errno_name = errno.errorcode.get(getattr(root, "errno", 0) or 0, "?")
        print(f"flush-failed acked={acked} cause={type(root).__name__}:{errno_name}", flush=True)
    try:
        backend.record_event(seq_event("fill", seq))
        print("record-accepted", flush=True)
    except DurabilityError:
        print("record-refused", flush=True)
    snap = backend.metrics.snapshot()
    print(f"write_errors={snap['write_errors']} failed={snap['failed']}", flush=True)
    backend.close()
    print("closed", flush=True)


def _file_backend(kind: str, path: str):  # type: ignore[no-untyped-def]
    from papyra.persistence.backends.rotating import RotatingFilePersistence
    from papyra.persistence.json import JsonFilePersistence

    if kind == "rotating":
        return RotatingFilePersistence(path, max_bytes=4096, max_files=3)
    if kind == "redis":
        from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence

        url, prefix = path.rsplit("#", 1)
        return RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=prefix, close_timeout=5.0))
    return JsonFilePersistence(path)


def fork_after_open(kind: str, path: str) -> None:
    """Open a ``kind`` store, accept 10 records, fork. The child uses the inherited backend and
    reports each outcome; the parent then flushes, closes and reports its count."""
    from papyra.exceptions import PersistenceClosedError

    backend = _file_backend(kind, path)
    for seq in range(10):
        backend.record_event(seq_event("parent", seq))
    pid = os.fork()
    if pid == 0:
        calls = (lambda: backend.record_event(seq_event("child", 0)), lambda: backend.flush(3), backend.flush)
        outcomes = _outcomes(calls, PersistenceClosedError)
        outcomes.append(f"close={backend.close(timeout=3)}")
        print("child " + " ".join(outcomes), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    assert backend.flush(30) is True
    backend.record_event(seq_event("parent", 10))
    print(f"parent flush={backend.flush(30)} close={backend.close(timeout=30)}", flush=True)


def _outcomes(calls: Any, expected: type[BaseException]) -> list[str]:
    """``"ok"`` or the expected error's name for each call, in order (other errors propagate)."""
    outcomes = []
    for call in calls:
        try:
            call()
            outcomes.append("ok")
        except expected:
            outcomes.append(expected.__name__)
    return outcomes


def fork_system(path: str) -> None:
    """Start an ActorSystem on a JSON store, fork. The child uses the inherited system and
    reports each outcome; the parent then asks its actor, closes and reports."""
    from papyra.actor import Actor
    from papyra.exceptions import ActorStopped
    from papyra.system import ActorSystem

    class Echo(Actor):
        def receive(self, message):  # type: ignore[no-untyped-def]
            return message

    system = ActorSystem(persistence=_file_backend("json", path)).start()
    ref = system.spawn(Echo)
    assert ref.ask("before", timeout=30) == "before"
    pid = os.fork()
    if pid == 0:
        calls = (lambda: system.spawn(Echo), lambda: ref.tell("x"), lambda: ref.ask("y", timeout=3))
        outcomes = _outcomes(calls, ActorStopped)
        outcomes.append(f"close={system.close(timeout=3)}")
        print("child " + " ".join(outcomes), flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    answer = ref.ask("after", timeout=30)
    print(f"parent ask={answer} close={system.close(timeout=30)}", flush=True)


def exit_without_close(kind: str, path: str) -> None:
    """Accept 100 records and return (interpreter exit) without flush() or close()."""
    backend = _file_backend(kind, path)
    for seq in range(100):
        backend.record_event(seq_event("exit", seq))
    print("accepted", flush=True)


def flush_on_full_disk(kind: str, path: str) -> None:
    """Open a ``kind`` store, then set RLIMIT_FSIZE to 0 (every append fails with EFBIG), accept
    one record, wait until the writer has failed (the fail-stop empties its queue) and report
    what ``flush()`` says and what the metrics count."""
    import portalocker  # noqa: F401  (its import writes a probe file to the temp directory)

    from papyra.exceptions import DurabilityError
    from tests.support.waiting import wait_until

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    backend = _file_backend(kind, path)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
    backend.record_event(seq_event("full", 0))
    wait_until(lambda: backend.failed is not None, what="the writer's fail-stop")
    try:
        print(f"flush={backend.flush()}", flush=True)
    except DurabilityError:
        print("flush=DurabilityError", flush=True)
    print(f"dropped={backend.metrics.snapshot()['records_dropped']}", flush=True)
    backend.close()


COMMANDS = {
    "fork_after_open": fork_after_open,
    "fork_system": fork_system,
    "exit_without_close": exit_without_close,
    "flush_on_full_disk": flush_on_full_disk,
    "hold_lock": hold_lock,
    "crash_writer": crash_writer,
    "mp_writer": mp_writer,
    "mp_compactor": mp_compactor,
    "fill_until_limit": fill_until_limit,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
