"""Which Redis the backend talks to (one node, a Sentinel-managed primary or a Cluster) and how
one writer batch reaches it.

Clients are redis-py's own: ``Redis.from_url`` for one node, ``Sentinel(...).master_for(name)``
for Sentinel (the pool asks the sentinels for the primary again after a connection error or a
``READONLY`` reply, so the writer follows a failover), ``RedisCluster`` for a Cluster (it keeps
the slot map and follows ``MOVED``/``ASK``).

A batch is a mapping *stream key -> XADD/XTRIM commands in order*. Each stream is one key, so
it lives in one hash slot and per-stream order holds in every topology:

* one node / Sentinel: one pipelined ``MULTI`` … ``EXEC`` round trip (all or nothing);
* Cluster: the keys are grouped by node, and each node gets one pipelined round trip with one
  ``MULTI`` … ``EXEC`` per hash slot (Redis refuses transactions across slots); nodes are
  written one after the other, and keys whose node succeeded are reported in ``done`` so a
  retry does not write them twice;
* ``min_replicas_ack=N``: the same pipeline ends with ``WAIT N replica_ack_timeout`` on the
  connection that wrote, and fewer confirmations raise :class:`ReplicaAckError` (the records
  are on the primary but not yet known to be replicated; the writer retries the batch, so they
  may be written twice — never acknowledged unreplicated).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from papyra.exceptions import BackendUnavailable
from papyra.persistence.backends.redis_config import RedisStreamsConfig, parse_sentinel_url

__all__ = [
    "BatchWriter",
    "ReplicaAckError",
    "build_client",
    "interrupt",
    "ordered_steps",
    "release_idle",
    "unavailable_errors",
    "write_batch",
]

#: A stream command without its key: ``("XADD", "*", "data", b"...")`` for ``XADD key * data ...``.
Command = tuple[Any, ...]


class ReplicaAckError(BackendUnavailable):
    """Fewer replicas than ``min_replicas_ack`` confirmed a batch within ``replica_ack_timeout``.

    Attributes: ``wanted`` and ``confirmed`` replica counts, ``node`` (``host:port``)."""

    def __init__(self, node: str, wanted: int, confirmed: int, timeout: float) -> None:
        super().__init__(
            f"only {confirmed} of {wanted} replicas of {node} confirmed the batch within {timeout:g}s"
        )
        self.node = node
        self.wanted = wanted
        self.confirmed = confirmed


def unavailable_errors(redis: ModuleType) -> tuple[type[BaseException], ...]:
    """redis-py errors meaning "cannot reach or route to the right node now": connection loss,
    timeouts, no primary known to the sentinels, cluster down / slot not covered / ``TRYAGAIN``
    / a ``MOVED``/``ASK`` the client could not follow within its redirections."""
    errors = redis.exceptions
    return (
        redis.ConnectionError,
        redis.TimeoutError,
        errors.ClusterError,
        errors.RedisClusterException,
        errors.TryAgainError,
        errors.AskError,
    )


def build_client(config: RedisStreamsConfig, redis: ModuleType, **options: Any) -> Any:
    """The redis-py client for ``config.topology`` with the given connection ``options``
    (timeouts, retry, client name...). One node and Sentinel do no I/O here; a Cluster reads its
    slot map from ``url`` (one round trip; raises a redis-py error when no node answers)."""
    if config.cluster:
        from redis.cluster import RedisCluster

        return RedisCluster.from_url(config.url, **options)
    if config.sentinels:
        from redis.sentinel import Sentinel

        password = db = None
        if config.url.startswith("redis+sentinel:"):
            target = parse_sentinel_url(config.url)
            password, db = target.password, target.db
        else:
            parsed = redis.connection.parse_url(config.url)
            password, db = parsed.get("password"), parsed.get("db", 0)
        # the sentinels are asked with the same timeouts and retry (redis-py's default retry
        # backs off for seconds, which would hold up close() while no sentinel answers)
        sentinel_options = {k: v for k, v in options.items() if k.startswith("socket_") or k == "retry"}
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            list(config.sentinels), sentinel_kwargs=sentinel_options, **options
        )
        return sentinel.master_for(  # type: ignore[no-untyped-call]
            config.service_name, password=password, db=db or 0
        )
    return redis.Redis.from_url(config.url, **options)


def _pools(client: Any) -> list[Any]:
    if hasattr(client, "connection_pool"):
        return [client.connection_pool]
    nodes = client.get_nodes()
    return [node.redis_connection.connection_pool for node in nodes if node.redis_connection is not None]


def interrupt(client: Any) -> None:
    """Shut every pooled socket of ``client`` (also ones in use) so a blocked call fails now."""
    for pool in _pools(client):
        pool.disconnect(inuse_connections=True)


def release_idle(client: Any) -> None:
    """Close the idle pooled sockets of ``client``; a socket another thread is using (a read on
    the same client) is left to finish. The client stays usable: it re-dials when needed."""
    for pool in _pools(client):
        pool.disconnect(inuse_connections=False)


def ordered_steps(client: Any, cluster: bool, *steps: Callable[[Any], object]) -> None:
    """Run ``steps`` (each queues commands on a pipeline) as one ``MULTI``/``EXEC``; on a Cluster,
    where the keys may sit in different slots, as one pipeline per step, in order (so a move
    is written before the source is acknowledged or deleted: at-least-once, never lost)."""
    if not cluster:
        pipe = client.pipeline(transaction=True)
        for step in steps:
            step(pipe)
        pipe.execute()
        return
    for step in steps:
        pipe = client.pipeline(transaction=False)
        step(pipe)
        pipe.execute()


class BatchWriter:
    """Writes the writer thread's batches to one topology (not thread-safe: one writer thread).

    It remembers, after a batch failed part way (some cluster nodes written, others not), how
    many commands of each stream were written, and skips them when the writer retries that batch
    (a retry starts with the same first item, possibly followed by newer ones)."""

    def __init__(self, config: RedisStreamsConfig) -> None:
        self._config = config
        self._retry: tuple[object, dict[str, int]] | None = None

    def write(
        self, client: Any, first: object, entries: Sequence[tuple[str, Command]], tail: Command | None
    ) -> None:
        """Write ``entries`` (stream key, command without the key), in order per stream, and
        ``tail`` once after each stream's commands. ``first`` identifies the batch (its first
        item). Raises redis-py errors (:func:`unavailable_errors` are transient) or
        :class:`ReplicaAckError`. Cost: one round trip (one node / Sentinel) or one per
        cluster node holding a stream of the batch."""
        retry, self._retry = self._retry, None
        skip = retry[1] if retry is not None and first is retry[0] else {}
        commands: dict[str, list[Command]] = {}
        seen: dict[str, int] = {}
        for key, command in entries:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > skip.get(key, 0):  # else written by an earlier, partly failed attempt
                commands.setdefault(key, []).append(command)
        if tail is not None:
            for cmds in commands.values():
                cmds.append(tail)
        done: set[str] = set()
        try:
            write_batch(client, self._config, commands, done)
        except BaseException:
            written = {k: n if k in done or k not in commands else skip.get(k, 0) for k, n in seen.items()}
            if any(written.values()):
                self._retry = (first, written)
            raise


def write_batch(
    client: Any, config: RedisStreamsConfig, commands: Mapping[str, Sequence[Command]], done: set[str]
) -> None:
    """Write ``commands`` (stream key -> its commands, in order; see module docs) and add each
    key that is written (and replicated, with ``min_replicas_ack``) to ``done``. Raises as
    :meth:`BatchWriter.write`."""
    if not config.cluster:
        _write_node(client, "primary", [list(commands)], commands, config)
        done.update(commands)
        return
    by_node: dict[str, dict[int, list[str]]] = {}
    nodes: dict[str, Any] = {}
    for key in commands:
        slot = client.keyslot(key)
        node = client.nodes_manager.get_node_from_slot(slot)
        nodes[node.name] = node
        by_node.setdefault(node.name, {}).setdefault(slot, []).append(key)
    for name, slots in by_node.items():
        connection = nodes[name].redis_connection
        if connection is None:  # the client has not connected to this node yet
            connection = client.get_redis_connection(nodes[name])
        try:
            _write_node(connection, name, list(slots.values()), commands, config)
        except Exception:
            with contextlib.suppress(Exception):  # a node failed or a slot moved: re-read the map
                client.nodes_manager.initialize()
            raise
        for keys in slots.values():
            done.update(keys)


def _write_node(
    connection: Any,
    node: str,
    groups: list[list[str]],
    commands: Mapping[str, Sequence[Command]],
    config: RedisStreamsConfig,
) -> None:
    """One pipelined round trip to one node: ``MULTI`` … ``EXEC`` per group of keys, then
    ``WAIT`` when replicas must confirm."""
    wanted = config.min_replicas_ack
    pipe = connection.pipeline(transaction=False)
    for keys in groups:
        pipe.execute_command("MULTI")
        for key in keys:
            for name, *args in commands[key]:
                pipe.execute_command(name, key, *args)
        pipe.execute_command("EXEC")
    if wanted:
        pipe.execute_command("WAIT", wanted, int(config.replica_ack_timeout * 1000))
    replies = pipe.execute()
    for reply in replies:
        if isinstance(reply, list):  # an EXEC: errors of queued commands come back inside it
            for item in reply:
                if isinstance(item, Exception):
                    raise item
    if wanted and int(replies[-1]) < wanted:
        raise ReplicaAckError(node, wanted, int(replies[-1]), config.replica_ack_timeout)
