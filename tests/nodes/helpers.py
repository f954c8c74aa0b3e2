"""Helpers for the node catalog's tests: run a node against the stub provider, check what was sent
against OpenAI's spec, and sample provider objects shaped like the real API's (spec-valid)."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext
from nodes.forms import NodeForm, build_form, clean_for_run
from nodes.registry import get_node_type
from teams.models import Credential
from tests.openapi_spec import operation_path, validate_request
from tests.stub_provider import Recorded, StubProvider

CREATED = 1_700_000_000


async def run_node(key: str, params: dict[str, Any], credential: Credential | None, **context: Any) -> Any:
    ctx = NodeContext(
        team_id=credential.team_id if credential else None,
        execution_id=None,
        node_number=2,
        credential=credential,
        **context,
    )
    node_type = get_node_type(key)
    return await node_type.execute(ctx, clean_for_run(node_type, params))  # as the engine runs it


def sent(stub: StubProvider, method: str, path: str) -> Recorded:
    """The last request to `path`, after checking its body against the official spec."""
    request = stub.last(path)
    assert request.method == method
    validate_request(method, operation_path(request.path), request.body)
    return request


def form_for(key: str, data: dict[str, Any] | None = None, **kwargs: Any) -> NodeForm:
    return build_form(get_node_type(key), data=data, **kwargs)


def error_texts(form: NodeForm, name: str) -> str:
    assert not form.is_valid()
    return " ".join(str(message) for message in form.errors.get(name, []))


# -- provider objects as the real API returns them (checked against the spec in test_samples) -----


def assistant_object(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "asst_abc123",
        "object": "assistant",
        "created_at": CREATED,
        "name": None,
        "description": None,
        "model": "stub-model",
        "instructions": None,
        "tools": [],
        "tool_resources": {},
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "response_format": "auto",
        **overrides,
    }


def thread_object(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "thread_abc123",
        "object": "thread",
        "created_at": CREATED,
        "metadata": {},
        "tool_resources": {},
        **overrides,
    }


def message_object(text: str = "Hello", **overrides: Any) -> dict[str, Any]:
    return {
        "id": "msg_abc123",
        "object": "thread.message",
        "created_at": CREATED,
        "thread_id": "thread_abc123",
        "status": "completed",
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": "user",
        "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        "assistant_id": None,
        "run_id": None,
        "attachments": [],
        "metadata": {},
        **overrides,
    }


def run_object(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "run_abc123",
        "object": "thread.run",
        "created_at": CREATED,
        "thread_id": "thread_abc123",
        "assistant_id": "asst_abc123",
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": CREATED + 600,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "model": "stub-model",
        "instructions": "",
        "tools": [],
        "metadata": {},
        "usage": None,
        "incomplete_details": None,
        "max_prompt_tokens": None,
        "max_completion_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "response_format": "auto",
        "temperature": 1.0,
        "top_p": 1.0,
        **overrides,
    }


def file_object(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "file-abc123",
        "object": "file",
        "bytes": 11,
        "created_at": CREATED,
        "filename": "notes.txt",
        "purpose": "assistants",
        "status": "processed",
        **overrides,
    }


def vector_store_object(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "vs_abc123",
        "object": "vector_store",
        "created_at": CREATED,
        "name": "",
        "usage_bytes": 0,
        "file_counts": {"in_progress": 1, "completed": 0, "failed": 0, "cancelled": 0, "total": 1},
        "status": "in_progress",
        "last_active_at": CREATED,
        "metadata": {},
        **overrides,
    }


def deleted(object_id: str, kind: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}


def openai_error(message: str, type_: str = "invalid_request_error", **fields: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": None, **fields}}
