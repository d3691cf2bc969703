"""What a command handler gets: parsed arguments, the output, and the store (opened lazily)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from papyra.cli.output import Output
from papyra.cli.store import Store, StoreSpec, open_store, resolve_spec

__all__ = ["STORE_MUST_EXIST", "Context"]

#: Commands for which a store that does not exist is an error ("no store at …", exit 3);
#: the others (doctor, startup-check, metrics, follow) treat it as empty ("no store yet").
STORE_MUST_EXIST = frozenset(
    {
        "persistence scan",
        "persistence recover",
        "persistence compact",
        "persistence inspect",
        "inspect events",
        "inspect audits",
        "inspect dead-letters",
        "inspect summary",
        "inspect timeline",
    }
)


class Context:
    """Per-invocation state. ``store()`` resolves and opens the store on first use."""

    def __init__(self, args: argparse.Namespace, out: Output, environ: Mapping[str, str]) -> None:
        self.args = args
        self.out = out
        self.environ = environ
        self._store: Store | None = None
        self._spec: StoreSpec | None = None

    @property
    def command(self) -> str:
        return str(getattr(self.args, "command_name", ""))

    def arg(self, name: str, default: Any = None) -> Any:
        """An argument value (options added with ``SUPPRESS`` defaults may be absent)."""
        value = getattr(self.args, name, default)
        return default if value is None else value

    def spec(self) -> StoreSpec:
        if self._spec is None:
            self._spec = resolve_spec(self.args, self.environ)
        return self._spec

    def store(self) -> Store:
        if self._store is None:
            following = bool(self.arg("follow", False))  # tail -F waits for the store to appear
            must_exist = self.command in STORE_MUST_EXIST and not following
            self._store = open_store(self.spec(), must_exist=must_exist)
            for note in self._store.notes:
                self.out.note(note)
            if self._store.missing:
                self.out.note(f"no store yet at {self._store.spec.location} (nothing recorded)")
        return self._store

    def envelope(self, exit_code: int, **fields: Any) -> dict[str, Any]:
        """The common head of every JSON document: command, exit_code, store, then ``fields``."""
        doc: dict[str, Any] = {"command": self.command, "exit_code": exit_code}
        if self._store is not None:
            doc["store"] = self._store.describe()
        doc.update(fields)
        return doc

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            store.close()
