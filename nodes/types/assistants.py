"""Create, Modify and Delete Assistant (POST/POST/DELETE /assistants…, Assistants v2)."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext, NodeError
from nodes.params import define
from nodes.transport.guard import path_segment
from nodes.transport.http import ProviderClient
from nodes.types.assistant_fields import (
    APP,
    ASSISTANT_ID,
    ASSISTANT_NAME,
    CREDENTIAL,
    DESCRIPTION,
    FILE_IDS,
    INSTRUCTIONS,
    METADATA,
    TOOL_FIELDS,
    check_assistant,
    client_for,
    expect_object,
    model_field,
    tools_from,
)

# The seed's order: Model ID, File IDs list, Metadata, name, description, instructions, tools.
OPTIONAL = (FILE_IDS, METADATA, ASSISTANT_NAME, DESCRIPTION, INSTRUCTIONS, *TOOL_FIELDS)
TEXTS = ("name", "description", "instructions", "metadata")


def _model(ctx: NodeContext, params: dict[str, Any]) -> str:
    model = params.get("model") or (ctx.credential.default_model if ctx.credential else "")
    if not model:
        raise NodeError(
            "Choose a Model ID (the credential has no default model).", fields={"model": ["Required."]}
        )
    return str(model)


async def _body(client: ProviderClient, params: dict[str, Any], *, modify: bool) -> dict[str, Any]:
    """The fields the user filled, tools, and the files placed where the tools read them."""
    body: dict[str, Any] = {key: params[key] for key in ("model", *TEXTS) if key in params}
    tools = tools_from(params)
    if tools:
        body["tools"] = tools
    files = params.get("file_ids") or []
    resources: dict[str, Any] = {}
    if files and params.get("code_interpreter"):
        resources["code_interpreter"] = {"file_ids": files}
    if files and params.get("retrieval") and not modify:
        resources["file_search"] = {"vector_stores": [{"file_ids": files}]}
    elif files and params.get("retrieval"):
        # Modify takes only vector_store_ids, so the files go into a new vector store first.
        store = expect_object(
            await client.request("POST", "/vector_stores", {"file_ids": files}, beta=True),
            "Create vector store",
        )
        if not isinstance(store.get("id"), str):
            raise NodeError("The provider created a vector store but did not say its id.")
        resources["file_search"] = {"vector_store_ids": [store["id"]]}
    if resources:
        body["tool_resources"] = resources
    return body


async def create_assistant(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    client = client_for(ctx)
    body = {"model": _model(ctx, params), **await _body(client, params, modify=False)}
    return expect_object(await client.request("POST", "/assistants", body, beta=True), "Create Assistant")


async def modify_assistant(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    """Sends only what the user filled: an empty field leaves the assistant's value as it is."""
    client = client_for(ctx)
    path = f"/assistants/{path_segment(params['assistant_id'])}"
    body = await _body(client, params, modify=True)
    return expect_object(await client.request("POST", path, body, beta=True), "Modify Assistant")


async def delete_assistant(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    path = f"/assistants/{path_segment(params['assistant_id'])}"
    return expect_object(await client_for(ctx).request("DELETE", path, beta=True), "Delete Assistant")


CREATE_ASSISTANT = define(
    key="openai.create_assistant",
    app=APP,
    title="Create Assistant",
    description="Creates an assistant: a model with instructions, tools and files.",
    kind="action",
    fields=(CREDENTIAL, model_field(required=True), *OPTIONAL),
    check=check_assistant,
    run=create_assistant,
)
MODIFY_ASSISTANT = define(
    key="openai.modify_assistant",
    app=APP,
    title="Modify Assistant",
    description="Changes an assistant. Fields left empty keep their current value.",
    kind="action",
    fields=(CREDENTIAL, ASSISTANT_ID, model_field(from_credential=False), *OPTIONAL),
    check=check_assistant,
    run=modify_assistant,
)
DELETE_ASSISTANT = define(
    key="openai.delete_assistant",
    app=APP,
    title="Delete Assistant",
    description="Deletes an assistant.",
    kind="action",
    fields=(CREDENTIAL, ASSISTANT_ID),
    run=delete_assistant,
)

TYPES = (CREATE_ASSISTANT, MODIFY_ASSISTANT, DELETE_ASSISTANT)
