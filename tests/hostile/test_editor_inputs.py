"""The editor under hostile or racing input: JSON nested past any sense, two tabs saving the same version
at the same moment, and editing a scenario while it runs (items 3, 38 and 39 of the list)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test import Client
from django.urls import reverse

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution, run_execution
from tests.editor.conftest import RESPOND, TRIGGER, current_payload
from tests.editor.conftest import build as build_editor
from tests.engine.conftest import build, runs_of
from tests.waiting import eventually

DEEP = "[" * 100_000 + "]" * 100_000
ES, NS = Execution.Status, NodeRun.Status


# -- 3. the same nesting limit on the editor's JSON endpoints ----------------------------------------


def test_a_canvas_save_nested_100_000_deep_is_a_clear_400(cast):
    scenario = build_editor(cast.team, {1: (TRIGGER, {})})
    client = cast.client_for(cast.bob)
    client.raise_request_exception = False
    response = client.post(
        reverse("scenarios:graph", args=[scenario.pk]), DEEP, content_type="application/json"
    )
    assert response.status_code == 400


def test_a_run_sample_nested_100_000_deep_is_an_error_at_the_field(cast):
    scenario = build_editor(cast.team, {1: (TRIGGER, {})})
    client = cast.client_for(cast.bob)
    client.raise_request_exception = False
    response = client.post(reverse("scenarios:run", args=[scenario.pk]), {"sample_input": DEEP})
    assert response.status_code == 200 and "nested too deeply" in response.content.decode()
    assert not Execution.objects.exists()


def test_an_import_nested_100_000_deep_is_a_clear_error(cast):
    response = cast.client_for(cast.bob).post(reverse("scenarios:import"), {"text": DEEP})
    assert response.status_code == 400 and "nested too deeply" in response.content.decode()


# -- 38. two tabs, one version ----------------------------------------------------------------------


def _at_once(calls: list[Any]) -> list[Any]:
    """Run the calls in threads released together; each thread closes its own database connection."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = calls[i]()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_tabs_saving_the_same_version_at_the_same_moment_get_one_200_and_one_409(cast):
    scenario = build_editor(cast.team, {1: (TRIGGER, {}), 2: (RESPOND, {"body": "ok"})}, [(1, 2)])
    for round_ in range(5):
        payload = current_payload(scenario)
        tabs = []
        for x in (100.0 + round_, 900.0 + round_):
            mine = json.loads(json.dumps(payload))
            mine["nodes"][0]["x"] = x
            client = Client()
            client.force_login(cast.bob)
            url = reverse("scenarios:graph", args=[scenario.pk])
            tabs.append(
                lambda c=client, p=mine, u=url: c.post(u, json.dumps(p), content_type="application/json")
            )
        statuses = sorted(r.status_code for r in _at_once(tabs))
        assert statuses == [200, 409], f"round {round_}: {statuses}"
        scenario.refresh_from_db()
        assert scenario.version == payload["version"] + 1


@pytest.mark.django_db(transaction=True)
def test_two_inspectors_saving_the_same_version_keep_exactly_one_of_the_two(cast):
    scenario = build_editor(cast.team, {1: (TRIGGER, {}), 2: (RESPOND, {"body": "ok"})}, [(1, 2)])
    node = scenario.nodes.get(number=2)
    url = reverse("scenarios:inspector", args=[scenario.pk, node.pk])

    def tab(body: str) -> Any:
        client = Client()
        client.force_login(cast.bob)
        return lambda: (body, client.post(url, {"status": "200", "body": body, "version": 1}))

    results = _at_once([tab("from tab A"), tab("from tab B")])
    winners = [body for body, response in results if response.status_code == 200]
    assert sorted(response.status_code for _, response in results) == [200, 409]
    node.refresh_from_db()
    assert node.params["body"] == winners[0]


# -- 39. editing while it runs ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_nodes", "no_background_executor")
async def test_editing_and_deleting_nodes_mid_run_leaves_the_running_execution_on_its_snapshot(cast):
    scenario: Scenario = await sync_to_async(build)(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.sleep", {"seconds": 0.6, "v": "{{$1.a}}"}),
            3: ("test.echo", {"a": "{{$2.params.v}}", "b": "as saved"}),
        },
        [(1, 2), (2, 3)],
    )
    execution = await sync_to_async(create_execution)(scenario, Execution.Trigger.MANUAL, {"a": "A"})
    before = execution.snapshot
    lease = await sync_to_async(jobs.claim)("hostile-test", 30)
    assert lease is not None and lease.pk == execution.pk
    run = asyncio.create_task(run_execution(lease))

    node_two_running = NodeRun.objects.filter(execution=execution, node_number=2, status=NS.RUNNING)
    await eventually(node_two_running.aexists, "node $2 to start")

    def edit() -> None:
        client = Client()
        client.force_login(cast.bob)
        payload = current_payload(scenario)
        third = str(scenario.nodes.get(number=3).pk)
        payload["nodes"] = [n for n in payload["nodes"] if n["key"] != third]
        payload["edges"] = [e for e in payload["edges"] if third not in (e["source"], e["target"])]
        assert (
            client.post(
                reverse("scenarios:graph", args=[scenario.pk]),
                json.dumps(payload),
                content_type="application/json",
            ).status_code
            == 200
        )
        scenario.nodes.filter(number=2).update(params={"seconds": 0, "v": "edited"})
        scenario.nodes.filter(number=1).update(kind="no.such.type")

    await sync_to_async(edit)()
    await asyncio.wait_for(run, 10)
    await sync_to_async(execution.refresh_from_db)()
    assert execution.status == ES.SUCCEEDED, execution.error
    assert execution.snapshot == before
    runs = await sync_to_async(runs_of)(execution)
    assert runs[2].output["params"] == {"seconds": 0.6, "v": "A"}
    assert runs[3].output["params"] == {"a": "A", "b": "as saved"}
    assert not await sync_to_async(scenario.nodes.filter(number=3).exists)()
