"""Checkpointing the write-ahead log off the writers' path.

SQLite copies the WAL back into the database file (a checkpoint) inside the commit that pushes the
WAL past 1000 pages: that commit takes 8 to 20 ms instead of 0.1, holding the write lock, so every
writer of every process waits behind it (measured here: commit p50 75 µs, p99 8 ms). This module's
thread does it instead, once per INTERVAL_SECONDS and on its own connection: a PASSIVE checkpoint
copies what it can while writers go on, then, once the log holds RESTART_FRAMES or more, a RESTART
under the writers' lock file (so it waits for no one and no one waits long: only the frames written
since the passive pass remain) lets the next writer start the log from its beginning again. Without
the restart the log would only grow under steady writes: a passive pass never finds it idle.

Connections of a process where the thread runs turn SQLite's own checkpoints off
(`wal_autocheckpoint=0`); the thread is started by the first connection to a database file.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time

from scenarios.sqlite3.lockfile import acquire

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25
RESTART_FRAMES = 1000
LOCK_SECONDS = 0.5  # how long the restart waits for the writers' lock before trying next time

_running: dict[tuple[int, str], Checkpointer] = {}
_guard = threading.Lock()


class Checkpointer(threading.Thread):
    def __init__(self, path: str, lock_path: str) -> None:
        super().__init__(name="scenery-sqlite-checkpoint", daemon=True)
        self.path = path
        self.lock_path = lock_path
        self.stopping = threading.Event()
        self.passes = self.restarts = 0

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=LOCK_SECONDS, isolation_level=None)
        lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while not self.stopping.wait(INTERVAL_SECONDS):
                try:
                    self.checkpoint(connection, lock_fd)
                except sqlite3.Error as exc:  # e.g. the file went away (a test database): try later
                    log.warning("checkpoint of %s failed: %s", self.path, exc)
        finally:
            connection.close()
            os.close(lock_fd)

    def checkpoint(self, connection: sqlite3.Connection, lock_fd: int) -> None:
        _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.passes += 1
        if frames < RESTART_FRAMES:
            return
        if not acquire(lock_fd, time.monotonic() + LOCK_SECONDS):
            return
        try:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.restarts += not busy
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)


def ensure_running(path: str, lock_path: str) -> Checkpointer:
    """This process's checkpointer of the database at `path` (started on first call; a forked
    child starts its own)."""
    key = (os.getpid(), os.path.realpath(path))
    with _guard:
        checkpointer = _running.get(key)
        if checkpointer is None or not checkpointer.is_alive():
            checkpointer = Checkpointer(path, lock_path)
            checkpointer.start()
            _running[key] = checkpointer
        return checkpointer
