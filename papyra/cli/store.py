"""Which store a command works on, and opening it.

Resolution (per field, first found wins): **flags**, then **environment variables**, then the
**settings module** (``PAPYRA_SETTINGS_MODULE``, its ``persistence`` attribute). Flags and
variables:

==================  ====================  =========================================
flag                environment           meaning
==================  ====================  =========================================
``--backend``       ``PAPYRA_BACKEND``    ``json`` | ``rotating`` | ``redis``
``--path``          ``PAPYRA_PATH``       NDJSON file (json) or active file (rotating)
``--max-bytes``     ``PAPYRA_MAX_BYTES``  rotating: size that triggers rotation
``--max-files``     ``PAPYRA_MAX_FILES``  rotating: files in the set, active included
``--redis-url``     ``PAPYRA_REDIS_URL``  redis: connection URL
``--prefix``        ``PAPYRA_PREFIX``     redis: key prefix (default ``papyra``)
``--system-id``     ``PAPYRA_SYSTEM_ID``  redis: system id (default ``local``)
``--lock-timeout``  ``PAPYRA_LOCK_TIMEOUT``  seconds to wait for the store lock (default 10)
==================  ====================  =========================================

Retention (what reads show and what ``persistence compact`` keeps) is the backend's policy; the
CLI opens backends with ``--max-records`` / ``PAPYRA_MAX_RECORDS``, ``--max-age`` /
``PAPYRA_MAX_AGE`` (seconds or ``30m``/``12h``/``7d``) and ``--max-total-bytes`` /
``PAPYRA_MAX_TOTAL_BYTES``; without them nothing is expired (give the application's policy,
or use a settings module whose backend carries it).

Without ``--backend``: a path means ``json`` (``rotating`` when ``--max-bytes``/``--max-files``
or ``PAPYRA_MAX_BYTES``/``PAPYRA_MAX_FILES`` is given too); a Redis URL means ``redis``. Nothing
configured is a usage error (exit 64).

A rotating set opened without ``--max-files`` (or ``PAPYRA_MAX_FILES``) is opened with enough
slots for the rotated files found on disk (at least the backend default), with a note on
stderr: with too few slots, members would look like orphans and ``recover`` would take them out
of the set. Pass the application's ``--max-files`` so that real orphans are reported.

Backends are imported lazily by module path, so ``papyra --help`` loads none of them. A file
store that does not exist yet is **not created** (backends open files lazily, and the CLI
skips compaction/recovery of a missing store): commands see an empty store and say so on
stderr; a missing parent directory is an operational error (exit 3).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papyra.cli.errors import OperationalError, UsageError
from papyra.cli.redact import redact

__all__ = ["BACKEND_CLASSES", "Store", "StoreSpec", "open_store", "resolve_spec"]

#: Backend name -> (module, class). Imported only when chosen.
BACKEND_CLASSES: dict[str, tuple[str, str]] = {
    "json": ("papyra.persistence.json", "JsonFilePersistence"),
    "rotating": ("papyra.persistence.backends.rotating", "RotatingFilePersistence"),
    "redis": ("papyra.persistence.backends.redis", "RedisStreamsPersistence"),
}
FILE_BACKENDS = ("json", "rotating")
DEFAULT_LOCK_TIMEOUT = 10.0


@dataclass(frozen=True)
class StoreSpec:
    """A resolved store choice. ``backend`` is ``json``/``rotating``/``redis``/``settings``."""

    backend: str
    source: str  # "flags", "environment", "settings"
    path: str | None = None
    max_bytes: int | None = None
    max_files: int | None = None
    redis_url: str | None = None
    prefix: str = "papyra"
    system_id: str = "local"
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    settings_path: str | None = None
    max_records: int | None = None
    max_age_seconds: float | None = None
    max_total_bytes: int | None = None

    def retention_policy(self) -> Any:
        """A RetentionPolicy from the retention options, or None when none is given."""
        if self.max_records is None and self.max_age_seconds is None and self.max_total_bytes is None:
            return None
        from papyra.persistence.retention import RetentionPolicy

        return RetentionPolicy(
            max_records=self.max_records,
            max_age_seconds=self.max_age_seconds,
            max_total_bytes=self.max_total_bytes,
        )

    @property
    def location(self) -> str:
        """Human-readable location (credentials redacted)."""
        if self.backend in FILE_BACKENDS:
            return str(self.path)
        if self.backend == "redis":
            return f"{redact(str(self.redis_url))} {self.prefix}:{self.system_id}:*"
        return f"settings {self.settings_path}"


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise UsageError(f"{name} must be a positive integer, got {value}")
    return value


def _env_float(environ: Mapping[str, str], name: str) -> float | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r} is not a number") from None
    if not value >= 0:
        raise UsageError(f"{name} must be >= 0, got {raw}")
    return value


def parse_duration(text: str) -> float:
    """``3600``, ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` -> seconds (> 0), or ``ValueError``."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"invalid duration {text!r}: use seconds or 30m / 12h / 7d")
    value = (
        float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2).lower()]
    )
    if value <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return value


def _retention_fields(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, Any]:
    max_records = getattr(args, "max_records", None) or _env_int(environ, "PAPYRA_MAX_RECORDS")
    max_total = getattr(args, "max_total_bytes", None) or _env_int(environ, "PAPYRA_MAX_TOTAL_BYTES")
    max_age = getattr(args, "max_age", None)
    raw_age = environ.get("PAPYRA_MAX_AGE", "").strip()
    if max_age is None and raw_age:
        try:
            max_age = parse_duration(raw_age)
        except ValueError as exc:
            raise UsageError(f"PAPYRA_MAX_AGE: {exc}") from None
    return {"max_records": max_records, "max_age_seconds": max_age, "max_total_bytes": max_total}


def resolve_spec(args: argparse.Namespace, environ: Mapping[str, str]) -> StoreSpec:
    """Choose the store from flags, then environment, then settings (see module docs)."""

    def flag(name: str) -> Any:
        return getattr(args, name, None)

    def env(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    env_backend = env("PAPYRA_BACKEND")
    if env_backend is not None:
        env_backend = env_backend.lower()
        if env_backend not in BACKEND_CLASSES:
            raise UsageError(f"PAPYRA_BACKEND={env_backend!r} is not one of: {', '.join(BACKEND_CLASSES)}")
    path_flag, url_flag = flag("path"), flag("redis_url")
    rotating_flags = flag("max_bytes") is not None or flag("max_files") is not None
    backend: str | None = flag("backend")
    if backend is None:
        rotating_env = env("PAPYRA_MAX_BYTES") is not None or env("PAPYRA_MAX_FILES") is not None
        if path_flag is not None:
            # the rotation options of the environment describe the set a flag path points at too
            backend = env_backend if env_backend in FILE_BACKENDS else None
            backend = backend or ("rotating" if rotating_flags or rotating_env else "json")
        elif url_flag is not None:
            backend = "redis"
        elif env_backend is not None:
            backend = env_backend
        elif env("PAPYRA_PATH") is not None:
            backend = "rotating" if rotating_flags or rotating_env else "json"
        elif env("PAPYRA_REDIS_URL") is not None:
            backend = "redis"
    store_flags = (
        "backend",
        "path",
        "redis_url",
        "max_bytes",
        "max_files",
        "prefix",
        "system_id",
    )
    source = "flags" if any(flag(n) is not None for n in store_flags) else "environment"

    lock_timeout = flag("lock_timeout")
    if lock_timeout is None:
        lock_timeout = _env_float(environ, "PAPYRA_LOCK_TIMEOUT")
    if lock_timeout is None:
        lock_timeout = DEFAULT_LOCK_TIMEOUT

    if backend is None:
        if any(v is not None for v in _retention_fields(args, environ).values()):
            raise UsageError(
                "retention options need a store given by flags or environment; "
                "a settings backend carries its own retention policy"
            )
        return _settings_spec(environ, lock_timeout)

    if backend in FILE_BACKENDS:
        path = path_flag or env("PAPYRA_PATH")
        if path is None:
            raise UsageError(f"the {backend} backend needs --path (or PAPYRA_PATH)")
        max_bytes = flag("max_bytes") or _env_int(environ, "PAPYRA_MAX_BYTES")
        max_files = flag("max_files") or _env_int(environ, "PAPYRA_MAX_FILES")
        if backend == "json" and (flag("max_bytes") is not None or flag("max_files") is not None):
            raise UsageError("--max-bytes/--max-files apply to --backend rotating only")
        return StoreSpec(
            backend=backend,
            source=source,
            path=os.fspath(Path(path).expanduser()),
            max_bytes=max_bytes if backend == "rotating" else None,
            max_files=max_files if backend == "rotating" else None,
            lock_timeout=float(lock_timeout),
            **_retention_fields(args, environ),
        )
    # redis
    url = url_flag or env("PAPYRA_REDIS_URL") or "redis://localhost:6379/0"
    if not re.match(r"^(redis|rediss|unix)://", url):
        raise UsageError(f"--redis-url must start with redis://, rediss:// or unix:// (got {redact(url)!r})")
    return StoreSpec(
        backend="redis",
        source=source,
        redis_url=url,
        prefix=flag("prefix") or env("PAPYRA_PREFIX") or "papyra",
        system_id=flag("system_id") or env("PAPYRA_SYSTEM_ID") or "local",
        lock_timeout=float(lock_timeout),
        **_retention_fields(args, environ),
    )


def _settings_spec(environ: Mapping[str, str], lock_timeout: float) -> StoreSpec:
    from papyra.conf import SETTINGS_MODULE_ENV, settings_module_path

    path = settings_module_path(dict(environ))
    if path is None:
        raise UsageError(
            "no store configured: pass --path PATH (or --backend redis --redis-url URL), "
            f"set PAPYRA_PATH / PAPYRA_REDIS_URL, or {SETTINGS_MODULE_ENV}"
        )
    return StoreSpec(backend="settings", source="settings", settings_path=path, lock_timeout=lock_timeout)


# --------------------------------------------------------------------------- opening


class Store:
    """An opened store: the backend plus what the CLI knows about where it lives.

    ``missing`` is True for a file store whose file(s) did not exist when the command started;
    commands then avoid every operation that would create files (compaction, recovery locks).
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
            for index in _rotated_indexes(path)
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


def _check_file_location(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise OperationalError(f"directory {parent} does not exist (store {path})")
    if not parent.is_dir():
        raise OperationalError(f"{parent} is not a directory (store {path})")
    if path.is_dir():
        raise OperationalError(f"{path} is a directory, not a store file")


def _rotated_indexes(path: Path) -> list[int]:
    """Indexes ``k >= 1`` of the files named ``<name>.k`` beside ``path`` (canonical digits only,
    as the backend names its members: ``.01`` is not slot 1)."""
    pattern = re.compile(re.escape(path.name) + r"\.([1-9]\d*)$")
    try:
        names = [e.name for e in os.scandir(path.parent)]
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)


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
    indexes = _rotated_indexes(path)
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


def open_store(spec: StoreSpec) -> Store:
    """Open the backend ``spec`` names. Raises :class:`OperationalError`/``UsageError``."""
    if spec.backend == "settings":
        return _open_from_settings(spec)
    retention = spec.retention_policy()
    if spec.backend in FILE_BACKENDS:
        path = Path(str(spec.path))
        _check_file_location(path)
        cls = _load_backend_class(spec.backend)
        missing = _file_store_missing(spec)
        kwargs: dict[str, Any] = {"lock_timeout": spec.lock_timeout, "retention_policy": retention}
        if spec.max_bytes is not None:
            kwargs["max_bytes"] = spec.max_bytes
        notes: tuple[str, ...] = ()
        rotated = _rotated_indexes(path) if spec.backend == "json" else []
        if rotated:
            notes = (
                f"{path.name}.{rotated[0]} exists beside the store: if it is a rotating set, pass "
                f"--backend rotating (and its --max-files); the json backend reads only {path.name}",
            )
        if spec.max_files is not None:
            kwargs["max_files"] = spec.max_files
        elif spec.backend == "rotating":
            inferred, note = _infer_max_files(cls, path)
            if inferred is not None:
                kwargs["max_files"] = inferred
            notes = (note,) if note else ()
        backend = cls(str(path), **_accepted_kwargs(cls, kwargs))
        return Store(spec, backend, missing=missing, notes=notes)
    cls = _load_backend_class("redis")
    module = importlib.import_module(BACKEND_CLASSES["redis"][0])
    config_cls = getattr(module, "RedisStreamsConfig", None)
    if config_cls is None:
        raise OperationalError(
            "the redis backend is not available in this installation (no RedisStreamsConfig)"
        )
    config_kwargs = {"url": spec.redis_url, "prefix": spec.prefix, "system_id": spec.system_id}
    extra = _accepted_kwargs(config_cls, {"lock_timeout": spec.lock_timeout})
    config = config_cls(**config_kwargs, **extra)
    backend = cls(
        config, **_accepted_kwargs(cls, {"lock_timeout": spec.lock_timeout, "retention_policy": retention})
    )
    return Store(spec, backend)


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
