"""The cross-process store lock of a file store (``<store path>.lock``).

Two libraries, one lock: both take ``flock(2)`` on the same lock file, so they exclude each other
(also between two descriptors of one process). Each does the job it is best at:

* :class:`BatchLock` (portalocker) — the **writer's** per-batch lock. The lock file is opened once
  for the writer's whole life and locked/unlocked around each batch append: about 13 µs per
  batch instead of about 200 µs for an open+lock+close cycle. While another process holds the
  lock it waits by polling (non-blocking ``flock`` attempts, 1 ms back-off growing to 10 ms), so
  the wait is **interruptible** (:meth:`BatchLock.cancel`, used by ``close(timeout)``) and
  observable (:attr:`BatchLock.contended_since`, used to bound reads by ``lock_timeout``).
  portalocker is imported **lazily**, when a writer's batch lock is created: ``import
  portalocker`` also imports its Redis lock module, hence ``redis``, ``asyncio`` and (with recent
  redis-py) ``opentelemetry`` whenever redis is installed — about 100 ms that reads, scans,
  compaction, recovery and the CLI's read-only commands must not pay.
* :func:`maintenance_lock` (filelock) — **maintenance** operations (compaction, recovery, CLI
  destructive commands): acquired once per operation with a timeout, polling, and a clean
  :class:`~papyra.exceptions.LockTimeout` when another process holds it too long.

Within one process, both also take a **process lock** (a ``threading.Lock`` per lock file): the
writer holds it only while it holds the ``flock``, and maintenance takes it before its ``flock``.
So a compaction, recovery or rotating-set read waits for this process's own writer to finish its
batch (never bounded by ``lock_timeout``), and a failed ``flock`` attempt always means *another
process* holds the store: ``lock_timeout`` bounds only that wait.

The lock file is created ``O_EXCL | O_NOFOLLOW`` with the owner, group and mode of the store (so
maintenance run as root leaves it usable by the store's owner), an existing one must be a regular
file that is safe to use (:mod:`papyra.persistence.ownership`), and it is never deleted
(deleting a flock file would let two holders lock different inodes).
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

from papyra.exceptions import DurabilityError, LockTimeout, PersistenceError, UnsafeFileError
from papyra.persistence.ownership import make_private_dirs, open_or_create

__all__ = ["BatchLock", "LockWaitCancelled", "lock_path_for", "maintenance_lock", "open_lock_file"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_POLL_FIRST = 0.001  # seconds between flock attempts while another process holds the lock …
_POLL_MAX = 0.01  # … doubling up to this


class LockWaitCancelled(PersistenceError):
    """The writer's wait for the store lock was cancelled (its backend is closing)."""


class _ProcessLock:
    """The in-process half of the store lock (see the module docs); weakly registered."""

    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


_registry_lock = threading.Lock()
_process_locks: weakref.WeakValueDictionary[str, _ProcessLock] = weakref.WeakValueDictionary()


def _process_lock(lock_path: Path) -> _ProcessLock:
    key = os.path.abspath(lock_path)
    with _registry_lock:
        plock = _process_locks.get(key)
        if plock is None:
            plock = _process_locks[key] = _ProcessLock()
        return plock


def _forget_process_locks() -> None:
    """In a forked child only the forking thread survives: locks held by the parent's other
    threads would never be released, so the child starts with fresh ones."""
    global _registry_lock, _process_locks
    _registry_lock = threading.Lock()
    _process_locks = weakref.WeakValueDictionary()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_process_locks)


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
    (one writer thread owns it), except :meth:`cancel` and :attr:`contended_since`."""

    def __init__(self, store_path: str | os.PathLike[str], *, file_mode: int = 0o600) -> None:
        self.path = lock_path_for(store_path)
        self.store_path = Path(store_path)
        self.file_mode = file_mode
        self._fd: int | None = None  # opened on first use (by the writer thread)
        self._held = False
        self._closed = False
        self._plock = _process_lock(self.path)
        # imported here, on the caller's thread, not by the writer thread: its imports register
        # atexit hooks, which fails when the first batch is written at interpreter exit
        try:
            import portalocker  # noqa: F401
        except OSError as exc:  # its import probes for a usable temp directory (a full disk)
            raise DurabilityError(exc.errno, f"cannot load portalocker for {self.path}: {exc}") from exc

        self._cancel = threading.Event()
        self._contended_since: float | None = None

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

    @property
    def contended_since(self) -> float | None:
        """``time.monotonic()`` of the first failed attempt of the wait in progress — another
        process holds the store lock since at least then — or None when not waiting for it."""
        return self._contended_since

    def cancel(self) -> None:
        """Make a wait in :meth:`acquire` (now or later) raise :class:`LockWaitCancelled`.
        Thread-safe; permanent."""
        self._cancel.set()

    def acquire(self) -> None:
        """Wait until the store lock is ours: this process's lock (held by its own maintenance
        at most), then the ``flock``, polled while another process holds it (module docs).
        Raises :class:`LockWaitCancelled` once :meth:`cancel` was called, :class:`DurabilityError`
        if the lock file cannot be used."""
        delay = _POLL_FIRST
        try:
            while True:
                if not self._plock.lock.acquire(timeout=_POLL_MAX):
                    if self._cancel.is_set():
                        raise LockWaitCancelled(f"wait for the store lock {self.path} cancelled")
                    continue
                if self._try_flock():
                    return
                if self._contended_since is None:
                    self._contended_since = time.monotonic()
                if self._cancel.wait(delay):
                    raise LockWaitCancelled(f"wait for the store lock {self.path} cancelled")
                delay = min(delay * 2, _POLL_MAX)
        finally:
            self._contended_since = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now (also of this process's maintenance); never
        waits."""
        return self._plock.lock.acquire(blocking=False) and self._try_flock()

    def _try_flock(self) -> bool:
        """One non-blocking ``flock`` attempt; the caller holds the process lock, which is
        released again unless the attempt succeeds."""
        import portalocker

        try:
            fd = self._handle()
            portalocker.lock(fd, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.AlreadyLocked:
            self._plock.lock.release()
            return False
        except (portalocker.LockException, OSError) as exc:
            self._plock.lock.release()
            raise DurabilityError(f"cannot lock {self.path}: {exc}") from exc
        except BaseException:
            self._plock.lock.release()
            raise
        self._held = True
        return True

    def release(self) -> None:
        """Unlock (the handle stays open for the next batch). No-op when not held."""
        if self._fd is not None and self._held:
            import portalocker  # already imported by acquire()

            self._held = False
            try:
                portalocker.unlock(self._fd)
            finally:
                self._plock.lock.release()

    @contextlib.contextmanager
    def held_for_batch(self) -> Iterator[None]:
        """``with lock.held_for_batch(): ...`` — acquire, run, release."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def forget_after_fork(self) -> None:
        """In a forked child: close this copy of the handle **without** unlocking (an unlock
        would release the lock the parent may hold: both descriptors share one open file)."""
        self._held = False
        self._closed = True
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

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

    First waits (without a bound) for this process's own writer to finish its batch and for
    this process's other maintenance (the process lock, module docs); then raises
    :class:`~papyra.exceptions.LockTimeout` (a ``TimeoutError``) when **another process** keeps
    the lock for longer than ``timeout`` seconds (``timeout <= 0``: a single attempt). Other
    failures to take the lock raise a :class:`~papyra.exceptions.PersistenceError`
    (:class:`~papyra.exceptions.UnsafeFileError` for a lock file that is not safe to use).
    """
    import filelock  # lazily: some versions load asyncio at import; only maintenance needs it

    path = lock_path_for(store_path)
    try:  # created (or checked) here so that it gets the store's owner, group and mode
        fd = open_lock_file(path, Path(store_path), file_mode)
        try:  # filelock (some versions) chmods the file to ``mode``: give it the mode it has
            lock_mode = stat.S_IMODE(os.fstat(fd).st_mode)
        finally:
            os.close(fd)
    except UnsafeFileError:
        raise
    except OSError as exc:
        raise PersistenceError(f"cannot open the store lock {path}: {exc}") from exc
    plock = _process_lock(path)
    lock = filelock.FileLock(
        str(path), timeout=max(0.0, timeout), mode=lock_mode, poll_interval=0.01, thread_local=False
    )
    with plock.lock:
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
