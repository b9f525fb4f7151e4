"""One writer per data folder: the daemon, or a CLI command that writes, holds a lock on it.

Two writers would crawl into the same SQLite files and mail the same alerts from two ledgers,
so a second one refuses to start and names the process that holds the folder. The lock is
``flock`` on a file in the folder: the kernel drops it when the holder dies, even by SIGKILL,
so a crash never leaves a stale lock behind to clean up by hand.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "mediawatch.lock"


class DataDirBusy(Exception):
    """The data folder is held by another process; ``pid`` and ``holder`` say which."""

    def __init__(self, path: Path, pid: int | None, holder: str) -> None:
        self.path, self.pid, self.holder = path, pid, holder
        who = f"PID {pid}" if pid else "another process"
        what = f" (mediawatch {holder})" if holder else ""
        super().__init__(f"the data folder {path.parent} is in use by {who}{what}; "
                         "stop it first (read-only commands such as search work beside it)")


class DataDirUnusable(OSError):
    """The lock file cannot be made (a read-only or missing folder): says which folder and why."""


class DataDirLock:
    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, holder: str) -> None:
        """Take the lock for ``holder`` (the command's name), or raise DataDirBusy."""
        try:
            # the articles, recipients and crawl state are this user's: a new data folder is not world-readable
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise DataDirUnusable(f"cannot lock the data folder {self.path.parent}: {err.strerror or err}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, name = _read_owner(fd)
            os.close(fd)
            raise DataDirBusy(self.path, pid, name) from None
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {holder}\n".encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds all the same, a second writer just cannot name us

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "DataDirLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder(data_dir: str | Path) -> str | None:
    """The command holding the data folder now ("run" for the daemon), or None. Read from the kernel's
    list of locks (Linux), never by taking the lock: a daemon starting at that moment would find the
    folder taken."""
    path = Path(data_dir) / LOCK_NAME
    try:
        st = path.stat()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    if not any(fields[1:2] == ["FLOCK"] and file_id in fields for fields in map(str.split, locks.splitlines())):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return "another process"
    try:
        return _read_owner(fd)[1] or "another process"
    finally:
        os.close(fd)


def _read_owner(fd: int) -> tuple[int | None, str]:
    # The holder writes its line right after it locks, so a reader can meet an empty file for
    # an instant; the message then says "another process" rather than guessing.
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
    pid = int(text[0]) if text and text[0].isdigit() else None
    return pid, " ".join(text[1:])
