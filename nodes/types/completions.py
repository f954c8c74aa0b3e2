"""Send Message (POST /chat/completions) and GPT-3.5 turbo instruct (POST /completions)."""

from __future__ import annotations

from typing import Any

from nodes.base import Field, NodeContext, NodeError
from nodes.params import define
from nodes.types.assistant_fields import APP, CREDENTIAL, client_for, expect_object, model_field

INSTRUCT_MODEL = "gpt-3.5-turbo-instruct"
# The API's default max_tokens is 16, which cuts answers short.
INSTRUCT_MAX_TOKENS = 1024

MESSAGE = Field(
    "message",
    "Message",
    kind="long_text",
    required=True,
    help="The text sent to the model. It may use other nodes' outputs, like {{$1.body.question}}.",
)


async def send_message(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    model = params.get("model") or (ctx.credential.default_model if ctx.credential else "")
    if not model:
        raise NodeError(
            "Choose a GPT Version (the credential has no default model).", fields={"model": ["Required."]}
        )
    body = {"model": model, "messages": [{"role": "user", "content": params["message"]}]}
    completion = expect_object(
        await client_for(ctx).request("POST", "/chat/completions", body), "Send Message"
    )
    return {**completion, "reply": _first(completion, "message", "content")}


async def instruct(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    model = (ctx.credential.default_model if ctx.credential else "") or INSTRUCT_MODEL
    body = {"model": model, "prompt": params["message"], "max_tokens": INSTRUCT_MAX_TOKENS}
    completion = expect_object(
        await client_for(ctx).request("POST", "/completions", body), "the instruct node"
    )
    return {**completion, "text": _first(completion, "text")}


def _first(completion: dict[str, Any], *path: str) -> Any:
    """choices[0].<path>, or "" when the provider sent no choice."""
    value: Any = completion.get("choices")
    if not isinstance(value, list) or not value:
        return ""
    value = value[0]
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return "" if value is None else value


SEND_MESSAGE = define(
    key="openai.send_message",
    app=APP,
    title="Send Message",
    description="Sends a message to the model and returns its reply (no assistant or thread needed).",
    kind="action",
    fields=(CREDENTIAL, MESSAGE, model_field("GPT Version")),
    run=send_message,
)
INSTRUCT = define(
    key="openai.instruct",
    app=APP,
    title="GPT-3.5 turbo instruct",
    description="Completes a prompt with the instruct model (legacy completions).",
    kind="action",
    fields=(CREDENTIAL, MESSAGE),
    run=instruct,
)

TYPES = (SEND_MESSAGE, INSTRUCT)
