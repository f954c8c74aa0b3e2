"""Where a gateway request's model answers: the offline test model, or the team's provider.

Provider calls go through nodes.transport.http.ProviderClient (SSRF guard, retries, bounded reads, the key only
sent to the credential's own origin).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async

from gateway import offline
from gateway.errors import GatewayError
from gateway.models import GatewayConfig
from nodes.base import NodeError
from nodes.transport.http import ProviderClient
from teams.models import Credential

# OpenAI's completion-only models, shut down on 2026-09-28. No provider serves them any more, so a
# request naming one (the seed's "GPT-3.5 turbo instruct" node does) is answered by the team's
# default model; the response names the model that really answered.
RETIRED_COMPLETION_MODELS = frozenset({"gpt-3.5-turbo-instruct", "davinci-002", "babbage-002"})


class UpstreamError(GatewayError):
    """The provider failed or refused; carries its status (4xx as is, else 502) and error fields."""


def _config(team_id: Any) -> GatewayConfig:
    return GatewayConfig.for_team(team_id)


async def config_for(team_id: Any) -> GatewayConfig:
    return await sync_to_async(_config)(team_id)


def no_provider(model: str) -> GatewayError:
    return GatewayError(
        f"The model `{model}` does not exist or you do not have access to it. This team's gateway has no "
        f"provider configured: choose a provider credential in the team's gateway settings, or use the "
        f"offline test model `{offline.MODEL_ID}`.",
        status=404,
        code="model_not_found",
        param="model",
    )


def from_provider(exc: NodeError) -> UpstreamError:
    status = getattr(exc, "status", None)
    # The provider refusing *its* key is not the caller's 401: their gateway key was fine.
    if not isinstance(status, int) or not 400 <= status < 500 or status in (401, 403):
        status = 502
    return UpstreamError(
        exc.message,
        status=status,
        type=getattr(exc, "type", None) or ("server_error" if status == 502 else "invalid_request_error"),
        code=getattr(exc, "code", None),
        param=getattr(exc, "param", None),
    )


async def provider_request(provider: Credential, method: str, path: str, body: Any = None) -> Any:
    try:
        return await ProviderClient(provider).request(method, path, json=body)
    except NodeError as exc:
        raise from_provider(exc) from None


async def chat(config: GatewayConfig, body: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion for `body` from its model (offline or the provider)."""
    model = str(body.get("model") or "")
    if model == offline.MODEL_ID:
        return offline.chat(body)
    if config.provider is None:
        raise no_provider(model)
    answer = await provider_request(config.provider, "POST", "/chat/completions", body)
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list) or not answer["choices"]:
        raise UpstreamError("The provider's chat completion has no choices.", status=502, type="server_error")
    return answer


async def chat_stream(config: GatewayConfig, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The chat.completion.chunk objects for `body`, each as the provider sends it (usage last)."""
    model = str(body.get("model") or "")
    if model == offline.MODEL_ID:
        for chunk in chunks_of(offline.chat(body)):
            yield chunk
        return
    if config.provider is None:
        raise no_provider(model)
    request = {**body, "stream": True, "stream_options": {"include_usage": True}}
    try:
        async for event in ProviderClient(config.provider).stream("POST", "/chat/completions", request):
            if event.get("object") == "chat.completion":  # a provider that does not stream
                for chunk in chunks_of(event):
                    yield chunk
            else:
                yield event
    except NodeError as exc:
        raise from_provider(exc) from None


def pieces(text: str) -> list[str]:
    """Text cut into words with their trailing space, as a model's tokens come roughly."""
    return re.findall(r"\S+\s*|\s+", text)


def chunks_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole chat.completion as the chunks a streaming provider would have sent."""
    base = {key: answer[key] for key in ("id", "created", "model", "system_fingerprint") if answer.get(key)}
    base["object"] = "chat.completion.chunk"
    out = []

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            **base,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    for choice in answer["choices"]:
        message, index = choice.get("message") or {}, choice.get("index", 0)
        out.append(chunk(index, {"role": "assistant", "content": "", "refusal": None}))
        out += [chunk(index, {"content": piece}) for piece in pieces(message.get("content") or "")]
        if message.get("refusal"):
            out.append(chunk(index, {"refusal": message["refusal"]}))
        for position, call in enumerate(message.get("tool_calls") or []):
            out.append(chunk(index, {"tool_calls": [{"index": position, **call}]}))
        out.append(chunk(index, {}, choice.get("finish_reason")))
    if answer.get("usage"):
        out.append({**base, "choices": [], "usage": answer["usage"]})
    return out


@dataclass
class Assembled:
    """The chat.completion that a stream of chunks adds up to."""

    answer: dict[str, Any] = field(default_factory=lambda: {"object": "chat.completion", "choices": []})

    def add(self, chunk: dict[str, Any]) -> None:
        for key in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(key) is not None:
                self.answer[key] = chunk[key]
        if chunk.get("usage"):
            self.answer["usage"] = chunk["usage"]
        for part in chunk.get("choices") or []:
            choice = self._choice(int(part.get("index") or 0))
            delta = part.get("delta") or {}
            message = choice["message"]
            for key in ("content", "refusal"):
                if delta.get(key):
                    message[key] = (message.get(key) or "") + delta[key]
            for call in delta.get("tool_calls") or []:
                self._tool_call(message, call)
            if part.get("finish_reason"):
                choice["finish_reason"] = part["finish_reason"]
            logprobs = (part.get("logprobs") or {}).get("content")
            if logprobs:
                choice.setdefault("logprobs", {"content": [], "refusal": None})["content"].extend(logprobs)

    def _choice(self, index: int) -> dict[str, Any]:
        choices = self.answer["choices"]
        while len(choices) <= index:
            choices.append(
                {
                    "index": len(choices),
                    "message": {"role": "assistant", "content": None, "refusal": None},
                    "finish_reason": None,
                    "logprobs": None,
                }
            )
        return choices[index]

    @staticmethod
    def _tool_call(message: dict[str, Any], delta: dict[str, Any]) -> None:
        calls = message.setdefault("tool_calls", [])
        position = int(delta.get("index") or 0)
        while len(calls) <= position:
            calls.append({"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
        call = calls[position]
        if delta.get("id"):
            call["id"] = delta["id"]
        function = delta.get("function") or {}
        call["function"]["name"] += function.get("name") or ""
        call["function"]["arguments"] += function.get("arguments") or ""


async def models(config: GatewayConfig) -> list[dict[str, Any]]:
    """The provider's models (as it lists them) and the offline test model."""
    listed: list[dict[str, Any]] = []
    if config.provider is not None:
        answer = await provider_request(config.provider, "GET", "/models")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise UpstreamError(
                'The provider\'s model list is not in the expected format ({"data": [...]}).',
                status=502,
                type="server_error",
            )
        listed = [m for m in data if isinstance(m, dict) and m.get("id") != offline.MODEL_ID]
    return [*listed, offline.model_object()]


async def check_model(team_id: Any, model: str, param: str = "model") -> None:
    """Refuse a model the team's gateway cannot answer with, as OpenAI does when an assistant is
    created, rather than accepting it and failing each of its runs later."""
    if model == offline.MODEL_ID:
        return
    config = await config_for(team_id)
    if config.provider is None:
        raise GatewayError(
            f"The requested model '{model}' does not exist. This team's gateway has no provider configured: "
            f"choose a provider credential in the team's gateway settings, or use the offline test model "
            f"`{offline.MODEL_ID}`.",
            param=param,
            code="model_not_found",
        )
    if not any(item.get("id") == model for item in await models(config)):
        raise GatewayError(
            f"The requested model '{model}' does not exist.", param=param, code="model_not_found"
        )
