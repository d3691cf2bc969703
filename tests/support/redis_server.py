"""A throw-away ``redis-server`` for tests and benchmarks.

:class:`RedisServer` starts its own ``redis-server`` bound to 127.0.0.1 on a free port, in a
temporary directory, with persistence switched off (``--save "" --appendonly no``). It is stopped
by PID (never by name) and can be restarted on the same port, which is how the outage tests
simulate Redis going away and coming back.

The :func:`redis_server` fixture (session scoped) yields a running server. When the binary is
missing the test is skipped with a clear reason, unless ``PAPYRA_REQUIRE_REDIS=1`` (CI), in
which case it fails loudly.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

__all__ = ["RedisServer", "find_redis_server", "redis_server", "require_redis_binary"]


def find_redis_server() -> str | None:
    """Path of the ``redis-server`` binary (``PAPYRA_REDIS_SERVER`` overrides), or None."""
    explicit = os.environ.get("PAPYRA_REDIS_SERVER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


_MAX_CLUSTER_PORT = 55535  # a cluster node's port + 10000 must be a port too
_handed_out: set[int] = set()  # never the same port twice in one run (a choice is not a bind)


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (outgoing connections take theirs there)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    """A port free on 127.0.0.1 now that any redis-server accepts (cluster nodes too), never one
    this run handed out before. Chosen at random *below* the ephemeral range: between this choice
    and the server's bind, the many outgoing connections of a busy machine (each takes an
    ephemeral port) cannot take it, as they did when the kernel chose from that range."""
    rng = random.SystemRandom()
    low, high = 10_000, min(_ephemeral_low(), _MAX_CLUSTER_PORT + 1)
    for _ in range(1000 if high - low >= 1000 else 0):
        port = rng.randrange(low, high)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    while True:  # no room below the ephemeral range: let the kernel choose
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port <= _MAX_CLUSTER_PORT and port not in _handed_out:
            _handed_out.add(port)
            return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 (see module docs)."""

    def __init__(
        self,
        binary: str,
        *,
        port: int | None = None,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.port = port or _free_port()
        self.password = password
        self.extra_args = extra_args
        self.dir = tempfile.mkdtemp(prefix="papyra-redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60.0) -> RedisServer:
        """Start the server (on the same port as before, if it ran already); wait until it answers."""
        if self.running:
            return self
        args = self.command()
        deadline = time.monotonic() + timeout
        while True:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_ready(deadline):
                return self
            # The port may still be held by the previous instance (TIME_WAIT / slow exit): retry.
            self._terminate()
            if time.monotonic() >= deadline:
                log = self.read_log()
                raise RuntimeError(f"redis-server did not start on port {self.port}: {log[-2000:]}")
            time.sleep(0.1)

    def command(self) -> list[str]:
        """The ``redis-server`` command line (subclasses start other modes, e.g. Sentinel)."""
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", self.dir,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "warning",
            "--logfile", os.path.join(self.dir, "redis.log"),
        ]
        if self.password:
            args += ["--requirepass", self.password]
        args += list(self.extra_args)
        return args

    def _wait_ready(self, deadline: float) -> bool:
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    reply = s.recv(64)
                if reply.startswith((b"+PONG", b"-NOAUTH")):
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass

    def stop(self) -> None:
        """Stop the server by PID (SIGTERM, then SIGKILL) and wait for the port to be free."""
        self._terminate()
        deadline = time.monotonic() + 30.0  # a hang guard: returns as soon as the port is free
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                return
            time.sleep(0.02)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def read_log(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self) -> None:
        """Stop the server and delete its temporary directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def require_redis_binary() -> str:
    """The binary path, or skip the test (fail when ``PAPYRA_REQUIRE_REDIS=1``)."""
    binary = find_redis_server()
    if binary is None:
        reason = "redis-server binary not found (install redis-server or set PAPYRA_REDIS_SERVER)"
        if os.environ.get("PAPYRA_REQUIRE_REDIS") == "1":
            pytest.fail(f"PAPYRA_REQUIRE_REDIS=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A running, password-less ``redis-server`` shared by the session (use unique prefixes)."""
    from tests.support.leftovers import keep_for_session

    server = RedisServer(require_redis_binary())
    keep_for_session(path=server.dir)
    server.start()
    keep_for_session(pid=server.pid)
    try:
        yield server
    finally:
        server.cleanup()
