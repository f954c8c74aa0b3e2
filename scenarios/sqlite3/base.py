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
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# Waiting for the lock: try again after 50 µs, doubling up to 1 ms (a transaction here takes
# about 0.1 to 1 ms), so the wait costs a few wake-ups, not the 5 ms steps of SQLite's handler.
FIRST_WAIT = 0.00005
LONGEST_WAIT = 0.001


class DatabaseWrapper(base.DatabaseWrapper):
    _lock_fd: int | None = None
    _locked = False

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            self._lock_fd = os.open(f"{self.settings_dict['NAME']}.lock", os.O_RDWR | os.O_CREAT, 0o600)
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
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        deadline = time.monotonic() + timeout
        wait = FIRST_WAIT
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(wait)
                wait = min(wait * 2, LONGEST_WAIT)
                continue
            self._locked = True
            return

    def _unlock(self) -> None:
        if self._locked and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        self._locked = False
