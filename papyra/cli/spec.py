"""Which store a command works on: :class:`StoreSpec` and :func:`resolve_spec`.

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
``--redis-url``     ``PAPYRA_REDIS_URL``  redis: connection URL (``redis+sentinel://`` too)
``--redis-cluster`` ``PAPYRA_REDIS_CLUSTER=1``  redis: the URL names a Cluster node
``--prefix``        ``PAPYRA_PREFIX``     redis: key prefix (default ``papyra``)
``--system-id``     ``PAPYRA_SYSTEM_ID``  redis: system id (default ``local``)
``--lock-timeout``  ``PAPYRA_LOCK_TIMEOUT``  seconds to wait for the store lock (default 10)
==================  ====================  =========================================

Retention (what reads show and what ``persistence compact`` keeps) is the backend's policy; the
CLI opens backends with ``--max-records`` / ``PAPYRA_MAX_RECORDS``, ``--max-age`` /
``PAPYRA_MAX_AGE`` (seconds or ``30m``/``12h``/``7d``) and ``--max-total-bytes`` /
``PAPYRA_MAX_TOTAL_BYTES``; without them nothing is expired (give the application's policy,
or use a settings module whose backend carries it).

Without ``--backend`` (nor ``PAPYRA_BACKEND``): a path means ``rotating`` when
``--max-bytes``/``--max-files`` or ``PAPYRA_MAX_BYTES``/``PAPYRA_MAX_FILES`` is given, when the
set's manifest ``<path>.set`` exists (see :mod:`papyra.persistence.set_manifest`; a compacted
set stays a rotating set), **or when numbered siblings** ``<path>.1``, ``<path>.2``, …
**exist** (a rotating set: reading only the active file would miss — and call healthy —
everything rotated; a note on stderr says so and that ``--backend json`` overrides it);
otherwise ``json``. A Redis URL means ``redis``.
Nothing configured is a usage error (exit 64).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from papyra.cli.errors import UsageError
from papyra.persistence.backends.redis_config import redact_url

__all__ = [
    "BACKEND_CLASSES",
    "DEFAULT_LOCK_TIMEOUT",
    "FILE_BACKENDS",
    "StoreSpec",
    "parse_duration",
    "resolve_spec",
    "rotated_indexes",
]

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
    redis_cluster: bool = False
    prefix: str = "papyra"
    system_id: str = "local"
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    settings_path: str | None = None
    max_records: int | None = None
    max_age_seconds: float | None = None
    max_total_bytes: int | None = None
    #: Lines to print on stderr about how the store was chosen (e.g. a rotating set inferred).
    notes: tuple[str, ...] = ()

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
            cluster = " (cluster)" if self.redis_cluster else ""
            return f"{redact_url(str(self.redis_url))}{cluster} {self.prefix}:{self.system_id}:*"
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
    note: str | None = None
    if backend is None:
        rotating_env = env("PAPYRA_MAX_BYTES") is not None or env("PAPYRA_MAX_FILES") is not None
        env_path = env("PAPYRA_PATH")
        if path_flag is not None:
            # the rotation options of the environment describe the set a flag path points at too
            backend = env_backend if env_backend in FILE_BACKENDS else None
            if backend is None:
                backend, note = _file_backend(path_flag, rotating_flags or rotating_env)
        elif url_flag is not None:
            backend = "redis"
        elif env_backend is not None:
            backend = env_backend
        elif env_path is not None:
            backend, note = _file_backend(env_path, rotating_flags or rotating_env)
        elif env("PAPYRA_REDIS_URL") is not None:
            backend = "redis"
    store_flags = (
        "backend",
        "path",
        "redis_url",
        "redis_cluster",
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
            notes=(note,) if note else (),
            **_retention_fields(args, environ),
        )
    # redis
    url = url_flag or env("PAPYRA_REDIS_URL") or "redis://localhost:6379/0"
    if not re.match(r"^(redis|rediss|unix|redis\+sentinel)://", url):
        raise UsageError(
            "--redis-url must start with redis://, rediss://, unix:// or redis+sentinel:// "
            f"(got {redact_url(url)!r})"
        )
    cluster = flag("redis_cluster") or (env("PAPYRA_REDIS_CLUSTER") or "0").lower() in ("1", "true", "yes")
    return StoreSpec(
        backend="redis",
        source=source,
        redis_url=url,
        redis_cluster=bool(cluster),
        prefix=flag("prefix") or env("PAPYRA_PREFIX") or "papyra",
        system_id=flag("system_id") or env("PAPYRA_SYSTEM_ID") or "local",
        lock_timeout=float(lock_timeout),
        **_retention_fields(args, environ),
    )


def _file_backend(path_text: str, rotation_options: bool) -> tuple[str, str | None]:
    """``json`` or ``rotating`` for a path given without a backend, and the note to print when
    the choice was made from the files on disk (numbered siblings ``<path>.N``)."""
    if rotation_options:
        return "rotating", None
    path = Path(path_text).expanduser()
    if os.path.lexists(path.with_name(path.name + ".set")):  # the set's manifest says so itself
        return "rotating", None
    indexes = rotated_indexes(path)
    if not indexes:
        return "json", None
    found = (
        f"{path.name}.{indexes[0]} exists"
        if len(indexes) == 1
        else f"{path.name}.{indexes[0]}…{path.name}.{indexes[-1]} exist"
    )
    return "rotating", (
        f"{found} beside {path.name}: opening it as a rotating set "
        f"(pass --backend json to read only {path.name})"
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


def rotated_indexes(path: Path) -> list[int]:
    """Indexes ``k >= 1`` of the files named ``<name>.k`` beside ``path`` (canonical digits only,
    as the backend names its members: ``.01`` is not slot 1)."""
    pattern = re.compile(re.escape(path.name) + r"\.([1-9]\d*)$")
    try:
        names = [e.name for e in os.scandir(path.parent)]
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in map(pattern.match, names) if m)
