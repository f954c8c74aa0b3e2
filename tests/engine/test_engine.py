from __future__ import annotations

from typing import Any

import pytest

from nodes.base import NodeContext
from scenarios.models import Execution, NodeRun
from scenarios.runtime.engine import create_execution, validate_graph
from scenarios.snapshot import snapshot_of
from tests.engine.conftest import CALLS, build, node_type, run_now, runs_of, start_and_run

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status


def test_an_execution_snapshots_the_graph_it_runs(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"a": "{{$1.x}}"})}, [(1, 2)])
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {"x": 1})
    assert execution.status == ES.QUEUED
    assert execution.snapshot == {
        "scenario_version": 1,
        "nodes": [
            {"number": 1, "kind": "test.trigger", "label": "", "params": {}, "credential_id": None},
            {
                "number": 2,
                "kind": "test.echo",
                "label": "",
                "params": {"a": "{{$1.x}}"},
                "credential_id": None,
            },
        ],
        "edges": [[1, 2]],
    }
    scenario.nodes.filter(number=2).update(params={"a": "changed later"})
    execution = run_now(execution)
    assert runs_of(execution)[2].output["params"] == {"a": 1}


def test_nodes_run_in_order_and_a_join_waits_for_all_its_upstream_nodes(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.sleep", {"seconds": 0.2, "v": "{{$1.a}}"}),
            3: ("test.sleep", {"seconds": 0.05, "v": "{{$1.b}}"}),
            4: ("test.echo", {"left": "{{$2.params.v}}", "right": "{{$3.params.v}}"}),
        },
        [(1, 2), (1, 3), (2, 4), (3, 4)],
    )
    execution = start_and_run(scenario, {"a": "A", "b": "B"})
    runs = runs_of(execution)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert [runs[n].status for n in (1, 2, 3, 4)] == [NS.SUCCEEDED] * 4
    assert runs[4].output["params"] == {"left": "A", "right": "B"}
    assert runs[4].started_at >= max(runs[2].finished_at, runs[3].finished_at)
    assert runs[2].started_at >= runs[1].finished_at
    assert execution.started_at <= runs[1].started_at and execution.finished_at >= runs[4].finished_at


def test_a_slow_branch_does_not_delay_an_independent_branch(cast, gate):
    async def open_the_gate(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        gate.set()
        return {}

    # $2 waits at the gate that only $5, at the end of the other branch, opens: the run ends only if
    # that branch ran its three nodes while $2 was still waiting.
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.gate", {}),
            3: ("test.echo", {"a": 3}),
            4: ("test.echo", {"a": 4}),
            5: ("test.open", {}),
        },
        [(1, 2), (1, 3), (3, 4), (4, 5)],
    )
    with node_type("test.open", open_the_gate):
        execution = start_and_run(scenario)
    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[2].started_at < runs[5].finished_at <= runs[2].finished_at


def test_a_failed_node_skips_its_downstream_nodes_while_other_branches_go_on(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.fail", {}),
            3: ("test.echo", {"after": "{{$2.x}}"}),
            4: ("test.echo", {"deeper": True}),
            5: ("test.sleep", {"seconds": 0.1}),
            6: ("test.echo", {"join": "{{$5.slept}}"}),
        },
        [(1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (2, 6)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)
    assert execution.status == ES.FAILED
    assert runs[2].status == NS.FAILED
    assert runs[2].error == {"message": "The thing refused.", "status": 418, "type": "teapot"}
    assert runs[3].status == NS.SKIPPED and runs[3].error == {"message": "Skipped: $2 Fail failed."}
    assert runs[4].status == NS.SKIPPED and runs[4].error == {"message": "Skipped: $3 Echo was skipped."}
    assert runs[5].status == NS.SUCCEEDED
    # A join behind a failed node does not run even though its other upstream node succeeded.
    assert runs[6].status == NS.SKIPPED
    assert execution.error == "$2 Fail failed: The thing refused."
    assert CALLS[f"{execution.id}:3"] == 0


def test_an_unexpected_exception_is_a_clear_node_error_without_traceback(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.boom", {})}, [(1, 2)])
    execution = start_and_run(scenario)
    error = runs_of(execution)[2].error
    assert error == {"message": "The node failed unexpectedly: RuntimeError: internal detail"}
    assert "Traceback" not in execution.error


def test_a_whole_field_expression_keeps_its_type_and_text_expressions_become_text(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: (
                "test.echo",
                {"n": "{{$1.body.n}}", "items": "{{$1.body.items}}", "text": "n={{$1.body.n}}!"},
            ),
        },
        [(1, 2)],
    )
    execution = start_and_run(scenario, {"body": {"n": 3, "items": [1, {"a": None}]}})
    assert runs_of(execution)[2].output["params"] == {"n": 3, "items": [1, {"a": None}], "text": "n=3!"}


def test_a_missing_path_fails_the_node_with_an_error_naming_it(cast):
    scenario = build(
        cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.question}}"})}, [(1, 2)]
    )
    execution = start_and_run(scenario, {"body": {}})
    run = runs_of(execution)[2]
    assert run.status == NS.FAILED
    assert run.error == {"message": "{{$1.body.question}}: $1.body has no 'question'."}


def test_data_arriving_in_the_trigger_is_never_evaluated_again(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.q}}", "text": "Q: {{$1.body.q}}"})},
        [(1, 2)],
    )
    execution = start_and_run(scenario, {"body": {"q": "{{$1.body.secret}}", "secret": "hidden"}})
    assert runs_of(execution)[2].output["params"] == {
        "q": "{{$1.body.secret}}",
        "text": "Q: {{$1.body.secret}}",
    }


def test_a_scenario_without_trigger_fails_at_once_with_the_reason(cast):
    scenario = build(cast.team, {1: ("test.echo", {})}, [])
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.FAILED
    assert "no trigger" in execution.error
    assert execution.finished_at is not None


def test_nodes_not_connected_to_the_trigger_do_not_run_and_block_what_depends_on_them(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {}), 3: ("test.echo", {}), 4: ("test.echo", {})},
        [(1, 2), (3, 4), (2, 4)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)
    assert set(runs) == {1, 2, 4}
    assert runs[4].status == NS.SKIPPED
    assert "$3 Echo is not connected to the trigger" in runs[4].error["message"]
    assert execution.status == ES.SUCCEEDED


def test_validation_refuses_cycles_naming_their_nodes(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {}), 3: ("test.echo", {})},
        [(1, 2), (2, 3), (3, 2)],
    )
    problems = validate_graph(scenario)
    assert problems == ["These nodes form a cycle: $2, $3. Remove one of their connections."]
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.FAILED and "form a cycle: $2, $3" in execution.error


def test_validation_names_references_to_unknown_and_non_upstream_nodes(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {"a": "{{$3.x}} {{$9.y}}"}), 3: ("test.echo", {})},
        [(1, 2), (1, 3)],
    )
    assert validate_graph(scenario) == [
        "$2 Echo: {{$3.x}} refers to node $3, which is not upstream of this node.",
        "$2 Echo: {{$9.y}} refers to node $9, which does not exist.",
    ]


def test_validation_refuses_two_triggers_unknown_types_and_code_in_braces(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.trigger", {}),
            3: ("no.such.type", {}),
            4: ("test.echo", {"x": "{{ ''.__class__ }}"}),
        },
        [(1, 4)],
    )
    problems = validate_graph(scenario)
    assert "$3 no.such.type has an unknown node type 'no.such.type'." in problems
    assert "A scenario starts from one trigger, but it has 2: $1 Trigger, $2 Trigger." in problems
    assert any(p.startswith("$4 Echo: '{{''.__class__}}' is not a valid expression") for p in problems)


def test_the_graph_is_valid_when_it_has_no_problems(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"a": "{{$1.b}}"})}, [(1, 2)])
    assert validate_graph(scenario) == []
    assert snapshot_of(scenario)["edges"] == [[1, 2]]
