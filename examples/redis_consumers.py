"""Two application instances write to one Redis; a consumer group reads and acks their events.

    python examples/redis_consumers.py                      # starts a throw-away redis-server
    PAPYRA_REDIS_URL=redis://localhost:6379/0 python examples/redis_consumers.py

Each instance has its own ``system_id`` and so its own streams
(``demo:<system_id>:events|audits|dead_letters``). The "shipper" consumer group has two
consumers sharing the work on each instance's events stream. Delivery is at-least-once: an entry
stays pending until acked, and ``autoclaim`` hands entries of a crashed consumer to another one.
Without ``PAPYRA_REDIS_URL`` the example starts its own ``redis-server`` on a free local port
(no persistence, temporary directory) and stops it at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.models import PersistedEvent

INSTANCES = ("orders-1", "orders-2")
EVENTS_PER_INSTANCE = 500
GROUP = "shipper"


@contextmanager
def local_redis() -> Iterator[str]:
    """Yield a Redis URL: ``PAPYRA_REDIS_URL`` or a private redis-server started here."""
    url = os.environ.get("PAPYRA_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: install it or set PAPYRA_REDIS_URL")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="papyra-example-")
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", workdir,
         "--save", "", "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def run_instance(url: str, prefix: str, system_id: str) -> None:
    """One application instance: records lifecycle events (non-blocking), then flushes."""
    config = RedisStreamsConfig(url=url, prefix=prefix, system_id=system_id)
    with RedisStreamsPersistence(config) as store:
        for i in range(EVENTS_PER_INSTANCE):
            store.record_event(
                PersistedEvent(
                    system_id=system_id,
                    actor_address=f"{system_id}:worker-{i % 10}",
                    event_type="ActorStarted" if i % 2 == 0 else "ActorStopped",
                    payload={"n": i},
                    timestamp=time.time(),
                )
            )
        if not store.flush(30):
            raise SystemExit(f"{system_id}: {store.buffered} records still buffered")


def consume_all(url: str, prefix: str, system_id: str, consumer: str, seen: list[str]) -> None:
    """One consumer of the group: process and ack until the stream is drained."""
    config = RedisStreamsConfig(url=url, prefix=prefix, system_id=system_id)
    with RedisStreamsPersistence(config) as store:
        idle = 0
        while idle < 3:
            batch = store.consume("events", GROUP, consumer, count=50, block_ms=200)
            for moved in batch.quarantined + batch.dead_lettered:
                print(f"  {consumer}: entry {moved.id} moved to {moved.moved_to}: {moved.reason}")
            if not batch:
                idle += 1
                continue
            idle = 0
            for entry in batch:  # "ship" the record; must be idempotent (at-least-once)
                seen.append(f"{system_id}/{entry.id}")
            store.ack("events", GROUP, batch.ids)


def main() -> None:
    prefix = f"demo-{uuid.uuid4().hex[:8]}"
    with local_redis() as url:
        writers = [threading.Thread(target=run_instance, args=(url, prefix, sid)) for sid in INSTANCES]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        print(f"{len(INSTANCES)} instances wrote {EVENTS_PER_INSTANCE} events each")

        results: dict[str, list[str]] = {}
        consumers = []
        for sid in INSTANCES:
            for name in ("shipper-a", "shipper-b"):
                seen = results.setdefault(f"{sid}:{name}", [])
                consumers.append(threading.Thread(target=consume_all, args=(url, prefix, sid, name, seen)))
        for t in consumers:
            t.start()
        for t in consumers:
            t.join()
        for key, ids in sorted(results.items()):
            print(f"  {key}: processed and acked {len(ids)}")
        everything = [i for ids in results.values() for i in ids]
        assert len(everything) == len(set(everything)) == EVENTS_PER_INSTANCE * len(INSTANCES)

        for sid in INSTANCES:
            config = RedisStreamsConfig(url=url, prefix=prefix, system_id=sid)
            with RedisStreamsPersistence(config) as store:
                summary = store.pending("events", GROUP)
                print(f"{sid}: {len(store.list_events())} events stored, {summary.count} pending")
                assert summary.count == 0
    print("done")


if __name__ == "__main__":
    main()
