"""/v1/chat/completions, /v1/completions and /v1/models: forwarded to the team's provider, or answered
by the offline test model. A `stream: true` request is streamed from the provider too, each chunk
forwarded as it arrives."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http.response import HttpResponseBase

from gateway import bounds, legacy_completions, offline, streaming, upstream
from gateway.api import Call, ok
from gateway.errors import GatewayError, invalid
from gateway.validation import type_name

STREAM_KEYS = ("stream", "stream_options")


def _require(body: Any, required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(f"Invalid type for body: expected an object, but got {type_name(body)} instead.")
    for name in required:
        if body.get(name) is None:
            raise invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")
    if not isinstance(body["model"], str):
        raise invalid(
            f"Invalid type for 'model': expected a string, but got {type_name(body['model'])} instead.",
            "model",
            "invalid_type",
        )
    return body


def _chat_body(call: Call) -> dict[str, Any]:
    body = _require(call.body("CreateChatCompletionRequest"), ("model", "messages"))
    bounds.check_inference(body)
    messages = body["messages"]
    if not isinstance(messages, list):
        raise invalid(
            f"Invalid type for 'messages': expected an array, but got {type_name(messages)} instead.",
            "messages",
            "invalid_type",
        )
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array "
            "instead.",
            "messages",
            "empty_array",
        )
    return body


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def _opened(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """The stream, its first chunk already received: a failure before it (the provider refused, no
    such model) is still answered as an ordinary error with its status."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        raise GatewayError(
            "The provider's stream ended without a chunk.", status=502, type="server_error"
        ) from None

    async def rest() -> AsyncIterator[dict[str, Any]]:
        yield first
        async for chunk in chunks:
            yield chunk

    return rest()


async def _relay(chunks: AsyncIterator[dict[str, Any]], include_usage: bool) -> AsyncIterator[bytes]:
    """Each chunk as it arrives; the usage chunk only when asked for; a failure midway as an error
    event (the status was sent with the first chunk)."""
    try:
        async for chunk in chunks:
            if not include_usage:
                if not chunk.get("choices") and chunk.get("usage"):
                    continue
                chunk.pop("usage", None)
            yield _data(chunk)
    except GatewayError as exc:
        yield _data(exc.body())
    yield b"data: [DONE]\n\n"


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return bool(isinstance(options, dict) and options.get("include_usage"))


async def chat_completions(call: Call) -> HttpResponseBase:
    body = _chat_body(call)
    forwarded = {k: v for k, v in body.items() if k not in STREAM_KEYS}
    config = await upstream.config_for(call.team_id)
    if body.get("stream"):
        chunks = await _opened(upstream.chat_stream(config, forwarded))
        return streaming.response(_relay(chunks, _include_usage(body)))
    return ok(await upstream.chat(config, forwarded))


async def completions(call: Call) -> HttpResponseBase:
    body = _require(call.body("CreateCompletionRequest"), ("model", "prompt"))
    bounds.check_inference(body)
    legacy_completions.shape(body)
    forwarded = {k: v for k, v in body.items() if k not in STREAM_KEYS}
    config = await upstream.config_for(call.team_id)
    if body.get("stream"):
        chunks = await _opened(legacy_completions.stream(config, {**forwarded, "stream": True}))
        return streaming.response(_relay(chunks, _include_usage(body)))
    return ok(await legacy_completions.completion(config, forwarded))


async def models(call: Call) -> HttpResponseBase:
    config = await upstream.config_for(call.team_id)
    return ok({"object": "list", "data": await upstream.models(config)})


async def model(call: Call, model_id: str) -> HttpResponseBase:
    if model_id == offline.MODEL_ID:
        return ok(offline.model_object())
    config = await upstream.config_for(call.team_id)
    if config.provider is None:
        raise upstream.no_provider(model_id)
    for item in await upstream.models(config):
        if item.get("id") == model_id:
            return ok(item)
    raise GatewayError(
        f"The model `{model_id}` does not exist or you do not have access to it.",
        status=404,
        code="model_not_found",
    )
