"""Where a gateway request's model answers: the offline test model, or the team's provider.

Provider calls go through nodes.transport.http.ProviderClient (SSRF guard, retries, bounded reads, the key only
sent to the credential's own origin).
"""

from __future__ import annotations

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
