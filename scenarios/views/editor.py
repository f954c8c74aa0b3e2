"""The editor page, the canvas's graph endpoint, and the outline (the canvas as an accessible list)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from nodes import json_limits
from nodes.base import DEFAULT_PORT
from nodes.registry import NODE_TYPES
from scenarios import canvas
from scenarios.models import Scenario
from scenarios.snapshot import validate_graph
from scenarios.views.common import scenario_for, user_of
from teams.models import Role

EDITOR = "scenarios/editor.html"
MAX_SAVE_BYTES = 4 * 1024 * 1024


def catalog() -> list[tuple[str, list[dict[str, Any]]]]:
    """The node types grouped by app, triggers first within each app."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for node_type in NODE_TYPES.values():
        groups[node_type.app].append(node_type.catalog_entry())
    order = {"trigger": 0, "action": 1, "response": 2}
    return [
        (app, sorted(entries, key=lambda e: (order.get(e["kind"], 1), e["title"])))
        for app, entries in sorted(groups.items())
    ]


def outline_context(scenario: Scenario, error: str = "") -> dict[str, Any]:
    nodes = list(scenario.nodes.all())
    runs = canvas.last_runs(scenario)
    types = {n.number: NODE_TYPES.get(n.kind) for n in nodes}
    titles = {}
    for n in nodes:
        node_type = types[n.number]
        titles[n.number] = n.label or (node_type.title if node_type else n.kind)
    # A source with several output ports is connected and listed port by port.
    params = {n.number: n.params for n in nodes}
    outputs = {number: t.outputs_for(params[number]) for number, t in types.items() if t is not None}
    ports = {number: ports for number, ports in outputs.items() if len(ports) > 1}
    return {
        "scenario": scenario,
        "outline_nodes": [
            {
                "node": n,
                "title": titles[n.number],
                "last": runs.get(n.number),
                "type": types[n.number],
                "ports": ports.get(n.number, ()),
            }
            for n in nodes
        ],
        "outline_edges": [
            {
                "source": link.source,
                "target": link.target,
                "port": link.port,
                "named_port": link.source in ports,
                "source_title": titles.get(link.source, ""),
                "target_title": titles.get(link.target, ""),
            }
            for link in sorted(canvas.links(scenario))
        ],
        "outline_error": error,
    }


@login_required
@require_GET
def editor(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    context = {
        **outline_context(scenario),
        "graph": {**canvas.graph_data(scenario), "problems": validate_graph(scenario)},
        "catalog": catalog(),
        "can_edit": membership.allows(Role.EDITOR),
    }
    return render(request, EDITOR, context)


def _json_error(message: str, status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def graph(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    if request.method == "GET":
        scenario, _ = scenario_for(request, scenario_id)
        return JsonResponse(canvas.graph_data(scenario))
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    if len(request.body) > MAX_SAVE_BYTES:
        return _json_error("The scenario is too large to save (over 4 MB).", 413)
    try:
        data = json_limits.loads(request.body, "save")
    except json_limits.BadData as exc:
        return _json_error(str(exc), 400)
    try:
        result = canvas.save_graph(scenario, data, user_of(request))
    except canvas.StaleVersion as exc:
        return _json_error(str(exc), 409, version=exc.current)
    except canvas.GraphInvalid as exc:
        return _json_error(str(exc), 400)
    return JsonResponse(
        {
            "version": result.version,
            "highest_number": result.highest_number,
            "nodes": [
                {"key": key, "id": str(node.pk), "number": node.number} for key, node in result.nodes.items()
            ],
            "problems": validate_graph(scenario),
        }
    )


# -- the outline ------------------------------------------------------------------------------------


@login_required
@require_GET
def outline(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    context = {**outline_context(scenario), "can_edit": membership.allows(Role.EDITOR)}
    return render(request, f"{EDITOR}#outline", context)


def _current(scenario: Scenario) -> dict[str, Any]:
    """The graph as it is in the database, in the shape of a canvas save."""
    return {
        "version": scenario.version,
        "nodes": [
            {"key": str(n.pk), "id": str(n.pk), "x": n.position_x, "y": n.position_y}
            for n in scenario.nodes.all()
        ],
        "edges": canvas.edge_keys(scenario),
    }


def _apply_outline_change(request: HttpRequest, scenario: Scenario, data: dict[str, Any]) -> HttpResponse:
    """Save a change made in the outline through the same checks as the canvas, and re-render it."""
    try:
        data["version"] = canvas.parse_version(request.POST.get("version"))
        result = canvas.save_graph(scenario, data, user_of(request))
    except canvas.StaleVersion as exc:
        response = render(
            request, f"{EDITOR}#outline", {**outline_context(scenario, str(exc)), "can_edit": True}
        )
        response.status_code = 409
        response["X-Scenario-Version"] = str(exc.current)
        return response
    except canvas.GraphInvalid as exc:
        return render(request, f"{EDITOR}#outline", {**outline_context(scenario, str(exc)), "can_edit": True})
    response = render(request, f"{EDITOR}#outline", {**outline_context(scenario), "can_edit": True})
    response["X-Scenario-Version"] = str(result.version)
    return trigger_client_event(response, "scenery:graphChanged", {"version": result.version})


def _node_key(scenario: Scenario, number: Any) -> str | None:
    try:
        node = scenario.nodes.filter(number=int(number)).first()
    except (TypeError, ValueError):
        return None
    return str(node.pk) if node else None


@login_required
@require_POST
def outline_connect(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    data = _current(scenario)
    # The source is "3", or "3:false" for one port of a node with several.
    number, _, port = request.POST.get("source", "").partition(":")
    source, target = _node_key(scenario, number), _node_key(scenario, request.POST.get("target"))
    if source is None or target is None:
        context = {**outline_context(scenario, "Choose two nodes to connect."), "can_edit": True}
        return render(request, f"{EDITOR}#outline", context)
    data["edges"].append({"source": source, "target": target, "port": port or DEFAULT_PORT})
    return _apply_outline_change(request, scenario, data)


@login_required
@require_POST
def outline_disconnect(
    request: HttpRequest, scenario_id: uuid.UUID, source: int, target: int
) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    data = _current(scenario)
    edge = (
        _node_key(scenario, source),
        _node_key(scenario, target),
        request.POST.get("port") or DEFAULT_PORT,
    )
    data["edges"] = [e for e in data["edges"] if (e["source"], e["target"], e["port"]) != edge]
    return _apply_outline_change(request, scenario, data)


@login_required
@require_POST
def outline_delete_node(request: HttpRequest, scenario_id: uuid.UUID, number: int) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    data = _current(scenario)
    key = _node_key(scenario, number)
    data["nodes"] = [n for n in data["nodes"] if n["key"] != key]
    data["edges"] = [e for e in data["edges"] if key not in (e["source"], e["target"])]
    return _apply_outline_change(request, scenario, data)


@login_required
@require_POST
def outline_add_node(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    data = _current(scenario)
    kind = request.POST.get("kind", "")
    lowest = max((n.position_y for n in scenario.nodes.all()), default=0.0)
    data["nodes"].append(
        {"key": "new", "kind": kind, "number": scenario.next_node_number(), "x": 80.0, "y": lowest + 120.0}
    )
    return _apply_outline_change(request, scenario, data)
