"""Django's SQLite backend whose write transactions queue on a lock file instead of SQLite's busy handler.

Several processes may share one SQLite file (the embedded default runs a web process per core).
SQLite lets one writer in at a time and makes the others wait in its busy handler, which sleeps 1,
2, 5, 10… ms between tries: under load a writer waits far longer than the transaction it waits for
(p99 over 400 ms at 8 clients with two processes). Every transaction here starts `BEGIN IMMEDIATE`
(settings), so it is a writer from its first statement; this backend takes an exclusive `flock` on
`<database>.lock` first and drops it at commit or rollback, so writers queue in the kernel and the
next one goes in as soon as the last one leaves. The wait is bounded by the database's `timeout`
and then fails as SQLite would ("database is locked"), never hangs. Writes outside a transaction
(autocommit) do not take it: SQLite's own lock still guards them, only less promptly.

Checkpoints (copying the WAL back into the database) are not left to whichever commit pushes the
log past its limit: a thread of each process does them off the writers' path (checkpoint.py).
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from scenarios.sqlite3 import checkpoint, lockfile


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _locked = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            name = str(self.settings_dict["NAME"])
            self._lock_fd = os.open(f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            checkpoint.ensure_running(name, f"{name}.lock")
            connection.execute("PRAGMA wal_autocheckpoint=0")
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        self._lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._unlock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._unlock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._unlock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._unlock()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _lock(self) -> None:
        if self._lock_fd is None or self._locked:
            return
        if lockfile.no_wait.get():
            lockfile.no_wait.set(False)
            if not lockfile.acquire(self._lock_fd, 0):
                raise lockfile.WouldWait
        else:
            timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
            if not lockfile.acquire(self._lock_fd, time.monotonic() + timeout):
                raise OperationalError("database is locked")
        self._locked = True

    def take_lock(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the writers' lock, for this connection's next
        transaction (blocking: meant for a thread while the connection's own thread does other
        work) on an open connection. Call `adopt_lock` in the connection's thread once it returns True."""
        if self._lock_fd is None:
            return False
        return lockfile.acquire(self._lock_fd, time.monotonic() + timeout)

    def adopt_lock(self) -> None:
        self._locked = True

    def drop_unused_lock(self) -> None:
        """Release a lock taken by `take_lock` that no transaction used."""
        if not self.in_atomic_block:
            self._unlock()

    def _unlock(self) -> None:
        if self._locked and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._locked = False
