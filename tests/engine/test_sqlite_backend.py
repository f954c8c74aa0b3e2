"""The SQLite backend queues write transactions of several connections (processes) on a lock file:
the next writer goes in as soon as the last one commits or rolls back, and a writer that cannot get
in within the database's timeout fails as SQLite would, instead of hanging."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError

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
