"""The cross-process store lock of a file store (``<store path>.lock``).

Two libraries, one lock: both take ``flock(2)`` on the same lock file, so they exclude each other
(also between two descriptors of one process). Each does the job it is best at:

* :class:`BatchLock` (portalocker) — the **writer's** per-batch lock. The lock file is opened once
  for the writer's whole life and locked/unlocked around each batch append: about 13 µs per
  batch instead of about 200 µs for an open+lock+close cycle. It blocks until the lock is free
  (the writer thread has nothing better to do; ``record_*`` callers never wait for it).
  portalocker is imported **lazily**, when a writer first takes its batch lock: ``import
  portalocker`` also imports its Redis lock module, hence ``redis``, ``asyncio`` and (with recent
  redis-py) ``opentelemetry`` whenever redis is installed — about 100 ms that reads, scans,
  compaction, recovery and the CLI's read-only commands must not pay.
* :func:`maintenance_lock` (filelock) — **maintenance** operations (compaction, recovery, CLI
  destructive commands): acquired once per operation with a timeout, polling, and a clean
  :class:`~papyra.exceptions.LockTimeout` when another process holds it too long.

The lock file is created ``O_EXCL | O_NOFOLLOW`` with the owner, group and mode of the store (so
maintenance run as root leaves it usable by the store's owner), an existing one must be a regular
file that is safe to use (:mod:`papyra.persistence.ownership`), and it is never deleted
(deleting a flock file would let two holders lock different inodes).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from papyra.exceptions import DurabilityError, LockTimeout, PersistenceError, UnsafeFileError
from papyra.persistence.ownership import make_private_dirs, open_or_create

__all__ = ["BatchLock", "lock_path_for", "maintenance_lock", "open_lock_file"]


def lock_path_for(path: str | os.PathLike[str]) -> Path:
    """The lock file of a store: ``<path>.lock`` (the name with ``.lock`` appended)."""
    p = Path(path)
    return p.with_name(p.name + ".lock")


def open_lock_file(path: Path, store_path: Path, file_mode: int) -> int:
    """Open the lock file read-write, creating it (and its directories, ``0700``) if missing with
    the owner, group and mode of the store; an existing one is checked like a store file
    (:mod:`papyra.persistence.ownership`). Raises ``OSError`` or UnsafeFileError."""
    make_private_dirs(path.parent)
    return open_or_create(path, os.O_RDWR, like=(store_path,), file_mode=file_mode)


class BatchLock:
    """A long-lived handle on ``<path>.lock`` locked per batch with portalocker. Not thread-safe
    (one writer thread owns it)."""

    def __init__(self, store_path: str | os.PathLike[str], *, file_mode: int = 0o600) -> None:
        self.path = lock_path_for(store_path)
        self.store_path = Path(store_path)
        self.file_mode = file_mode
        self._fd: int | None = None  # opened on first use (by the writer thread)
        self._held = False
        self._closed = False

    def _handle(self) -> int:
        if self._fd is None:
            if self._closed:
                raise PersistenceError("lock handle is closed")
            try:
                self._fd = open_lock_file(self.path, self.store_path, self.file_mode)
            except UnsafeFileError:
                raise
            except OSError as exc:
                err = DurabilityError(exc.errno, f"cannot open lock file {self.path}: {exc.strerror}")
                raise err from exc
        return self._fd

    @property
    def held(self) -> bool:
        """True between a successful acquire and the matching release."""
        return self._held

    def acquire(self) -> None:
        """Block until the store lock is ours. The first call imports portalocker (module docs)."""
        import portalocker

        fd = self._handle()
        try:
            portalocker.lock(fd, portalocker.LockFlags.EXCLUSIVE)
        except (portalocker.LockException, OSError) as exc:
            raise DurabilityError(f"cannot lock {self.path}: {exc}") from exc
        self._held = True

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; never blocks."""
        import portalocker

        fd = self._handle()
        try:
            portalocker.lock(fd, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.AlreadyLocked:
            return False
        except (portalocker.LockException, OSError) as exc:
            raise DurabilityError(f"cannot lock {self.path}: {exc}") from exc
        self._held = True
        return True

    def release(self) -> None:
        """Unlock (the handle stays open for the next batch). No-op when not held."""
        if self._fd is not None and self._held:
            import portalocker  # already imported by acquire()

            self._held = False
            portalocker.unlock(self._fd)

    @contextlib.contextmanager
    def held_for_batch(self) -> Iterator[None]:
        """``with lock.held_for_batch(): ...`` — acquire, run, release."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def close(self) -> None:
        """Release (if held) and close the handle. Idempotent."""
        self._closed = True
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.release()
        fd, self._fd = self._fd, None
        os.close(fd)


@contextlib.contextmanager
def maintenance_lock(
    store_path: str | os.PathLike[str], *, timeout: float, file_mode: int = 0o600
) -> Iterator[None]:
    """Hold the store lock for a whole maintenance operation (filelock, with a timeout).

    Raises :class:`~papyra.exceptions.LockTimeout` (a ``TimeoutError``) when another process
    keeps the lock for longer than ``timeout`` seconds (``timeout <= 0``: a single attempt).
    Other failures to take the lock raise a :class:`~papyra.exceptions.PersistenceError`
    (:class:`~papyra.exceptions.UnsafeFileError` for a lock file that is not safe to use).
    """
    import filelock  # lazily: some versions load asyncio at import; only maintenance needs it

    path = lock_path_for(store_path)
    try:  # created (or checked) here so that it gets the store's owner, group and mode
        os.close(open_lock_file(path, Path(store_path), file_mode))
    except UnsafeFileError:
        raise
    except OSError as exc:
        raise PersistenceError(f"cannot open the store lock {path}: {exc}") from exc
    lock = filelock.FileLock(
        str(path), timeout=max(0.0, timeout), mode=file_mode, poll_interval=0.01, thread_local=False
    )
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise LockTimeout(
            f"store lock {path} is held by another process (waited {timeout:g} s)"
        ) from exc
    except OSError as exc:
        raise PersistenceError(f"cannot take the store lock {path}: {exc}") from exc
    try:
        yield
    finally:
        lock.release()
