"""Loops combined with the other flow-control pieces: an item's node honours its settings (retries,
"continue", the error port), and nodes that park or start a whole execution (Wait, Run scenario)
are refused inside a loop's body when the scenario is saved."""

from __future__ import annotations

from typing import Any

import pytest

from nodes import node_settings as S
from scenarios.models import Execution, NodeRun
from scenarios.snapshot import save_problems, snapshot_of
from tests.engine.conftest import build, node_type, runs_of, start_and_run
from tests.engine.test_flow import posted
from tests.engine.test_loops import iterations_of
from tests.engine.test_node_settings import flaky

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status


def loop_through(cast, kind: str, params: dict[str, Any], error_edge: bool = False):
    """$1 webhook → $2 Loop over body.items; item → $3 (`kind`, `params`) → $4 Aggregate."""
    edges: list[Any] = [(1, 2), (2, 3, "item"), (3, 4)]
    if error_edge:
        edges.append((3, 4, "error"))
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.items}}"}),
            3: (kind, params),
            4: ("flow.aggregate", {}),
        },
        edges,
    )


def test_a_node_inside_a_loop_is_retried_as_its_settings_say(cast):
    calls, execute = flaky(1)
    with node_type("test.flaky", execute):
        scenario = loop_through(cast, "test.flaky", {S.RETRIES: 1, S.RETRY_WAIT: 0})
        execution = start_and_run(scenario, posted({"items": ["a"]}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert calls[3] == 2
    assert runs_of(execution)[4].output == [{"answer": "ok", "tries": 2}]


def test_a_node_inside_a_loop_that_continues_on_error_passes_its_error_to_the_aggregate(cast):
    execution = start_and_run(
        loop_through(cast, "test.fail", {S.ON_ERROR: "continue"}), posted({"items": [1, 2]})
    )

    assert execution.status == ES.SUCCEEDED, execution.error
    collected = runs_of(execution)[4].output
    assert len(collected) == 2 and all("error" in value for value in collected)
    assert [run.status for run in iterations_of(execution, 3)] == [NS.FAILED, NS.FAILED]


def test_a_node_inside_a_loop_whose_settings_follow_the_error_port_goes_down_it(cast):
    scenario = loop_through(cast, "test.fail", {S.ON_ERROR: "error_port"}, error_edge=True)
    execution = start_and_run(scenario, posted({"items": [1]}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert [run.ports for run in iterations_of(execution, 3)] == [["error"]]


def test_a_node_inside_a_loop_that_stops_on_error_fails_the_loop(cast):
    execution = start_and_run(loop_through(cast, "test.fail", {}), posted({"items": [1]}))

    assert execution.status == ES.FAILED
    assert "Item 1 of 1" in execution.error


@pytest.mark.parametrize(
    ("kind", "params", "what"),
    [
        ("flow.wait", {"mode": "duration", "amount": 1, "unit": "minutes"}, "a Wait"),
        ("flow.run_scenario", {"scenario": "Other"}, "a Run scenario node"),
    ],
)
def test_a_wait_or_a_run_scenario_node_inside_a_loop_is_refused_when_saved(cast, kind, params, what):
    problems = save_problems(snapshot_of(loop_through(cast, kind, params)))

    assert any(f"{what} cannot run once per item yet" in problem for problem in problems), problems
