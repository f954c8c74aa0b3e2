"""Running a single node once, with its upstream outputs taken from earlier executions.

The run is recorded like any other (an Execution with trigger `run_once`, holding a snapshot of that
one node, and its NodeRun), so it shows in history and on the canvas. Which earlier values it used is
recorded in the execution's input, `{"upstream": [{"node", "title", "execution_id", "finished_at"}]}`,
and read back as `NodeRun.used_upstream`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from nodes import expressions
from nodes.registry import NODE_TYPES
from nodes.types import webhook
from scenarios.models import Execution, Node, NodeRun, Scenario
from scenarios.runtime import events
from scenarios.runtime.running import Credentials, Outcome, run_node
from scenarios.snapshot import Plan, node_kind_of, snapshot_of, title_of

ES = Execution.Status
NS = NodeRun.Status


@dataclass
class Prepared:
    execution: Execution
    row: NodeRun
    spec: dict[str, Any]
    upstream: dict[int, Any]
    missing: list[str]
    trigger_input: dict[str, Any]
    credentials: Credentials
    team_id: Any


def spec_of(node: Node) -> dict[str, Any]:
    return {
        "number": node.number,
        "kind": node.kind,
        "label": node.label,
        "params": node.params if isinstance(node.params, dict) else {},
        "credential_id": str(node.credential_id) if node.credential_id else None,
    }


def prepare(node: Node, user: Any) -> Prepared:
    scenario = Scenario.objects.get(pk=node.scenario_id)
    plan = Plan.of(snapshot_of(scenario))
    spec = spec_of(node)
    ancestors = plan.ancestors(node.number)
    try:
        referenced = {ref.node for ref in expressions.references(spec["params"]) if isinstance(ref.node, int)}
    except expressions.ExpressionError:
        referenced = set()  # run_node reports the bad expression
    upstream: dict[int, Any] = {}
    used: list[dict[str, Any]] = []
    missing: list[str] = []
    node_type = NODE_TYPES.get(node.kind)
    everything = node_type is not None and node_type.reads_upstream
    for number in sorted(ancestors if everything else referenced & ancestors):
        source = plan.nodes[number]
        pinned = webhook.pinned_output(source["kind"], source.get("params"))
        if pinned is not None:
            upstream[number] = pinned
            used.append({"node": number, "title": title_of(source), "pinned": True})
            continue
        found = (
            NodeRun.objects.filter(
                execution__scenario=scenario,
                node_number=number,
                node_kind=source["kind"],
                status=NS.SUCCEEDED,
            )
            .order_by("-finished_at")
            .values("output", "execution_id", "finished_at")
            .first()
        )
        if found is None:
            if everything and number not in referenced:
                continue  # read only if present, as in a run where its route was not taken
            missing.append(title_of(source))
            continue
        upstream[number] = found["output"]
        used.append(
            {
                "node": number,
                "title": title_of(source),
                "execution_id": str(found["execution_id"]),
                "finished_at": found["finished_at"].isoformat() if found["finished_at"] else None,
            }
        )
    trigger_input: dict[str, Any] = {}
    pinned = webhook.pinned_output(node.kind, node.params)
    if pinned is not None:
        trigger_input = pinned
    elif node_kind_of(node.kind) == "trigger":
        # A trigger run alone replays the latest request that started the scenario.
        latest = (
            Execution.objects.filter(scenario=scenario)
            .exclude(trigger=Execution.Trigger.RUN_ONCE)
            .order_by("-created_at")
            .values_list("input", flat=True)
            .first()
        )
        trigger_input = latest if isinstance(latest, dict) else {}
    credentials = Credentials.load(
        scenario.team_id, {spec["credential_id"]} if spec["credential_id"] else set()
    )
    now = timezone.now()
    with transaction.atomic():
        execution = Execution.objects.create(
            scenario=scenario,
            snapshot={
                "scenario_version": scenario.version,
                "nodes": [spec],
                "edges": [],
                "run_once": node.number,
            },
            scenario_version=scenario.version,
            trigger=Execution.Trigger.RUN_ONCE,
            input={"upstream": used},
            status=ES.RUNNING,
            attempt=1,
            max_attempts=1,
            # Not claimable; if this process dies, the expired lease fails the run visibly.
            lease_owner=f"inline:{os.getpid()}",
            lease_until=now + timedelta(seconds=2 * settings.PROVIDER_TOTAL_TIMEOUT + 60),
            created_by=user if getattr(user, "is_authenticated", False) else None,
            started_at=now,
        )
        row = NodeRun.objects.create(
            execution=execution,
            node_number=node.number,
            node_kind=node.kind,
            label=node.label,
            attempt=1,
            status=NS.RUNNING,
            started_at=now,
        )
    return Prepared(execution, row, spec, upstream, missing, trigger_input, credentials, scenario.team_id)


def missing_outcome(prepared: Prepared) -> Outcome:
    names = prepared.missing
    subject = f"Node {names[0]} has" if len(names) == 1 else "Nodes " + ", ".join(names) + " have"
    message = f"{subject} no output yet: run the scenario (or that node) first, then run this node again."
    return Outcome(int(prepared.spec["number"]), False, prepared.spec["params"], None, {"message": message})


def finish(prepared: Prepared, outcome: Outcome) -> None:
    row, execution = prepared.row, prepared.execution
    row.status = NS.SUCCEEDED if outcome.succeeded else NS.FAILED
    row.params, row.output, row.error = outcome.params, outcome.output, outcome.error
    row.started_at, row.finished_at = outcome.started_at, outcome.finished_at
    row.ports = list(outcome.ports) if outcome.succeeded else None
    execution.status = ES.SUCCEEDED if outcome.succeeded else ES.FAILED
    execution.finished_at = outcome.finished_at
    execution.lease_until = None
    if not outcome.succeeded and outcome.error:
        execution.error = f"{title_of(prepared.spec)} failed: {outcome.error.get('message', '')}"
    if outcome.succeeded and node_kind_of(row.node_kind) == "response":
        execution.response = webhook.response_of(outcome.output)
    with transaction.atomic():
        row.save(update_fields=["status", "params", "output", "error", "ports", "started_at", "finished_at"])
        execution.save(update_fields=["status", "finished_at", "lease_until", "error", "response"])


async def run_node_once(node: Node, user: Any) -> NodeRun:
    """Execute just `node` with the latest upstream outputs; return its recorded NodeRun.

    The caller checks that `user` may run the scenario. `run.used_upstream` tells which earlier
    executions the values came from; a missing upstream output is a failed run whose error names the
    node.
    """
    prepared = await sync_to_async(prepare)(node, user)
    group = Scenario.group_name_for(node.scenario_id)
    await events.publish(
        group,
        [events.execution_event(prepared.execution), events.node_event(prepared.execution.id, prepared.row)],
    )
    if prepared.missing:
        outcome = missing_outcome(prepared)
    else:
        outcome = await run_node(
            prepared.spec,
            NODE_TYPES.get(node.kind),
            upstream=prepared.upstream,
            trigger_input=prepared.trigger_input,
            credentials=prepared.credentials,
            team_id=prepared.team_id,
            execution_id=prepared.execution.id,
        )
    await sync_to_async(finish)(prepared, outcome)
    await events.publish(
        group,
        [events.node_event(prepared.execution.id, prepared.row), events.execution_event(prepared.execution)],
    )
    prepared.row.execution = prepared.execution
    return prepared.row
