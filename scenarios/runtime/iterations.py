"""Running a Loop over items: its body once per item, each iteration's node runs kept as rows.

The engine hands a ready Loop node here (scenarios/runtime/engine.py). Its list is checked by its
execute function (nodes/types/loops.py); then each item runs the loop's body (scenarios/loops.py)
in graph order, with `$item`, `$index` and the Loop's output set to the item, by the same rules of
routes as the engine: a node runs when an input delivered, is skipped when none did, and an
unhandled failure ends the iteration, which fails the loop, naming the item and the node. A failure
that goes down a node's connected "error" port is handled data, as outside loops.

Each iteration's rows (`NodeRun.iteration` = the item's position) are written in one fenced write
once it has ended, so an attempt that takes over a loop keeps the iterations that ended and runs
only the others. Iterations of compute-only nodes (Flow nodes) are written together, up to BATCH at
a time: running them again after a crash has no effect outside, and a write per item would cost
more than the items themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from durable.leases import LeaseLost
from nodes import node_settings
from nodes.base import ERROR_PORT, NodeType
from nodes.registry import NODE_TYPES
from nodes.types import flow, loops
from scenarios import graph
from scenarios.loops import Region, regions
from scenarios.models import NodeRun
from scenarios.runtime.running import Credentials, Outcome, run_node, run_node_with_retries
from scenarios.snapshot import Plan, title_of

NS = NodeRun.Status
BATCH = 100
# Nodes whose run only computes from its inputs: an iteration of only these may wait for a batch.
COMPUTE_ONLY = frozenset(t.key for t in (*flow.TYPES, *loops.TYPES))


@dataclass
class Loop:
    """What running one loop needs from the engine's run."""

    region: Region
    plan: Plan
    execution_id: Any
    team_id: Any
    trigger_input: dict[str, Any]
    credentials: Credentials
    attempt: int
    upstream: dict[int, Any]  # the outputs of the Loop node's upstream
    # Commit these rows, fenced by the run's lease (raises LeaseLost).
    save: Callable[[list[NodeRun]], Awaitable[None]]
    # Live progress of the Loop node ({"item": k, "of": n}) with the rows of the latest item written;
    # not stored.
    progress: Callable[[dict[str, Any], list[NodeRun]], Awaitable[None]] | None = None
    # Iterations that ended in earlier attempts: their rows by position.
    ended: dict[int, list[NodeRun]] = field(default_factory=dict)


@dataclass
class Iteration:
    index: int
    rows: list[NodeRun]
    contributed: bool = False
    value: Any = None
    failure: str = ""  # why the loop fails, naming the item and the node; "" when fine


def ended_iterations(execution_id: Any, region: Region, attempt: int) -> dict[int, list[NodeRun]]:
    """(Sync) The iterations of `region` that ended in earlier attempts without an unhandled failure."""
    rows = NodeRun.in_loops.filter(
        execution_id=execution_id,
        iteration__isnull=False,
        node_number__in=sorted(region.inner),
        attempt__lt=attempt,
    ).order_by("attempt")
    by_index: dict[int, dict[int, NodeRun]] = {}
    for row in rows:
        assert row.iteration is not None
        by_index.setdefault(row.iteration, {})[row.node_number] = row  # the latest attempt wins
    ended = {}
    for index, latest in by_index.items():
        aggregate = latest.get(region.aggregate)
        unhandled = any(r.status == NS.FAILED and ERROR_PORT not in (r.ports or []) for r in latest.values())
        if aggregate is not None and aggregate.status in (NS.SUCCEEDED, NS.SKIPPED) and not unhandled:
            ended[index] = list(latest.values())
    return ended


async def run(loop: Loop) -> tuple[Outcome, Outcome | None]:
    """Run the Loop node and its iterations: the Loop's outcome, and the Aggregate's when it succeeded."""
    region, plan = loop.region, loop.plan
    spec = plan.nodes[region.loop]
    started = timezone.now()
    outcome = await run_node(
        spec,
        NODE_TYPES.get(spec["kind"]),
        upstream=loop.upstream,
        trigger_input=loop.trigger_input,
        credentials=loop.credentials,
        team_id=loop.team_id,
        execution_id=loop.execution_id,
    )
    if not outcome.succeeded:
        return outcome, None
    items: list[Any] = outcome.output
    runner = _Runner(loop, items)
    iterations = await runner.go()
    failures = [it.failure for it in iterations if it.failure]
    if failures:
        message = failures[0] + (f" ({len(failures) - 1} more items failed.)" if len(failures) > 1 else "")
        outcome.succeeded, outcome.output, outcome.ports = False, None, ()
        outcome.error = {"message": message, "failed_items": len(failures)}
        outcome.finished_at = timezone.now()
        return outcome, None
    outcome.finished_at = timezone.now()
    collected = [it.value for it in sorted(iterations, key=lambda it: it.index) if it.contributed]
    aggregate = Outcome(
        region.aggregate,
        True,
        {"items": len(items), "collected": len(collected)},
        collected,
        None,
        started,
        outcome.finished_at,
        ("main",),
    )
    return outcome, aggregate


class _Runner:
    def __init__(self, loop: Loop, items: list[Any]) -> None:
        self.loop = loop
        self.items = items
        region, plan = loop.region, loop.plan
        self.order = _order_of(plan, region)
        self.ancestors = {n: plan.ancestors(n) for n in self.order}
        self.error_connected = {e.source for e in plan.edges if e.port == ERROR_PORT}
        self.pending: list[Iteration] = []
        self.lock = asyncio.Lock()
        self.done = 0
        self.stopped = False

    async def go(self) -> list[Iteration]:
        ended = [self._from_rows(index, rows) for index, rows in self.loop.ended.items()]
        self.done = len(ended)
        todo = [(index, item) for index, item in enumerate(self.items) if index not in self.loop.ended]
        spec = self.loop.plan.nodes[self.loop.region.loop]
        width = loops.concurrency_of(spec.get("params") or {})
        results: list[Iteration] = list(ended)
        queue = iter(todo)

        async def worker() -> None:
            for index, item in queue:
                if self.stopped:
                    return
                iteration = await self._iteration(index, item)
                results.append(iteration)
                if iteration.failure:
                    self.stopped = True  # no new items once one failed
                await self._ended(iteration)

        try:
            # A task group: when one worker fails (a lost lease), the others stop too.
            async with asyncio.TaskGroup() as group:
                for _ in range(min(width, len(todo)) or 1):
                    group.create_task(worker())
        except* LeaseLost as lost:
            raise lost.exceptions[0] from None
        await self._flush()
        return results

    async def _ended(self, iteration: Iteration) -> None:
        self.pending.append(iteration)
        self.done += 1
        outside = any(row.node_kind not in COMPUTE_ONLY for row in iteration.rows if row.status != NS.SKIPPED)
        if outside or iteration.failure or len(self.pending) >= BATCH:
            await self._flush()

    async def _flush(self) -> None:
        async with self.lock:
            pending, self.pending = self.pending, []
            if not pending:
                return
            await self.loop.save([row for iteration in pending for row in iteration.rows])
            if self.loop.progress is not None:
                await self.loop.progress({"item": self.done, "of": len(self.items)}, pending[-1].rows)

    def _from_rows(self, index: int, rows: list[NodeRun]) -> Iteration:
        aggregate = next(r for r in rows if r.node_number == self.loop.region.aggregate)
        succeeded = aggregate.status == NS.SUCCEEDED
        return Iteration(index, [], contributed=succeeded, value=aggregate.output if succeeded else None)

    async def _iteration(self, index: int, item: Any) -> Iteration:
        loop, region, plan = self.loop, self.loop.region, self.loop.plan
        outputs: dict[int, Any] = {**loop.upstream, region.loop: item}
        variables = {"item": item, "index": index}
        status: dict[int, str] = {}
        taken: dict[int, tuple[str, ...]] = {}
        blocked: set[int] = set()
        rows: list[NodeRun] = []
        failure = ""
        for number in self.order:
            spec = plan.nodes[number]
            node_type = NODE_TYPES.get(spec["kind"])
            row = NodeRun(
                execution_id=loop.execution_id,
                node_number=number,
                node_kind=spec["kind"],
                label=spec.get("label") or "",
                attempt=loop.attempt,
                iteration=index,
            )
            rows.append(row)
            reason, broken = self._verdict(number, status, taken, blocked)
            if reason:
                row.status, row.error, row.ports = NS.SKIPPED, {"message": reason}, []
                row.started_at = row.finished_at = timezone.now()
                status[number] = NS.SKIPPED
                if broken:
                    blocked.add(number)
                continue
            # Each item's node honours its settings (retries, on error) as it would outside a loop.
            outcome = await run_node_with_retries(
                spec,
                node_type,
                upstream={n: outputs[n] for n in self.ancestors[number] if n in outputs},
                trigger_input=loop.trigger_input,
                credentials=loop.credentials,
                team_id=loop.team_id,
                execution_id=loop.execution_id,
                variables=variables,
            )
            row.params, row.output, row.error = outcome.params, outcome.output, outcome.error
            row.started_at, row.finished_at = outcome.started_at, outcome.finished_at
            if outcome.succeeded:
                row.status, row.ports = NS.SUCCEEDED, list(outcome.ports)
                taken[number] = outcome.ports
                outputs[number] = outcome.output
            else:
                row.status = NS.FAILED
                routes = self._error_route(number, node_type, spec)
                row.ports = list(routes)
                if routes:
                    taken[number] = routes
                    outputs[number] = {"error": outcome.error}
                elif not failure:
                    message = (outcome.error or {}).get("message", "unknown error")
                    failure = (
                        f"Item {index + 1} of {len(self.items)} ($index {index}): "
                        f"{title_of(spec)} failed: {message}"
                    )
            status[number] = row.status
        iteration = Iteration(index, rows, failure=failure)
        if status.get(region.aggregate) == NS.SUCCEEDED:
            iteration.contributed, iteration.value = True, outputs[region.aggregate]
        return iteration

    def _error_route(self, number: int, node_type: NodeType | None, spec: dict[str, Any]) -> tuple[str, ...]:
        """Where an item's failure of `number` goes, as outside loops (engine.Run._error_route)."""
        if node_type is None:
            return ()
        if ERROR_PORT in node_type.outputs_for(spec.get("params")):
            return (ERROR_PORT,) if number in self.error_connected else ()
        if node_settings.settings_of(node_type, spec.get("params")).on_error == "continue":
            return node_type.routes
        return ()

    def _verdict(
        self, number: int, status: dict[int, str], taken: dict[int, tuple[str, ...]], blocked: set[int]
    ) -> tuple[str, bool]:
        """("", False) to run; else why the node is skipped, and whether it is behind a failure."""
        plan, region = self.loop.plan, self.loop.region
        delivered, not_taken = False, ""
        for link in plan.inputs.get(number, []):
            source = link.source
            title = title_of(plan.nodes[source])
            if source == region.loop:
                delivered = True
                continue
            state = status.get(source)
            if state == NS.FAILED and not taken.get(source):  # a failure routed on was handled
                return f"Skipped: {title} failed.", True
            if state == NS.SKIPPED and source in blocked:
                return f"Skipped: {title} was skipped.", True
            if link.port in taken.get(source, ()):
                delivered = True
            elif not not_taken:
                not_taken = (
                    f"Skipped: {title} was skipped (its route was not taken)."
                    if state == NS.SKIPPED
                    else f"Skipped: route '{link.port}' of {title} was not taken."
                )
        return ("", False) if delivered else (not_taken, False)


# -- reading them back (history) -------------------------------------------------------------------
PAGE = 50


@dataclass
class ItemRuns:
    """One item of a loop in history: its position and the latest run of each of its nodes."""

    index: int
    runs: list[NodeRun]

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def status(self) -> str:
        """failed when a node failed without an error route, else how its Aggregate ended."""
        if any(r.status == NS.FAILED and ERROR_PORT not in (r.ports or []) for r in self.runs):
            return NS.FAILED
        return self.runs[-1].status if self.runs else NS.QUEUED


@dataclass
class ItemPage:
    items: list[ItemRuns]
    page: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE + 1

    @property
    def last(self) -> int:
        return min(self.page * PAGE, self.total)


def item_page(execution_id: Any, plan: Plan, loop: int, total: int, page: int) -> ItemPage:
    """(Sync) Page `page` (from 1) of the items of Loop `loop`: PAGE items, each with its node runs."""
    region = _region_of(plan, loop)
    pages = max(1, -(-total // PAGE))
    page = max(1, min(page, pages))
    start = (page - 1) * PAGE
    rows = NodeRun.in_loops.filter(
        execution_id=execution_id,
        iteration__gte=start,
        iteration__lt=start + PAGE,
        node_number__in=sorted(region.inner) if region else [],
    ).order_by("iteration", "attempt")
    latest: dict[int, dict[int, NodeRun]] = {}
    for row in rows:
        assert row.iteration is not None
        latest.setdefault(row.iteration, {})[row.node_number] = row
    order = {n: i for i, n in enumerate(_order_of(plan, region))} if region else {}
    items = [
        ItemRuns(index, sorted(by_node.values(), key=lambda r: order.get(r.node_number, r.node_number)))
        for index, by_node in sorted(latest.items())
    ]
    return ItemPage(items, page, pages, total)


def _region_of(plan: Plan, loop: int) -> Region | None:
    return regions(plan).get(loop)


def _order_of(plan: Plan, region: Region) -> list[int]:
    inner = region.inner
    within = [(e.source, e.target) for e in plan.edges if e.source in inner and e.target in inner]
    return graph.topological_order(inner, within)


def item_summary(execution_id: Any, plan: Plan) -> dict[int, dict[str, Any]]:
    """(Sync) How the nodes in the bodies of `plan`'s loops ended over their items, for the canvas:
    {number: {"status", "items"}}, failed when an item failed there, else succeeded when one ran."""
    body = sorted(n for region in regions(plan).values() for n in region.body)
    if not body:
        return {}
    rows = NodeRun.in_loops.filter(execution_id=execution_id, iteration__isnull=False, node_number__in=body)
    statuses: dict[int, set[str]] = {}
    for number, status in rows.values_list("node_number", "status").distinct():
        statuses.setdefault(number, set()).add(status)
    counted = rows.values("node_number").annotate(items=Count("iteration", distinct=True))
    summary = {}
    for entry in counted:
        seen = statuses.get(entry["node_number"], set())
        status = next((s for s in (NS.FAILED, NS.SUCCEEDED, NS.SKIPPED) if s in seen), NS.SKIPPED)
        summary[entry["node_number"]] = {"status": status, "items": entry["items"]}
    return summary
