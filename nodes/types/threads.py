"""Threads, their messages and runs: Create Thread, Create Message, Create Run, Modify Run, Delete Thread."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nodes.base import Field, NodeContext
from nodes.params import define
from nodes.transport.guard import path_segment
from nodes.types.assistant_fields import (
    APP,
    ASSISTANT_ID,
    CREDENTIAL,
    ENTITY_ROLE,
    FILE_TOOLS,
    INSTRUCTIONS,
    MESSAGE_CONTENT,
    MESSAGE_FILE_IDS,
    METADATA,
    RUN_ID,
    THREAD_ID,
    TOOL_FIELDS,
    check_run,
    client_for,
    expect_object,
    message_body,
    model_field,
    tools_from,
)

NEW_MESSAGE = Field(
    "new_message",
    "New message",
    kind="toggle",
    default=False,
    expressions=False,
    help="Start the thread with a first message.",
)
# Create Thread's message fields apply only when New message is on.
_WITH_MESSAGE = (("new_message", True),)
THREAD_MESSAGE_FIELDS = tuple(
    replace(f, show_if=_WITH_MESSAGE)
    for f in (MESSAGE_CONTENT, MESSAGE_FILE_IDS, FILE_TOOLS, METADATA, ENTITY_ROLE)
)


def _thread(params: dict[str, Any]) -> str:
    return f"/threads/{path_segment(params['thread_id'])}"


async def create_thread(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if params.get("new_message"):
        body["messages"] = [message_body(params)]
    return expect_object(await client_for(ctx).request("POST", "/threads", body, beta=True), "Create Thread")


async def create_message(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    path = f"{_thread(params)}/messages"
    payload = await client_for(ctx).request("POST", path, message_body(params), beta=True)
    return expect_object(payload, "Create Message")


async def create_run(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    """Optional fields left empty are not sent, so the assistant's own settings apply."""
    body: dict[str, Any] = {"assistant_id": params["assistant_id"]}
    body.update({key: params[key] for key in ("model", "instructions", "metadata") if key in params})
    tools = tools_from(params)
    if tools:
        body["tools"] = tools
    payload = await client_for(ctx).request("POST", f"{_thread(params)}/runs", body, beta=True)
    return expect_object(payload, "Create Run")


async def modify_run(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    """Only metadata can change on a run."""
    body = {"metadata": params["metadata"]} if params.get("metadata") else {}
    path = f"{_thread(params)}/runs/{path_segment(params['run_id'])}"
    return expect_object(await client_for(ctx).request("POST", path, body, beta=True), "Modify Run")


async def delete_thread(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    return expect_object(await client_for(ctx).request("DELETE", _thread(params), beta=True), "Delete Thread")


CREATE_THREAD = define(
    key="openai.create_thread",
    app=APP,
    title="Create Thread",
    description="Creates a conversation thread, optionally with a first message.",
    kind="action",
    fields=(CREDENTIAL, NEW_MESSAGE, *THREAD_MESSAGE_FIELDS),
    run=create_thread,
)
CREATE_MESSAGE = define(
    key="openai.create_message",
    app=APP,
    title="Create Message",
    description="Adds a message to a thread.",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, MESSAGE_CONTENT, MESSAGE_FILE_IDS, FILE_TOOLS, METADATA, ENTITY_ROLE),
    run=create_message,
)
CREATE_RUN = define(
    key="openai.create_run",
    app=APP,
    title="Create Run",
    description="Starts a run: the assistant processes the thread's messages.",
    kind="action",
    fields=(
        CREDENTIAL,
        THREAD_ID,
        ASSISTANT_ID,
        METADATA,
        INSTRUCTIONS,
        model_field(from_credential=False),
        *TOOL_FIELDS,
    ),
    check=check_run,
    run=create_run,
)
MODIFY_RUN = define(
    key="openai.modify_run",
    app=APP,
    title="Modify Run",
    description="Changes a run's metadata (nothing else of a run can change).",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, RUN_ID, METADATA),
    run=modify_run,
)
DELETE_THREAD = define(
    key="openai.delete_thread",
    app=APP,
    title="Delete Thread",
    description="Deletes a thread.",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID),
    run=delete_thread,
)

TYPES = (CREATE_THREAD, CREATE_MESSAGE, CREATE_RUN, MODIFY_RUN, DELETE_THREAD)
