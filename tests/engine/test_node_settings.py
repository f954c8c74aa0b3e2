"""Per-node settings run by the real engine: retries (counted durably, shown live as "retry 2 of 3 in
4 s") and the three things a failure can do — stop, continue with the error as output, or follow
the node's "error" port."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from nodes import node_settings
from nodes.base import NodeContext, NodeError
from nodes.forms import build_form, params_from_form
from nodes.registry import NODE_TYPES
from scenarios import canvas
from scenarios.models import Execution, NodeRun
from scenarios.runtime import events, jobs
from scenarios.runtime.engine import create_execution, run_execution
from scenarios.runtime.running import retry_text
from tests.engine.conftest import build, node_type, run_now, runs_of, start_and_run
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status
S = node_settings


def flaky(failures: int) -> tuple[Counter[int], Any]:
    """An execute function that fails its first `failures` calls per node, then answers."""
    calls: Counter[int] = Counter()

    async def execute(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        calls[ctx.node_number] += 1
        if calls[ctx.node_number] <= failures:
            raise NodeError(f"Try {calls[ctx.node_number]} failed.")
        return {"answer": "ok", "tries": calls[ctx.node_number]}

    return calls, execute


def three_nodes(cast, params: dict[str, Any], port: str = "main", kind: str = "test.flaky"):
    """$1 trigger → $2 (the node under test, with `params`) → $3 echo of $2's output, from `port`."""
    return build(
        cast.team,
        {1: ("test.trigger", {}), 2: (kind, params), 3: ("test.echo", {"v": "{{$2}}"})},
        [(1, 2), (2, 3, port)],
    )


def test_a_node_that_fails_twice_succeeds_on_its_third_try_with_two_retries(cast):
    calls, execute = flaky(2)
    with node_type("test.flaky", execute):
        execution = start_and_run(three_nodes(cast, {S.RETRIES: 2, S.RETRY_WAIT: 0}))

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert calls[2] == 3
    assert runs[2].tries == 3 and runs[2].output == {"answer": "ok", "tries": 3}
    assert runs[3].output["params"]["v"]["answer"] == "ok"


def test_retries_stop_at_the_bound_and_the_error_says_how_many_tries_were_made(cast):
    calls, execute = flaky(10)
    with node_type("test.flaky", execute):
        execution = start_and_run(three_nodes(cast, {S.RETRIES: 2, S.RETRY_WAIT: 0}))

    assert execution.status == ES.FAILED
    assert calls[2] == 3
    run = runs_of(execution)[2]
    assert run.status == NS.FAILED and run.tries == 3
    assert run.error == {"message": "Try 3 failed.", "tries": 3}
    assert "$2 Flaky failed: Try 3 failed." in execution.error


def test_without_retries_a_failing_node_is_tried_once(cast):
    calls, execute = flaky(1)
    with node_type("test.flaky", execute):
        execution = start_and_run(three_nodes(cast, {}))

    assert execution.status == ES.FAILED and calls[2] == 1
    assert runs_of(execution)[2].tries == 1


def test_each_retry_is_announced_live_with_its_number_and_wait(cast, monkeypatch):
    published: list[dict[str, Any]] = []

    async def publish(group: str, batch: Any) -> None:
        published.extend(batch)

    monkeypatch.setattr(events, "publish", publish)

    async def heard(group: str) -> bool:
        return True

    monkeypatch.setattr(events, "heard", heard)
    _, execute = flaky(2)
    with node_type("test.flaky", execute):
        execution = start_and_run(
            three_nodes(cast, {S.RETRIES: 3, S.RETRY_WAIT: 0.01, S.BACKOFF: "exponential"})
        )

    assert execution.status == ES.SUCCEEDED, execution.error
    news = [e["node"]["progress"] for e in published if "progress" in e.get("node", {})]
    assert [n["text"] for n in news] == ["retry 1 of 3 in 0.01 s", "retry 2 of 3 in 0.02 s"]
    assert news[0]["reason"] == "Try 1 failed."


def test_the_retry_text_reads_as_the_live_run_shows_it():
    assert retry_text(2, 3, 4.0) == "retry 2 of 3 in 4 s"


def test_exponential_backoff_doubles_the_wait_and_is_bounded():
    settings = node_settings.NodeSettings(retries=5, retry_wait=2, backoff="exponential")
    assert [settings.wait_before(n) for n in (1, 2, 3)] == [2, 4, 8]
    assert node_settings.NodeSettings(retry_wait=300, backoff="exponential").wait_before(5) == S.MAX_WAIT


def test_settings_out_of_bounds_in_stored_params_are_brought_within_them():
    echo = NODE_TYPES["test.echo"]
    read = node_settings.settings_of(echo, {S.RETRIES: 99, S.RETRY_WAIT: "x", S.ON_ERROR: "explode"})
    assert read == node_settings.NodeSettings(retries=5, retry_wait=1.0, on_error="stop")


def test_continue_on_error_passes_the_error_on_as_output_and_the_execution_succeeds(cast):
    execution = start_and_run(three_nodes(cast, {S.ON_ERROR: "continue"}, kind="test.fail"))

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[2].status == NS.FAILED and runs[2].ports == ["main"]
    assert runs[3].output["params"]["v"] == {
        "error": {"message": "The thing refused.", "status": 418, "type": "teapot"}
    }


def test_following_the_error_port_sends_the_error_down_it_and_not_down_main(cast):
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.fail", {S.ON_ERROR: "error_port"}),
            3: ("test.echo", {"v": "{{$2.error.message}}"}),
            4: ("test.echo", {"v": "main route"}),
        },
        [(1, 2), (2, 3, "error"), (2, 4)],
    )
    execution = start_and_run(scenario)

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[2].ports == ["error"]
    assert runs[3].output["params"]["v"] == "The thing refused."
    assert runs[4].status == NS.SKIPPED


def test_stop_is_the_default_and_fails_the_execution_naming_the_node(cast):
    execution = start_and_run(three_nodes(cast, {}, kind="test.fail"))

    assert execution.status == ES.FAILED
    assert execution.error == "$2 Fail failed: The thing refused."
    assert runs_of(execution)[3].status == NS.SKIPPED


def test_the_error_port_exists_only_when_the_settings_choose_it():
    echo = NODE_TYPES["test.echo"]
    assert echo.outputs_for({}) == ("main",)
    assert echo.outputs_for({S.ON_ERROR: "error_port"}) == ("main", "error")
    assert NODE_TYPES["test.trigger"].outputs_for({S.ON_ERROR: "error_port"}) == ("main",)


def test_connecting_the_error_port_of_a_node_that_stops_on_error_is_refused():
    echo = NODE_TYPES["test.echo"]
    link = canvas.graph.Link(2, 3, "error")
    with pytest.raises(canvas.GraphInvalid, match="no output port 'error'"):
        canvas.check_edge(link, echo, echo, set(), {})
    canvas.check_edge(link, echo, echo, set(), {S.ON_ERROR: "error_port"})


def test_the_form_builder_gives_every_action_a_settings_section_and_stores_it(cast):
    echo = NODE_TYPES["test.echo"]
    data = {S.RETRIES: "3", S.RETRY_WAIT: "2", S.BACKOFF: "exponential", S.ON_ERROR: "continue"}
    form = build_form(echo, data=data, team=cast.team)

    assert form.is_valid(), form.errors
    assert [row.name for row in form.settings_rows()] == [S.RETRIES, S.RETRY_WAIT, S.BACKOFF, S.ON_ERROR]
    params = params_from_form(form)
    assert params[S.RETRIES] == 3 and params[S.ON_ERROR] == "continue"
    assert "Settings" in form.render()
    assert build_form(NODE_TYPES["test.trigger"]).settings_rows() == []
    assert form.settings_open() and not build_form(echo, initial={}).settings_open()


def test_the_form_refuses_more_than_five_retries_naming_the_field(cast):
    form = build_form(NODE_TYPES["test.echo"], data={S.RETRIES: "9", S.ON_ERROR: "stop"}, team=cast.team)

    assert not form.is_valid()
    assert S.RETRIES in form.errors


def test_a_takeover_goes_on_counting_tries_and_never_retries_beyond_the_bound(cast):
    calls: Counter[int] = Counter()

    async def fails_and_hangs_on_its_second_try(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        calls[ctx.node_number] += 1
        if calls[ctx.node_number] == 2:
            await asyncio.sleep(3600)  # the worker dies during this try
        raise NodeError(f"Call {calls[ctx.node_number]} failed.")

    with node_type("test.flaky", fails_and_hangs_on_its_second_try):
        scenario = three_nodes(cast, {S.RETRIES: 3, S.RETRY_WAIT: 0})
        execution = create_execution(scenario, Execution.Trigger.MANUAL, {})

        async def first_worker_dies_during_try_2() -> None:
            lease = await sync_to_async(jobs.claim)("worker-a", 30)
            assert lease is not None
            task = asyncio.get_running_loop().create_task(run_execution(lease))
            tries_2 = NodeRun.objects.filter(execution_id=execution.pk, node_number=2, tries=2)
            await eventually(tries_2.aexists, "the second try to be recorded")
            await eventually(lambda: calls[2] == 2, "the second try to start")
            task.cancel()  # like kill -9
            with contextlib.suppress(asyncio.CancelledError):
                await task

        async_to_sync(first_worker_dies_during_try_2)()
        Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        execution = run_now(execution, owner="worker-b")

    assert execution.status == ES.FAILED
    run = runs_of(execution)[2]
    assert run.attempt == 2 and run.tries == 4  # 1 + 3 retries, counted across both workers
    # Calls: try 1, try 2 (interrupted), try 2 again, tries 3 and 4; never a fifth try.
    assert calls[2] == 5
    assert run.error == {"message": "Call 5 failed.", "tries": 4}
