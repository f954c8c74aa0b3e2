from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import jobs, presence
from scenarios.runtime.engine import create_execution, run_execution, run_node_once
from teams.models import Credential
from tests.engine.conftest import build, runs_of, start_and_run

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status
SECRET = "sk-test-secret-abcd1234"  # the `credential` fixture's


def test_secrets_are_redacted_from_outputs_and_errors(cast, credential):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.secret", {"a": "{{$1.note}}"}, credential),
            3: ("test.secret", {"fail": True}, credential),
        },
        [(1, 2), (1, 3)],
    )
    execution = start_and_run(scenario, {"note": f"the caller pasted {SECRET}"})
    runs = runs_of(execution)
    assert runs[2].output["echo"] == "key=••••"
    assert runs[2].params == {"a": "the caller pasted ••••"}
    assert runs[3].error["message"] == "Upstream said: bad key ••••"
    stored = json.dumps([[r.params, r.output, r.error] for r in execution.node_runs.all()]) + execution.error
    assert SECRET not in stored


def test_a_credential_of_another_team_is_refused_with_a_clear_error(cast):
    foreign = Credential(team=cast.other_team, name="Mallory's key", base_url="http://127.0.0.1:9/v1")
    foreign.set_secret("sk-mallory-000000000")
    foreign.save()
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {}, foreign)}, [(1, 2)])
    run = runs_of(start_and_run(scenario))[2]
    assert run.status == NS.FAILED
    assert run.error == {
        "message": "This node's credential no longer exists in this team: choose another one."
    }


def test_a_node_that_needs_a_credential_says_so(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {})}, [(1, 2)])
    run = runs_of(start_and_run(scenario))[2]
    assert run.error == {"message": "This node needs a credential: choose one in its settings."}


# -- running one node ------------------------------------------------------------------------------
def _two_steps(cast):
    return build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.echo", {"q": "{{$1.body.q}}"}),
            3: ("test.echo", {"a": "{{$2.params.q}}"}),
        },
        [(1, 2), (2, 3)],
    )


def test_running_one_node_uses_the_latest_upstream_outputs_and_says_which(cast):
    scenario = _two_steps(cast)
    start_and_run(scenario, {"body": {"q": "first"}})
    latest = start_and_run(scenario, {"body": {"q": "second"}})
    node = scenario.nodes.get(number=2)
    node.params = {"q": "again: {{$1.body.q}}"}  # edited since: the current params are used
    node.save()

    run = async_to_sync(run_node_once)(node, cast.alice)

    assert run.status == NS.SUCCEEDED
    assert (run.output or {})["params"] == {"q": "again: second"}
    assert run.used_upstream == [
        {
            "node": 1,
            "title": "$1 Trigger",
            "execution_id": str(latest.id),
            "finished_at": run.used_upstream[0]["finished_at"],
        }
    ]
    once = run.execution
    assert once.trigger == Execution.Trigger.RUN_ONCE and once.status == ES.SUCCEEDED
    assert [n["number"] for n in once.snapshot["nodes"]] == [2]
    assert once.node_runs.count() == 1 and once.created_by == cast.alice


def test_a_single_node_run_becomes_the_upstream_output_of_the_next_one(cast):
    scenario = _two_steps(cast)
    start_and_run(scenario, {"body": {"q": "from the scenario"}})
    node_2, node_3 = scenario.nodes.get(number=2), scenario.nodes.get(number=3)
    node_2.params = {"q": "edited"}
    node_2.save()
    second = async_to_sync(run_node_once)(node_2, cast.alice)
    third = async_to_sync(run_node_once)(node_3, cast.alice)
    assert (third.output or {})["params"] == {"a": "edited"}
    assert third.used_upstream[0]["execution_id"] == str(second.execution.id)


def test_running_one_node_without_upstream_output_is_a_clear_error_naming_the_node(cast):
    scenario = _two_steps(cast)
    run = async_to_sync(run_node_once)(scenario.nodes.get(number=3), cast.alice)
    assert run.status == NS.FAILED
    assert run.error == {
        "message": "Node $2 Echo has no output yet: run the scenario (or that node) first, then run this node again."
    }
    assert run.execution.status == ES.FAILED
    assert "$2 Echo has no output yet" in run.execution.error


def test_running_a_trigger_alone_replays_the_latest_request(cast):
    scenario = _two_steps(cast)
    start_and_run(scenario, {"body": {"q": "hello"}})
    run = async_to_sync(run_node_once)(scenario.nodes.get(number=1), cast.alice)
    assert run.output == {"body": {"q": "hello"}}


# -- live events -----------------------------------------------------------------------------------
async def _collect(channel: str) -> list[dict[str, Any]]:
    layer = get_channel_layer()
    received: list[dict[str, Any]] = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.3)
        except TimeoutError:
            return received
        received.extend(message["events"])


def test_every_change_is_sent_to_the_scenario_group_without_secrets(
    cast, credential, django_capture_on_commit_callbacks
):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.secret", {}, credential),
            3: ("test.fail", {}),
            4: ("test.echo", {}),
        },
        [(1, 2), (1, 3), (3, 4)],
    )

    def create() -> Execution:
        with django_capture_on_commit_callbacks(execute=True):
            return create_execution(scenario, Execution.Trigger.MANUAL, {})

    async def run_and_listen() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(Scenario.group_name_for(scenario.id), channel)
        await presence.watch(Scenario.group_name_for(scenario.id))  # as an open page does
        execution = await sync_to_async(create)()
        lease = await sync_to_async(jobs.claim)("worker", 30)
        assert lease is not None and lease.pk == execution.pk
        await run_execution(lease)
        return await _collect(channel)

    events = async_to_sync(run_and_listen)()
    assert SECRET not in json.dumps(events)
    executions = [e["execution"]["status"] for e in events if e["type"] == "execution"]
    assert executions == ["queued", "running", "failed"]
    by_node: dict[int, list[str]] = {}
    for event in events:
        if event["type"] == "node":
            by_node.setdefault(event["node"]["node"], []).append(event["node"]["status"])
    # The trigger only computes: it runs at once and is stored with the first write, by which time
    # its children are already running.
    assert by_node == {
        1: ["succeeded"],
        2: ["running", "succeeded"],
        3: ["running", "failed"],
        4: ["queued", "skipped"],
    }
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    final = events[-1]["execution"]
    assert set(final) == {
        "id",
        "scenario_id",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "finished_at",
        "duration_ms",
        "error",
    }
    assert final["error"] == "$3 Fail failed: The thing refused."


def test_an_unexpected_exception_quoting_the_key_is_logged_without_it(cast, credential, caplog):
    scenario = build(
        cast.team, {1: ("test.trigger", {}), 2: ("test.secret", {"a": "crash"}, credential)}, [(1, 2)]
    )
    caplog.set_level(logging.DEBUG)
    run = runs_of(start_and_run(scenario))[2]
    assert run.error == {"message": "The node failed unexpectedly: RuntimeError: crashed holding ••••"}
    assert "crashed holding ••••" in caplog.text and "Traceback" in caplog.text
    assert SECRET not in caplog.text
