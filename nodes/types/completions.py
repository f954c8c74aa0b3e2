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
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": params["message"]}]}
    if ctx.tokens is None:
        answer = await client_for(ctx).request("POST", "/chat/completions", body)
    else:
        answer = await _streamed(ctx, {**body, "stream": True, "stream_options": {"include_usage": True}})
    completion = expect_object(answer, "Send Message")
    return {**completion, "reply": _first(completion, "message", "content")}


async def _streamed(ctx: NodeContext, body: dict[str, Any]) -> Any:
    """The chat completion asked with `stream: true`, each token handed to `ctx.tokens` as it comes
    (a provider that answers in one piece still works)."""
    chunks: list[dict[str, Any]] = []
    async for event in client_for(ctx).stream("POST", "/chat/completions", body):
        if not isinstance(event, dict) or event.get("object") == "chat.completion":
            return event
        chunks.append(event)
        if ctx.tokens is not None and (text := _delta_text(event)):
            await ctx.tokens(text)
    return assembled(chunks)


def _delta_text(chunk: dict[str, Any]) -> str:
    """The first choice's new text in a chat.completion.chunk ("" when it brings none)."""
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            content = (choice.get("delta") or {}).get("content")
            return content if isinstance(content, str) else ""
    return ""


def assembled(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat.completion a provider would have answered without streaming, from its chunks: the
    node's output is the same either way."""
    head = next((chunk for chunk in chunks if chunk.get("id")), {})
    completion: dict[str, Any] = {
        key: head[key] for key in ("id", "created", "model", "system_fingerprint") if key in head
    }
    completion["object"] = "chat.completion"
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if chunk.get("usage"):
            completion["usage"] = chunk["usage"]
        for part in chunk.get("choices") or []:
            if not isinstance(part, dict):
                continue
            index = int(part.get("index") or 0)
            choice = choices.setdefault(
                index,
                {
                    "index": index,
                    "message": {"role": "assistant", "content": "", "refusal": None},
                    "finish_reason": None,
                    "logprobs": None,
                },
            )
            delta = part.get("delta") or {}
            message = choice["message"]
            if isinstance(delta.get("content"), str):
                message["content"] += delta["content"]
            if isinstance(delta.get("refusal"), str):
                message["refusal"] = (message["refusal"] or "") + delta["refusal"]
            if part.get("finish_reason"):
                choice["finish_reason"] = part["finish_reason"]
    completion["choices"] = [choices[index] for index in sorted(choices)]
    return completion


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
