"""An advisory lock on a file (``fcntl.flock``): at most one process trains a run.

The run store takes ``<root>/<key>/.lock`` while a process trains that run (locally, or
for a run sent to a Dask cluster, while the submitting process waits for it). The
kernel drops the lock when its holder exits for any reason, SIGKILL included, so a lock
never outlives a dead process and no stale-lock cleanup exists or is needed.

``flock`` works between processes of one machine and, on Linux, over NFS (emulated
with byte-range locks); it is POSIX only. Without ``fcntl`` (Windows) the lock is a
no-op and the store is safe for one process at a time only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class FileLock:
    """An exclusive lock on ``path`` (created if missing, never deleted).

    Not reentrant within one process: a second ``FileLock`` on the same path opens its
    own descriptor and, with ``flock``, waits for the first like another process would.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False at once if another
        holder has it. Returns True when this object holds the lock."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:  # e.g. Ctrl-C while waiting
                os.close(fd)
                raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Drop the lock (closing the descriptor releases it); a no-op if not held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """The lock for the block (waiting for it first)."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def __del__(self) -> None:
        self.release()


def run_lock(run_dir: str | os.PathLike) -> FileLock:
    """The lock of the run in ``run_dir`` (``run_dir/.lock``)."""
    return FileLock(Path(run_dir) / LOCK_NAME)


__all__ = ["FileLock", "run_lock", "LOCK_NAME"]
