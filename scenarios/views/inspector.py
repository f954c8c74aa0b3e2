"""The inspector: one node's form (built from its type's fields), Save, Run once, and the data picker.

The views are async because two things in them wait on the network (the provider's model list and a
single-node run); the database work runs in threads through `sync_to_async`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from nodes.base import NodeError
from nodes.forms import NodeForm, build_form, credential_from_form, params_from_form
from nodes.node_settings import ON_ERROR
from nodes.registry import NODE_TYPES
from nodes.transport.http import list_models
from nodes.types import schedule
from scenarios import canvas, graph, picker, test_calls
from scenarios.models import Node, NodeRun, Scenario
from scenarios.runtime import scheduling, webhooks
from scenarios.runtime.engine import run_node_once
from scenarios.views.common import scenario_for, user_of
from teams.models import Credential, Membership, Role

INSPECTOR = "scenarios/inspector.html#inspector"
MODELS_TIMEOUT = 6.0


@dataclass
class Opened:
    """A node opened in the inspector by a user allowed to see (or edit) it."""

    scenario: Scenario
    membership: Membership
    node: Node
    credential: Credential | None  # the posted one when the form changes it, else the node's
    models: list[str] | None = None
    models_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _open(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID, role: Role) -> Opened:
    scenario, membership = scenario_for(request, scenario_id, role)
    node = get_object_or_404(scenario.nodes.select_related("credential"), pk=node_id)
    credential = node.credential
    posted = (request.POST if request.method == "POST" else request.GET).get("credential")
    if posted:
        posted_id = _uuid(posted)
        credential = (
            Credential.objects.for_team(scenario.team).filter(pk=posted_id).first() if posted_id else None
        )
    return Opened(scenario, membership, node, credential)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def _load_models(opened: Opened) -> None:
    """Fill the model list from the credential's provider, or say why it is not there."""
    node_type = NODE_TYPES.get(opened.node.kind)
    if node_type is None or not any(f.live_choices == "models" for f in node_type.fields):
        return
    if opened.credential is None:
        opened.models_error = "Choose a credential to load its models, or type a model ID."
        return
    try:
        opened.models = await asyncio.wait_for(list_models(opened.credential), MODELS_TIMEOUT)
    except NodeError as exc:
        opened.models_error = exc.message
    except TimeoutError:
        opened.models_error = f"The model list of '{opened.credential.name}' took too long to load. You can still type a model ID."


def _webhook_url(request: HttpRequest, scenario: Scenario) -> str:
    return request.build_absolute_uri(webhooks.url_for(scenario.webhook_token))


def _form(request: HttpRequest, opened: Opened, data: Any = None) -> NodeForm:
    scenario, node = opened.scenario, opened.node
    return build_form(
        NODE_TYPES[node.kind],
        data=data,
        initial={**node.params, "credential": node.credential_id},
        team=scenario.team,
        upstream=graph.ancestors(node.number, canvas.edge_numbers(scenario)),
        known=list(scenario.nodes.values_list("number", flat=True)),
        models=opened.models,
        models_error=opened.models_error,
        webhook_url=_webhook_url(request, scenario),
    )


def last_run_of(scenario: Scenario, node: Node) -> NodeRun | None:
    return (
        NodeRun.objects.filter(execution__scenario=scenario, node_number=node.number)
        .select_related("execution")
        .order_by("-execution__created_at", "-attempt")
        .first()
    )


def _render(
    request: HttpRequest, opened: Opened, form: NodeForm | None = None, status: int = 200
) -> HttpResponse:
    scenario, node = opened.scenario, opened.node
    node_type = NODE_TYPES.get(node.kind)
    context: dict[str, Any] = {
        "scenario": scenario,
        "node": node,
        "node_type": node_type,
        "can_edit": opened.membership.allows(Role.EDITOR),
        "upstream": picker.upstream_outputs(scenario, node),
        "last_run": last_run_of(scenario, node),
        "title_value": node.label,
        **opened.extra,
    }
    if node_type is not None:
        context["form"] = form if form is not None else _form(request, opened)
        if node.kind == schedule.KEY:
            context.update(_schedule_preview(node.params if isinstance(node.params, dict) else {}))
        elif node_type.kind == "trigger":
            context["webhook_url"] = _webhook_url(request, scenario)
            context["webhook_calls"] = picker.last_webhook_inputs(scenario)
            context["listening"] = test_calls.listening(scenario)
    return render(request, INSPECTOR, context, status=status)


def _save(request: HttpRequest, opened: Opened) -> HttpResponse | None:
    """Store the posted form. Returns None when saved (or unchanged), else the response to send."""
    node = opened.node
    label = request.POST.get("label", node.label).strip()[:200]
    opened.extra["title_value"] = label
    if node.kind not in NODE_TYPES:
        opened.extra["error"] = "This node's type no longer exists, so it cannot be changed."
        return _render(request, opened)
    form = _form(request, opened, request.POST)
    if not form.is_valid():
        return _render(request, opened, form)
    params, credential = params_from_form(form), credential_from_form(form)
    dropped = canvas.connected_ports_dropped(node, params)
    if dropped:
        ports = ", ".join(f"“{port}”" for port in dropped)
        field = ON_ERROR if ON_ERROR in form.fields else None
        form.add_error(field, f"${node.number}'s port {ports} is connected: remove that connection first.")
        return _render(request, opened, form)
    if params == node.params and label == node.label and credential == node.credential:
        return None
    try:
        with transaction.atomic():
            version = canvas.claim_version(
                opened.scenario, canvas.parse_version(request.POST.get("version")), user_of(request)
            )
            node.params, node.label, node.credential = params, label, credential
            node.save(update_fields=["params", "label", "credential"])
    except canvas.StaleVersion as exc:
        opened.extra["conflict"] = str(exc)
        response = _render(request, opened, form, status=409)
        response["X-Scenario-Version"] = str(exc.current)
        return response
    except canvas.GraphInvalid as exc:
        opened.extra["error"] = str(exc)
        return _render(request, opened, form)
    opened.extra["saved_version"] = version
    return None


def _with_saved_event(response: HttpResponse, opened: Opened) -> HttpResponse:
    version = opened.extra.get("saved_version")
    if version is None:
        return response
    response["X-Scenario-Version"] = str(version)
    node = opened.node
    data = canvas.node_data(node, NODE_TYPES.get(node.kind))
    return trigger_client_event(response, "scenery:nodeSaved", {**data, "version": version})


def _inspector_sync(request: HttpRequest, opened: Opened) -> HttpResponse:
    if request.method == "GET":
        return _render(request, opened)
    failed = _save(request, opened)
    if failed is not None:
        return failed
    opened.extra["saved"] = True
    return _with_saved_event(_render(request, opened), opened)


@login_required
@require_http_methods(["GET", "POST"])
async def inspector(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID) -> HttpResponse:
    role = Role.VIEWER if request.method == "GET" else Role.EDITOR
    opened = await sync_to_async(_open)(request, scenario_id, node_id, role)
    await _load_models(opened)
    return await sync_to_async(_inspector_sync)(request, opened)


TEST_CALL = "scenarios/inspector.html#test-call"


@login_required
@require_http_methods(["GET", "POST"])
def test_call(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID) -> HttpResponse:
    """Listening for a test call on a trigger: POST starts it (or ends it, with `stop`); GET, which
    the listening page repeats, says whether the call came (then the inspector loads it again)."""
    opened = _open(request, scenario_id, node_id, Role.VIEWER if request.method == "GET" else Role.EDITOR)
    scenario, node = opened.scenario, opened.node
    if node.kind != "webhook.trigger":
        return HttpResponse("Only a Trigger on Webhook listens for test calls.", status=400)
    if request.method == "POST":
        if request.POST.get("stop"):
            test_calls.stop(scenario)
        else:
            test_calls.listen(scenario)
    context = {
        "scenario": scenario,
        "node": node,
        "can_edit": opened.membership.allows(Role.EDITOR),
        "listening": test_calls.listening(scenario),
        "was_listening": request.method == "GET" and request.GET.get("waiting") == "1",
    }
    response = render(request, TEST_CALL, context)
    if context["was_listening"] and not context["listening"] and scenario.test_call_until is None:
        # The call came (or listening was stopped elsewhere): the form shows the new test data.
        response["X-Scenario-Version"] = str(scenario.version)
        data = canvas.node_data(node, NODE_TYPES.get(node.kind))
        response = trigger_client_event(response, "scenery:nodeSaved", {**data, "version": scenario.version})
        response = trigger_client_event(response, "scenery:testCallReceived", {"nodeId": str(node.pk)})
    return response


def _after_run(request: HttpRequest, opened: Opened, run: NodeRun) -> HttpResponse:
    opened.node.refresh_from_db()
    opened.extra.update(last_run=run, ran=True)
    return _with_saved_event(_render(request, opened), opened)


@login_required
@require_POST
async def run_once(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID) -> HttpResponse:
    """Save the form as it is, then run this node alone and show what it did."""
    opened = await sync_to_async(_open)(request, scenario_id, node_id, Role.EDITOR)
    await _load_models(opened)
    failed = await sync_to_async(_save)(request, opened)
    if failed is not None:
        return failed
    await sync_to_async(opened.node.refresh_from_db)()
    run = await run_node_once(opened.node, await request.auser())
    return await sync_to_async(_after_run)(request, opened, run)


@login_required
@require_GET
async def node_models(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID) -> HttpResponse:
    """The model list for the credential chosen in the form (before it is saved), as JSON."""
    opened = await sync_to_async(_open)(request, scenario_id, node_id, Role.EDITOR)
    await _load_models(opened)
    return JsonResponse({"models": opened.models or [], "error": opened.models_error})


SCHEDULE_TIMES = "scenarios/inspector.html#schedule-times"
FIRE_TIMES_SHOWN = 5


def _schedule_preview(params: dict[str, Any]) -> dict[str, Any]:
    """The Schedule trigger's next fire times, or what is wrong with it, for the inspector."""
    try:
        return {"fire_times": scheduling.next_times(params, FIRE_TIMES_SHOWN), "schedule_shown": True}
    except NodeError as exc:
        return {"schedule_error": exc.message, "schedule_shown": True}


def _typed_number(text: str | None) -> Any:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return text


@login_required
@require_GET
def schedule_times(request: HttpRequest, scenario_id: uuid.UUID, node_id: uuid.UUID) -> HttpResponse:
    """The next fire times of the schedule as typed in the form (not saved yet): the inspector asks
    for them as the user types."""
    opened = _open(request, scenario_id, node_id, Role.VIEWER)
    if opened.node.kind != schedule.KEY:
        return HttpResponse("Only a Schedule trigger has fire times.", status=400)
    query = request.GET
    params = {
        "cron": query.get("cron", ""),
        "every": _typed_number(query.get("every")),
        "every_unit": query.get("every_unit", ""),
        "timezone": query.get("timezone", ""),
    }
    context = {"scenario": opened.scenario, "node": opened.node, **_schedule_preview(params)}
    return render(request, SCHEDULE_TIMES, context)
