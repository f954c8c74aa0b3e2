"""A scenario as portable JSON, for export and import (command line and UI).

    {"format": "scenery.scenario", "version": 1, "name": "...", "description": "...",
     "nodes": [{"number": 1, "kind": "webhook.trigger", "label": "", "position": {"x": 0, "y": 0},
                "params": {...}, "credential": "Credential name" | null}, ...],
     "edges": [[1, 2], [2, 3, "false"], ...]}

An edge is [source, target] from the source's default port ("main"), or [source, target, port] from
another of its output ports: exports made before ports existed import unchanged.

No secret ever leaves: credentials travel by name only (an import links nodes to the team's
credential of that name, or of a name that looks the same), and any secret of the team's credentials found in a parameter is redacted.
The webhook token is not exported; an imported scenario gets a new one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from nodes.base import DEFAULT_PORT
from nodes.json_limits import BadData, check_data
from nodes.registry import NODE_TYPES
from scenarios import graph
from scenarios.canvas import links
from scenarios.graph import Link
from scenarios.models import Edge, Node, Scenario
from scenarios.snapshot import validate_graph
from scenarios.storable import Unstorable, safe
from teams.models import Credential, Team
from teams.names import name_key

FORMAT = "scenery.scenario"
VERSION = 1
MAX_NODES = 500
MAX_EDGES = 2000
MAX_NODE_NUMBER = 2**31 - 1  # what every database's integer column holds


class ImportProblem(ValueError):
    """The data cannot be imported; `problems` says why, one message each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def export_scenario(scenario: Scenario) -> dict[str, Any]:
    """The scenario as portable data; Unexportable when a node's params cannot be written as JSON.
    The team's secrets are decrypted only once the data is known to be sound, to redact them."""
    nodes = [
        {
            "number": node.number,
            "kind": node.kind,
            "label": node.label,
            "position": {"x": node.position_x, "y": node.position_y},
            "params": _exportable(node),
            "credential": node.credential.name if node.credential else None,
        }
        for node in scenario.nodes.select_related("credential").order_by("number")
    ]
    nodes = redacted(nodes, Credential.objects.filter(team_id=scenario.team_id))
    edges = [link.as_json() for link in sorted(links(scenario))]
    data = {
        "format": FORMAT,
        "version": VERSION,
        "name": scenario.name,
        "description": scenario.description,
        "nodes": nodes,
        "edges": edges,
    }
    if scenario.error_scenario is not None:
        # By name: the importing team's scenario of that name, if it has one.
        data["error_scenario"] = scenario.error_scenario.name
    return data


class Unexportable(ValueError):
    """A node's params cannot be exported (stored before today's limits); the message names it."""


def _exportable(node: Node) -> Any:
    params = node.params if isinstance(node.params, dict) else {}
    try:
        check_data(params, "params")
        return safe(params, [])
    except (BadData, Unstorable) as exc:
        raise Unexportable(f"${node.number} cannot be exported: {exc}") from None


@sensitive_variables("secret")
def redacted(value: Any, credentials: Iterable[Credential]) -> Any:
    """`value` (sound JSON data) with each credential's secret replaced by ••••. Each secret is
    decrypted here, one at a time, and kept nowhere else; an error page would hide it."""
    for credential in credentials:
        secret = credential.readable_secret()
        if secret:
            value = safe(value, [secret])
    return value


def import_scenario(data: Any, team: Team, user: Any, notes: list[str] | None = None) -> Scenario:
    """Create a scenario in `team` from exported data; raises ImportProblem listing what is wrong.

    Things that do not block the import (a credential name the team lacks, an expression to fix)
    are appended to `notes` when given.
    """
    notes = notes if notes is not None else []
    nodes, edges = _checked(data)
    # By the look-alike key credential names are unique by: "OpenAI" in a file finds the team's
    # "openai", and only ever one credential.
    credentials = {c.name_key: c for c in Credential.objects.filter(team=team)}
    owner = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        scenario = Scenario.objects.create(
            team=team,
            name=data["name"].strip(),
            description=data.get("description") or "",
            created_by=owner,
            updated_by=owner,
        )
        made: dict[int, Node] = {}
        for spec in nodes:
            credential = credentials.get(name_key(spec["credential"])) if spec["credential"] else None
            if spec["credential"] and credential is None:
                notes.append(
                    f"${spec['number']}: this team has no credential named '{spec['credential']}'; "
                    "choose one before running it."
                )
            made[spec["number"]] = Node.objects.create(
                scenario=scenario,
                number=spec["number"],
                kind=spec["kind"],
                label=spec["label"],
                position_x=spec["x"],
                position_y=spec["y"],
                params=spec["params"],
                credential=credential,
            )
        Edge.objects.bulk_create(
            Edge(scenario=scenario, source=made[link.source], target=made[link.target], source_port=link.port)
            for link in edges
        )
    _import_error_scenario(scenario, data.get("error_scenario"), notes)
    notes.extend(validate_graph(scenario))
    return scenario


def _import_error_scenario(scenario: Scenario, name: Any, notes: list[str]) -> None:
    """Point the imported scenario at the team's scenario named `name`; none found: cleared, noted."""
    if name is None:
        return
    found = None
    if isinstance(name, str) and name.strip():
        others = Scenario.objects.for_team(scenario.team).exclude(pk=scenario.pk)
        found = others.filter(name=name.strip()).order_by("created_at").first()
    if found is None:
        notes.append(
            f"The error scenario '{str(name)[:200]}' is not in this team: no error scenario is set; "
            "choose one in the scenario's settings."
        )
        return
    scenario.error_scenario = found
    scenario.save(update_fields=["error_scenario"])


def _checked(data: Any) -> tuple[list[dict[str, Any]], list[Link]]:
    """The nodes and edges of `data`, or ImportProblem with every problem found."""
    if not isinstance(data, dict):
        raise ImportProblem(["The file does not hold a scenario (expected a JSON object)."])
    if data.get("format") != FORMAT:
        raise ImportProblem([f'This is not a Scenery scenario export (its "format" is not "{FORMAT}").'])
    if data.get("version") != VERSION:
        raise ImportProblem(
            [f"Unsupported export version {data.get('version')!r}: this Scenery reads version {VERSION}."]
        )
    problems: list[str] = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        problems.append('"name" must be text of 1 to 200 characters.')
    if not isinstance(data.get("description", ""), str):
        problems.append('"description" must be text.')
    # Text columns cannot hold NUL (PostgreSQL refuses it): a clear problem rather than a 500.
    listed = data["nodes"] if isinstance(data.get("nodes"), list) else []
    texts = [data.get("name"), data.get("description")] + [
        n.get("label") for n in listed if isinstance(n, dict)
    ]
    if any(isinstance(text, str) and "\x00" in text for text in texts):
        problems.append("Names, descriptions and node titles cannot contain NUL (\\u0000) characters.")
    else:
        try:
            check_data(data, "file")
        except BadData as exc:
            problems.append(str(exc))
    raw_nodes, raw_edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(raw_nodes, list) or len(raw_nodes) > MAX_NODES:
        raise ImportProblem([*problems, f'"nodes" must be a list of at most {MAX_NODES} nodes.'])
    if not isinstance(raw_edges, list) or len(raw_edges) > MAX_EDGES:
        raise ImportProblem(
            [*problems, f'"edges" must be a list of at most {MAX_EDGES} [source, target, port] edges.']
        )
    nodes = [node for i, raw in enumerate(raw_nodes) if (node := _node(i, raw, problems)) is not None]
    numbers = [node["number"] for node in nodes]
    for number in sorted({n for n in numbers if numbers.count(n) > 1}):
        problems.append(f"Node number {number} is used more than once.")
    kinds = {node["number"]: node["kind"] for node in nodes}
    params = {node["number"]: node["params"] for node in nodes}
    edges: list[Link] = []
    for i, raw in enumerate(raw_edges):
        link = graph.link_of(raw)
        if link is None:
            problems.append(
                f"Edge {i + 1} must be a [source, target] pair of node numbers, or [source, target, port]."
            )
            continue
        source, target, port = link
        outputs = NODE_TYPES[kinds[source]].outputs_for(params[source]) if source in kinds else ()
        if source not in numbers or target not in numbers:
            problems.append(f"Edge {i + 1} ({source} → {target}) connects a node that is not in the file.")
        elif source == target:
            problems.append(f"Edge {i + 1} connects node {source} to itself.")
        elif port not in outputs:
            problems.append(
                f"Edge {i + 1} ({source} → {target}) leaves from port '{port}', which node {source} "
                f"({kinds[source]}) does not have (its ports: {', '.join(outputs)})."
            )
        elif link in edges:
            problems.append(f"Edge {i + 1} ({source} → {target}{_from(port)}) is listed twice.")
        else:
            edges.append(link)
    if not problems:
        try:
            graph.topological_order(numbers, edges)
        except graph.CycleError as exc:
            problems.append(str(exc))
    if problems:
        raise ImportProblem(problems)
    return nodes, edges


def _node(index: int, raw: Any, problems: list[str]) -> dict[str, Any] | None:
    where = f"Node {index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object.")
        return None
    number, kind = raw.get("number"), raw.get("kind")
    label, params, credential = raw.get("label", ""), raw.get("params", {}), raw.get("credential")
    position = raw.get("position") or {}
    found = len(problems)
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= MAX_NODE_NUMBER:
        problems.append(f'{where}: "number" must be a whole number from 1 to {MAX_NODE_NUMBER}.')
    if not isinstance(kind, str) or kind not in NODE_TYPES:
        problems.append(f"{where}: unknown node type {kind!r}.")
    if not isinstance(label, str) or len(label) > 200:
        problems.append(f'{where}: "label" must be text of at most 200 characters.')
    if credential is not None and (not isinstance(credential, str) or len(credential) > 100):
        problems.append(f'{where}: "credential" must be a credential name or null.')
    if not isinstance(params, dict):
        problems.append(f'{where}: "params" must be an object.')
    else:
        try:
            params = safe(params, [])
        except Unstorable as exc:
            problems.append(f'{where}: "params" cannot be stored ({exc}).')
    x, y = (position.get("x", 0), position.get("y", 0)) if isinstance(position, dict) else (None, None)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
        problems.append(f'{where}: "position" must be {{"x": number, "y": number}}.')
    if len(problems) > found:
        return None
    return {
        "number": number,
        "kind": kind,
        "label": label,
        "params": params,
        "credential": credential,
        "x": x,
        "y": y,
    }


def _from(port: str) -> str:
    return "" if port == DEFAULT_PORT else f", from port '{port}'"
