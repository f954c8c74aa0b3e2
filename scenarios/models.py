from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.db import models
from django.utils import timezone

from durable.models import Leased
from nodes.base import DEFAULT_PORT
from teams.models import Credential, Team, User


def new_webhook_token() -> str:
    return secrets.token_urlsafe(24)


class ScenarioQuerySet(models.QuerySet["Scenario"]):
    def for_team(self, team: Team) -> ScenarioQuerySet:
        return self.filter(team=team)


class Scenario(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    # Optimistic concurrency: every save of the graph names the version it started from.
    version = models.PositiveIntegerField(default=1)
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token)
    active = models.BooleanField(default=True)
    # Until then the next webhook call becomes the trigger's test data instead of running it.
    test_call_until = models.DateTimeField(null=True, blank=True)
    # Not a column: whether a webhook call may be a test call (set by webhooks.active_scenario).
    listens_for_test_call = False
    # The highest node number the scenario has had. Numbers are never given out again, so an
    # expression such as {{$3.id}} and the past runs of $3 never come to mean another node.
    highest_node_number = models.PositiveIntegerField(default=0)
    # Node id → number of the latest deleted nodes: an undo that brings one back gives it its number.
    retired_nodes = models.JSONField(default=dict, blank=True)
    # Started with the failed execution's details when an execution of this scenario fails
    # (scenarios/runtime/error_scenarios.py). Another scenario of the same team.
    error_scenario = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScenarioQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def group_name(self) -> str:
        """The channel group of this scenario's live events."""
        return self.group_name_for(self.id)

    @staticmethod
    def group_name_for(scenario_id: Any) -> str:
        return f"scenario-{scenario_id}"

    def next_node_number(self) -> int:
        return self.highest_number_used() + 1

    def highest_number_used(self) -> int:
        top = self.nodes.aggregate(top=models.Max("number"))["top"]
        return max(self.highest_node_number, top or 0)


class Node(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="nodes")
    # Short per-scenario number, shown on the canvas and used in expressions: {{$2.id}}.
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True, default="")
    position_x = models.FloatField(default=0)
    position_y = models.FloatField(default=0)
    params = models.JSONField(default=dict, blank=True)
    credential = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="nodes"
    )

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["scenario", "number"], name="unique_node_number")]
        # The schedule sweep looks up every Schedule trigger by kind (scenarios/runtime/scheduling.py).
        indexes = [models.Index(fields=["kind"], name="node_kind")]

    def __str__(self) -> str:
        return f"${self.number} {self.label or self.kind}"


class Edge(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="outgoing")
    target = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="incoming")
    # Which of the source's output ports (its node type's `outputs`) the edge leaves from.
    source_port = models.CharField(max_length=50, default=DEFAULT_PORT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "source_port", "target"], name="unique_edge_port")
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.source_port} -> {self.target_id}"


class Execution(Leased):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"
        # Held by no worker until `wake_at` (a Wait node): then claimable again, like a queued one.
        WAITING = "waiting"

    class Trigger(models.TextChoices):
        WEBHOOK = "webhook"
        MANUAL = "manual"
        RUN_ONCE = "run_once"
        CLI = "cli"
        RERUN = "rerun"
        SCHEDULE = "schedule"
        ERROR = "error", "Error scenario"  # started by a failed execution (its parent)
        SUBSCENARIO = "subscenario", "Run scenario node"  # started by one (parent, parent_node)

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    # The statuses a claim can take an execution from (the others are over).
    CLAIMABLE = (Status.QUEUED, Status.WAITING, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Looked up through execution_history, which leads with it. Every index is written again on each
    # change of status (three per execution): the table keeps only the indexes its queries use.
    scenario = models.ForeignKey(
        Scenario, on_delete=models.CASCADE, related_name="executions", db_index=False
    )
    # The graph as it was when the execution was created; later edits never change a run.
    snapshot = models.JSONField(default=dict)
    scenario_version = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    input = models.JSONField(default=dict, blank=True)
    # Looked up through execution_claim and execution_wake, which lead with it.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    max_attempts = models.PositiveIntegerField(default=3)
    error = models.TextField(blank=True, default="")
    # What the Webhook response node answered: {"status": int, "headers": {...}, "body": ...}.
    response = models.JSONField(null=True, blank=True)
    # A webhook caller's Idempotency-Key: a second call with it gets this execution's answer.
    idempotency_key = models.CharField(max_length=200, blank=True, default="")
    # The execution that started this one: a Run scenario node's (parent_node is its number), or a
    # failed execution whose error scenario this is. Each starts its child at most once (constraints).
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    parent_node = models.PositiveIntegerField(null=True, blank=True)
    # How many Run scenario nodes deep this execution is (0: started by a trigger).
    depth = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Ordered by within a scenario (execution_history) or among the executions not over (execution_active).
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A waiting execution is resumed by any executor once this time has come.
    wake_at = models.DateTimeField(null=True, blank=True)
    # The Schedule trigger's slot this execution fires: unique per scenario, so each slot fires once
    # however many processes notice it is due (scenarios/runtime/scheduling.py).
    scheduled_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "lease_until"], name="execution_claim"),
            models.Index(fields=["scenario", "-created_at"], name="execution_history"),
            models.Index(fields=["status", "wake_at"], name="execution_wake"),
            # What a claim looks through, oldest first: only the executions that are not over (the
            # CLAIMABLE statuses), so a claim costs the same with a history of millions.
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["queued", "waiting", "running"]),
                name="execution_active",
            ),
            # Most executions have none: only those that do are indexed.
            models.Index(
                fields=["created_by"],
                condition=models.Q(created_by__isnull=False),
                name="execution_created_by",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_execution_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["scenario", "scheduled_for"],
                condition=models.Q(scheduled_for__isnull=False),
                name="unique_execution_schedule_slot",
            ),
            models.UniqueConstraint(
                fields=["parent", "parent_node"],
                condition=models.Q(parent_node__isnull=False),
                name="unique_subscenario_child",
            ),
            models.UniqueConstraint(
                fields=["parent"], condition=models.Q(trigger="error"), name="unique_error_scenario_run"
            ),
        ]

    def __str__(self) -> str:
        return f"Execution {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None


class NodeRunsOutsideLoops(models.Manager["NodeRun"]):
    def get_queryset(self) -> models.QuerySet[NodeRun]:
        return super().get_queryset().filter(iteration__isnull=True)


class NodeRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"
        # A Wait node until `wake_at`; it succeeds when the execution resumes after that time.
        WAITING = "waiting"

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="node_runs")
    node_number = models.PositiveIntegerField()
    node_kind = models.CharField(max_length=100)
    label = models.CharField(max_length=200, blank=True, default="")
    attempt = models.PositiveIntegerField(default=1)
    # Tries of the node's execute function so far, retries included (nodes/node_settings.py). Kept
    # across attempts: a takeover goes on counting, so it never retries beyond the bound.
    tries = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # Parameters after expressions were resolved, with secrets redacted.
    params = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    # {"message": str, and for provider errors "status", "type", "code", "param"}.
    error = models.JSONField(null=True, blank=True)
    # The output ports the node fired, once it has ended: its routes taken (["true"]), or ["error"] for
    # a failure routed down its error port. A takeover resumes with these routes already decided.
    # None for runs recorded before ports existed (a success then fired its type's every route).
    ports = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    # For a node inside a Loop over items: the item's position (from 0); None outside loops.
    iteration = models.PositiveIntegerField(null=True, blank=True)

    # The default manager (and so `execution.node_runs`) shows one run per node and attempt: history,
    # live runs and takeovers read those. A loop's per-item runs are many; they are read, paged, only
    # through `in_loops` (scenarios/runtime/iterations.py, the run's iterations view).
    objects = NodeRunsOutsideLoops()
    in_loops = models.Manager()

    class Meta:
        ordering = ["started_at", "node_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "node_number", "attempt"],
                condition=models.Q(iteration__isnull=True),
                name="unique_node_run",
            ),
            models.UniqueConstraint(
                fields=["execution", "node_number", "iteration", "attempt"],
                condition=models.Q(iteration__isnull=False),
                name="unique_node_run_iteration",
            ),
        ]

    def __str__(self) -> str:
        return f"${self.node_number} {self.status}"

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None

    @property
    def routes_taken(self) -> list[str]:
        """The ports to name in history: those of a node that chose its route (not just "main")."""
        ports = self.ports or []
        return [] if ports == [DEFAULT_PORT] else list(ports)

    @property
    def used_upstream(self) -> list[dict[str, Any]]:
        """For a single-node run: the upstream values it used, [{"node", "title", "execution_id", "finished_at"}]."""
        if self.execution.trigger != Execution.Trigger.RUN_ONCE or not isinstance(self.execution.input, dict):
            return []
        return list(self.execution.input.get("upstream", []))

    def as_event(self) -> dict[str, Any]:
        return {
            "node": self.node_number,
            "kind": self.node_kind,
            "status": self.status,
            "attempt": self.attempt,
            "tries": self.tries,
            "params": self.params,
            "output": self.output,
            "error": self.error,
            "ports": self.ports,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_ms": self.duration_ms,
            "wake_at": self.wake_at.isoformat() if self.wake_at else None,
        }
