"""The SQLite backend queues write transactions of several connections (processes) on a lock file:
the next writer goes in as soon as the last one commits or rolls back, and a writer that cannot get
in within the database's timeout fails as SQLite would, instead of hanging. A call that must not
wait stops before its first transaction instead; and checkpoints happen off the writers' path."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

from scenarios.sqlite3 import checkpoint, lockfile
from scenarios.sqlite3.base import DatabaseWrapper


def wrapper(path: Path, timeout: float = 5) -> DatabaseWrapper:
    settings: dict[str, Any] = {
        "NAME": str(path),
        "ENGINE": "scenarios.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout},
        "TIME_ZONE": None,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {},
    }
    made = DatabaseWrapper(settings, alias=f"lock-test-{id(settings)}")
    made.inc_thread_sharing()  # one test hands a connection to a thread of its own
    made.ensure_connection()
    return made


def begin(connection: DatabaseWrapper) -> None:
    """What `transaction.atomic()` does first: on SQLite, BEGIN IMMEDIATE (after the lock)."""
    if not connection.get_autocommit():
        connection.set_autocommit(True)
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


@pytest.fixture(autouse=True)
def own_connections(django_db_blocker: Any) -> Any:
    # These tests make connections of their own to files of their own, not to the test database.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite3"
    setup = wrapper(path)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE t (n integer)")
    setup.close()
    return path


def test_a_second_writer_goes_in_as_soon_as_the_first_commits(database):
    first, second = wrapper(database), wrapper(database)
    begin(first)
    with first.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
    entered: list[float] = []

    def write() -> None:
        begin(second)
        entered.append(time.monotonic())
        with second.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES (2)")
        second.commit()

    thread = threading.Thread(target=write)
    thread.start()
    time.sleep(0.2)
    assert entered == []  # waiting for the lock
    committed = time.monotonic()
    first.commit()
    thread.join(5)
    assert (
        entered and entered[0] - committed < 0.02
    )  # SQLite's own handler would be sleeping 25 ms steps by now
    with first.cursor() as cursor:
        cursor.execute("SELECT n FROM t ORDER BY n")
        assert cursor.fetchall() == [(1,), (2,)]
    first.close()
    second.close()


def test_a_writer_that_cannot_get_in_fails_after_the_timeout_instead_of_hanging(database):
    holder, waiter = wrapper(database), wrapper(database, timeout=0.3)
    begin(holder)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        begin(waiter)
    assert 0.3 <= time.monotonic() - started < 2
    holder.rollback()
    begin(waiter)  # the rollback let it go
    waiter.rollback()
    holder.close()
    waiter.close()


def test_closing_a_connection_mid_transaction_lets_the_lock_go(database):
    holder, other = wrapper(database), wrapper(database, timeout=1)
    begin(holder)
    holder.close()
    begin(other)
    other.rollback()
    other.close()


def test_an_in_memory_database_takes_no_lock_file(tmp_path):
    memory = wrapper(Path(":memory:"))
    assert memory._lock_fd is None
    begin(memory)
    memory.rollback()
    memory.close()


# -- a transaction that must not wait (one on an event loop's thread) ------------------------------
def test_a_call_that_must_not_wait_stops_before_its_first_transaction_begins(database):
    holder, caller = wrapper(database), wrapper(database)
    begin(holder)
    token = lockfile.no_wait.set(True)
    try:
        with pytest.raises(lockfile.WouldWait):
            begin(caller)
        assert caller.get_autocommit() and not caller.in_atomic_block, "nothing began"
    finally:
        lockfile.no_wait.reset(token)
    holder.rollback()
    holder.close()
    caller.close()


def test_only_the_first_transaction_of_such_a_call_may_stop(database):
    """Once one transaction of the call ran, stopping at the next would leave it half done."""
    holder, caller = wrapper(database), wrapper(database, timeout=0.2)
    token = lockfile.no_wait.set(True)
    try:
        begin(caller)  # free: goes in, and the call may no longer stop
        caller.commit()
        begin(holder)
        with pytest.raises(OperationalError, match="database is locked"):
            begin(caller)  # waits, as any writer, then fails as SQLite would
    finally:
        lockfile.no_wait.reset(token)
    holder.rollback()
    holder.close()
    caller.close()


def test_a_lock_taken_for_a_connection_by_another_thread_serves_its_next_transaction(database):
    holder, caller = wrapper(database), wrapper(database)
    begin(holder)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(caller.take_lock(5)))
    thread.start()
    time.sleep(0.1)
    assert result == []
    holder.rollback()
    thread.join(5)
    assert result == [True]
    caller.adopt_lock()
    begin(caller)
    with caller.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (3)")
    caller.commit()
    begin(holder)  # the commit let it go
    holder.rollback()
    caller.take_lock(1)
    caller.adopt_lock()
    caller.drop_unused_lock()  # taken, then not needed: let go too
    begin(holder)
    holder.rollback()
    holder.close()
    caller.close()


# -- checkpoints off the writers' path -------------------------------------------------------------
def _log_frames(path: Path) -> int:
    with sqlite3.connect(path) as plain:
        return int(plain.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


def _fill(connection: DatabaseWrapper, rows: int) -> None:
    for start in range(0, rows, 50):
        begin(connection)
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO t (n) VALUES (%s)", [(n,) for n in range(start, start + 50)])
        connection.commit()


def _wait_for_restart(thread: checkpoint.Checkpointer, failure: str) -> None:
    deadline = time.monotonic() + 10
    while thread.restarts == 0:
        assert time.monotonic() < deadline, failure
        time.sleep(0.02)


@pytest.fixture
def wal_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A WAL database whose connections leave checkpoints to a thread; the test starts its own
    (the process's would race it for the checkpoint lock)."""
    monkeypatch.setattr(checkpoint, "ensure_running", lambda path, lock_path: None)
    path = tmp_path / "wal.sqlite3"
    with sqlite3.connect(path) as plain:
        plain.execute("PRAGMA journal_mode=WAL")
        plain.execute("CREATE TABLE t (n integer, padding text default (hex(randomblob(2000))))")
    return path


def test_connections_leave_checkpoints_to_their_processes_thread(database):
    connection = wrapper(database)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (0,)
    running = checkpoint.ensure_running(str(database), f"{database}.lock")
    assert running.is_alive() and running is checkpoint.ensure_running(str(database), "")
    running.stopping.set()
    connection.close()


def test_the_thread_restarts_a_long_log_so_it_does_not_grow_forever(wal_database, monkeypatch):
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.02)
    connection = wrapper(wal_database)
    thread = checkpoint.Checkpointer(str(wal_database), f"{wal_database}.lock")
    _fill(connection, 2500)  # about 1300 pages of 4 KiB: past RESTART_FRAMES
    assert _log_frames(wal_database) >= checkpoint.RESTART_FRAMES
    thread.start()
    try:
        _wait_for_restart(thread, "no restart")
    finally:
        thread.stopping.set()
        thread.join(5)
    _fill(connection, 50)  # the next writer starts the log from its beginning
    assert 0 <= _log_frames(wal_database) < 100
    connection.close()


def test_the_restart_waits_for_the_writers_lock_and_blocks_no_writer_for_long(wal_database, monkeypatch):
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.02)
    monkeypatch.setattr(checkpoint, "LOCK_SECONDS", 0.05)
    connection, holder = wrapper(wal_database), wrapper(wal_database)
    _fill(connection, 2500)
    begin(holder)  # a writer mid-transaction holds the lock
    thread = checkpoint.Checkpointer(str(wal_database), f"{wal_database}.lock")
    thread.start()
    try:
        time.sleep(0.5)
        assert thread.passes > 3 and thread.restarts == 0
        holder.rollback()
        _wait_for_restart(thread, "no restart after the writer left")
    finally:
        thread.stopping.set()
        thread.join(5)
    connection.close()
    holder.close()


def test_a_checkpointer_whose_database_fails_logs_and_carries_on(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(checkpoint, "INTERVAL_SECONDS", 0.02)
    path = tmp_path / "gone.sqlite3"
    path.write_bytes(b"not a database at all, " * 100)
    thread = checkpoint.Checkpointer(str(path), f"{path}.lock")
    thread.start()
    try:
        time.sleep(0.3)
        assert thread.is_alive()
        assert any("checkpoint of" in r.getMessage() for r in caplog.records)
    finally:
        thread.stopping.set()
        thread.join(5)
