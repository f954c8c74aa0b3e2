"""The webhook path, over the real server: `/hooks/<token>` served as plain ASGI (its one endpoint),
the new execution created already claimed by the web process's executor and handed to it, and the
caller answered with the row its run committed; the database is read for the answer only when that
run cannot give it (another worker took the execution over).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.db import OperationalError
from django.utils import timezone

from durable import executor, plain_sql
from scenarios.models import Execution, NodeRun, Scenario
from tests.engine.conftest import CALLS, build
from tests.hostile.webhook_calls import hook_url, wait_for_end
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES, NS = Execution.Status, NodeRun.Status
NOT_FOUND = {"error": "Not found."}


# -- answered by the run itself ----------------------------------------------------------------------
def test_the_caller_gets_the_answer_from_the_run_itself_and_every_node_run_is_stored(
    asgi_server, cast, answer_reads
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.echo", {"q": "{{$1.body.q}}", "n": "{{$1.query.n}}"}),
            3: ("webhook.response", {"status": 201, "headers": {"X-Answer": "run"}, "body": "{{$2.params}}"}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(f"{hook_url(asgi_server, scenario)}?n=7", json={"q": "héllo ☃"}, timeout=20)
    assert response.status_code == 201, response.text
    assert response.json() == {"q": "héllo ☃", "n": "7"}
    assert response.headers["x-answer"] == "run"
    assert answer_reads == []  # never read back from the database

    # The answer was committed before the caller got it.
    execution_id = response.headers["x-execution-id"]
    answered = {
        "status": 201,
        "headers": {"X-Answer": "run", "Content-Type": "application/json"},
        "body": {"q": "héllo ☃", "n": "7"},
    }
    assert Execution.objects.get(pk=execution_id).response == answered
    execution = wait_for_end(execution_id)
    assert execution.status == ES.SUCCEEDED and execution.trigger == Execution.Trigger.WEBHOOK
    assert execution.attempt == 1 and execution.lease_owner == executor.local_executor().owner
    assert execution.input["body"] == {"q": "héllo ☃"} and execution.input["query"] == {"n": "7"}
    runs = list(execution.node_runs.order_by("node_number"))
    assert [(r.node_number, r.attempt, r.status) for r in runs] == [
        (1, 1, NS.SUCCEEDED),
        (2, 1, NS.SUCCEEDED),
        (3, 1, NS.SUCCEEDED),
    ]
    trigger_output = runs[0].output
    assert isinstance(trigger_output, dict)
    assert trigger_output["method"] == "POST" and trigger_output["body"] == {"q": "héllo ☃"}
    assert trigger_output["query"] == {"n": "7"}
    assert runs[1].output == {"params": {"q": "héllo ☃", "n": "7"}, "node": 2}
    assert runs[2].output == answered
    assert all(r.started_at is not None and r.finished_at is not None for r in runs)


def test_a_scenario_answered_by_its_first_write_is_stored_with_its_node_runs(asgi_server, cast, answer_reads):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {"body": "{{$1.body.q}}"})},
        [(1, 2)],
    )
    response = httpx.post(hook_url(asgi_server, scenario), json={"q": "at once"}, timeout=20)
    assert response.status_code == 200 and response.text == "at once"
    assert answer_reads == []
    execution = Execution.objects.get(pk=response.headers["x-execution-id"])
    assert execution.status == ES.SUCCEEDED and execution.attempt == 1  # ended in the same write
    assert sorted(execution.node_runs.values_list("node_number", "attempt", "status")) == [
        (1, 1, NS.SUCCEEDED),
        (2, 1, NS.SUCCEEDED),
    ]


# -- storing the execution fails ---------------------------------------------------------------------
def test_when_the_new_execution_cannot_be_stored_the_caller_gets_503_and_nothing_exists(
    asgi_server, cast, monkeypatch
):
    real = plain_sql.insert
    inserted: list[str] = []

    def fails_once(objs: Any) -> None:
        inserted.append(type(objs[0]).__name__)
        if len(inserted) == 1:
            raise OperationalError("disk I/O error")
        real(objs)

    monkeypatch.setattr(plain_sql, "insert", fails_once)
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.echo", {"q": "{{$1.body.q}}"}),
            3: ("webhook.response", {"body": "{{$2.params.q}}"}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(hook_url(asgi_server, scenario), json={"q": "lost"}, timeout=20)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "Scenery could not store the execution, so it did not run. Try again."
    }
    assert inserted == ["Execution"]
    assert not Execution.objects.exists() and not NodeRun.objects.exists()
    assert not CALLS  # the echo node never started

    again = httpx.post(hook_url(asgi_server, scenario), json={"q": "stored"}, timeout=20)
    assert again.status_code == 200 and again.text == "stored"
    assert list(Execution.objects.values_list("pk", flat=True)) == [
        uuid.UUID(again.headers["x-execution-id"])
    ]


# -- what never starts anything ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["no-such-token", "{token}/more", "{token}%2Fmore", "{token}x", "t" * 201, ""],
    ids=[
        "unknown",
        "a slash after a real token",
        "an encoded slash",
        "a real token extended",
        "too long",
        "empty",
    ],
)
def test_tokens_that_name_no_active_scenario_are_404_json(asgi_server, cast, path):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {"body": "x"})}, [(1, 2)]
    )
    url = f"{asgi_server.url}/hooks/{path.format(token=scenario.webhook_token)}"
    response = httpx.post(url, json={"q": 1}, timeout=20)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == NOT_FOUND
    assert not Execution.objects.exists()


def test_a_trailing_slash_after_a_real_token_still_runs_it(asgi_server, cast):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {"body": "ran"})}, [(1, 2)]
    )
    response = httpx.post(f"{hook_url(asgi_server, scenario)}/", json={}, timeout=20)
    assert response.status_code == 200 and response.text == "ran"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods_other_than_get_and_post_are_405_with_allow(asgi_server, cast, method):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {"body": "x"})}, [(1, 2)]
    )
    response = httpx.request(method, hook_url(asgi_server, scenario), content=b"{}", timeout=20)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json() == {"error": "Use POST or GET."}
    assert not Execution.objects.exists()


def test_a_get_query_string_with_repeated_keys_becomes_lists(asgi_server, cast):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {"body": "{{$1.query}}"})}, [(1, 2)]
    )
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("tag", "été"),
        ("tag", "x"),
        ("one", "1"),
        ("tag", "y"),
        ("empty", ""),
        ("pair", "a"),
        ("pair", ""),
    ]
    response = httpx.get(hook_url(asgi_server, scenario), params=params, timeout=20)
    expected = {"tag": ["été", "x", "y"], "one": "1", "empty": "", "pair": ["a", ""]}
    assert response.status_code == 200 and response.json() == expected
    execution = Execution.objects.get(pk=response.headers["x-execution-id"])
    assert execution.input["method"] == "GET" and execution.input["query"] == expected
    assert execution.input["body"] is None


# -- the Django test-client adapter ------------------------------------------------------------------
# -- when the run cannot answer ----------------------------------------------------------------------
def _running(scenario: Scenario, number: int) -> str:
    found = wait_until(
        lambda: NodeRun.objects.filter(
            execution__scenario=scenario, node_number=number, attempt=1, status=NS.RUNNING
        ).values_list("execution_id", flat=True)[:1],
        f"node ${number} to start",
    )
    return str(found[0])


def _take_over(execution_id: str) -> None:
    """What another worker's claim does: the next attempt, under its own lease."""
    taken = Execution.objects.filter(pk=execution_id, attempt=1).update(
        attempt=2, lease_owner="another-worker", lease_until=timezone.now() + timedelta(seconds=120)
    )
    assert taken == 1


def _gated(cast) -> Scenario:
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.gate", {}),
            3: ("webhook.response", {"body": "from attempt 1"}),
        },
        [(1, 2), (2, 3)],
    )


def _called_and_taken_over_mid_run(pool, asgi_server, cast, gate) -> tuple[Any, str]:
    """Call a gated scenario's webhook; once its middle node runs, take the execution over (as
    another worker's claim does) and open the gate. Returns the pending call and the execution id."""
    scenario = _gated(cast)
    call = pool.submit(httpx.post, hook_url(asgi_server, scenario), json={}, timeout=60)
    execution_id = _running(scenario, 2)
    _take_over(execution_id)
    gate.set()
    return call, execution_id


def test_when_the_run_loses_its_lease_the_caller_gets_the_answer_of_the_worker_that_took_over(
    asgi_server, cast, gate, answer_reads, settings
):
    """The run in the web process is taken over while its middle node runs: the test plays the
    other worker (bumps the attempt and owner, as a claim does) and opens the gate. The first run's
    next write is fenced out (LeaseLost), so it never tells the waiting caller anything, and the
    caller's waiter reads the answer from the database. The other worker's answer, written then, is
    what the caller gets; the first run wrote nothing more."""
    settings.WEBHOOK_RESPONSE_DEADLINE = 30
    with ThreadPoolExecutor(1) as pool:
        call, execution_id = _called_and_taken_over_mid_run(pool, asgi_server, cast, gate)
        wait_until(lambda: answer_reads, "the caller's waiter to look in the database")
        Execution.objects.filter(pk=execution_id, attempt=2, lease_owner="another-worker").update(
            status=ES.SUCCEEDED,
            response={"status": 202, "headers": {"X-From": "attempt 2"}, "body": "from attempt 2"},
            finished_at=timezone.now(),
            lease_until=None,
        )
        response = call.result(timeout=60)
    assert response.status_code == 202 and response.text == "from attempt 2"
    assert response.headers["x-from"] == "attempt 2" and response.headers["x-execution-id"] == execution_id
    assert set(answer_reads) == {execution_id}
    first_attempt = dict(
        NodeRun.objects.filter(execution_id=execution_id).values_list("node_number", "status")
    )
    assert first_attempt == {1: NS.SUCCEEDED, 2: NS.RUNNING, 3: NS.QUEUED}  # fenced out: nothing written


def test_when_the_run_loses_its_lease_and_nobody_answers_the_caller_gets_504_at_the_deadline(
    asgi_server, cast, gate, answer_reads, settings
):
    """As above, but the worker that took over never answers: the waiter reads the database until
    the deadline, then the caller gets 504 with the execution id."""
    settings.WEBHOOK_RESPONSE_DEADLINE = 5
    with ThreadPoolExecutor(1) as pool:
        call, execution_id = _called_and_taken_over_mid_run(pool, asgi_server, cast, gate)
        response = call.result(timeout=60)
    assert response.status_code == 504
    assert response.json() == {
        "error": "The scenario did not answer within 5 seconds; it goes on running.",
        "execution_id": execution_id,
    }
    assert answer_reads and set(answer_reads) == {execution_id}
    execution = Execution.objects.get(pk=execution_id)
    assert execution.response is None and (execution.attempt, execution.lease_owner) == (2, "another-worker")
