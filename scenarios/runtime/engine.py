"""The scenario engine: creating executions and running them.

An execution is a row; creating it commits the row and wakes an executor (durable/executor.py),
which claims it with a lease (scenarios/runtime/jobs.py) and calls `run_execution`.

When a node runs: once each of its inputs (an edge from an upstream node's output port) is settled,
that is delivered (the upstream node fired that port) or known not to come (the upstream node took
other routes, or was itself skipped down a route not taken). It then runs if at least one input was
delivered, with what was delivered (a join after an IF runs with the branch that ran); if none was,
it is skipped ("Skipped: route 'false' of $2 IF was not taken"). A failure is different from a
route not taken: a node with an input from a failed node (or from a node skipped behind one) is
skipped at once, and the execution fails — unless the failed node's type has an "error" port and it
is connected, in which case the error goes down that port as data and the node's other routes are
not taken (the node run stays failed, with ports ["error"]). Independent branches run concurrently.

Every change of a node run (with the ports it fired) is committed through the lease (a worker whose
lease was taken over writes nothing) before dependent nodes start, so a worker that takes over
resumes: nodes that already ended keep their outputs and the routes they decided, only the
in-flight ones run again. Nodes that only compute (a trigger, a webhook response, IF, Switch, Filter,
Merge) are the exception: they run at once and are committed with the next write, as running them
again has no effect outside.

A new run's first write (its node runs, with the trigger's output and the first nodes running) is
the one write a takeover would not miss: the trigger's output is computed again from the stored
input, and no route was decided yet. So when nobody watches the run, that write waits for the next
one (usually the first node's result: one commit instead of two), or for START_WRITE_SECONDS when
the first nodes are still running, so a page opened later finds them. A worker lost in that window
leaves its attempt without node runs; the next attempt runs the scenario from its trigger.

A Loop over items runs as one task (scenarios/runtime/iterations.py): its body's nodes are not nodes
of this run but run once per item, as rows of their own; its Aggregate is recorded when it ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict, Unpack

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from durable import executor, plain_sql
from durable.executor import db
from durable.leases import Lease, LeaseLost, retry_locked
from nodes import node_settings
from nodes.base import DEFAULT_PORT, ERROR_PORT
from nodes.registry import NODE_TYPES
from nodes.types import webhook
from scenarios.graph import Link
from scenarios.loops import regions
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import error_scenarios, events, iterations, subscenarios, tokens, waiting
from scenarios.runtime.running import Credentials, Outcome, retry_text, run_node_with_retries
from scenarios.snapshot import Plan, node_kind_of, run_problems, snapshot_of, title_of, validate_graph
from scenarios.storable import Unstorable, safe
from teams.models import Credential

__all__ = ["create_execution", "run_execution", "run_node_once", "validate_graph"]

log = logging.getLogger(__name__)

MAX_EXECUTION_ERROR = 4000
# How long an unwatched run's first write may wait for the next one (see the module's docstring).
START_WRITE_SECONDS = 0.25
NS = NodeRun.Status
TERMINAL_NODE = (NS.SUCCEEDED, NS.FAILED, NS.SKIPPED)
# What a commit of the run changes on its node runs.
NODE_RUN_CHANGES = [
    "status",
    "params",
    "output",
    "error",
    "ports",
    "started_at",
    "finished_at",
    "wake_at",
    "tries",
]


# -- creating ----------------------------------------------------------------------------------------
class Options(TypedDict, total=False):
    """How `create_execution` makes an execution, beyond its scenario and input."""

    execution_id: uuid.UUID | None
    error: str
    idempotency_key: str
    scheduled_for: datetime | None
    # The execution that starts this one (a Run scenario node's, or a failed one's error scenario).
    parent: Execution | None
    parent_node: int | None


def create_execution(
    scenario: Scenario, trigger: str, input: dict[str, Any], user: Any = None, **options: Unpack[Options]
) -> Execution:
    """Commit a new execution of `scenario` and hand it to an executor: the one way to start one.

    When this process runs executions and its executor has room, the row is created already claimed
    by that executor and handed to it once committed (no claim, no re-read); otherwise it is queued
    and an executor is woken to claim it. A graph that cannot run (no trigger, a cycle, a bad
    expression) still gets its execution, created as failed with the reasons, so every attempt to run
    is visible in history; so does a start refused for a reason the caller gives in `error` (e.g. an
    unreadable webhook body).
    """
    execution = _create(scenario, trigger, input, user, None, options)
    assert execution is not None  # nothing was to be checked
    return execution


def create_execution_if(
    still: dict[str, Any], scenario: Scenario, trigger: str, input: dict[str, Any], **options: Unpack[Options]
) -> Execution | None:
    """`create_execution`, only while the scenario's row still matches `still` (filters as
    `plain_sql.insert_if` takes them), checked by the INSERT itself: for a caller whose copy of the
    scenario may be stale (a webhook's, remembered from its last call). None, with nothing stored or
    announced, when it no longer matches."""
    return _create(scenario, trigger, input, None, still, options)


def _create(
    scenario: Scenario,
    trigger: str,
    input: dict[str, Any],
    user: Any,
    still: dict[str, Any] | None,
    options: Options,
) -> Execution | None:
    # A Run scenario node's child runs on the parent's executor even when it is full: the parent
    # holds its slot while it waits, so the child must not wait for one (scenarios/runtime/subscenarios.py).
    runner = runner_with_room() if options.get("parent_node") is None else local_runner()
    execution = new_execution(
        scenario, trigger, input, user, lease_owner=runner.owner if runner else "", **options
    )
    # One INSERT, in the caller's transaction if there is one; announced once it is committed.
    if still is None:
        plain_sql.insert([execution])
    elif not plain_sql.insert_if(execution, Scenario, still):
        return None
    transaction.on_commit(functools.partial(_announce_created, execution, runner))
    return execution


def runner_with_room() -> executor.Executor | None:
    """This process's executor when it runs executions and has room for one more."""
    if settings.EXECUTOR != "inprocess" or "executions" not in {s.name for s in executor.served_sources()}:
        return None
    local = executor.local_executor()
    return local if local.has_room() else None


def local_runner() -> executor.Executor | None:
    """This process's executor, full or not, when it runs executions (a web process's or a worker's)
    and is running one now (the caller's)."""
    if "executions" not in {s.name for s in executor.served_sources()}:
        return None
    local = executor.local_executor()
    return local if local.running_jobs else None


def new_execution(
    scenario: Scenario,
    trigger: str,
    input: dict[str, Any],
    user: Any = None,
    *,
    execution_id: uuid.UUID | None = None,
    error: str = "",
    lease_owner: str = "",
    idempotency_key: str = "",
    scheduled_for: datetime | None = None,
    parent: Execution | None = None,
    parent_node: int | None = None,
) -> Execution:
    """The execution `create_execution` stores, not stored yet: queued, claimed by `lease_owner`, or
    failed with the reasons the graph cannot run."""
    snapshot = snapshot_of(scenario)
    problems = [error] if error else run_problems(snapshot)
    try:
        stored_input = safe(input, [])
    except Unstorable as exc:
        raise ValueError(f"The input is not JSON data: {exc}.") from exc
    execution = Execution(
        id=execution_id or uuid.uuid4(),
        scenario=scenario,
        snapshot=snapshot,
        scenario_version=scenario.version,
        trigger=trigger,
        input=stored_input if isinstance(stored_input, dict) else {"value": stored_input},
        created_by=user if getattr(user, "is_authenticated", False) else None,
        max_attempts=settings.EXECUTOR_MAX_ATTEMPTS,
        idempotency_key=idempotency_key,
        scheduled_for=scheduled_for,
        parent=parent,
        parent_node=parent_node,
        depth=parent.depth + 1 if parent is not None and parent_node is not None else 0,
    )
    now = timezone.now()
    if lease_owner and not problems:
        execution.status = Execution.Status.RUNNING
        execution.attempt = 1
        execution.lease_owner = lease_owner
        execution.lease_until = now + timedelta(seconds=settings.EXECUTOR_LEASE_SECONDS)
        execution.started_at = now
    if problems:
        execution.status = Execution.Status.FAILED
        execution.error = (error or "The scenario cannot run: " + " ".join(problems))[:MAX_EXECUTION_ERROR]
        execution.started_at = execution.finished_at = now
    return execution


def _announce_created(execution: Execution, runner: executor.Executor | None) -> None:
    if execution.status == Execution.Status.RUNNING and runner is not None:
        # Created claimed by `runner`: what running it needs is loaded here, in the same database
        # call, and handed over with it; its run announces it.
        lease = Lease(model=Execution, pk=execution.pk, attempt=1, owner=execution.lease_owner)
        job = load_job(lease, execution, execution.scenario.team_id)
        runner.hand_over("executions", dataclasses.replace(lease, loaded=job))
        return
    if execution.status == Execution.Status.QUEUED:
        executor.notify("executions", execution.pk)
    else:
        waiting.progressed_soon(execution.id)
    events.publish_soon(Scenario.group_name_for(execution.scenario_id), [events.execution_event(execution)])


# -- running -----------------------------------------------------------------------------------------
@dataclass
class Job:
    execution: Execution
    team_id: Any
    plan: Plan
    previous: dict[int, NodeRun]  # the latest row of each node from earlier attempts
    credentials: Credentials
    # For a loop interrupted in an earlier attempt: its iterations that ended, by Loop number.
    ended: dict[int, dict[int, list[NodeRun]]] = field(default_factory=dict)


def _credential_ids(plan: Plan) -> set[str]:
    return {str(plan.nodes[n]["credential_id"]) for n in plan.run_set() if plan.nodes[n].get("credential_id")}


def load_job(
    lease: Lease,
    execution: Execution | None = None,
    team_id: Any = None,
    credentials_read: Sequence[Credential] | None = None,
) -> Job | None:
    """What running the execution of `lease` needs; `execution` and `team_id` when this process just
    read or created the row, claimed by that lease (then it is not read again), and
    `credentials_read`, the team's credentials read with it (only those it lacks are read)."""
    if execution is None:
        execution, team_id = _leased(lease)
    if execution is None or execution.is_terminal:
        return None
    plan = Plan.of(execution.snapshot)
    previous: dict[int, NodeRun] = {}
    ended: dict[int, dict[int, list[NodeRun]]] = {}
    if lease.attempt > 1:
        for run in NodeRun.objects.filter(execution=execution, attempt__lt=lease.attempt).order_by("attempt"):
            previous[run.node_number] = run
        for region in regions(plan).values():
            if region.loop in previous and previous[region.loop].status not in TERMINAL_NODE:
                ended[region.loop] = iterations.ended_iterations(execution.pk, region, lease.attempt)
    credentials = Credentials.load(team_id, _credential_ids(plan), credentials_read)
    return Job(execution, team_id, plan, previous, credentials, ended)


def _leased(lease: Lease) -> tuple[Execution | None, Any]:
    """The execution of `lease` while the lease holds it (`lease.fenced().first()`), and its team's id.

    Every claimed execution starts with these two reads, as plain statements: they cost less CPU
    than compiling the ORM's `select_related` query did (docs/performance.md). The scenario itself
    is not loaded: running needs only its team."""
    found = plain_sql.select(Execution, lease.fence)
    if not found:
        return None, None
    execution = found[0]
    scenario = plain_sql.select(Scenario, {"pk": execution.scenario_id}, ["id", "team"])
    return execution, scenario[0].team_id if scenario else None


async def run_execution(lease: Lease) -> None:
    """Run a claimed execution to its end (or until its lease is lost); its Job is loaded unless the
    claim (or the creation) loaded it already."""
    job = lease.loaded if isinstance(lease.loaded, Job) else await db(load_job, lease)
    if job is None:
        return
    await Run(lease, job).go()


def _held(commit: functools.partial[None], carried: list[NodeRun]) -> bool:
    try:
        commit(carried=carried)
    except LeaseLost:
        return False
    return True


class Run:
    """One attempt at an execution: a coordinator that starts node tasks and commits their results."""

    def __init__(self, lease: Lease, job: Job) -> None:
        self.lease = lease
        self.job = job
        self.execution = job.execution
        self.plan = job.plan
        # A loop's body runs per item (scenarios/runtime/iterations.py), not as nodes of the run; its
        # Aggregate is one of them, decided when its Loop ends.
        self.loops = {n: r for n, r in regions(self.plan).items() if n in job.plan.run_set()}
        self.aggregates = {r.aggregate: r.loop for r in self.loops.values()}
        self.collected: dict[int, Outcome] = {}
        self.run_set = job.plan.run_set() - {n for r in self.loops.values() for n in r.body}
        self.group = Scenario.group_name_for(self.execution.scenario_id)
        self.relay = tokens.Relay(self.execution.id, self.plan, self.group)
        self.status: dict[int, str] = {}
        self.outputs: dict[int, Any] = {}
        self.rows: dict[int, NodeRun] = {}
        self.tasks: dict[asyncio.Task[Outcome], int] = {}
        self.response_taken = self.execution.response is not None
        # The ports each ended node fired, and the skipped nodes that sit behind a failure (not
        # merely down a route not taken): together they decide what its downstream nodes do. A skip
        # behind a failure skips everything downstream in the same write, so a takeover finds those
        # nodes decided and need not tell the two kinds of skip apart.
        self.taken: dict[int, tuple[str, ...]] = {}
        self.blocked: set[int] = set()
        self.first_failure: dict[str, Any] | None = None
        # Wait nodes still waiting, with their time; and those whose time came, to commit as ended.
        self.waiting: dict[int, datetime] = {}
        self.woke: list[NodeRun] = []
        # The first write when it waits for the next (see the module's docstring), and until when.
        self.unwritten: list[NodeRun] = []
        self.unwritten_until = 0.0
        now = timezone.now()
        for number, row in sorted(job.previous.items()):
            if number in self.run_set and row.status == NS.WAITING:
                if row.wake_at is not None and row.wake_at > now:  # resumed for another, earlier Wait
                    self.waiting[number] = row.wake_at
                    continue
                row.status, row.finished_at = NS.SUCCEEDED, now
                self.woke.append(row)
            if number in self.run_set and row.status in TERMINAL_NODE:
                # An attempt that takes over keeps the routes its predecessors decided.
                self.status[number] = row.status
                self._took(number, row.output, row.error, row.ports)

    # -- the loop ------------------------------------------------------------------------------------
    async def go(self) -> None:
        """Run this attempt to its end, or until its lease is lost."""
        try:
            await self.start()
            await self.loop()
        except LeaseLost:
            log.warning("execution %s attempt %s: lease lost, stopping", self.lease.pk, self.lease.attempt)
        finally:
            self.stop()

    def stop(self) -> None:
        self.relay.close()
        for task in self.tasks:
            task.cancel()

    async def start(self) -> None:
        todo = sorted(self.run_set - set(self.status) - set(self.waiting))
        for number in todo:
            spec = self.plan.nodes[number]
            self.rows[number] = NodeRun(
                execution_id=self.execution.id,
                node_number=number,
                node_kind=spec["kind"],
                label=spec.get("label") or "",
                attempt=self.lease.attempt,
                status=NS.QUEUED,
            )
        ready = self._advance()
        fields: dict[str, Any] = {}
        ready, inline = await self._inline(ready, fields)
        if not ready:
            fields.update(self._end_fields())
        watched = await events.heard(self.group)
        if ready and not fields and not watched and self._only_triggers_ran(inline):
            self.unwritten = list(self.rows.values())
            self.unwritten_until = asyncio.get_running_loop().time() + START_WRITE_SECONDS
        else:
            await self._write(functools.partial(self._commit_start, list(self.rows.values()), fields))
        self._apply(fields)
        if watched:
            await events.publish(
                self.group,
                [events.execution_event(self.execution)]
                + [events.node_event(self.execution.id, self.rows[n]) for n in todo]
                + [events.node_event(self.execution.id, row) for row in self.woke],
            )
        if fields:
            await waiting.progressed(self.execution.id, self.execution)
        self._launch(ready)

    def _only_triggers_ran(self, inline: list[int]) -> bool:
        """Whether the first write holds nothing a takeover could not compute again: a first attempt
        whose only nodes run so far are its triggers, which succeeded."""
        if self.lease.attempt > 1 or self.woke:
            return False
        for number in inline:
            node_type = NODE_TYPES.get(self.plan.nodes[number]["kind"])
            if node_type is None or node_type.kind != "trigger" or self.status[number] != NS.SUCCEEDED:
                return False
        return True

    async def loop(self) -> None:
        while self.tasks:
            wait = None
            if self.unwritten:
                wait = max(0.0, self.unwritten_until - asyncio.get_running_loop().time())
            done, _ = await asyncio.wait(self.tasks, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                if self.unwritten:  # the first nodes still run: the first write goes on its own
                    await self._write(functools.partial(self._commit, [], {}))
                continue
            changed: list[int] = []
            fields: dict[str, Any] = {}
            for task in done:
                number = self.tasks.pop(task)
                outcome = self._outcome_of(task, number)
                self._record(outcome, fields)
                changed.append(number)
                if number in self.loops and number in self.collected:
                    self._record(self.collected.pop(number), fields)
                    changed.append(self.loops[number].aggregate)
            skipped_before = {n for n, s in self.status.items() if s == NS.SKIPPED}
            ready = self._advance()
            ready, inline = await self._inline(ready, fields)
            changed += inline
            changed += sorted(
                n for n, s in self.status.items() if s == NS.SKIPPED and n not in skipped_before
            )
            changed += ready
            if not self.tasks and not ready:
                fields.update(self._end_fields())
            rows = [self.rows[n] for n in changed if n in self.rows]
            await self._write(functools.partial(self._commit, rows, fields))
            self._apply(fields)
            await self.relay.flush()  # a node's last tokens before its end
            if await events.heard(self.group):
                messages = [
                    events.node_event(self.execution.id, self.rows[n]) for n in changed if n in self.rows
                ]
                if "status" in fields:
                    messages.append(events.execution_event(self.execution))
                await events.publish(self.group, messages)
            if "response" in fields or "status" in fields:
                await waiting.progressed(self.execution.id, self.execution)
            self._launch(ready)

    # -- deciding ------------------------------------------------------------------------------------
    def _advance(self) -> list[int]:
        """Skip the nodes whose inputs settled without delivering anything; return the nodes now
        ready to run (and mark them running)."""
        ready: list[int] = []
        progress = True
        while progress:
            progress = False
            for number in sorted(self.run_set):
                if number in self.status or number in self.waiting or self.rows[number].status == NS.RUNNING:
                    continue
                if number in self.aggregates:
                    progress = self._settle_aggregate(number) or progress
                    continue
                verdict = self._verdict(number)
                if verdict is None:
                    continue
                if verdict:
                    self._set_skipped(number, verdict)
                    progress = True
                else:
                    row = self.rows[number]
                    row.status = NS.RUNNING
                    row.started_at = timezone.now()
                    row.tries = max(self._earlier_tries(number), 1)
                    ready.append(number)
        return ready

    def _settle_aggregate(self, number: int) -> bool:
        """Skip the Aggregate of a Loop that did not succeed (its Loop's task records a success)."""
        loop = self.aggregates[number]
        state = self.status.get(loop)
        if state is None or state == NS.SUCCEEDED:
            return False
        title = title_of(self.plan.nodes[loop])
        self.status[number] = NS.SKIPPED
        if state == NS.FAILED or loop in self.blocked:
            self.blocked.add(number)
            reason = f"Skipped: {title} failed." if state == NS.FAILED else f"Skipped: {title} was skipped."
        else:
            reason = f"Skipped: {title} was skipped (its route was not taken)."
        row = self.rows[number]
        row.status, row.error, row.ports = NS.SKIPPED, {"message": reason}, []
        row.finished_at = timezone.now()
        return True

    def _earlier_tries(self, number: int) -> int:
        """The tries an earlier attempt started on this node (0 if none): a takeover goes on counting."""
        earlier = self.job.previous.get(number)
        return earlier.tries if earlier is not None else 0

    def _inputs(self, number: int) -> list[Link]:
        return self.plan.inputs.get(number, [])

    def _verdict(self, number: int) -> str | None:
        """None while an input is unsettled, "" to run, or why the node is skipped."""
        unsettled, delivered, not_taken = False, False, ""
        for link in self._inputs(number):
            source = link.source
            if self._broken(link):
                title = title_of(self.plan.nodes[source])
                if source not in self.run_set:
                    return f"Skipped: {title} is not connected to the trigger, so it never runs."
                if self.status[source] == NS.FAILED:
                    return f"Skipped: {title} failed."
                return f"Skipped: {title} was skipped."
            if source not in self.status:
                unsettled = True
            elif link.port in self.taken.get(source, ()):
                delivered = True
            elif not not_taken:
                not_taken = self._not_taken(link)
        if unsettled:
            return None
        return "" if delivered or not self._inputs(number) else not_taken

    def _broken(self, link: Link) -> bool:
        """Whether the input `link` will never come because something failed upstream."""
        source = link.source
        if source not in self.run_set:
            return True
        status = self.status.get(source)
        if status == NS.FAILED:
            return not self.taken.get(source)
        return status == NS.SKIPPED and source in self.blocked

    def _not_taken(self, link: Link) -> str:
        title = title_of(self.plan.nodes[link.source])
        if self.status[link.source] == NS.SKIPPED:
            return f"Skipped: {title} was skipped (its route was not taken)."
        return f"Skipped: route '{link.port}' of {title} was not taken."

    def _took(self, number: int, output: Any, error: Any, ports: list[str] | tuple[str, ...] | None) -> None:
        """Note what an ended node delivers: its output down the ports it fired, or its error down
        its "error" port."""
        node_type = NODE_TYPES.get(self.plan.nodes[number]["kind"])
        if self.status[number] == NS.SUCCEEDED:
            # A run recorded before ports existed fired every route of its type.
            routes = node_type.routes if node_type is not None else (DEFAULT_PORT,)
            self.taken[number] = tuple(ports) if ports is not None else routes
            self.outputs[number] = output
        elif self.status[number] == NS.FAILED and ports:
            # A handled failure: down its "error" port, or on along its routes ("continue").
            self.taken[number] = (ERROR_PORT,) if ERROR_PORT in ports else tuple(ports)
            self.outputs[number] = {"error": error}

    def _set_skipped(self, number: int, reason: str) -> None:
        if any(self._broken(link) for link in self._inputs(number)):
            self.blocked.add(number)
        self.status[number] = NS.SKIPPED
        row = self.rows[number]
        row.status = NS.SKIPPED
        row.error = {"message": reason}
        row.ports = []
        row.finished_at = timezone.now()

    def _end_fields(self) -> dict[str, Any]:
        """The execution's fields once nothing runs: ended, or waiting for its earliest Wait.

        A waiting execution gives its lease back (no worker holds it) and is claimed again at
        `wake_at` by any executor (jobs.claimable). That claim is a new attempt which is no failure,
        so it gets one more allowed attempt: waits never use up the retries a crash may need.
        """
        if not self.waiting:
            return self._finish_fields()
        return {
            "status": Execution.Status.WAITING,
            "wake_at": min(self.waiting.values()),
            "lease_owner": "",
            "lease_until": None,
            "max_attempts": self.execution.max_attempts + 1,
        }

    def _finish_fields(self) -> dict[str, Any]:
        # A failure routed on (its "error" port, or "continue") was handled: it does not fail the run.
        failed = sorted(n for n in self.run_set if self.status.get(n) == NS.FAILED and not self.taken.get(n))
        fields: dict[str, Any] = {"finished_at": timezone.now(), "lease_until": None}
        if failed:
            first = self.plan.nodes[failed[0]]
            self.first_failure = {"number": failed[0], "title": title_of(first)}
            fields["status"] = Execution.Status.FAILED
            fields["error"] = "; ".join(
                f"{title_of(self.plan.nodes[n])} failed: {self._error_message(n)}" for n in failed
            )[:MAX_EXECUTION_ERROR]
        else:
            fields["status"] = Execution.Status.SUCCEEDED
        return fields

    def _error_message(self, number: int) -> str:
        row = self.rows.get(number) or self.job.previous.get(number)
        error = row.error if row is not None else None
        return str(error.get("message")) if isinstance(error, dict) else "unknown error"

    def _record(self, outcome: Outcome, fields: dict[str, Any]) -> None:
        row = self.rows[outcome.number]
        if outcome.succeeded and outcome.wait_until is not None:
            # Not ended: its output goes on at `wait_until` (see `_end_fields` and __init__).
            row.status, row.wake_at = NS.WAITING, outcome.wait_until
            row.params, row.output, row.started_at = outcome.params, outcome.output, outcome.started_at
            row.ports = list(outcome.ports)
            self.waiting[outcome.number] = outcome.wait_until
            return
        row.status = NS.SUCCEEDED if outcome.succeeded else NS.FAILED
        row.params, row.output, row.error = outcome.params, outcome.output, outcome.error
        row.started_at, row.finished_at = outcome.started_at, outcome.finished_at
        row.tries = max(row.tries, outcome.tries)
        row.ports = list(outcome.ports) if outcome.succeeded else self._error_route(outcome.number)
        self.status[outcome.number] = row.status
        self._took(outcome.number, row.output, row.error, row.ports)
        if outcome.succeeded:
            kind = node_kind_of(self.plan.nodes[outcome.number]["kind"])
            if kind == "response" and not self.response_taken:
                self.response_taken = True
                fields["response"] = webhook.response_of(outcome.output)

    def _error_route(self, number: int) -> list[str]:
        """Where a failure of `number` goes: ["error"] down its connected "error" port, its routes
        when its settings say "continue", else [] (it fails the execution)."""
        spec = self.plan.nodes[number]
        node_type = NODE_TYPES.get(spec["kind"])
        if node_type is None:
            return []
        if ERROR_PORT in node_type.outputs_for(spec.get("params")):
            connected = any(link.source == number and link.port == ERROR_PORT for link in self.plan.edges)
            return [ERROR_PORT] if connected else []
        if node_settings.settings_of(node_type, spec.get("params")).on_error == "continue":
            return list(node_type.routes)
        return []

    def _outcome_of(self, task: asyncio.Task[Outcome], number: int) -> Outcome:
        if task.cancelled():
            return Outcome(number, False, {}, None, {"message": "The node was cancelled."})
        exc = task.exception()
        if exc is not None:  # run_node catches node faults; this is a bug, but it must not stop the run
            log.error("node task $%s crashed", number, exc_info=exc)
            return Outcome(number, False, {}, None, {"message": f"The node crashed: {type(exc).__name__}."})
        return task.result()

    def _pure(self, number: int) -> bool:
        """A node that only computes from its inputs (a trigger, a webhook response, a Flow node such
        as IF or Switch): running it again after a crash has no effect outside, so it needs no
        checkpoint of its own. A Loop is not one: its items may reach outside."""
        kind = self.plan.nodes[number]["kind"]
        node_type = NODE_TYPES.get(kind)
        if number in self.loops:
            return False
        return node_type is not None and (
            node_type.kind in ("trigger", "response") or kind in iterations.COMPUTE_ONLY
        )

    async def _inline(self, ready: list[int], fields: dict[str, Any]) -> tuple[list[int], list[int]]:
        """Run the ready pure nodes at once, in this task, and those they make ready; their results
        go into the next write, together with the start of the nodes that do reach outside (whose
        inputs are then committed before they begin). Fewer commits: the demo scenario writes twice,
        not four times. Returns the nodes still to launch and the nodes run here."""
        done: list[int] = []
        while True:
            pure = [n for n in ready if self._pure(n)]
            if not pure:
                return ready, done
            ready = [n for n in ready if n not in pure]
            for number in pure:
                try:
                    outcome = await self._node(number)
                except Exception as exc:  # as in _outcome_of: a bug must not stop the run
                    log.error("node $%s crashed", number, exc_info=exc)
                    outcome = Outcome(
                        number, False, {}, None, {"message": f"The node crashed: {type(exc).__name__}."}
                    )
                self._record(outcome, fields)
                done.append(number)
            ready += self._advance()

    async def _node(self, number: int) -> Outcome:
        spec = self.plan.nodes[number]
        upstream = {n: self.outputs[n] for n in self.plan.ancestors(number) if n in self.outputs}
        return await run_node_with_retries(
            spec,
            NODE_TYPES.get(spec["kind"]),
            tries=self.rows[number].tries,
            before_retry=functools.partial(self._before_retry, number),
            upstream=upstream,
            trigger_input=self.execution.input,
            credentials=self.job.credentials,
            team_id=self.job.team_id,
            execution_id=self.execution.id,
            progress=functools.partial(self._progress, number),
            tokens=await self.relay.hook(number),
            call_scenario=functools.partial(self._call_scenario, number),
        )

    def _launch(self, numbers: list[int]) -> None:
        loop = asyncio.get_running_loop()
        for number in numbers:
            work = self._loop(number) if number in self.loops else self._node(number)
            task = loop.create_task(work, name=f"execution {self.execution.id} ${number}")
            self.tasks[task] = number

    async def _loop(self, number: int) -> Outcome:
        """Run Loop `number` and its iterations; the Aggregate's outcome waits in `collected`."""
        region = self.loops[number]
        loop = iterations.Loop(
            region=region,
            plan=self.plan,
            execution_id=self.execution.id,
            team_id=self.job.team_id,
            trigger_input=self.execution.input,
            credentials=self.job.credentials,
            attempt=self.lease.attempt,
            upstream={n: self.outputs[n] for n in self.plan.ancestors(number) if n in self.outputs},
            save=self._save_iterations,
            progress=functools.partial(self._loop_progress, number),
            ended=self.job.ended.get(number, {}),
        )
        outcome, aggregate = await iterations.run(loop)
        if aggregate is not None:
            self.collected[number] = aggregate
        return outcome

    async def _save_iterations(self, rows: list[NodeRun]) -> None:
        await self._write(functools.partial(self._commit_iterations, rows))

    async def _loop_progress(self, number: int, info: dict[str, Any], latest: list[NodeRun]) -> None:
        """How far Loop `number` is, and its body's nodes as the latest item left them (with how many
        items have ended, as history shows them), for the live run."""
        if not await events.heard(self.group):
            return
        messages = [events.node_event(self.execution.id, self.rows[number])]
        messages[0]["node"]["progress"] = info
        for row in latest:
            if row.node_number != self.loops[number].aggregate:
                messages.append(events.node_event(self.execution.id, row))
                messages[-1]["node"]["items"] = info["item"]
        await events.publish(self.group, messages)

    async def _progress(self, number: int, info: dict[str, Any]) -> None:
        """Live news from a running node (e.g. "retrying 1/3 after HTTP 429"); not stored."""
        event = events.node_event(self.execution.id, self.rows[number])
        try:
            event["node"]["progress"] = safe(info, self.job.credentials.secrets)
        except Unstorable:
            return
        await events.publish(self.group, [event])

    async def _call_scenario(self, number: int, name: str, input: Any) -> dict[str, Any]:
        async def started(child: Execution) -> None:
            info = {"text": f"waiting for “{name}”", "execution_id": str(child.pk)}
            await self._progress(number, info)

        return await subscenarios.call(
            name, input, parent=self.execution, node_number=number, create=create_execution, started=started
        )

    async def _before_retry(self, number: int, tries: int, wait: float, reason: str) -> None:
        """Commit the coming try's number (through the lease), then say so live."""
        row = self.rows[number]
        row.tries = tries
        await self._write(functools.partial(self._commit_tries, row, tries))
        spec = self.plan.nodes[number]
        retries = node_settings.settings_of(NODE_TYPES.get(spec["kind"]), spec.get("params")).retries
        retry = tries - 1
        info = {"retrying": retry, "of": retries, "wait": wait, "reason": reason}
        await self._progress(number, {**info, "text": retry_text(retry, retries, wait)})

    def _apply(self, fields: dict[str, Any]) -> None:
        for name, value in fields.items():
            setattr(self.execution, name, value)

    # -- writing (in a thread; every write is fenced by the lease) ---------------------------------
    async def _write(self, commit: functools.partial[None]) -> None:
        """Commit through the lease, with the first write when it waited (carried: inserted after the
        fence, in the same transaction)."""
        carried, self.unwritten = self.unwritten, []
        # A lost lease comes back as a value: to the database wrapper an exception means a broken
        # connection, and this connection is fine.
        if not await db(retry_locked, functools.partial(_held, commit, carried)):
            raise LeaseLost(f"execution {self.lease.pk}: lease of attempt {self.lease.attempt} lost")
        if carried and await events.heard(self.group):  # a page opened since the run started
            await events.publish(
                self.group,
                [events.execution_event(self.execution)]
                + [events.node_event(self.execution.id, row) for row in carried],
            )

    def _fence(self, fields: dict[str, Any], carried: list[NodeRun]) -> None:
        renewed = timezone.now() + timedelta(seconds=settings.EXECUTOR_LEASE_SECONDS)
        self.lease.update(carried, **{"lease_until": renewed, **fields})
        if fields.get("status") == Execution.Status.FAILED:
            # In the transaction that records the failure: a lost worker cannot lose the error run.
            error_run = error_scenarios.error_run_for(self.execution, fields["error"], self.first_failure)
            if error_run is not None:
                create_execution(
                    error_run.scenario, Execution.Trigger.ERROR, error_run.input, parent=self.execution
                )

    def _commit_start(self, rows: list[NodeRun], fields: dict[str, Any], *, carried: list[NodeRun]) -> None:
        with transaction.atomic():
            self._fence(fields, carried)
            if self.lease.attempt > 1:
                earlier = NodeRun.objects.filter(execution_id=self.lease.pk, attempt__lt=self.lease.attempt)
                earlier.filter(status=NS.QUEUED).delete()
                earlier.filter(status=NS.RUNNING).update(
                    status=NS.FAILED,
                    finished_at=timezone.now(),
                    error={
                        "message": f"Interrupted: its worker was lost; it ran again in attempt {self.lease.attempt}."
                    },
                )
            for woke in self.woke:
                NodeRun.objects.filter(pk=woke.pk).update(status=NS.SUCCEEDED, finished_at=woke.finished_at)
            plain_sql.insert(rows)

    def _commit_iterations(self, rows: list[NodeRun], *, carried: list[NodeRun]) -> None:
        with transaction.atomic():
            self._fence({}, carried)
            plain_sql.insert(rows)

    def _commit_tries(self, row: NodeRun, tries: int, *, carried: list[NodeRun]) -> None:
        with transaction.atomic():
            self._fence({}, carried)
            NodeRun.objects.filter(pk=row.pk).update(tries=tries)

    def _commit(self, rows: list[NodeRun], fields: dict[str, Any], *, carried: list[NodeRun]) -> None:
        # A carried row is inserted as it is now; the others were inserted before and change.
        inserted = {id(row) for row in carried}
        changed = [row for row in rows if id(row) not in inserted]
        if not changed and fields.get("status") != Execution.Status.FAILED:
            # Only the lease's row changes, and new rows come with it: one write, all or nothing (on
            # PostgreSQL one statement, without a transaction of its own).
            self._fence(fields, carried)
            return
        with transaction.atomic():
            self._fence(fields, carried)
            # One plain UPDATE per row: bulk_update's CASE expressions cost far more CPU to build
            # than the extra statement costs SQLite or PostgreSQL to run.
            for row in changed:
                plain_sql.update(
                    NodeRun, {"pk": row.pk}, {name: getattr(row, name) for name in NODE_RUN_CHANGES}
                )


from scenarios.runtime.single import run_node_once  # noqa: E402  (re-exported: the engine's public face)
