"""Ports on edges: a node fires some of its output ports, the nodes down the others are skipped, a
join runs once its inputs settle, an "error" port catches a failure, and a takeover keeps the routes
already decided. The node types with ports are test types (tests/engine/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from nodes.base import NodeContext, Routed
from scenarios.models import Execution, NodeRun
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution, run_execution
from tests.engine.conftest import CALLS, build, node_type, run_now, runs_of, start_and_run
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status


def _branch(cast, when: Any):
    """$1 → $2 IF; true → $3 → $5 (join); false → $4 → $6 → $5."""
    return build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.if", {"when": when}),
            3: ("test.echo", {"a": "yes"}),
            4: ("test.echo", {"a": "no"}),
            6: ("test.echo", {"a": "still no"}),
            5: ("test.echo", {"join": "joined"}),
        },
        [(1, 2), (2, 3, "true"), (2, 4, "false"), (4, 6), (3, 5), (6, 5)],
    )


def test_the_route_taken_runs_and_the_nodes_down_the_other_are_skipped(cast):
    execution = start_and_run(_branch(cast, True))
    runs = runs_of(execution)

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs[2].ports == ["true"]
    assert runs[3].status == NS.SUCCEEDED
    assert runs[4].status == NS.SKIPPED
    assert runs[4].error["message"] == "Skipped: route 'false' of $2 If was not taken."
    assert runs[6].status == NS.SKIPPED
    assert runs[6].error["message"] == "Skipped: $4 Echo was skipped (its route was not taken)."
    assert CALLS[f"{execution.id}:4"] == 0


def test_the_other_route_when_the_condition_says_so(cast):
    execution = start_and_run(_branch(cast, False))
    runs = runs_of(execution)

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs[2].ports == ["false"]
    assert [runs[n].status for n in (3, 4, 6)] == [NS.SKIPPED, NS.SUCCEEDED, NS.SUCCEEDED]
    assert runs[3].error["message"] == "Skipped: route 'true' of $2 If was not taken."


def test_a_join_after_both_routes_runs_once_when_both_have_settled(cast):
    execution = start_and_run(_branch(cast, True))
    runs = runs_of(execution)

    assert runs[5].status == NS.SUCCEEDED
    assert runs[5].output["params"] == {"join": "joined"}
    assert CALLS[f"{execution.id}:5"] == 1
    # It ran only once the skipped side had settled too.
    assert runs[5].started_at >= runs[6].finished_at


def test_a_join_reads_the_branch_that_delivered(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.if", {"when": "{{$1.go}}"}),
            3: ("test.echo", {"a": "from true"}),
            4: ("test.echo", {"a": "{{$3.params.a}}"}),
        },
        [(1, 2), (2, 3, "true"), (2, 4, "false"), (3, 4)],
    )
    execution = start_and_run(scenario, {"go": True})
    runs = runs_of(execution)

    assert execution.status == ES.SUCCEEDED, execution.error
    # $4 has one input delivered ($3) and one not taken (IF's false): it runs with what came.
    assert runs[4].output["params"] == {"a": "from true"}


def test_nothing_delivered_to_a_join_skips_it(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.if", {"route": "true"}), 3: ("test.echo", {})},
        [(1, 2), (2, 3, "false")],
    )
    execution = start_and_run(scenario)

    assert execution.status == ES.SUCCEEDED
    assert runs_of(execution)[3].status == NS.SKIPPED


def test_a_failure_still_skips_its_downstream_and_fails_the_execution_even_beside_a_delivered_input(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.fail", {}), 3: ("test.echo", {}), 4: ("test.echo", {})},
        [(1, 2), (1, 3), (2, 4), (3, 4)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)

    assert execution.status == ES.FAILED
    assert runs[4].status == NS.SKIPPED
    assert runs[4].error["message"] == "Skipped: $2 Fail failed."


def test_an_error_port_receives_the_failure_as_data_and_the_execution_goes_on(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.risky", {"fail": True}),
            3: ("test.echo", {"a": "{{$2.error.message}}", "b": "{{$2.error.status}}"}),
            4: ("test.echo", {"a": "went on"}),
        },
        [(1, 2), (2, 3, "error"), (2, 4)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs[2].status == NS.FAILED
    assert runs[2].ports == ["error"]
    assert runs[2].error["message"] == "The risky thing broke."
    assert runs[3].output["params"] == {"a": "The risky thing broke.", "b": 503}
    assert runs[4].status == NS.SKIPPED
    assert runs[4].error["message"] == "Skipped: route 'main' of $2 Risky was not taken."


def test_a_success_does_not_go_down_the_error_port(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.risky", {}), 3: ("test.echo", {}), 4: ("test.echo", {})},
        [(1, 2), (2, 3, "error"), (2, 4)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)

    assert execution.status == ES.SUCCEEDED
    assert runs[2].ports == ["main"]
    assert runs[3].status == NS.SKIPPED
    assert runs[3].error["message"] == "Skipped: route 'error' of $2 Risky was not taken."
    assert runs[4].status == NS.SUCCEEDED


def test_a_failure_with_its_error_port_unconnected_fails_the_execution(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.risky", {"fail": True}), 3: ("test.echo", {})},
        [(1, 2), (2, 3)],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)

    assert execution.status == ES.FAILED
    assert execution.error == "$2 Risky failed: The risky thing broke."
    assert runs[2].ports == []
    assert runs[3].error["message"] == "Skipped: $2 Risky failed."


def test_a_node_that_fires_a_port_its_type_lacks_fails_with_a_clear_message(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.if", {"route": "maybe"}), 3: ("test.echo", {})},
        [(1, 2), (2, 3, "true")],
    )
    execution = start_and_run(scenario)
    runs = runs_of(execution)

    assert execution.status == ES.FAILED
    assert runs[2].error["message"] == (
        "The node chose the output port 'maybe', which its type does not have (its ports: true, false)."
    )


def test_an_edge_from_a_port_the_node_type_lacks_is_refused_naming_the_node_and_port(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.if", {}), 3: ("test.echo", {})},
        [(1, 2), (2, 3, "maybe")],
    )
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})

    assert execution.status == ES.FAILED
    assert "$2 If has no output port 'maybe' (its ports: true, false)" in execution.error


def test_the_snapshot_names_ports_other_than_the_default(cast):
    execution = create_execution(_branch(cast, True), Execution.Trigger.MANUAL, {})

    assert execution.snapshot["edges"] == [[1, 2], [2, 3, "true"], [2, 4, "false"], [3, 5], [4, 6], [6, 5]]


# -- durability --------------------------------------------------------------------------------------


async def _until(execution_id: Any, number: int, status: str) -> None:
    reached = NodeRun.objects.filter(execution_id=execution_id, node_number=number, status=status).aexists
    await eventually(reached, f"node ${number} to become {status}")


async def _fickle(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    """Takes "true" the first time it runs in an execution and "false" ever after: running it again
    would change the route."""
    key = f"{ctx.execution_id}:{ctx.node_number}"
    CALLS[key] += 1
    port = "true" if CALLS[key] == 1 else "false"
    return Routed({"port": port}, (port,))


def test_a_takeover_after_an_if_decided_does_not_run_it_again_and_skips_the_same_route(cast):
    # $2 decides while $3 runs; $4 waits for both $2's "false" and $6 (after $3), so the resumed
    # attempt decides $4 from the route $2 took in the first attempt.
    with node_type("test.fickle", _fickle, outputs=("true", "false")):
        scenario = build(
            cast.team,
            {
                1: ("test.trigger", {}),
                2: ("test.fickle", {}),
                3: ("test.sleep", {"seconds": 0.5}),
                4: ("test.echo", {}),
                5: ("test.echo", {"a": "after"}),
                6: ("test.if", {"route": "false"}),
            },
            [(1, 2), (1, 3), (2, 5, "true"), (3, 5), (2, 4, "false"), (3, 6), (6, 4, "true")],
        )
        execution = create_execution(scenario, Execution.Trigger.MANUAL, {})

        _dies_while_running(execution, (2, NS.SUCCEEDED), running=3)
        execution = run_now(execution, owner="worker-b")

    rows: dict[tuple[int, int], Any] = {(r.node_number, r.attempt): r for r in execution.node_runs.all()}
    assert execution.status == ES.SUCCEEDED, execution.error
    assert execution.attempt == 2
    assert CALLS[f"{execution.id}:2"] == 1  # the IF decided once
    assert rows[(2, 1)].ports == ["true"] and (2, 2) not in rows
    assert rows[(3, 2)].status == NS.SUCCEEDED  # the interrupted node ran again
    assert rows[(4, 2)].status == NS.SKIPPED  # decided in attempt 2, from attempt 1's route
    assert rows[(4, 2)].error["message"] == "Skipped: route 'false' of $2 Fickle was not taken."
    assert rows[(5, 2)].status == NS.SUCCEEDED


def _dies_while_running(execution: Execution, settled: tuple[int, str], running: int) -> None:
    """A first worker runs the execution until node `settled[0]` is `settled[1]` and `running` runs,
    then dies (like kill -9: it writes nothing more)."""

    async def run_and_die() -> None:
        lease = await sync_to_async(jobs.claim)("worker-a", 30)
        assert lease is not None
        task = asyncio.get_running_loop().create_task(run_execution(lease))
        await _until(execution.pk, *settled)
        await _until(execution.pk, running, NS.RUNNING)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async_to_sync(run_and_die)()
    Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now())


def test_a_takeover_keeps_a_skip_behind_a_failure_distinct_from_a_route_not_taken(cast):
    # $3 is skipped behind $2's failure, and with it the join $5 at once, although its other input
    # (the slow $4) is still running when the first worker dies: the second attempt does not run $5
    # with $4's output alone.
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.fail", {}),
            3: ("test.echo", {}),
            4: ("test.sleep", {"seconds": 0.5}),
            5: ("test.echo", {"join": "joined"}),
        },
        [(1, 2), (2, 3), (1, 4), (3, 5), (4, 5)],
    )
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    _dies_while_running(execution, (3, NS.SKIPPED), running=4)
    execution = run_now(execution, owner="worker-b")

    rows: dict[tuple[int, int], Any] = {(r.node_number, r.attempt): r for r in execution.node_runs.all()}
    assert execution.status == ES.FAILED
    assert execution.attempt == 2 and rows[(4, 2)].status == NS.SUCCEEDED
    assert rows[(5, 1)].status == NS.SKIPPED and (5, 2) not in rows
    assert rows[(5, 1)].error["message"] == "Skipped: $3 Echo was skipped."
    assert CALLS[f"{execution.id}:5"] == 0


def test_an_execution_stored_before_ports_resumes(cast):
    """Its snapshot has [source, target] edges and its node runs no ports: a success fired its
    type's every route, as before."""
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {"a": "x"}), 3: ("test.echo", {})},
        [(1, 2), (2, 3)],
    )
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.snapshot["edges"] == [[1, 2], [2, 3]]
    assert jobs.claim("worker-a", 30) is not None
    for number in (1, 2):
        NodeRun.objects.create(
            execution=execution,
            node_number=number,
            node_kind="test.echo",
            attempt=1,
            status=NS.SUCCEEDED,
            output={"n": number},
            ports=None,
        )
    Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now())
    execution = run_now(execution, owner="worker-b")

    runs = runs_of(execution)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert CALLS[f"{execution.id}:2"] == 0
    assert runs[3].attempt == 2 and runs[3].status == NS.SUCCEEDED
    assert runs[3].ports == ["main"]
