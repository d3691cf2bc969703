"""Suite-wide fixtures: every test leaves no papyra thread and no child process behind, every
test module leaves no process of the run and no file outside ``tmp_path`` behind
(:mod:`tests.support.leftovers`), and Papyra never runs user code, a hook or a thread start while
holding one of its locks (debug-mode check)."""

from __future__ import annotations

import os

# Before papyra is imported (here and in every subprocess the tests start): track lock holding.
os.environ["PAPYRA_DEBUG_LOCKS"] = "1"

import time
from collections.abc import Iterator

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from papyra import _locks
from tests.support import child, leftovers
from tests.support.redis_server import redis_server  # noqa: F401  (suite-wide fixture)

# Before anything creates a temporary file: the run's own temp directory, checked per module.
TEMPDIR = leftovers.private_tempdir()
# Hypothesis caches (it writes some while strategies are built, in any module that uses it) go to
# a directory of the run that lives as long as the session, not into the worktree.
HYPOTHESIS_HOME = TEMPDIR / "hypothesis"
leftovers.keep_for_session(path=str(HYPOTHESIS_HOME))
set_hypothesis_home_dir(str(HYPOTHESIS_HOME))


@pytest.fixture(scope="module", autouse=True)
def no_leftovers_per_module() -> Iterator[None]:
    """Fail a test module that leaves a process of this run running (killed here, by PID), or a
    new file in the repository or in the run's temporary directory (outside ``tmp_path``)."""
    before_procs = set(leftovers.run_processes())
    before_files = leftovers.tree_files(child.ROOT) | leftovers.tree_files(TEMPDIR)
    yield
    stray = {pid: cmd for pid, cmd in leftovers.run_processes().items() if pid not in before_procs}
    leftovers.kill_processes(stray)
    files = sorted((leftovers.tree_files(child.ROOT) | leftovers.tree_files(TEMPDIR)) - before_files)
    assert not (stray or files), f"the module left processes: {stray}, files outside tmp_path: {files}"


@pytest.fixture(autouse=True)
def no_leaked_children() -> Iterator[None]:
    """Fail a test that leaves a :class:`~tests.support.child.Child` running (it is killed)."""
    yield
    running = list(child.LIVE)
    for proc in running:
        proc.kill()
    assert not running, f"test left child processes running: {[c.proc.args for c in running]}"


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a papyra-* thread running. Stragglers that are on their way out
    (a retiring worker, a writer finishing its last batch) are joined, up to 60 s in all: a hang
    guard, not a timing assumption."""
    before = leftovers.papyra_threads()
    yield
    deadline = time.monotonic() + 60.0
    leaked = leftovers.papyra_threads() - before
    while leaked and time.monotonic() < deadline:
        for thread in leaked:
            thread.join(max(0.0, deadline - time.monotonic()))
        leaked = leftovers.papyra_threads() - before  # a joined thread may have started another
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
