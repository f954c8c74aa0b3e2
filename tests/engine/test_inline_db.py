"""The hot path's database calls on the event loop's thread (scenarios/inline_db.py): they run at
once on one kept connection, and a call that finds the writers' lock taken (another process in a
transaction) waits for it off the loop, which goes on serving, then runs once holding it."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from scenarios import inline_db
from scenarios.inline_db import quick_db
from scenarios.sqlite3.base import DatabaseWrapper
from teams.models import Team

pytestmark = pytest.mark.django_db(transaction=True)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded default's (SQLite)")


@pytest.fixture(autouse=True)
async def closed_at_the_end():
    yield
    inline_db.close()


@pytest.fixture
def other_process() -> Any:
    """A second connection to the test database, as another web process would hold."""
    other = DatabaseWrapper({**connection.settings_dict}, alias="other-process")
    other.inc_thread_sharing()
    yield other
    if not other.get_autocommit():
        other.rollback()
    other.close()


def begin(other: DatabaseWrapper) -> None:
    other.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def where_and_how() -> tuple[int, int, int]:
    teams = Team.objects.count()  # the ORM works here: no SynchronousOnlyOperation
    return threading.get_ident(), id(connection.connection), teams


def add_team(name: str, runs: list[str]) -> None:
    runs.append(name)  # before the transaction: may run twice
    with transaction.atomic():
        Team.objects.create(name=name)


@on_sqlite
async def test_a_hot_path_call_runs_on_the_loops_own_thread_on_one_kept_connection():
    first = await quick_db(where_and_how)
    second = await quick_db(where_and_how)
    assert first[0] == threading.get_ident()
    assert first[:2] == second[:2]


@on_sqlite
async def test_a_call_that_finds_the_lock_taken_waits_off_the_loop_then_runs_once(other_process):
    begin(other_process)
    runs: list[str] = []
    call = asyncio.create_task(quick_db(add_team, "acme", runs))
    ticks = 0
    for _ in range(10):
        await asyncio.sleep(0.01)
        ticks += 1  # the loop goes on serving meanwhile
    assert ticks == 10 and not call.done()
    assert runs == ["acme"], "stopped before its transaction began"
    other_process.rollback()
    await asyncio.wait_for(call, 5)
    assert runs == ["acme", "acme"]
    assert await quick_db(lambda: Team.objects.filter(name="acme").count()) == 1


@on_sqlite
async def test_calls_take_turns_while_one_waits_for_the_lock(other_process):
    begin(other_process)
    order: list[str] = []

    def read() -> None:
        Team.objects.count()
        order.append("read")

    writer = asyncio.create_task(quick_db(add_team, "first", order))
    await asyncio.sleep(0.05)
    reader = asyncio.create_task(quick_db(read))
    await asyncio.sleep(0.05)
    assert not reader.done(), "a second call must not slip onto the lock taken for the first"
    other_process.rollback()
    await asyncio.wait_for(asyncio.gather(writer, reader), 5)
    assert order == ["first", "first", "read"]


@on_sqlite
async def test_a_lock_that_stays_taken_fails_the_call_as_sqlite_would_and_writes_nothing(
    other_process, monkeypatch
):
    here = await quick_db(lambda: connection)
    monkeypatch.setitem(here.settings_dict["OPTIONS"], "timeout", 0.2)
    begin(other_process)
    with pytest.raises(OperationalError, match="database is locked"):
        await quick_db(add_team, "never", [])
    other_process.rollback()
    assert await quick_db(lambda: Team.objects.filter(name="never").exists()) is False
    await quick_db(add_team, "after", [])  # and the connection serves the next call


async def test_with_the_setting_off_calls_go_to_the_database_threads(settings):
    settings.EXECUTOR_DB_ON_LOOP = False
    where, _, _ = await quick_db(where_and_how)
    assert where != threading.get_ident()


@on_sqlite
async def test_a_call_cancelled_while_it_waits_leaves_the_lock_free_and_writes_nothing(other_process):
    begin(other_process)
    call = asyncio.create_task(quick_db(add_team, "cancelled", []))
    await asyncio.sleep(0.05)
    call.cancel()
    await asyncio.sleep(0.05)
    assert not call.done(), "it waits for the lock it asked for before it stops"
    other_process.rollback()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(call, 5)
    begin(other_process)  # free again: no lock is left taken for nobody
    other_process.rollback()
    assert await quick_db(lambda: Team.objects.filter(name="cancelled").exists()) is False
