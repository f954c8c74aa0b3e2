"""The claims' plain statements select what the ORM's did: `claimable_rows` the rows `claimable`
selects, a claim from `Rows` the row a queryset claim takes (and names the worker it takes over
from), and a job's load the execution and team the fenced `select_related` query gave."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from durable import leases
from scenarios.models import Execution, Scenario
from scenarios.runtime import engine, jobs

pytestmark = pytest.mark.django_db

ES = Execution.Status


def rows_in_every_state(make_job: Any) -> list[Execution]:
    now = timezone.now()
    past, future = now - timedelta(seconds=5), now + timedelta(seconds=60)
    states: list[dict[str, Any]] = [
        {"status": ES.QUEUED},
        {"status": ES.WAITING, "wake_at": past},
        {"status": ES.WAITING, "wake_at": future},
        {"status": ES.WAITING, "wake_at": None},
        {"status": ES.RUNNING, "attempt": 1, "lease_owner": "gone", "lease_until": past},
        {"status": ES.RUNNING, "attempt": 3, "lease_owner": "gone", "lease_until": past},  # exhausted
        {"status": ES.RUNNING, "attempt": 4, "lease_owner": "gone", "lease_until": past},
        {"status": ES.RUNNING, "attempt": 1, "lease_owner": "alive", "lease_until": future},
        {"status": ES.RUNNING, "attempt": 1, "lease_owner": "odd", "lease_until": None},
        {"status": ES.SUCCEEDED},
        {"status": ES.FAILED, "lease_until": past},
    ]
    made = []
    for fields in states:
        job = make_job(max_attempts=3)
        Execution.objects.filter(pk=job.pk).update(**fields)
        made.append(job)
    return made


def selected(rows: leases.Rows) -> set[Any]:
    pk = Execution._meta.pk
    assert pk is not None
    table = connection.ops.quote_name(Execution._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name(str(pk.column))} FROM {table} WHERE {rows.where}", rows.params
        )
        return {pk.to_python(value) for (value,) in cursor.fetchall()}


def test_the_plain_condition_selects_what_claimable_selects(make_job):
    made = rows_in_every_state(make_job)
    now = timezone.now()
    expected = set(jobs.claimable(now).values_list("pk", flat=True))
    assert (
        len(expected) == 3
    )  # the queued one, the one whose wait is over, the expired one with attempts left
    assert selected(jobs.claimable_rows(now)) == expected
    for job in made:
        assert selected(jobs.claimable_rows(now, job.pk)) == set(
            jobs.claimable(now).filter(pk=job.pk).values_list("pk", flat=True)
        )


def test_a_round_leaves_the_executions_queued_since_it_began_to_their_wake_ups(make_job):
    made = rows_in_every_state(make_job)
    began = timezone.now()
    queued_later = make_job()  # its wake-up is on the way
    Execution.objects.filter(pk=made[4].pk).update(created_at=began + timedelta(seconds=1))  # expired lease
    Execution.objects.filter(pk=made[1].pk).update(created_at=began + timedelta(seconds=1))  # wait over
    now = timezone.now()
    everything = set(jobs.claimable(now).values_list("pk", flat=True))
    assert queued_later.pk in everything
    assert selected(jobs.claimable_rows(now, queued_before=began)) == everything - {queued_later.pk}
    lease = jobs.claim("round", 30, began)
    assert lease is not None and lease.pk != queued_later.pk
    while lease is not None:  # the round claims everything else, never the newcomer
        assert lease.pk != queued_later.pk
        lease = jobs.claim("round", 30, began)
    assert Execution.objects.get(pk=queued_later.pk).status == ES.QUEUED
    assert jobs.claim("next round", 30, timezone.now()) is not None


def test_a_claim_from_plain_rows_takes_the_row_a_queryset_claim_takes(make_job):
    first, second = make_job(), make_job()
    Execution.objects.filter(pk=second.pk).update(created_at=first.created_at + timedelta(seconds=1))
    rows = jobs.claimable_rows(timezone.now())
    newest = leases.claim_one(rows, "me", 30, order_by="-created_at", status=ES.RUNNING)
    assert newest is not None and newest.pk == second.pk and newest.attempt == 1
    oldest = leases.claim_one(rows, "me", 30, status=ES.RUNNING)
    assert oldest is not None and oldest.pk == first.pk
    assert leases.claim_one(rows, "me", 30, status=ES.RUNNING) is None
    claimed = Execution.objects.get(pk=first.pk)
    assert (claimed.status, claimed.attempt, claimed.lease_owner) == (ES.RUNNING, 1, "me")


def test_a_takeover_from_plain_rows_names_the_lost_worker(make_job, caplog):
    job = make_job()
    ended = timezone.now() - timedelta(seconds=5)
    Execution.objects.filter(pk=job.pk).update(
        status=ES.RUNNING, attempt=1, lease_owner="lost", lease_until=ended
    )
    lease = leases.claim_one(jobs.claimable_rows(timezone.now()), "next", 30)
    assert lease is not None and (lease.pk, lease.attempt) == (job.pk, 2)
    assert f"from lost (lease ended {ended.isoformat()}) to next, attempt 2" in caplog.text


def test_a_job_loads_its_execution_and_team_only_while_its_lease_holds(make_job):
    job = make_job()
    [lease] = jobs.claim_woken("me", 30, [job.pk])
    loaded = engine.load_job(lease)
    assert loaded is not None
    assert loaded.execution.pk == job.pk and loaded.execution.status == ES.RUNNING
    assert loaded.team_id == Scenario.objects.get(pk=job.scenario_id).team_id
    Execution.objects.filter(pk=job.pk).update(attempt=2)
    assert engine.load_job(lease) is None


def test_a_woken_claim_carries_its_job_as_a_load_would_give_it_in_one_statement(
    make_job, django_assert_num_queries
):
    job = make_job()
    with django_assert_num_queries(1):  # the claim, returning the row and its team (no credentials here)
        [lease] = jobs.claim_woken("me", 30, [job.pk])
    assert lease.loaded is not None
    loaded = engine.load_job(lease)
    assert loaded is not None
    names = [field.attname for field in Execution._meta.concrete_fields]
    assert [getattr(lease.loaded.execution, name) for name in names] == [
        getattr(loaded.execution, name) for name in names
    ]
    assert lease.loaded.team_id == loaded.team_id == Scenario.objects.get(pk=job.scenario_id).team_id
    assert jobs.claim_woken("another", 30, [job.pk]) == []  # claimed once


def test_a_claim_looks_only_through_the_executions_that_are_not_over(make_job):
    rows_in_every_state(make_job)
    rows = jobs.claimable_rows(timezone.now())
    quote = connection.ops.quote_name
    table = quote(Execution._meta.db_table)
    statement = (
        f"SELECT {table}.{quote('id')} FROM {table} WHERE {rows.where} "
        f"ORDER BY {table}.{quote('created_at')} ASC LIMIT 1"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a table this small would be read whole
            cursor.execute(f"EXPLAIN {statement}", rows.params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", rows.params)
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)

    # Seeks by status, or the index of the executions that are not over: never the whole history.
    if connection.vendor == "postgresql":
        assert "execution_active" in plan, plan
    else:
        assert "SEARCH" in plan and "SCAN scenarios_execution" not in plan, plan


def test_the_claim_repeats_the_active_indexs_condition_in_its_order():
    # SQLite matches a partial index's condition against the query's text, statuses in order.
    [index] = [index for index in Execution._meta.indexes if index.name == "execution_active"]
    assert index.condition == Q(status__in=[status.value for status in Execution.CLAIMABLE])
