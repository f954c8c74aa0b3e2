"""Assistants, threads and messages, stored per team and rendered as OpenAI's objects."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from gateway import ids
from teams.models import Team


def auto() -> str:
    """The API's default for `response_format` and `tool_choice` (a callable: JSONField defaults must be)."""
    return "auto"


class TeamObject(models.Model):
    """Every gateway object: an OpenAI-style id, a team, and a creation time (lists order by it)."""

    id = models.CharField(primary_key=True, max_length=64)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        abstract = True


class Assistant(TeamObject):
    id = models.CharField(primary_key=True, max_length=64, default=ids.new_assistant_id)
    model = models.CharField(max_length=256)
    name = models.CharField(max_length=256, null=True, blank=True)
    description = models.CharField(max_length=512, null=True, blank=True)
    instructions = models.TextField(null=True, blank=True)
    tools = models.JSONField(default=list)
    tool_resources = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    temperature = models.FloatField(null=True, blank=True)
    top_p = models.FloatField(null=True, blank=True)
    response_format = models.JSONField(null=True, blank=True, default=auto)
    reasoning_effort = models.CharField(max_length=20, null=True, blank=True)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "assistant",
            "created_at": ids.unix(self.created_at),
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": self.tool_resources,
            "metadata": self.metadata,
            "temperature": 1.0 if self.temperature is None else self.temperature,
            "top_p": 1.0 if self.top_p is None else self.top_p,
            "response_format": self.response_format if self.response_format is not None else "auto",
            "reasoning_effort": self.reasoning_effort,
        }


class Thread(TeamObject):
    id = models.CharField(primary_key=True, max_length=64, default=ids.new_thread_id)
    tool_resources = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread",
            "created_at": ids.unix(self.created_at),
            "tool_resources": self.tool_resources,
            "metadata": self.metadata,
        }


class Message(TeamObject):
    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        INCOMPLETE = "incomplete"
        COMPLETED = "completed"

    id = models.CharField(primary_key=True, max_length=64, default=ids.new_message_id)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=20)
    # OpenAI's output content parts: [{"type": "text", "text": {"value", "annotations"}}, ...].
    content = models.JSONField(default=list)
    attachments = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    incomplete_details = models.JSONField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    incomplete_at = models.DateTimeField(null=True, blank=True)
    assistant_id = models.CharField(max_length=64, null=True, blank=True)
    run_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": ids.unix(self.created_at),
            "thread_id": self.thread_id,
            "status": self.status,
            "incomplete_details": self.incomplete_details,
            "completed_at": ids.unix(self.completed_at),
            "incomplete_at": ids.unix(self.incomplete_at),
            "role": self.role,
            "content": self.content,
            "assistant_id": self.assistant_id,
            "run_id": self.run_id,
            "attachments": self.attachments,
            "metadata": self.metadata,
        }

    @property
    def text(self) -> str:
        """The message's text parts, joined (what a model reads)."""
        return "\n".join(part["text"]["value"] for part in self.content if part.get("type") == "text")
