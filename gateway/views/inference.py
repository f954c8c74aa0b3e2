"""/v1/chat/completions, /v1/completions and /v1/models: forwarded to the team's provider, or answered
by the offline test model. A `stream: true` request gets the answer as server-sent chunks (the
provider is asked without streaming; the answer is then sent in pieces)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from django.http.response import HttpResponseBase

from gateway import legacy_completions, offline, streaming, upstream
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
    body = _require(call.json(), ("model", "messages"))
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


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text) or [""]


async def _chat_chunks(answer: dict[str, Any], include_usage: bool) -> AsyncIterator[bytes]:
    base = {key: answer[key] for key in ("id", "created", "model", "system_fingerprint") if answer.get(key)}
    base["object"] = "chat.completion.chunk"
    for choice in answer["choices"]:
        message = choice.get("message") or {}
        index = choice.get("index", 0)
        first = {"role": "assistant", "content": "", "refusal": None}
        yield _data(
            {**base, "choices": [{"index": index, "delta": first, "finish_reason": None, "logprobs": None}]}
        )
        for piece in _words(message.get("content") or "") if message.get("content") else []:
            delta: dict[str, Any] = {"content": piece}
            yield _data(
                {
                    **base,
                    "choices": [{"index": index, "delta": delta, "finish_reason": None, "logprobs": None}],
                }
            )
        for position, call in enumerate(message.get("tool_calls") or []):
            delta = {"tool_calls": [{"index": position, **call}]}
            yield _data(
                {
                    **base,
                    "choices": [{"index": index, "delta": delta, "finish_reason": None, "logprobs": None}],
                }
            )
        last = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason"), "logprobs": None}
        yield _data({**base, "choices": [last]})
    if include_usage:
        yield _data({**base, "choices": [], "usage": answer.get("usage")})
    yield b"data: [DONE]\n\n"


async def _completion_chunks(answer: dict[str, Any], include_usage: bool) -> AsyncIterator[bytes]:
    base = {
        key: answer[key]
        for key in ("id", "object", "created", "model", "system_fingerprint")
        if answer.get(key)
    }
    for choice in answer["choices"]:
        for piece in _words(choice.get("text") or ""):
            part = {"text": piece, "index": choice.get("index", 0), "logprobs": None, "finish_reason": None}
            yield _data({**base, "choices": [part]})
        end = {
            "text": "",
            "index": choice.get("index", 0),
            "logprobs": None,
            "finish_reason": choice.get("finish_reason"),
        }
        yield _data({**base, "choices": [end]})
    if include_usage:
        yield _data({**base, "choices": [], "usage": answer.get("usage")})
    yield b"data: [DONE]\n\n"


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def chat_completions(call: Call) -> HttpResponseBase:
    body = _chat_body(call)
    stream = bool(body.get("stream"))
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    forwarded = {k: v for k, v in body.items() if k not in STREAM_KEYS}
    config = await upstream.config_for(call.team_id)
    answer = await upstream.chat(config, forwarded)
    if stream:
        return streaming.response(_chat_chunks(answer, include_usage))
    return ok(answer)


async def completions(call: Call) -> HttpResponseBase:
    body = _require(call.json(), ("model", "prompt"))
    legacy_completions.shape(body)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    forwarded = {k: v for k, v in body.items() if k not in STREAM_KEYS}
    config = await upstream.config_for(call.team_id)
    answer = await legacy_completions.completion(config, forwarded)
    if body.get("stream"):
        return streaming.response(_completion_chunks(answer, include_usage))
    return ok(answer)


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
