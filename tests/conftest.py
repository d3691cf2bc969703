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
    """Fail a test that leaves a papyra-* thread running (waits up to 5 s for stragglers)."""
    before = _papyra_threads()
    yield
    deadline = time.monotonic() + 5.0
    leaked = _papyra_threads() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.01)
        leaked = _papyra_threads() - before
    assert not leaked, f"test leaked threads: {sorted(t.name for t in leaked)}"
