"""The immutable graph an execution runs, and the checks that decide whether a graph can be saved or run.

A snapshot is plain JSON stored on the Execution:

    {"scenario_version": 3,
     "nodes": [{"number": 1, "kind": "webhook.trigger", "label": "", "params": {}, "credential_id": null}, ...],
     "edges": [[1, 2], [2, 3, "false"]]}

An edge is `[source, target]` from the source's default port ("main"), or `[source, target, port]`
(scenarios/graph.py): snapshots stored before ports existed load and resume unchanged.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connections, router

from nodes import expressions
from scenarios import graph, loops
from scenarios.graph import CycleError, Link

if TYPE_CHECKING:
    from scenarios.models import Scenario


# The graphs of the scenario versions this process read lately, as JSON text. Every change to a
# graph claims a new version (canvas.claim_version), so a webhook call of an unchanged scenario
# finds its graph here instead of reading its nodes and edges again.
MAX_CACHED_GRAPHS = 256
_graphs: OrderedDict[tuple[Any, int], str] = OrderedDict()
_graphs_lock = threading.Lock()


def snapshot_of(scenario: Scenario) -> dict[str, Any]:
    """The graph of the scenario at its version (`scenario.version`): read in two plain queries the
    first time (every execution starts with this), then from this process's copy of that version."""
    key = (scenario.pk, scenario.version)
    with _graphs_lock:
        text = _graphs.get(key)
        if text is not None:
            _graphs.move_to_end(key)
    if text is not None:
        snapshot: dict[str, Any] = json.loads(text)  # a copy of its own: callers may change it
        return snapshot
    snapshot = _read_snapshot(scenario)
    with _graphs_lock:
        _graphs[key] = json.dumps(snapshot)
        while len(_graphs) > MAX_CACHED_GRAPHS:
            _graphs.popitem(last=False)
    return snapshot


def forget_graphs() -> None:
    """Read every graph from the database again (tests that change nodes without a new version)."""
    with _graphs_lock:
        _graphs.clear()


def _read_snapshot(scenario: Scenario) -> dict[str, Any]:
    from scenarios.models import Edge, Node

    connection = connections[router.db_for_read(Node)]
    quote = connection.ops.quote_name
    nodes_table, edges_table = quote(Node._meta.db_table), quote(Edge._meta.db_table)
    scenario_id = Node._meta.get_field("scenario").get_db_prep_value(scenario.pk, connection)
    params_field = Node._meta.get_field("params")
    credential_field = Node._meta.get_field("credential").target_field
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT number, kind, label, params, credential_id FROM {nodes_table} "
            "WHERE scenario_id = %s ORDER BY number",
            [scenario_id],
        )
        node_rows = cursor.fetchall()
        cursor.execute(
            f"SELECT source.number, target.number, edge.source_port FROM {edges_table} edge "
            f"JOIN {nodes_table} source ON source.id = edge.source_id "
            f"JOIN {nodes_table} target ON target.id = edge.target_id "
            "WHERE edge.scenario_id = %s ORDER BY source.number, target.number, edge.source_port",
            [scenario_id],
        )
        edges = [graph.Link(*row).as_json() for row in cursor.fetchall()]
    nodes = []
    for number, kind, label, params, credential_id in node_rows:
        params = params_field.from_db_value(params, None, connection)  # type: ignore[arg-type]
        nodes.append(
            {
                "number": number,
                "kind": kind,
                "label": label,
                "params": params if isinstance(params, dict) else {},
                "credential_id": str(credential_field.to_python(credential_id)) if credential_id else None,
            }
        )
    return {"scenario_version": scenario.version, "nodes": nodes, "edges": edges}


def node_kind_of(kind: str) -> str | None:
    """The catalog kind ("trigger", "action", "response") of a node type key, None when unknown."""
    from nodes.registry import NODE_TYPES

    node_type = NODE_TYPES.get(kind)
    return node_type.kind if node_type is not None else None


def title_of(spec: dict[str, Any]) -> str:
    """How a node is named in messages: `$2 Send Message`."""
    from nodes.registry import NODE_TYPES

    node_type = NODE_TYPES.get(spec["kind"])
    name = spec.get("label") or (node_type.title if node_type else spec["kind"])
    return f"${spec['number']} {name}"


@dataclass
class Plan:
    """A snapshot as a graph: who feeds whom, where it starts, which nodes a run reaches."""

    nodes: dict[int, dict[str, Any]]
    edges: list[Link]
    parents: dict[int, set[int]] = field(default_factory=dict)
    children: dict[int, set[int]] = field(default_factory=dict)
    # The edges into each node, from which node's which port (what must settle before it runs).
    inputs: dict[int, list[Link]] = field(default_factory=dict)
    triggers: list[int] = field(default_factory=list)

    # Derived sets, computed once per plan: a run asks for them at every node.
    _memo: dict[Any, frozenset[int]] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, snapshot: dict[str, Any]) -> Plan:
        """The plan of `snapshot`. A request asks several times of the same execution's snapshot (to
        start it, to run it, to answer its caller): the plans of the latest snapshots are remembered
        by identity, holding the snapshot so that its identity stays its own (snapshots are never
        changed in place)."""
        remembered = _plans.get(id(snapshot))
        if remembered is not None and remembered[0] is snapshot:
            return remembered[1]
        plan = cls._build(snapshot)
        if len(_plans) >= MAX_PLANS:
            _plans.pop(next(iter(_plans)), None)
        _plans[id(snapshot)] = (snapshot, plan)
        return plan

    @classmethod
    def _build(cls, snapshot: dict[str, Any]) -> Plan:
        nodes = {int(spec["number"]): spec for spec in snapshot.get("nodes", [])}
        edges = [link for raw in snapshot.get("edges", []) if (link := graph.link_of(raw)) is not None]
        parents: dict[int, set[int]] = defaultdict(set)
        children: dict[int, set[int]] = defaultdict(set)
        inputs: dict[int, list[Link]] = defaultdict(list)
        for link in sorted(edges):
            parents[link.target].add(link.source)
            children[link.source].add(link.target)
            inputs[link.target].append(link)
        triggers = sorted(n for n, spec in nodes.items() if node_kind_of(spec["kind"]) == "trigger")
        return cls(
            nodes=nodes,
            edges=edges,
            parents=dict(parents),
            children=dict(children),
            inputs=dict(inputs),
            triggers=triggers,
        )

    @property
    def trigger(self) -> int | None:
        return self.triggers[0] if len(self.triggers) == 1 else None

    def ancestors(self, number: int) -> frozenset[int]:
        found = self._memo.get(number)
        if found is None:
            found = self._memo[number] = frozenset(graph.ancestors(number, self.edges))
        return found

    def run_set(self) -> frozenset[int]:
        """The trigger and every node reachable from it: what an execution runs."""
        found = self._memo.get("run_set")
        if found is None:
            trigger = self.trigger
            reached = set() if trigger is None else {trigger} | graph.descendants(trigger, self.edges)
            found = self._memo["run_set"] = frozenset(reached)
        return found

    def responds(self) -> bool:
        """Whether a Webhook response node is on the path of a run."""
        return any(node_kind_of(self.nodes[n]["kind"]) == "response" for n in self.run_set())


MAX_PLANS = 64
_plans: dict[int, tuple[dict[str, Any], Plan]] = {}


def save_problems(snapshot: dict[str, Any]) -> list[str]:
    """What makes a graph unsaveable: unknown types, several triggers, cycles, bad expressions."""
    plan = Plan.of(snapshot)
    problems: list[str] = []
    for _number, spec in sorted(plan.nodes.items()):
        if node_kind_of(spec["kind"]) is None:
            problems.append(f"{title_of(spec)} has an unknown node type '{spec['kind']}'.")
    if len(plan.triggers) > 1:
        names = ", ".join(title_of(plan.nodes[n]) for n in plan.triggers)
        problems.append(f"A scenario starts from one trigger, but it has {len(plan.triggers)}: {names}.")
    for number in plan.triggers:
        if plan.parents.get(number):
            problems.append(f"{title_of(plan.nodes[number])} is a trigger: nothing can connect into it.")
    problems += port_problems(plan)
    problems += loops.problems(plan, title_of)
    try:
        graph.topological_order(plan.nodes, plan.edges)
    except CycleError as exc:
        problems.append(f"{exc} Remove one of their connections.")
    known = set(plan.nodes)
    for number, spec in sorted(plan.nodes.items()):
        for problem in expressions.check(spec.get("params", {}), plan.ancestors(number), known):
            problems.append(f"{title_of(spec)}: {problem}")
    return problems


def port_problems(plan: Plan) -> list[str]:
    """Edges from an output port the source's node type does not have."""
    from nodes.registry import NODE_TYPES

    problems = []
    for link in sorted(plan.edges):
        spec = plan.nodes.get(link.source)
        node_type = NODE_TYPES.get(spec["kind"]) if spec is not None else None
        outputs = node_type.outputs_for(spec.get("params")) if spec is not None and node_type else ()
        if spec is not None and node_type is not None and link.port not in outputs:
            problems.append(unknown_port(title_of(spec), link.port, outputs))
    return problems


def unknown_port(title: str, port: str, outputs: tuple[str, ...]) -> str:
    return (
        f"{title} has no output port '{port}' (its ports: {', '.join(outputs)}): "
        "connect one of those instead."
    )


def run_problems(snapshot: dict[str, Any]) -> list[str]:
    """What stops a graph from running: the save problems, and having no trigger.

    Every execution asks, mostly of a graph it asked about just before: the answer for an equal
    snapshot is remembered (compared whole, so any change is checked anew)."""
    key = (snapshot.get("scenario_version"), tuple(node.get("number") for node in snapshot.get("nodes", [])))
    remembered = _checked.get(key)
    if remembered is not None and remembered[0] == snapshot:
        return list(remembered[1])
    problems = _run_problems(snapshot)
    if len(_checked) >= MAX_CHECKED:
        _checked.pop(next(iter(_checked)))
    _checked[key] = (copy.deepcopy(snapshot), problems)
    return list(problems)


MAX_CHECKED = 256
_checked: dict[tuple[Any, ...], tuple[dict[str, Any], list[str]]] = {}


def _run_problems(snapshot: dict[str, Any]) -> list[str]:
    problems = save_problems(snapshot)
    if not Plan.of(snapshot).triggers:
        problems.insert(0, "The scenario has no trigger: add a Trigger on Webhook node and connect it.")
    return problems


def validate_graph(scenario: Scenario) -> list[str]:
    """Problems to show when saving `scenario` (an empty list means it may be saved)."""
    return save_problems(snapshot_of(scenario))
