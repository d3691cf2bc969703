"""What a test must not leave behind: papyra threads, processes, and files outside ``tmp_path``.

``tests/conftest.py`` checks after every test (papyra threads, running :class:`Child` processes)
and after every test module (every process this run started, grandchildren included, and the
files of the repository and of the run's private temporary directory). Things a session-scoped
fixture keeps for the whole run (the shared ``redis-server`` and its directory) are registered
with :func:`keep_for_session` and not counted.

Processes are found in ``/proc``: children of this process, and every process whose environment
carries this run's mark (:data:`RUN_MARK`, inherited by the children's children). Only processes
of this run are ever killed, by PID.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "RUN_MARK",
    "keep_for_session",
    "kill_processes",
    "papyra_threads",
    "private_tempdir",
    "run_processes",
    "tree_files",
]

RUN_MARK = "PYTEST_PAPYRA_RUN"  # not PAPYRA_*: CLI children get the environment without those
_SESSION_PIDS: set[int] = set()
_SESSION_PATHS: set[str] = set()
_IGNORED_DIRS = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".benchmarks"}
)


def private_tempdir() -> Path:
    """Give this run (and every child it starts) its own temporary directory, removed at exit:
    ``TMPDIR`` and :mod:`tempfile` point into a fresh directory (sticky and world-writable like
    ``/tmp``: children running as another user use it too), and :data:`RUN_MARK` marks the
    run's processes. pytest's own ``tmp_path`` base stays where it was
    (``PYTEST_DEBUG_TEMPROOT``), so it is kept for debugging as usual."""
    base = tempfile.gettempdir()
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", base)
    private = Path(tempfile.mkdtemp(prefix="papyra-tests-", dir=base))
    os.chmod(private, 0o1777)
    atexit.register(shutil.rmtree, private, True)
    os.environ["TMPDIR"] = str(private)
    os.environ[RUN_MARK] = uuid.uuid4().hex
    tempfile.tempdir = str(private)
    return private


def keep_for_session(*, pid: int | None = None, path: str | None = None) -> None:
    """Register a process or a file that a session-scoped fixture keeps for the whole run."""
    if pid is not None:
        _SESSION_PIDS.add(pid)
    if path is not None:
        _SESSION_PATHS.add(os.path.realpath(path))


def papyra_threads() -> set[threading.Thread]:
    """The live threads Papyra started (named ``papyra…``)."""
    return {t for t in threading.enumerate() if t.name.startswith("papyra") and t.is_alive()}


def _stat_ppid(pid: str) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def run_processes() -> dict[int, str]:
    """``{pid: command line}`` of the processes of this run (children of this process, and any
    process carrying :data:`RUN_MARK`), without session-scoped ones; zombies included."""
    me = os.getpid()
    mark = f"{RUN_MARK}={os.environ[RUN_MARK]}".encode()
    found: dict[int, str] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me or int(name) in _SESSION_PIDS:
            continue
        try:
            ppid = _stat_ppid(name)
            with open(f"/proc/{name}/environ", "rb") as f:
                marked = mark in f.read().split(b"\0")
            with open(f"/proc/{name}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if ppid == me or marked:
            found[int(name)] = command or "<zombie>"
    return found


def kill_processes(pids: Iterable[int]) -> None:
    """SIGKILL each process (by PID) and reap the ones that are this process's children."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # not our child (a grandchild): init reaps it


def tree_files(root: Path) -> set[str]:
    """Every file and directory under ``root`` (caches and ``.git`` left out), minus the paths
    kept for the session."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(os.path.realpath(root)):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS and not d.endswith(".egg-info")]
        for name in (*dirnames, *filenames):
            found.add(os.path.join(dirpath, name))
    return {
        p for p in found if not any(p == kept or p.startswith(kept + os.sep) for kept in _SESSION_PATHS)
    }
