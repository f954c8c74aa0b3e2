"""The Wait node run by the real engine: the execution is released while it waits (no worker holds
it), any executor resumes it once its time has come with the node after the Wait, nothing that had
succeeded runs again, and bad durations, dates and time zones are errors naming the node's field.

Time is moved with the `clock` fixture (django.utils.timezone.now), never waited for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.utils import timezone

from nodes.base import NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import jobs
from tests.engine.conftest import CALLS, build, run_now, runs_of

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[timedelta], None]]:
    """Move Django's clock forward (every `timezone.now()` in the engine and the claim reads it)."""
    real_now = timezone.now
    offset = [timedelta()]
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset[0])

    def advance(by: timedelta) -> None:
        offset[0] += by

    yield advance


def waiting_scenario(team: Any, **wait: Any) -> Scenario:
    """$1 trigger → $2 echo → $3 Wait → $4 echo of what $3 passes on."""
    return build(
        team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.echo", {"a": "{{$1.body.name}}"}),
            3: ("flow.wait", {"amount": 1, "unit": "hours", **wait}),
            4: ("test.echo", {"a": "{{$3.params.a}}"}),
        },
        [(1, 2), (2, 3), (3, 4)],
    )


def started(scenario: Scenario, body: Any = None) -> Execution:
    from scenarios.runtime.engine import create_execution

    return run_now(
        create_execution(
            scenario, Execution.Trigger.MANUAL, {"method": "POST", "body": body or {"name": "Ada"}}
        )
    )


def test_a_waiting_execution_is_released_until_its_time_and_no_executor_claims_it_before(cast, clock):
    execution = started(waiting_scenario(cast.team))

    assert execution.status == ES.WAITING
    assert execution.lease_owner == "" and execution.lease_until is None
    runs = runs_of(execution)
    assert runs[2].status == NS.SUCCEEDED
    assert runs[3].status == NS.WAITING and runs[3].wake_at == execution.wake_at
    assert runs[4].status == NS.QUEUED
    assert timedelta(minutes=59) < execution.wake_at - timezone.now() <= timedelta(hours=1)
    clock(timedelta(minutes=59))
    assert jobs.claim("another-worker", 30) is None


def test_a_wait_resumes_on_any_executor_with_the_node_after_it_and_nothing_runs_twice(cast, clock):
    execution = started(waiting_scenario(cast.team))
    clock(timedelta(hours=1, seconds=1))

    execution = run_now(execution, owner="another-worker")

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[3].status == NS.SUCCEEDED and runs[3].finished_at >= execution.wake_at
    assert runs[3].output == {"params": {"a": "Ada"}, "node": 2}
    assert runs[4].status == NS.SUCCEEDED and runs[4].output["params"] == {"a": "Ada"}
    assert CALLS[f"{execution.pk}:2"] == 1 and CALLS[f"{execution.pk}:4"] == 1
    # One row per node: the Wait's row ended where it started, nothing was run again.
    assert execution.node_runs.filter(node_number__in=[1, 2, 3]).count() == 3


def test_a_wait_does_not_use_up_the_attempts_a_crash_may_need(cast, clock):
    execution = started(waiting_scenario(cast.team))
    assert execution.max_attempts == 4  # 3 by default, plus the resume that is no failure


def test_a_wait_until_a_time_in_the_past_goes_on_at_once(cast):
    execution = started(waiting_scenario(cast.team, until="2020-01-01T09:00", timezone="Europe/Paris"))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output["params"] == {"a": "Ada"}


def test_a_wait_until_a_local_time_uses_its_time_zone(cast):
    ahead = (timezone.now() + timedelta(days=2)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    execution = started(waiting_scenario(cast.team, until=ahead.isoformat(), timezone="Asia/Tokyo"))

    assert execution.status == ES.WAITING
    assert execution.wake_at == ahead.replace(tzinfo=UTC) - timedelta(hours=9)


def test_two_waits_on_parallel_branches_resume_the_execution_at_each_time(cast, clock):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.wait", {"amount": 10, "unit": "minutes"}),
            3: ("flow.wait", {"amount": 2, "unit": "hours"}),
            4: ("test.echo", {"a": "short"}),
            5: ("test.echo", {"a": "long"}),
        },
        [(1, 2), (1, 3), (2, 4), (3, 5)],
    )
    execution = started(scenario)
    assert execution.status == ES.WAITING

    clock(timedelta(minutes=11))
    execution = run_now(execution)
    assert execution.status == ES.WAITING
    runs = runs_of(execution)
    assert runs[4].status == NS.SUCCEEDED and runs[3].status == NS.WAITING and runs[5].status == NS.QUEUED

    clock(timedelta(hours=2))
    execution = run_now(execution)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert CALLS[f"{execution.pk}:4"] == 1 and CALLS[f"{execution.pk}:5"] == 1


def test_cancelling_a_waiting_execution_ends_it_and_its_wait(cast):
    execution = started(waiting_scenario(cast.team))

    assert jobs.cancel(execution, "alice")

    execution.refresh_from_db()
    assert execution.status == ES.CANCELLED
    assert runs_of(execution)[3].status == NS.FAILED


@pytest.mark.parametrize(
    ("wait", "named"),
    [
        ({"amount": -5}, "Duration"),
        ({"amount": 31, "unit": "days"}, "Duration"),
        ({"amount": "{{$1.body.minutes}}"}, "Duration"),
        ({"until": "next tuesday"}, "Until"),
        ({"until": "2999-01-01T00:00"}, "Until"),
        ({"until": "2026-12-31T09:00", "timezone": "Mars/Olympus"}, "Time zone"),
    ],
)
def test_a_bad_wait_fails_the_execution_naming_the_node_and_field(cast, wait, named):
    execution = started(waiting_scenario(cast.team, **wait), body={"name": "Ada", "minutes": "soon"})

    assert execution.status == ES.FAILED
    assert "Wait" in execution.error and named in execution.error, execution.error
    runs = runs_of(execution)
    assert runs[2].status == NS.SUCCEEDED  # what ran before is kept
    assert runs[3].status == NS.FAILED and runs[4].status == NS.SKIPPED


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"amount": -1, "unit": "minutes"}, "amount"),
        ({"amount": 800, "unit": "hours"}, "amount"),
        ({"until": "2026-12-31T09:00", "timezone": "Nowhere/Land"}, "timezone"),
    ],
)
def test_the_wait_form_refuses_a_negative_or_too_long_duration_and_a_bad_time_zone(params, field):
    with pytest.raises(NodeError) as caught:
        clean_for_run(get_node_type("flow.wait"), params)

    assert field in caught.value.details["fields"], caught.value.details


@pytest.mark.django_db(transaction=True)
def test_the_run_command_says_until_when_an_execution_waits_and_does_not_hold_it(cast):
    import io

    from django.core.management import call_command

    scenario = waiting_scenario(cast.team)
    out = io.StringIO()

    call_command("scenario", "run", str(scenario.id), "--input", '{"name": "Ada"}', stdout=out)

    execution = Execution.objects.get(scenario=scenario)
    assert execution.status == ES.WAITING and execution.lease_until is None
    assert execution.wake_at is not None
    assert f"Execution waits until {execution.wake_at.isoformat()}" in out.getvalue()
    assert "$2 Echo: succeeded" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_run_once_on_a_wait_shows_at_once_what_it_would_pass_on(cast):
    from asgiref.sync import async_to_sync

    from scenarios.runtime.engine import run_node_once

    scenario = waiting_scenario(cast.team, value="{{$2}}")
    assert started(scenario).status == ES.WAITING  # $2 has an output now

    run = async_to_sync(run_node_once)(scenario.nodes.get(number=3), cast.bob)

    assert run.status == NS.SUCCEEDED and run.wake_at is None
    assert run.output == {"params": {"a": "Ada"}, "node": 2}
