"""The canvas's view of a scenario, and saving the canvas back.

A save carries the whole graph the browser has (nodes with positions, edges) and the scenario version
it started from. The server checks the version (a stale save is refused, never merged), checks the
edges (no self-loop, nothing into a trigger, a port the source's type has, no duplicate from the same
port, no cycle), then makes the database match:
nodes missing from the save are deleted, unknown ones (added, pasted or restored by undo) are created
with fresh ids, and the edges are replaced.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from nodes import expressions
from nodes.base import DEFAULT_PORT, NodeType
from nodes.registry import NODE_TYPES
from scenarios import graph
from scenarios.models import Edge, Execution, Node, NodeRun, Scenario
from scenarios.snapshot import unknown_port
from teams.models import Credential, User

MAX_NODES = 1000
MAX_PARAMS_BYTES = 256 * 1024
MAX_COORDINATE = 1_000_000.0
MAX_RETIRED_NODES = 1000  # deleted nodes an undo can bring back with their number


class StaleVersion(Exception):
    """The scenario changed since the browser loaded it."""

    def __init__(self, current: int) -> None:
        super().__init__(
            "This scenario was changed elsewhere (another tab or person) since you opened it. "
            "Reload to see the latest version; your change was not saved."
        )
        self.current = current


class GraphInvalid(ValueError):
    pass


# -- reading ----------------------------------------------------------------------------------------


def last_runs(scenario: Scenario, *, executions: int = 30) -> dict[int, NodeRun]:
    """The most recent run of each node number, over the latest executions."""
    recent = list(
        Execution.objects.filter(scenario=scenario)
        .order_by("-created_at")
        .values_list("id", flat=True)[:executions]
    )
    runs: dict[int, NodeRun] = {}
    for run in (
        NodeRun.objects.filter(execution_id__in=recent)
        .select_related("execution")
        .order_by("-execution__created_at", "-attempt", "-id")
    ):
        runs.setdefault(run.node_number, run)
    return runs


def status_of(run: NodeRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "status": run.status,
        "duration_ms": run.duration_ms,
        "execution": str(run.execution_id),
        "ports": run.ports,
    }


def node_data(node: Node, node_type: NodeType | None, run: NodeRun | None = None) -> dict[str, Any]:
    return {
        "id": str(node.id),
        "number": node.number,
        "kind": node.kind,
        "label": node.label,
        "title": node.label or (node_type.title if node_type else node.kind),
        "app": node_type.app if node_type else "Unknown",
        "color": node_type.color if node_type else "#8a8f98",
        "icon": node_type.icon if node_type else "unknown",
        "trigger": bool(node_type and node_type.kind == "trigger"),
        "x": node.position_x,
        "y": node.position_y,
        "params": node.params,
        "credential": str(node.credential_id) if node.credential_id else None,
        "outputs": list(node_type.outputs_for(node.params)) if node_type else [DEFAULT_PORT],
        "port_labels": node_type.labels_for(node.params) if node_type else {},
        "last": status_of(run),
    }


def graph_data(scenario: Scenario) -> dict[str, Any]:
    """Everything the canvas draws: the version, the nodes (with their last run) and the edges."""
    runs = last_runs(scenario)
    nodes = [node_data(n, NODE_TYPES.get(n.kind), runs.get(n.number)) for n in scenario.nodes.all()]
    return {
        "version": scenario.version,
        "highest_number": scenario.highest_number_used(),
        "nodes": nodes,
        "edges": edge_keys(scenario),
    }


def edge_keys(scenario: Scenario) -> list[dict[str, str]]:
    """The edges as the canvas saves them: {"source": node id, "target": node id, "port": source port}."""
    return [
        {"source": str(s), "target": str(t), "port": port}
        for s, t, port in scenario.edges.values_list("source_id", "target_id", "source_port")
    ]


def edge_numbers(scenario: Scenario) -> list[tuple[int, int]]:
    return list(scenario.edges.values_list("source__number", "target__number"))


def links(scenario: Scenario) -> list[graph.Link]:
    """The edges by node number, with their source port."""
    return [
        graph.Link(*row)
        for row in scenario.edges.values_list("source__number", "target__number", "source_port")
    ]


# -- the version --------------------------------------------------------------------------------------


def parse_version(value: Any) -> int:
    try:
        version = int(value)
    except (TypeError, ValueError, OverflowError):
        raise GraphInvalid("The save did not say which version of the scenario it started from.") from None
    return version


def claim_version(scenario: Scenario, expected: int, user: User) -> int:
    """Move the scenario from `expected` to the next version, or raise StaleVersion. Call inside atomic()."""
    changed = Scenario.objects.filter(pk=scenario.pk, version=expected).update(
        version=F("version") + 1, updated_by=user, updated_at=timezone.now()
    )
    if not changed:
        current = Scenario.objects.filter(pk=scenario.pk).values_list("version", flat=True).first()
        raise StaleVersion(current or 0)
    scenario.version = expected + 1
    scenario.updated_by = user
    return scenario.version


# -- saving ------------------------------------------------------------------------------------------


@dataclass
class IncomingNode:
    key: str
    existing: Node | None
    number: int
    kind: str
    label: str
    x: float
    y: float
    params: dict[str, Any]
    credential: Credential | None
    former_id: str = ""  # a new node's id from before it was deleted (an undo brings it back)

    @classmethod
    def of(cls, node: Node) -> IncomingNode:
        return cls(
            str(node.pk),
            node,
            node.number,
            node.kind,
            node.label,
            node.position_x,
            node.position_y,
            node.params,
            node.credential,
        )

    def create(self, scenario: Scenario) -> Node:
        return Node.objects.create(
            scenario=scenario,
            number=self.number,
            kind=self.kind,
            label=self.label,
            position_x=self.x,
            position_y=self.y,
            params=self.params,
            credential=self.credential,
        )


def _coordinate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise GraphInvalid(f"The {what} position must be a number.")
    return max(-MAX_COORDINATE, min(MAX_COORDINATE, float(value)))


def _parse_nodes(scenario: Scenario, raw_nodes: Any) -> list[IncomingNode]:
    if not isinstance(raw_nodes, list):
        raise GraphInvalid("The save has no list of nodes.")
    if len(raw_nodes) > MAX_NODES:
        raise GraphInvalid(f"A scenario can have at most {MAX_NODES} nodes.")
    existing = {str(n.id): n for n in scenario.nodes.all()}
    credentials = {str(c.id): c for c in Credential.objects.for_team(scenario.team)}
    parsed: list[IncomingNode] = []
    keys: set[str] = set()
    for raw in raw_nodes:
        if not isinstance(raw, dict):
            raise GraphInvalid("Every node in the save must be an object.")
        key = str(raw.get("key") or raw.get("id") or "")
        if not key or key in keys:
            raise GraphInvalid("Every node in the save needs its own key.")
        keys.add(key)
        node = existing.get(str(raw.get("id") or ""))
        x = _coordinate(raw.get("x"), "x")
        y = _coordinate(raw.get("y"), "y")
        if node is not None:
            # Kind, label, params and credential of an existing node are the inspector's to change.
            parsed.append(
                IncomingNode(
                    key, node, node.number, node.kind, node.label, x, y, node.params, node.credential
                )
            )
            continue
        kind = raw.get("kind")
        node_type = NODE_TYPES.get(kind) if isinstance(kind, str) else None
        if node_type is None or not isinstance(kind, str):
            raise GraphInvalid(f"There is no node type {kind!r}.")
        number = raw.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise GraphInvalid("A new node needs a positive number.")
        params = raw.get("params")
        if params is None:
            params = node_type.defaults()
        if not isinstance(params, dict) or len(json.dumps(params)) > MAX_PARAMS_BYTES:
            raise GraphInvalid(
                f"The parameters of the new node ${number} must be a JSON object under 256 KB."
            )
        try:
            # Only references to nodes (and paths in their output) may sit between braces; which
            # nodes they name is checked later, as a problem to show, since a paste may name others.
            expressions.references(params)
        except expressions.ExpressionError as exc:
            raise GraphInvalid(f"${number}: {exc}") from exc
        label = raw.get("label") or ""
        if not isinstance(label, str):
            raise GraphInvalid("A node's title must be text.")
        # A credential pasted from another team's scenario is dropped, never borrowed.
        credential = credentials.get(str(raw.get("credential") or ""))
        node_type = NODE_TYPES.get(kind)
        if not raw.get("credential") and len(credentials) == 1 and node_type and node_type.uses_credential:
            # A team with a single credential: a new node that needs one starts with it chosen.
            (credential,) = credentials.values()
        former = str(raw.get("former_id") or raw.get("id") or "")
        parsed.append(IncomingNode(key, None, number, kind, label[:200], x, y, params, credential, former))
    return parsed


def _renumber_new(scenario: Scenario, nodes: list[IncomingNode]) -> None:
    """Never give a number twice: a new node that arrives with a number used before (a deleted
    node's, from another tab or a stale page) gets the next number never used, unless it is that
    deleted node itself, brought back by an undo. Call inside atomic(), after claim_version, which
    holds the scenario's row."""
    current = Scenario.objects.only("highest_node_number", "retired_nodes").get(pk=scenario.pk)
    stored = {str(pk): number for pk, number in scenario.nodes.values_list("pk", "number")}
    highest = max([current.highest_node_number, *stored.values()])
    retired = dict(current.retired_nodes) if isinstance(current.retired_nodes, dict) else {}
    taken = {n.number for n in nodes if n.existing is not None}
    fresh = max([highest, *(n.number for n in nodes)]) + 1
    for incoming in nodes:
        if incoming.existing is not None:
            continue
        returning = retired.get(incoming.former_id) == incoming.number
        if (incoming.number <= highest and not returning) or incoming.number in taken:
            incoming.number, fresh = fresh, fresh + 1
        retired.pop(incoming.former_id, None)
        taken.add(incoming.number)
    kept = {str(n.existing.pk) for n in nodes if n.existing is not None}
    retired.update((node_id, number) for node_id, number in stored.items() if node_id not in kept)
    scenario.highest_node_number = max([highest, *taken])
    scenario.retired_nodes = dict(list(retired.items())[-MAX_RETIRED_NODES:])
    Scenario.objects.filter(pk=scenario.pk).update(
        highest_node_number=scenario.highest_node_number, retired_nodes=scenario.retired_nodes
    )


def _parse_edges(nodes: list[IncomingNode], raw_edges: Any) -> list[tuple[IncomingNode, IncomingNode, str]]:
    if not isinstance(raw_edges, list):
        raise GraphInvalid("The save has no list of connections.")
    by_key = {n.key: n for n in nodes}
    edges: list[tuple[IncomingNode, IncomingNode, str]] = []
    seen: set[graph.Link] = set()
    for raw in raw_edges:
        if not isinstance(raw, dict):
            raise GraphInvalid("Every connection in the save must be an object.")
        source, target = by_key.get(str(raw.get("source"))), by_key.get(str(raw.get("target")))
        if source is None or target is None:
            raise GraphInvalid("A connection must join two nodes of this scenario.")
        port = raw.get("port") or DEFAULT_PORT
        link = graph.Link(source.number, target.number, port if isinstance(port, str) else "")
        check_edge(link, NODE_TYPES.get(source.kind), NODE_TYPES.get(target.kind), seen, source.params)
        seen.add(link)
        edges.append((source, target, link.port))
    try:
        graph.topological_order([n.number for n in nodes], seen)
    except graph.CycleError as exc:
        raise GraphInvalid(f"{exc} A scenario runs from its trigger forward, so it cannot loop.") from exc
    return edges


def connected_ports_dropped(node: Node, params: dict[str, Any]) -> list[str]:
    """The output ports of `node` that have connections and that `params` would take away (an
    action whose "On error" no longer follows its error port)."""
    node_type = NODE_TYPES.get(node.kind)
    if node_type is None:
        return []
    kept = set(node_type.outputs_for(params))
    return sorted(set(node.outgoing.values_list("source_port", flat=True)) - kept)


def check_edge(
    link: graph.Link,
    source_type: NodeType | None,
    target_type: NodeType | None,
    existing: set[graph.Link],
    source_params: Any = None,
) -> None:
    """Refuse the connections a scenario cannot have, with a message saying why."""
    source, target = link.source, link.target
    if source == target:
        raise GraphInvalid(f"${source} cannot be connected to itself.")
    if target_type is not None and target_type.kind == "trigger":
        raise GraphInvalid(
            f"${target} is a trigger: a scenario starts there, so nothing can connect into it."
        )
    outputs = source_type.outputs_for(source_params) if source_type is not None else (DEFAULT_PORT,)
    if link.port not in outputs:
        raise GraphInvalid(
            unknown_port(f"${source} {source_type.title if source_type else ''}".strip(), link.port, outputs)
        )
    if link in existing:
        if len(outputs) > 1:
            raise GraphInvalid(f"${source}'s port '{link.port}' is already connected to ${target}.")
        raise GraphInvalid(f"${source} is already connected to ${target}.")


@dataclass
class SaveResult:
    version: int
    nodes: dict[str, Node]
    highest_number: int


def save_graph(scenario: Scenario, data: Any, user: User) -> SaveResult:
    if not isinstance(data, dict):
        raise GraphInvalid("The save must be a JSON object.")
    expected = parse_version(data.get("version"))
    nodes = _parse_nodes(scenario, data.get("nodes"))
    edges = _parse_edges(nodes, data.get("edges"))
    with transaction.atomic():
        version = claim_version(scenario, expected, user)
        _renumber_new(scenario, nodes)
        keep = [n.existing.pk for n in nodes if n.existing is not None]
        scenario.nodes.exclude(pk__in=keep).delete()
        saved: dict[str, Node] = {}
        moved = []
        for incoming in nodes:
            if incoming.existing is not None:
                node = incoming.existing
                node.position_x, node.position_y = incoming.x, incoming.y
                moved.append(node)
            else:
                node = incoming.create(scenario)
            saved[incoming.key] = node
        Node.objects.bulk_update(moved, ["position_x", "position_y"], batch_size=500)
        scenario.edges.all().delete()
        Edge.objects.bulk_create(
            [
                Edge(scenario=scenario, source=saved[s.key], target=saved[t.key], source_port=port)
                for s, t, port in edges
            ]
        )
    return SaveResult(version=version, nodes=saved, highest_number=scenario.highest_node_number)


def duplicate(scenario: Scenario, user: User, name: str) -> Scenario:
    """A copy of the scenario's graph under a new name, inactive, with its own webhook URL."""
    with transaction.atomic():
        copy = Scenario.objects.create(
            team=scenario.team,
            name=name[:200],
            description=scenario.description,
            active=False,
            created_by=user,
            updated_by=user,
        )
        new_ids = {node.pk: IncomingNode.of(node).create(copy) for node in scenario.nodes.all()}
        Edge.objects.bulk_create(
            [
                Edge(scenario=copy, source=new_ids[s], target=new_ids[t], source_port=port)
                for s, t, port in scenario.edges.values_list("source_id", "target_id", "source_port")
            ]
        )
    return copy
