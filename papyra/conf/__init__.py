"""Settings: ``PAPYRA_SETTINGS_MODULE`` and the lazy :data:`settings` proxy.

``PAPYRA_SETTINGS_MODULE`` names a dotted path to a settings **class**, a settings **object** or a
**module** (default :data:`DEFAULT_SETTINGS`, ``papyra.conf.global_settings.Settings``). It is
resolved with plain :mod:`importlib` on first attribute access of :data:`settings`:

* ``pkg.mod.Settings`` where ``Settings`` is a class -> an instance built with no arguments;
* ``pkg.mod.settings`` where ``settings`` is any other object -> that object as is;
* ``pkg.settings_module`` that is itself a module -> the module.

The one attribute Papyra itself reads is ``persistence`` (a backend instance, or ``None``); the
``papyra`` CLI uses it when no store is given by flags or environment variables. Loading is
thread-safe (one lock, double-checked) and happens once; :func:`reload_settings` drops the cached
object (tests, or after changing the environment) and :func:`configure` installs an object
directly. Failures raise :class:`~papyra.exceptions.ConfigurationError` naming the path.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
from typing import Any

from papyra.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_SETTINGS",
    "SETTINGS_MODULE_ENV",
    "LazySettings",
    "configure",
    "get_settings",
    "load_settings_object",
    "reload_settings",
    "settings",
    "settings_module_path",
]

#: Environment variable naming the settings class / object / module.
SETTINGS_MODULE_ENV = "PAPYRA_SETTINGS_MODULE"
#: Used when the environment variable is unset or empty.
DEFAULT_SETTINGS = "papyra.conf.global_settings.Settings"


def settings_module_path(environ: dict[str, str] | None = None) -> str | None:
    """The configured dotted path, or ``None`` when ``PAPYRA_SETTINGS_MODULE`` is unset/empty."""
    env = os.environ if environ is None else environ
    value = env.get(SETTINGS_MODULE_ENV, "").strip()
    return value or None


def load_settings_object(path: str) -> Any:
    """Import ``path`` and return the settings object it names (see module docs).

    Raises :class:`ConfigurationError` with a one-line reason when the path cannot be resolved or
    the settings class cannot be instantiated.
    """
    path = path.strip()
    if not path or any(not part.isidentifier() for part in path.split(".")):
        raise ConfigurationError(f"{SETTINGS_MODULE_ENV}={path!r} is not a dotted Python path")
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        # Only "the path itself is not a module" falls through; a missing import *inside* an
        # existing module is a real error.
        if exc.name is None or not (path == exc.name or path.startswith(exc.name + ".")):
            raise ConfigurationError(f"{SETTINGS_MODULE_ENV}={path!r}: importing it failed: {exc}") from exc
    except Exception as exc:
        raise ConfigurationError(f"{SETTINGS_MODULE_ENV}={path!r}: importing it failed: {exc}") from exc
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise ConfigurationError(f"{SETTINGS_MODULE_ENV}={path!r}: no module named {path!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigurationError(
            f"{SETTINGS_MODULE_ENV}={path!r}: cannot import module {module_name!r}: {exc}"
        ) from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ConfigurationError(
            f"{SETTINGS_MODULE_ENV}={path!r}: module {module_name!r} has no attribute {attr!r}"
        ) from None
    if inspect.isclass(obj):
        try:
            return obj()
        except Exception as exc:
            raise ConfigurationError(
                f"{SETTINGS_MODULE_ENV}={path!r}: creating {attr}() failed: {exc}"
            ) from exc
    return obj


class LazySettings:
    """Proxy to the settings object, loaded on first use (thread-safe).

    Attribute reads, writes and deletes are forwarded to the loaded object.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_lock", threading.Lock())
        object.__setattr__(self, "_wrapped", None)
        object.__setattr__(self, "_path", None)

    def _setup(self) -> Any:
        wrapped = self.__dict__["_wrapped"]
        if wrapped is not None:
            return wrapped
        with self.__dict__["_lock"]:
            wrapped = self.__dict__["_wrapped"]
            if wrapped is None:
                path = settings_module_path() or DEFAULT_SETTINGS
                wrapped = load_settings_object(path)
                object.__setattr__(self, "_path", path)
                object.__setattr__(self, "_wrapped", wrapped)
            return wrapped

    @property
    def is_loaded(self) -> bool:
        return self.__dict__["_wrapped"] is not None

    @property
    def source(self) -> str | None:
        """The dotted path the settings were loaded from (``None`` before loading/configure)."""
        path: str | None = self.__dict__["_path"]
        return path

    def configure(self, obj: Any, *, source: str = "<configured>") -> None:
        """Use ``obj`` as the settings object from now on."""
        with self.__dict__["_lock"]:
            object.__setattr__(self, "_wrapped", obj)
            object.__setattr__(self, "_path", source)

    def reset(self) -> None:
        """Forget the loaded object; the next access loads again from the environment."""
        with self.__dict__["_lock"]:
            object.__setattr__(self, "_wrapped", None)
            object.__setattr__(self, "_path", None)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._setup(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._setup(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._setup(), name)

    def __repr__(self) -> str:
        if not self.is_loaded:
            return "<LazySettings (not loaded)>"
        return f"<LazySettings from {self.source!r}>"


#: The process-wide settings proxy.
settings = LazySettings()


def get_settings() -> Any:
    """The loaded settings object (loading it if needed)."""
    return settings._setup()


def reload_settings() -> None:
    """Drop the cached settings; the next access re-reads ``PAPYRA_SETTINGS_MODULE``."""
    settings.reset()


def configure(obj: Any) -> None:
    """Install ``obj`` as the settings object (instead of loading from the environment)."""
    settings.configure(obj)
