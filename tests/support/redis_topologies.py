"""Throw-away Redis topologies for tests and benchmarks: a 3-primary Cluster, and a primary with
one replica watched by 3 sentinels. Everything binds 127.0.0.1 on free ports, in temporary
directories, is stopped by PID and removed by ``cleanup()``. Readiness is polled from the servers'
own state (``CLUSTER INFO``, ``INFO replication``, ``SENTINEL CKQUORUM``), never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.redis_server import RedisServer, _free_port, require_redis_binary
from tests.support.waiting import wait_until

__all__ = [
    "RedisClusterNodes",
    "SentinelServer",
    "SentinelSetup",
    "kill_hard",
    "redis_cluster",
    "sentinel_setup",
    "wait_replica_in_sync",
]

SERVICE = "mymaster"


def _query(port: int, *command: Any, password: str | None = None) -> Any:
    """One command to the server on ``port``; None when it does not answer (yet)."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, password=password, protocol=2, socket_timeout=2.0)
    try:
        return client.execute_command(*command)
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return None
    finally:
        client.close()


def _info_field(port: int, command: str, field: str, password: str | None = None) -> str | None:
    reply = _query(port, *command.split(), password=password)
    if reply is None:
        return None
    if isinstance(reply, dict):  # INFO and CLUSTER INFO are parsed by redis-py
        value = reply.get(field)
        return None if value is None else str(value)
    text = reply.decode() if isinstance(reply, bytes) else str(reply)
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    return None


def wait_replica_in_sync(replica: RedisServer, timeout: float = 30.0) -> None:
    """Until ``replica`` reports ``master_link_status:up`` (initial sync done)."""
    wait_until(
        lambda: _info_field(replica.port, "INFO replication", "master_link_status", replica.password) == "up",
        timeout=timeout, what="the replica in sync",
    )


def kill_hard(server: RedisServer) -> None:
    """SIGKILL the server (a crash: no shutdown save), then reap it and wait for its port."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    server.stop()


class RedisClusterNodes:
    """``size`` cluster primaries (3) holding all 16384 slots, each with ``replicas`` replicas
    (none by default); AOF on with ``appendfsync always``, so a node killed and restarted keeps
    every write it acknowledged (``everysec`` may postpone the AOF write by up to 2 s while an
    fsync is slow, and still reply: under load a kill -9 then lost acknowledged writes)."""

    def __init__(self, binary: str, *, size: int = 3, replicas: int = 0) -> None:
        self.replicas = replicas
        args = (
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "1000",
            "--appendonly", "yes",
            "--appendfsync", "always",
        )
        self.nodes = []
        for _ in range(size * (1 + replicas)):
            port, bus = _free_port(), _free_port()
            self.nodes.append(RedisServer(binary, port=port, extra_args=(*args, "--cluster-port", str(bus))))

    @property
    def url(self) -> str:
        """A URL of one node (the client discovers the rest)."""
        return self.nodes[0].url

    def start(self) -> RedisClusterNodes:
        for node in self.nodes:
            node.start()
        cli = os.path.join(os.path.dirname(self.nodes[0].binary), "redis-cli")
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            timeout=60,
        )
        self.wait_ok()
        for node in self.nodes:
            if _info_field(node.port, "INFO replication", "role") == "slave":
                wait_replica_in_sync(node)
        return self

    def replica_of(self, port: int) -> RedisServer:
        """The (first) replica of the primary on ``port``."""
        return next(
            n for n in self.nodes if _info_field(n.port, "INFO replication", "master_port") == str(port)
        )

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every node reports ``cluster_state:ok`` and knows every node."""
        want = str(len(self.nodes))

        def ok() -> bool:
            return all(
                _info_field(n.port, "CLUSTER INFO", "cluster_state") == "ok"
                and _info_field(n.port, "CLUSTER INFO", "cluster_known_nodes") == want
                for n in self.nodes
            )

        wait_until(ok, timeout=timeout, what="cluster_state:ok on every node")

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class SentinelServer(RedisServer):
    """``redis-server <conf> --sentinel`` watching ``SERVICE`` on ``primary_port`` (quorum 2,
    down after 500 ms), authenticating to the data nodes with ``auth_pass`` if given."""

    def __init__(self, binary: str, primary_port: int, auth_pass: str | None = None) -> None:
        super().__init__(binary)
        self.primary_port = primary_port
        self.auth_pass = auth_pass
        self.conf = os.path.join(self.dir, "sentinel.conf")

    def command(self) -> list[str]:
        if not os.path.exists(self.conf):  # a restarted sentinel keeps the state it rewrote
            with open(self.conf, "w", encoding="utf-8") as f:
                f.write(
                    f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"logfile {os.path.join(self.dir, 'redis.log')}\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} 500\n"
                    f"sentinel failover-timeout {SERVICE} 5000\n"
                    f"sentinel parallel-syncs {SERVICE} 1\n"
                    + (f"sentinel auth-pass {SERVICE} {self.auth_pass}\n" if self.auth_pass else "")
                )
        return [self.binary, self.conf, "--sentinel"]


class SentinelSetup:
    """A primary, one replica and three sentinels (see module docs); with ``password``, the data
    nodes require it (sentinels do not)."""

    def __init__(self, binary: str, password: str | None = None) -> None:
        self.password = password
        fast_sync: tuple[str, ...] = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
        if password:
            fast_sync += ("--masterauth", password)
        self.primary = RedisServer(binary, password=password, extra_args=fast_sync)
        replica_of = ("--replicaof", "127.0.0.1", str(self.primary.port))
        self.replica = RedisServer(binary, password=password, extra_args=(*fast_sync, *replica_of))
        self.sentinels = [SentinelServer(binary, self.primary.port, password) for _ in range(3)]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", s.port) for s in self.sentinels]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        auth = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}/0"

    def start(self) -> SentinelSetup:
        self.primary.start()
        self.replica.start()
        wait_replica_in_sync(self.replica)
        for sentinel in self.sentinels:
            sentinel.start()

        def ready(sentinel: SentinelServer) -> bool:
            quorum = _query(sentinel.port, "SENTINEL", "CKQUORUM", SERVICE)
            replicas = _query(sentinel.port, "SENTINEL", "REPLICAS", SERVICE)
            return quorum is not None and bool(replicas)

        wait_until(lambda: all(ready(s) for s in self.sentinels), timeout=60, what="sentinels ready")
        return self

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel sees it (None if it does not answer)."""
        reply = _query(self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(reply[1]) if reply else None

    def wait_failover(self, timeout: float = 60.0) -> None:
        """Until every sentinel names the replica as primary and the replica says it is one."""
        port = self.replica.port

        def promoted() -> bool:
            for sentinel in self.sentinels:
                reply = _query(sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
                if not reply or int(reply[1]) != port:
                    return False
            return _info_field(port, "INFO replication", "role", self.password) == "master"

        wait_until(promoted, timeout=timeout, what="the replica promoted by the sentinels")

    def cleanup(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.cleanup()


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A running 3-primary cluster shared by a test module (use unique prefixes)."""
    pytest.importorskip("redis")
    cluster = RedisClusterNodes(require_redis_binary())
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


@pytest.fixture
def sentinel_setup() -> Iterator[SentinelSetup]:
    """A primary + replica + 3 sentinels of this test's own (free to fail over)."""
    pytest.importorskip("redis")
    setup = SentinelSetup(require_redis_binary())
    try:
        yield setup.start()
    finally:
        setup.cleanup()
