"""Default settings (used when ``PAPYRA_SETTINGS_MODULE`` is unset).

Subclass :class:`Settings` in your project and point ``PAPYRA_SETTINGS_MODULE`` at the subclass
(or at an instance) to configure Papyra, e.g.::

    # myproject/papyra_settings.py
    from papyra.conf.global_settings import Settings
    from papyra.persistence.json import JsonFilePersistence

    class ProductionSettings(Settings):
        persistence = JsonFilePersistence("/var/lib/myapp/papyra.ndjson")

    # PAPYRA_SETTINGS_MODULE=myproject.papyra_settings.ProductionSettings papyra doctor run
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings"]


class Settings:
    """Papyra's settings. Plain class attributes; override them in a subclass."""

    #: Verbose diagnostics (the CLI shows tracebacks when true, like ``--debug``).
    debug: bool = False
    #: Level for the ``papyra`` logger.
    logging_level: str = "INFO"
    #: The persistence backend operators' tools (``papyra`` CLI) use when no store is given by
    #: flags or environment. ``None``: no store configured.
    persistence: Any = None
