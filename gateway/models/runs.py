"""Runs (claimed and executed by the durable executor) and their steps."""

from __future__ import annotations

from typing import Any

from django.db import models

from durable.models import Leased
from gateway import ids
from gateway.models.assistants import TeamObject, Thread, auto


class Run(TeamObject, Leased):
    class Status(models.TextChoices):
        QUEUED = "queued"
        IN_PROGRESS = "in_progress"
        REQUIRES_ACTION = "requires_action"
        CANCELLING = "cancelling"
        CANCELLED = "cancelled"
        FAILED = "failed"
        COMPLETED = "completed"
        INCOMPLETE = "incomplete"
        EXPIRED = "expired"

    # While a run is in one of these, its thread is locked (no new messages, no second run).
    ACTIVE = (Status.QUEUED, Status.IN_PROGRESS, Status.REQUIRES_ACTION, Status.CANCELLING)
    TERMINAL = (Status.CANCELLED, Status.FAILED, Status.COMPLETED, Status.INCOMPLETE, Status.EXPIRED)

    id = models.CharField(primary_key=True, max_length=64, default=ids.new_run_id)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="runs")
    # A plain id, not a foreign key: deleting an assistant must not erase the history of its runs.
    assistant_id = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    required_action = models.JSONField(null=True, blank=True)
    last_error = models.JSONField(null=True, blank=True)
    incomplete_details = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=256)
    instructions = models.TextField(blank=True, default="")
    tools = models.JSONField(default=list)
    # Resources given to this run only (create-thread-and-run), searched besides the assistant's.
    tool_resources = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    usage = models.JSONField(null=True, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    max_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    truncation_strategy = models.JSONField(default=dict)
    tool_choice = models.JSONField(default=auto)
    parallel_tool_calls = models.BooleanField(default=True)
    response_format = models.JSONField(null=True, blank=True, default=auto)
    reasoning_effort = models.CharField(max_length=20, null=True, blank=True)
    # Chat messages the run added after the thread's (the model's tool calls and their outputs).
    transcript = models.JSONField(default=list)
    # Claims since the run was last queued; a run claimed this often without finishing is failed.
    tries = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["status", "lease_until"], name="gateway_run_claim")]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": ids.unix(self.created_at),
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "status": self.status,
            "required_action": self.required_action,
            "last_error": self.last_error,
            "expires_at": ids.unix(self.expires_at) if self.is_active else None,
            "started_at": ids.unix(self.started_at),
            "cancelled_at": ids.unix(self.cancelled_at),
            "failed_at": ids.unix(self.failed_at),
            "completed_at": ids.unix(self.completed_at),
            "incomplete_details": self.incomplete_details,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "metadata": self.metadata,
            "usage": self.usage,
            "temperature": 1.0 if self.temperature is None else self.temperature,
            "top_p": 1.0 if self.top_p is None else self.top_p,
            "max_prompt_tokens": self.max_prompt_tokens,
            "max_completion_tokens": self.max_completion_tokens,
            "truncation_strategy": self.truncation_strategy,
            "tool_choice": self.tool_choice,
            "parallel_tool_calls": self.parallel_tool_calls,
            "response_format": self.response_format if self.response_format is not None else "auto",
            "reasoning_effort": self.reasoning_effort,
        }


class RunStep(TeamObject):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        CANCELLED = "cancelled"
        FAILED = "failed"
        COMPLETED = "completed"
        EXPIRED = "expired"

    id = models.CharField(primary_key=True, max_length=64, default=ids.new_step_id)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    thread_id = models.CharField(max_length=64)
    assistant_id = models.CharField(max_length=64)
    type = models.CharField(max_length=20)  # message_creation | tool_calls
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    step_details = models.JSONField(default=dict)
    last_error = models.JSONField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict)
    usage = models.JSONField(null=True, blank=True)

    def as_api(self, include_search_content: bool = False) -> dict[str, Any]:
        details = self.step_details
        if not include_search_content and details.get("type") == "tool_calls":
            # Result content is returned only when asked for with include[] (as OpenAI does).
            details = {**details, "tool_calls": [_without_content(c) for c in details.get("tool_calls", [])]}
        return {
            "id": self.id,
            "object": "thread.run.step",
            "created_at": ids.unix(self.created_at),
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "type": self.type,
            "status": self.status,
            "step_details": details,
            "last_error": self.last_error,
            "expired_at": ids.unix(self.expired_at),
            "cancelled_at": ids.unix(self.cancelled_at),
            "failed_at": ids.unix(self.failed_at),
            "completed_at": ids.unix(self.completed_at),
            "metadata": self.metadata,
            "usage": self.usage,
        }


def _without_content(call: dict[str, Any]) -> dict[str, Any]:
    if call.get("type") != "file_search":
        return call
    search = call.get("file_search", {})
    results = [{k: v for k, v in r.items() if k != "content"} for r in search.get("results", [])]
    return {**call, "file_search": {**search, "results": results}}
