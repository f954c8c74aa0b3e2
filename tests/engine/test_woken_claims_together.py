"""The executions several wake-ups named are claimed together: one statement claims every one of
them that still waits, oldest first, each with its own team and credentials, and leaves the rest
(claimed already, or not queued) alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from scenarios.models import Execution
from scenarios.runtime import jobs
from scenarios.runtime.engine import Job, create_execution
from tests.engine.conftest import build
from tests.engine.test_woken_claim_credentials import credential_of

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
