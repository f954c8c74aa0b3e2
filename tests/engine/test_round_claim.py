"""A claim round's claim reads what its run needs with it, as a woken claim does: on PostgreSQL one
statement chooses the oldest claimable execution, claims it and returns it with its team and the
team's credentials, whether it was queued, waiting for its time, or left by a lost worker."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone

from scenarios.models import Execution, NodeRun
from scenarios.runtime import jobs
from scenarios.runtime.engine import Job, create_execution, run_execution
from tests.engine.conftest import build

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]

ES = Execution.Status
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite claims in two statements and the run reads the row"
)


def a_scenario_using(team: Any, credential: Any) -> Any:
    return build(team, {1: ("test.trigger", {}), 2: ("test.secret", {}, credential)}, [(1, 2)])


def queued(scenario: Any) -> Execution:
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.QUEUED
    return execution


@on_postgresql
def test_a_claim_round_claims_and_loads_an_execution_in_one_statement_after_its_two_reads(
    cast, credential, django_assert_num_queries
):
    execution = queued(a_scenario_using(cast.team, credential))
    # The exhausted-lease check, the fairness read, then the claim that also reads the run's needs.
    with django_assert_num_queries(3):
        lease = jobs.claim("worker", 30)
    assert lease is not None and lease.pk == execution.pk and lease.attempt == 1
    assert isinstance(lease.loaded, Job)
    assert lease.loaded.execution.status == ES.RUNNING and lease.loaded.execution.lease_owner == "worker"
    assert lease.loaded.team_id == cast.team.pk
    assert set(lease.loaded.credentials.by_id) == {str(credential.pk)}
    async_to_sync(run_execution)(lease)
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED and execution.started_at is not None


def test_claims_take_the_oldest_execution_first_and_never_the_same_one_twice(cast, credential):
    scenario = a_scenario_using(cast.team, credential)
    first, second = queued(scenario), queued(scenario)
    taken = [jobs.claim("worker", 30), jobs.claim("worker", 30), jobs.claim("worker", 30)]
    assert [lease.pk if lease else None for lease in taken] == [first.pk, second.pk, None]
    assert set(Execution.objects.values_list("status", "attempt", "lease_owner")) == {
        (ES.RUNNING, 1, "worker")
    }


def test_a_waiting_execution_whose_time_came_is_claimed_with_the_time_it_first_started(cast, credential):
    execution = queued(a_scenario_using(cast.team, credential))
    started = timezone.now() - timedelta(minutes=10)
    Execution.objects.filter(pk=execution.pk).update(
        status=ES.WAITING, attempt=1, started_at=started, wake_at=timezone.now() - timedelta(seconds=1)
    )
    lease = jobs.claim("worker", 30)
    assert lease is not None and lease.pk == execution.pk and lease.attempt == 2
    execution.refresh_from_db()
    assert (execution.status, execution.attempt, execution.started_at) == (ES.RUNNING, 2, started)
    if connection.vendor == "postgresql":
        assert isinstance(lease.loaded, Job) and lease.loaded.execution.started_at == started


def test_a_lost_workers_execution_is_taken_over_with_its_next_attempt_and_the_takeover_logged(
    cast, credential, caplog
):
    execution = queued(a_scenario_using(cast.team, credential))
    Execution.objects.filter(pk=execution.pk).update(
        status=ES.RUNNING,
        attempt=1,
        lease_owner="lost-worker",
        lease_until=timezone.now() - timedelta(seconds=5),
        started_at=timezone.now() - timedelta(seconds=40),
    )
    NodeRun.objects.create(
        execution=execution,
        node_number=1,
        node_kind="test.trigger",
        attempt=1,
        status=NodeRun.Status.SUCCEEDED,
        output={"done": 1},
    )
    with caplog.at_level(logging.WARNING, logger="durable.leases"):
        lease = jobs.claim("worker", 30)
    assert lease is not None and lease.pk == execution.pk and lease.attempt == 2
    takeover = next(record.getMessage() for record in caplog.records if "takeover at " in record.getMessage())
    assert f"Execution {execution.pk} from lost-worker" in takeover and "to worker, attempt 2" in takeover
    if connection.vendor == "postgresql":
        assert isinstance(lease.loaded, Job)
        assert lease.loaded.previous[1].output == {"done": 1}  # the resumed run keeps what was done
    async_to_sync(run_execution)(lease)
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED and execution.attempt == 2


def test_an_execution_held_by_a_live_worker_is_not_claimed(cast, credential):
    execution = queued(a_scenario_using(cast.team, credential))
    Execution.objects.filter(pk=execution.pk).update(
        status=ES.RUNNING, attempt=1, lease_owner="alive", lease_until=timezone.now() + timedelta(seconds=30)
    )
    assert jobs.claim("worker", 30) is None
    assert Execution.objects.get(pk=execution.pk).lease_owner == "alive"
