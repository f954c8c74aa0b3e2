"""A woken claim reads what its run needs with it: on PostgreSQL the row, its team and the team's
credentials its scenario's nodes name come in the claim's one statement. The run still gets exactly
the credentials its snapshot names, of its own team, and decrypts no other."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from scenarios.models import Execution, Node, NodeRun
from scenarios.runtime import jobs
from scenarios.runtime.engine import Job, create_execution, run_execution
from teams.models import Credential
from tests.engine.conftest import build

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]

ES = Execution.Status


def credential_of(team: Any, name: str, secret: str) -> Credential:
    made = Credential(team=team, name=name, base_url="http://127.0.0.1:9/v1")
    made.set_secret(secret)
    made.save()
    return made


def queued(scenario: Any) -> Execution:
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.QUEUED
    return execution


def woken_job(execution: Execution) -> Job:
    [lease] = jobs.claim_woken("worker", 30, [execution.pk])
    assert isinstance(lease.loaded, Job)
    return lease.loaded


def test_a_woken_claim_reads_the_credential_its_run_uses_in_the_claims_statement(
    cast, credential, django_assert_num_queries
):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {}, credential)}, [(1, 2)])
    execution = queued(scenario)
    # PostgreSQL: one statement claims the row and reads its team and credential; elsewhere the
    # credentials take a second one.
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        [lease] = jobs.claim_woken("worker", 30, [execution.pk])
    assert isinstance(lease.loaded, Job)
    assert set(lease.loaded.credentials.by_id) == {str(credential.pk)}
    assert lease.loaded.credentials.secrets == ["sk-test-secret-abcd1234"]
    async_to_sync(run_execution)(lease)
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED
    run = NodeRun.objects.get(execution=execution, node_number=2)
    assert isinstance(run.output, dict) and run.output["echo"].startswith("key=")
    assert "sk-test-secret-abcd1234" not in str(run.output)  # the secret was known, so redacted


def test_a_credential_the_graph_no_longer_names_is_still_read_for_the_run_that_names_it(cast, credential):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {}, credential)}, [(1, 2)])
    execution = queued(scenario)
    other = credential_of(cast.team, "Replacement", "sk-replacement-5678")
    Node.objects.filter(scenario=scenario, number=2).update(credential=other)  # edited after the start
    job = woken_job(execution)
    assert set(job.credentials.by_id) == {str(credential.pk)}
    assert job.credentials.secrets == ["sk-test-secret-abcd1234"]


def test_a_woken_claim_never_hands_a_run_another_teams_credential(cast, credential):
    malloys = credential_of(cast.other_team, "Mallory's", "sk-mallory-secret-0000")
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {}, malloys)}, [(1, 2)])
    job = woken_job(queued(scenario))
    assert job.credentials.by_id == {} and job.credentials.secrets == []


def test_credentials_of_nodes_that_do_not_run_are_not_handed_to_the_run(cast, credential):
    unused = credential_of(cast.team, "Unused", "sk-unused-secret-9999")
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.secret", {}, credential),
            3: ("test.secret", {}, unused),  # joined to nothing: not in the run
        },
        [(1, 2)],
    )
    job = woken_job(queued(scenario))
    assert set(job.credentials.by_id) == {str(credential.pk)}
    assert job.credentials.secrets == ["sk-test-secret-abcd1234"]
