"""Opening the store a command works on (:func:`open_store`); choosing it is
:mod:`papyra.cli.spec` (flags, then environment, then the settings module).

A rotating set opened without ``--max-files`` (or ``PAPYRA_MAX_FILES``) is opened with enough
slots for the rotated files found on disk (at least the backend default), with a note on
stderr: with too few slots, members would look like orphans and ``recover`` would take them out
of the set. Pass the application's ``--max-files`` so that real orphans are reported.

Backends are imported lazily by module path, so ``papyra --help`` loads none of them. A store
that does not exist (no file of the set; no stream of the Redis prefix/system id) is **never
created**: commands that read or maintain it (``open_store(..., must_exist=True)``) fail with
"no store at …" (exit 3) before a backend is even constructed for a file store; ``doctor run``
and ``startup-check`` see an empty store and report "no store yet". A missing parent directory
is an operational error (exit 3) for those commands; for the others (doctor, startup-check,
metrics, ``--follow``) it is a store that does not exist yet, as for the application, which
creates the directory on its first start.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any

from papyra.cli.errors import OperationalError, UsageError
from papyra.cli.spec import (
    BACKEND_CLASSES,
    FILE_BACKENDS,
    StoreSpec,
    parse_duration,
    resolve_spec,
    rotated_indexes,
)

__all__ = [
    "BACKEND_CLASSES",
    "Store",
    "StoreSpec",
    "check_redis_url_options",
    "open_store",
    "parse_duration",
    "resolve_spec",
]


# --------------------------------------------------------------------------- opening


class Store:
    """An opened store: the backend plus what the CLI knows about where it lives.

    ``missing`` is True for a store that did not exist when the command started (no file of a
    file store, no stream of a Redis store); commands then avoid every operation that would
    create it.
    """

    def __init__(
        self, spec: StoreSpec, backend: Any, *, missing: bool = False, notes: tuple[str, ...] = ()
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.missing = missing
        #: Lines the command prints on stderr about how the store was opened.
        self.notes = notes

    @property
    def kind(self) -> str:
        if self.spec.backend != "settings":
            return self.spec.backend
        name = getattr(self.backend, "backend_name", None)
        return str(name) if name else type(self.backend).__name__

    def files(self) -> list[Path]:
        """The store's existing files, oldest first (empty for non-file stores)."""
        path = self.file_path()
        if path is None:
            return []
        if self.kind != "rotating":
            return [path] if path.is_file() else []
        members = getattr(self.backend, "files", None)  # the backend's own view of its set
        if isinstance(members, list):
            return [Path(p) for p in members]
        max_files = self.spec.max_files or getattr(self.backend, "max_files", None)
        rotated = [
            (index, path.with_name(f"{path.name}.{index}"))
            for index in rotated_indexes(path)
            if not isinstance(max_files, int) or index < max_files
        ]
        ordered = [p for _, p in sorted(rotated, reverse=True) if p.is_file()]
        if path.is_file():
            ordered.append(path)
        return ordered

    def file_path(self) -> Path | None:
        if self.spec.path is not None:
            return Path(self.spec.path)
        raw = getattr(self.backend, "path", None)
        if isinstance(raw, (str, os.PathLike)):
            return Path(raw)
        return None

    def probe_maintenance_lock(self) -> None:
        """Take the store's maintenance lock as a real compaction or recovery would — waiting up
        to ``--lock-timeout``, raising :class:`~papyra.exceptions.LockTimeout` (exit 3) while
        another process keeps it — and release it at once: a dry run fails where the real run
        would, and blocks writers no longer than that wait.

        File stores only (a Redis store has no lock shared between processes), and only when the
        lock file exists: nobody can hold a lock file that does not exist, and nothing is created.
        """
        from papyra.persistence.locking import lock_path_for, maintenance_lock

        path = self.file_path()
        if path is None or self.kind not in FILE_BACKENDS or not lock_path_for(path).exists():
            return
        with maintenance_lock(path, timeout=self.spec.lock_timeout):
            pass

    def describe(self) -> dict[str, Any]:
        """The ``store`` object of JSON output (stable keys)."""
        return {
            "backend": self.kind,
            "location": self.spec.location if self.spec.backend != "settings" else self._settings_location(),
            "source": self.spec.source,
            "exists": not self.missing,
        }

    def _settings_location(self) -> str:
        path = self.file_path()
        return str(path) if path is not None else f"settings {self.spec.settings_path}"

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()


def _load_backend_class(kind: str) -> Any:
    module_name, class_name = BACKEND_CLASSES[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise OperationalError(
                f"the {kind} backend is not available in this installation ({module_name} not found)"
            ) from exc
        if missing.split(".")[0] == "redis":
            raise OperationalError(
                "the redis backend needs the 'redis' package: pip install 'papyra[redis]'"
            ) from exc
        raise OperationalError(f"cannot load the {kind} backend: {exc}") from exc
    except ImportError as exc:
        raise OperationalError(f"cannot load the {kind} backend: {exc}") from exc
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise OperationalError(
            f"the {kind} backend is not available in this installation ({module_name}.{class_name} missing)"
        ) from None


def _accepted_kwargs(cls: Any, candidates: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return candidates
    return {k: v for k, v in candidates.items() if k in params}


def _check_file_location(path: Path, *, must_exist: bool) -> None:
    parent = path.parent
    if not parent.exists():
        if must_exist:
            raise OperationalError(f"directory {parent} does not exist (store {path})")
        return  # a store that does not exist yet: its backend creates nothing until it writes
    if not parent.is_dir():
        raise OperationalError(f"{parent} is not a directory (store {path})")
    if path.is_dir():
        raise OperationalError(f"{path} is a directory, not a store file")


def _file_store_missing(spec: StoreSpec) -> bool:
    path = Path(str(spec.path))
    if path.exists():
        return False
    if spec.backend == "rotating":
        pattern = re.compile(re.escape(path.name) + r"\.\d+$")
        try:
            return not any(pattern.match(e.name) for e in path.parent.iterdir())
        except OSError:
            return True
    return True


def _infer_max_files(cls: Any, path: Path) -> tuple[int | None, str | None]:
    """``max_files`` for a rotating set opened without one: the backend default, or more when
    rotated files beyond it exist (so that no member is mistaken for an orphan). Returns
    ``(value or None for the default, note)``."""
    try:
        default = inspect.signature(cls).parameters["max_files"].default
    except (KeyError, TypeError, ValueError):
        return None, None
    if not isinstance(default, int):
        return None, None
    limit = getattr(importlib.import_module(cls.__module__), "MAX_FILES_LIMIT", None)
    indexes = rotated_indexes(path)
    if isinstance(limit, int):
        indexes = [k for k in indexes if k < limit]
    if not indexes or indexes[-1] < default:
        return None, None
    inferred = indexes[-1] + 1
    note = (
        f"--max-files not given: opening the rotating set with {inferred} files "
        f"({path.name}.{indexes[-1]} exists; the default is {default}); pass the application's "
        "--max-files (or PAPYRA_MAX_FILES) so that orphaned files are reported"
    )
    return inferred, note


def _client_url_options(scheme: str, *, cluster: bool) -> frozenset[str] | None:
    """The query parameters the redis client accepts in a URL of ``scheme``: its parsed options
    plus the keyword arguments of the connection class it passes the others to (and, for a
    Cluster, of ``RedisCluster``); None when the client is not installed."""
    try:
        from redis import cluster as redis_cluster
        from redis import connection
    except ImportError:
        return None
    classes = {"rediss": connection.SSLConnection, "unix": connection.UnixDomainSocketConnection}
    names = set(getattr(connection, "URL_QUERY_ARGUMENT_PARSERS", {}))
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    mro = classes.get(scheme, connection.Connection).__mro__
    for klass in (*mro, redis_cluster.RedisCluster) if cluster else mro:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {p.name for p in inspect.signature(init).parameters.values() if p.kind in keyword}
    names.discard("self")
    return frozenset(names)


def check_redis_url_options(url: str, *, own: tuple[str, ...] = (), cluster: bool = False) -> None:
    """Raise :class:`UsageError` (exit 64) naming the first query parameter of the Redis ``url``
    that is neither one of ``own`` (a store SPEC's ``prefix``, ``system_id``, ``cluster``) nor an
    option of the redis client (which would fail on it with a ``TypeError``), and the allowed ones.
    ``cluster``: the URL names a Redis Cluster node (``RedisCluster`` options are allowed too).
    A user part that cannot be parsed raises ``ConfigurationError`` first (never echoing it), so
    no piece of a password is ever read as a parameter name."""
    from papyra.persistence.backends.redis_config import split_userinfo

    split_userinfo(url)
    parts = urllib.parse.urlsplit(url)
    client = _client_url_options(parts.scheme, cluster=cluster)
    if client is None:
        return
    for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        if name not in own and name not in client:
            allowed = ", ".join(own) + "; the redis client's " if own else "the redis client's "
            raise UsageError(
                f"unknown query parameter {name!r} in the Redis URL; allowed: {allowed}"
                f"{', '.join(sorted(client))}"
            )


def _no_store(spec: StoreSpec) -> OperationalError:
    return OperationalError(f"no store at {spec.location} (nothing was created; check the location)")


def _redis_store_missing(backend: Any) -> bool:
    """True when none of the backend's three streams exists (one EXISTS per key, so that a
    Cluster never sees a cross-slot command). Raises what the backend raises for reads."""
    keys = [backend.stream_key(kind) for kind in ("event", "audit", "dead_letter")]
    with backend._redis_errors("read"):
        return not any(backend._client.exists(key) for key in keys)


def _manifest_bounds(spec: StoreSpec, path: Path) -> tuple[tuple[int, int] | None, str | None]:
    """``((max_bytes, max_files) recorded in the set's manifest or None, note)``: the note warns
    when flags disagree with the manifest, or when the manifest is invalid (then ignored)."""
    from papyra.exceptions import CorruptionError
    from papyra.persistence.rotation import MAX_FILES_LIMIT
    from papyra.persistence.set_manifest import manifest_path, read_set_manifest

    try:
        # the backends' default file mode: a manifest writable by others in a shared
        # directory is refused, as the backend itself refuses it
        recorded = read_set_manifest(path, max_files_limit=MAX_FILES_LIMIT, file_mode=0o600)
    except (CorruptionError, OSError) as exc:
        return None, f"warning: ignoring the set manifest: {exc}"
    if recorded is None:
        return None, None
    given = (spec.max_bytes, spec.max_files)
    if any(g is not None and g != r for g, r in zip(given, recorded, strict=True)):
        return recorded, (
            f"warning: --max-bytes/--max-files ({given[0]}, {given[1]}) differ from the set's own "
            f"bounds in {manifest_path(path).name} (max_bytes={recorded[0]}, max_files={recorded[1]}); "
            "the flags win for this command"
        )
    return recorded, None


def open_store(spec: StoreSpec, *, must_exist: bool = False) -> Store:
    """Open the backend ``spec`` names; with ``must_exist``, a store that does not exist raises
    :class:`OperationalError` ("no store at …", exit 3) and nothing is created. Cost: a few
    ``stat`` calls (file stores) or one ``EXISTS`` per stream (Redis). Raises
    :class:`OperationalError`/``UsageError``."""
    if spec.backend == "settings":
        return _open_from_settings(spec)
    retention = spec.retention_policy()
    if spec.backend in FILE_BACKENDS:
        path = Path(str(spec.path))
        _check_file_location(path, must_exist=must_exist)
        cls = _load_backend_class(spec.backend)
        missing = _file_store_missing(spec)
        if missing and must_exist:
            raise _no_store(spec)
        kwargs: dict[str, Any] = {"lock_timeout": spec.lock_timeout, "retention_policy": retention}
        if spec.max_bytes is not None:
            kwargs["max_bytes"] = spec.max_bytes
        notes: tuple[str, ...] = ()
        rotated = rotated_indexes(path) if spec.backend == "json" else []
        if rotated:
            notes = (
                f"{path.name}.{rotated[0]} exists beside the store: if it is a rotating set, pass "
                f"--backend rotating (and its --max-files); the json backend reads only {path.name}",
            )
        recorded, manifest_note = _manifest_bounds(spec, path) if spec.backend == "rotating" else (None, None)
        notes += (manifest_note,) if manifest_note else ()
        if recorded is not None and spec.max_bytes is None:
            kwargs["max_bytes"] = recorded[0]
        if spec.max_files is not None:
            kwargs["max_files"] = spec.max_files
        elif recorded is not None:
            kwargs["max_files"] = recorded[1]
        elif spec.backend == "rotating":
            inferred, note = _infer_max_files(cls, path)
            if inferred is not None:
                kwargs["max_files"] = inferred
            notes += (note,) if note else ()
        backend = cls(str(path), **_accepted_kwargs(cls, kwargs))
        return Store(spec, backend, missing=missing, notes=spec.notes + notes)
    cls = _load_backend_class("redis")
    module = importlib.import_module(BACKEND_CLASSES["redis"][0])
    config_cls = getattr(module, "RedisStreamsConfig", None)
    if config_cls is None:
        raise OperationalError(
            "the redis backend is not available in this installation (no RedisStreamsConfig)"
        )
    check_redis_url_options(str(spec.redis_url), cluster=bool(spec.redis_cluster))
    config_kwargs: dict[str, Any] = {
        "url": spec.redis_url,
        "prefix": spec.prefix,
        "system_id": spec.system_id,
    }
    if spec.redis_cluster:
        config_kwargs["cluster"] = True
    extra = _accepted_kwargs(config_cls, {"lock_timeout": spec.lock_timeout})
    config = config_cls(**config_kwargs, **extra)
    backend = cls(
        config, **_accepted_kwargs(cls, {"lock_timeout": spec.lock_timeout, "retention_policy": retention})
    )
    try:
        missing = _redis_store_missing(backend)
        if missing and must_exist:
            raise _no_store(spec)
    except BaseException:
        backend.close()
        raise
    return Store(spec, backend, missing=missing)


def _open_from_settings(spec: StoreSpec) -> Store:
    from papyra.conf import load_settings_object
    from papyra.exceptions import ConfigurationError

    try:
        obj = load_settings_object(str(spec.settings_path))
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc
    backend = getattr(obj, "persistence", None)
    if backend is None:
        raise UsageError(
            f"settings {spec.settings_path} configure no persistence backend (persistence is None); "
            "pass --path or --redis-url"
        )
    if not callable(getattr(backend, "list_events", None)):
        raise UsageError(
            f"settings {spec.settings_path}: persistence is a {type(backend).__name__}, not a backend"
        )
    return Store(spec, backend)
