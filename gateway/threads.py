"""Threads and their messages, created from (validated) request bodies."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from gateway import resources
from gateway.errors import invalid
from gateway.models import File, Message, Thread
from gateway.validation import check_attachments


def text_part(value: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": annotations or []}}


def content_parts(team_id: Any, content: str | list[dict[str, Any]], param: str) -> list[dict[str, Any]]:
    """A request's message content as OpenAI's stored content parts."""
    if isinstance(content, str):
        return [text_part(content)]
    parts = []
    for index, part in enumerate(content):
        if part["type"] == "text":
            parts.append(text_part(part["text"]))
        elif part["type"] == "image_file":
            file_id = part["image_file"]["file_id"]
            if not File.objects.filter(team_id=team_id, pk=file_id).exists():
                raise invalid(f"No such File object: {file_id}", f"{param}[{index}].image_file.file_id")
            parts.append({"type": "image_file", "image_file": {"detail": "auto", **part["image_file"]}})
        else:
            parts.append({"type": "image_url", "image_url": {"detail": "auto", **part["image_url"]}})
    return parts


def add_message(thread: Thread, data: dict[str, Any], param: str = "") -> Message:
    """Store a CreateMessageRequest (already validated) on the thread."""
    prefix = f"{param}." if param else ""
    check_attachments(data.get("attachments"), f"{prefix}attachments")
    parts = content_parts(thread.team_id, data["content"], f"{prefix}content")
    attachments = resources.attach(thread, data.get("attachments"), f"{prefix}attachments")
    now = timezone.now()
    return Message.objects.create(
        team_id=thread.team_id,
        thread=thread,
        role=data["role"],
        content=parts,
        attachments=attachments,
        metadata=data.get("metadata") or {},
        status=Message.Status.COMPLETED,
        completed_at=now,
        created_at=now,
    )


def create_thread(team_id: Any, data: dict[str, Any], param: str = "") -> Thread:
    """Store a CreateThreadRequest (already validated): the thread, its resources and first messages."""
    prefix = f"{param}." if param else ""
    with transaction.atomic():
        thread = Thread.objects.create(
            team_id=team_id,
            tool_resources=resources.resolve(team_id, data.get("tool_resources"), f"{prefix}tool_resources"),
            metadata=data.get("metadata") or {},
        )
        for index, message in enumerate(data.get("messages") or []):
            add_message(thread, message, f"{prefix}messages[{index}]")
    return thread
