"""Cancelling an execution: it ends as cancelled at once, its worker is fenced out and stops its
nodes, and the webhook caller is told."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from durable.leases import Lease, LeaseLost
from nodes.base import NodeContext
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build, node_type
from tests.waiting import HANG, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES = Execution.Status
NS = NodeRun.Status


@pytest.fixture
def stuck() -> Iterator[threading.Event]:
    """A node type `test.stuck` that runs until cancelled; the event is set once it was cancelled."""
    cancelled = threading.Event()

    async def forever(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return {"woke": True}

    with node_type("test.stuck", forever):
        yield cancelled


def _stuck_scenario(cast) -> Scenario:
    return build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("test.stuck", {}), 3: ("webhook.response", {"body": "never"})},
        [(1, 2), (2, 3)],
    )


def _cancel_url(execution: Execution) -> str:
    return reverse("scenarios:cancel_run", args=[execution.scenario_id, execution.pk])


def test_an_editor_cancels_a_running_webhook_run_and_the_caller_is_told(asgi_server, cast, stuck):
    scenario = _stuck_scenario(cast)
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(
            httpx.post, f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={}, timeout=30
        )
        wait_until(
            lambda: NodeRun.objects.filter(node_number=2, status=NS.RUNNING).exists(), "node $2 to run"
        )
        execution = Execution.objects.get(scenario=scenario)
        page = cast.client_for(cast.bob).post(_cancel_url(execution), HTTP_HX_REQUEST="true")
        answer = call.result(timeout=30)
    assert page.status_code == 200 and "Cancelled by bob." in page.content.decode()
    assert "Cancel this run" not in page.content.decode()
    assert answer.status_code == 409  # the cancel answered: not the deadline (504) nor the node
    assert answer.json() == {
        "error": "The run was cancelled before it answered. Cancelled by bob.",
        "execution_id": str(execution.pk),
    }
    assert stuck.wait(HANG), "the running node was not stopped"
    execution.refresh_from_db()
    assert execution.status == ES.CANCELLED and execution.error == "Cancelled by bob."
    assert execution.finished_at is not None and execution.lease_owner == ""
    runs = {run.node_number: run for run in execution.node_runs.all()}
    assert runs[1].status == NS.SUCCEEDED
    assert runs[2].status == NS.FAILED and runs[2].error == {"message": "Cancelled by bob. It was cut short."}
    assert runs[3].status == NS.SKIPPED and runs[3].error == {"message": "Cancelled by bob. It did not run."}


@pytest.mark.usefixtures("no_background_executor")
def test_a_queued_run_cancelled_is_never_claimed(cast):
    execution = create_execution(_stuck_scenario(cast), Execution.Trigger.MANUAL, {})
    response = cast.client_for(cast.alice).post(_cancel_url(execution))
    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.status == ES.CANCELLED and execution.started_at == execution.finished_at
    assert jobs.claim("any-worker", 30) is None


@pytest.mark.usefixtures("no_background_executor")
def test_a_worker_elsewhere_is_fenced_out_by_the_cancel(cast):
    execution = create_execution(_stuck_scenario(cast), Execution.Trigger.MANUAL, {})
    lease = jobs.claim("worker-elsewhere", 30)
    assert lease is not None and lease.pk == execution.pk
    assert jobs.cancel(execution, by="alice")
    with pytest.raises(LeaseLost):
        lease.update(error="overwritten by a zombie")
    assert lease.renew(30) is False  # its heartbeat stops the job
    execution.refresh_from_db()
    assert execution.status == ES.CANCELLED and execution.error == "Cancelled by alice."


@pytest.mark.usefixtures("no_background_executor")
def test_a_run_that_has_ended_stays_as_it_was(cast):
    execution = create_execution(_stuck_scenario(cast), Execution.Trigger.MANUAL, {})
    Execution.objects.filter(pk=execution.pk).update(status=ES.SUCCEEDED, finished_at=timezone.now())
    assert jobs.cancel(execution, by="alice") is False
    page = cast.client_for(cast.bob).post(_cancel_url(execution), HTTP_HX_REQUEST="true")
    assert page.status_code == 200 and "Cancel this run" not in page.content.decode()
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED and execution.error == ""


@pytest.mark.usefixtures("no_background_executor")
def test_only_editors_see_and_use_the_cancel_button(cast):
    execution = create_execution(_stuck_scenario(cast), Execution.Trigger.MANUAL, {})
    detail = reverse("scenarios:run_detail", args=[execution.scenario_id, execution.pk])
    assert "Cancel this run" in cast.client_for(cast.bob).get(detail).content.decode()
    assert "Cancel this run" not in cast.client_for(cast.carol).get(detail).content.decode()
    assert cast.client_for(cast.carol).post(_cancel_url(execution)).status_code == 403
    assert cast.client_for(cast.mallory).post(_cancel_url(execution)).status_code == 404
    execution.refresh_from_db()
    assert execution.status == ES.QUEUED


@pytest.mark.usefixtures("no_background_executor")
def test_a_lease_expired_long_ago_is_still_fenced(cast):
    """Cancelling clears the owner, so even a worker whose lease had already run out cannot write."""
    execution = create_execution(_stuck_scenario(cast), Execution.Trigger.MANUAL, {})
    Execution.objects.filter(pk=execution.pk).update(
        status=ES.RUNNING, attempt=1, lease_owner="old", lease_until=timezone.now() - timedelta(minutes=5)
    )
    assert jobs.cancel(execution, by="alice")
    with pytest.raises(LeaseLost):
        Lease(model=Execution, pk=execution.pk, attempt=1, owner="old").update(error="late")
