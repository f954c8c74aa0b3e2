"""The executions several wake-ups named are claimed together: one statement claims every one of
them that still waits, oldest first, each with its own team and credentials, and leaves the rest
(claimed already, or not queued) alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction

from scenarios.models import Execution
from scenarios.runtime import jobs
from scenarios.runtime.engine import Job, create_execution
from tests.engine.conftest import build
from tests.engine.test_woken_claim_credentials import credential_of
from tests.waiting import HANG

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]

ES = Execution.Status


def queued(scenario: Any) -> Execution:
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.QUEUED
    return execution


def with_secret(team: Any, name: str) -> Any:
    secret = credential_of(team, name, f"sk-{name.lower()}-secret-0001")
    return build(team, {1: ("test.trigger", {}), 2: ("test.secret", {}, secret)}, [(1, 2)]), secret


def test_executions_named_together_are_claimed_in_one_statement_oldest_first_each_with_its_own_credential(
    cast, django_assert_num_queries
):
    (ours, our_secret), (theirs, their_secret) = (
        with_secret(cast.team, "Ours"),
        with_secret(cast.other_team, "Theirs"),
    )
    first, second, third = queued(ours), queued(theirs), queued(ours)
    named = [third.pk, first.pk, second.pk]  # in the order their wake-ups happened to arrive
    # PostgreSQL: one statement claims them all and reads their teams and credentials; SQLite's
    # claim is one statement too, then each job reads its credentials.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 1 + len(named)):
        claimed = jobs.claim_woken("worker", 30, named)
    assert [lease.pk for lease in claimed] == [first.pk, second.pk, third.pk]
    assert all((lease.attempt, lease.owner) == (1, "worker") for lease in claimed)
    loaded = [lease.loaded for lease in claimed]
    assert all(isinstance(job, Job) for job in loaded)
    assert [job.team_id for job in loaded] == [cast.team.pk, cast.other_team.pk, cast.team.pk]
    if connection.vendor == "postgresql":
        assert [set(job.credentials.by_id) for job in loaded] == [
            {str(our_secret.pk)},
            {str(their_secret.pk)},
            {str(our_secret.pk)},
        ]
    rows = Execution.objects.filter(pk__in=named)
    assert {(row.status, row.attempt, row.lease_owner) for row in rows} == {(ES.RUNNING, 1, "worker")}


def test_of_the_executions_named_only_those_still_queued_are_claimed(cast):
    scenario, _ = with_secret(cast.team, "Ours")
    taken, waiting, cancelled = queued(scenario), queued(scenario), queued(scenario)
    assert [lease.pk for lease in jobs.claim_woken("another worker", 30, [taken.pk])] == [taken.pk]
    Execution.objects.filter(pk=cancelled.pk).update(status=ES.CANCELLED)
    claimed = jobs.claim_woken("worker", 30, [taken.pk, "not a key", waiting.pk, cancelled.pk])
    assert [lease.pk for lease in claimed] == [waiting.pk]
    taken.refresh_from_db()
    assert (taken.lease_owner, taken.attempt) == ("another worker", 1)  # not claimed twice


def test_naming_nothing_claimable_claims_nothing(cast):
    assert jobs.claim_woken("worker", 30, ["not a key"]) == []
    assert jobs.claim_woken("worker", 30, []) == []


def test_workers_claiming_the_same_rows_at_once_each_take_rows_of_their_own_and_none_waits_or_fails(cast):
    scenario, _ = with_secret(cast.team, "Ours")
    named = [queued(scenario).pk for _ in range(12)]
    start = threading.Barrier(2)

    def worker(name: str, order: list[Any]) -> list[Any]:
        try:
            start.wait()
            return [lease.pk for lease in jobs.claim_woken(name, 30, order)]
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(worker, "first", named)
        second = pool.submit(worker, "second", named[::-1])  # the same rows, the other way round
        claimed = {"first": first.result(), "second": second.result()}
    assert sorted(claimed["first"] + claimed["second"]) == sorted(named)  # every row, each once
    owners = dict(Execution.objects.filter(pk__in=named).values_list("pk", "lease_owner"))
    assert {pk: owners[pk] for pk in named} == {pk: name for name, pks in claimed.items() for pk in pks}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no row locks: its writers queue")
def test_a_row_another_transaction_holds_is_skipped_not_waited_for(cast):
    scenario, _ = with_secret(cast.team, "Ours")
    held, free = queued(scenario), queued(scenario)
    locked, done = threading.Event(), threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                Execution.objects.select_for_update().get(pk=held.pk)
                locked.set()
                done.wait(HANG)
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(holder)
        assert locked.wait(HANG)
        # A claim that waited for the lock would fail here instead of hanging the run.
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '60s'")
        try:
            claimed = jobs.claim_woken("worker", 30, [held.pk, free.pk])
        finally:
            done.set()
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        holding.result()
    assert [lease.pk for lease in claimed] == [free.pk]
    held.refresh_from_db()
    assert held.status == ES.QUEUED  # left for the claim that holds it, or the next round
