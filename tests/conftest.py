"""Suite-wide fixtures: every test must leave no papyra thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

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
