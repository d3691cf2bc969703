"""Suite-wide fixtures: every test must leave no papyra thread behind, and Papyra never runs
user code, a hook or a thread start while holding one of its locks (debug-mode check)."""

from __future__ import annotations

import os

# Before papyra is imported (here and in every subprocess the tests start): track lock holding.
os.environ["PAPYRA_DEBUG_LOCKS"] = "1"

import threading
import time
from collections.abc import Iterator

import pytest

from papyra import _locks
from tests.support.redis_server import redis_server  # noqa: F401  (suite-wide fixture)


def _papyra_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("papyra") and t.is_alive()}


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a papyra-* thread running. Stragglers that are on their way out
    (a retiring worker, a writer finishing its last batch) are joined, up to 60 s in all: a hang
    guard, not a timing assumption."""
    before = _papyra_threads()
    yield
    deadline = time.monotonic() + 60.0
    leaked = _papyra_threads() - before
    while leaked and time.monotonic() < deadline:
        for thread in leaked:
            thread.join(max(0.0, deadline - time.monotonic()))
        leaked = _papyra_threads() - before  # a joined thread may have started another
    assert not leaked, f"test leaked threads: {sorted(t.name for t in leaked)}"


@pytest.fixture(autouse=True)
def no_user_code_under_papyra_locks() -> Iterator[None]:
    """Fail a test during which Papyra ran user code, a hook or a thread start while holding one
    of its locks (``PAPYRA_DEBUG_LOCKS``, see ``papyra/_locks.py``)."""
    assert _locks.DEBUG_LOCKS
    del _locks.VIOLATIONS[:]
    yield
    violations = list(_locks.VIOLATIONS)
    del _locks.VIOLATIONS[:]
    assert not violations, violations
