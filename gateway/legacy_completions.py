"""The legacy /completions: the provider's own endpoint when it has one, else emulated by chat
completions (providers without it, the retired instruct models, the offline model).

The emulation honours what chat can express: `n` and `best_of` (candidates asked with chat's `n`,
the best by mean token log probability when the provider gives them), `suffix` (the model is told
the text that follows), `logprobs` (chat's `top_logprobs`, turned into the legacy shape, or refused
when the model gives none), `logit_bias`, `echo`, and the default `max_tokens` of 16.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from gateway import ids, offline, upstream
from gateway.errors import GatewayError, invalid
from gateway.models import GatewayConfig
from gateway.validation import type_name
from nodes.base import NodeError
from nodes.transport.http import ProviderClient, ProviderError

DEFAULT_MAX_TOKENS = 16
FORWARDED = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "user",
)
SUFFIX_INSTRUCTION = (
    "Continue the user's text. Your answer is inserted between the user's text and the ending below, so "
    "write only the missing middle part, leading naturally into the ending.\n\nEnding:\n"
)


@dataclass(frozen=True)
class Shape:
    """What a completions request asks for, checked."""

    prompts: list[str]
    n: int
    best_of: int
    logprobs: int | None
    echo: bool
    stream: bool


def _int(body: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            f"Invalid type for '{name}': expected an integer, but got {type_name(value)} instead.",
            name,
            "invalid_type",
        )
    if not low <= value <= high:
        raise invalid(
            f"Invalid '{name}': integer out of range. Expected a value between {low} and {high}, "
            f"but got {value} instead.",
            name,
            "integer_out_of_range",
        )
    return value


def shape(body: dict[str, Any]) -> Shape:
    """The request's counts and options, refused in a sentence naming the field when they conflict."""
    prompt = body.get("prompt")
    prompts = prompt if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt) else [prompt]
    n = _int(body, "n", 1, 1, 128) or 1
    best_of = _int(body, "best_of", n, 1, 20) or n
    logprobs = _int(body, "logprobs", None, 0, 5)
    stream = bool(body.get("stream"))
    if best_of < n:
        raise invalid(
            f"Invalid 'best_of': it must be at least n ({n}), but got {best_of}.", "best_of", "invalid_value"
        )
    if stream and best_of > n:
        raise invalid(
            "Invalid 'best_of': results cannot be streamed when best_of is greater than n; leave out best_of "
            "or stream.",
            "best_of",
            "invalid_value",
        )
    if logprobs is not None and body.get("echo"):
        raise invalid(
            "Invalid 'logprobs': this server cannot give the log probabilities of the prompt's tokens, which "
            "echo with logprobs returns; leave out one of them.",
            "logprobs",
            "invalid_value",
        )
    return Shape([str(p or "") for p in prompts], n, best_of, logprobs, bool(body.get("echo")), stream)


def chat_body(body: dict[str, Any], model: str, prompt: str, count: int, asked: Shape) -> dict[str, Any]:
    """The chat request standing for one prompt's `count` candidates."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    if body.get("suffix"):
        messages.insert(0, {"role": "system", "content": SUFFIX_INSTRUCTION + str(body["suffix"])})
    out: dict[str, Any] = {"model": model, "messages": messages}
    for key in FORWARDED:
        if body.get(key) is not None:
            out[key] = body[key]
    max_tokens = body.get("max_tokens")
    out["max_completion_tokens"] = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if count > 1:
        out["n"] = count
    if asked.logprobs is not None or asked.best_of > asked.n:
        out["logprobs"] = True
        out["top_logprobs"] = asked.logprobs or 0
    return out


def legacy_logprobs(chat_logprobs: Any, offset: int = 0) -> dict[str, Any] | None:
    """Chat's `logprobs.content` in the legacy completion shape (tokens, token_logprobs, top_logprobs,
    text_offset); None when the provider gave none."""
    content = chat_logprobs.get("content") if isinstance(chat_logprobs, dict) else None
    if not isinstance(content, list):
        return None
    out: dict[str, Any] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for item in content:
        token = str(item.get("token", ""))
        out["tokens"].append(token)
        out["token_logprobs"].append(float(item.get("logprob", 0.0)))
        out["top_logprobs"].append(
            {str(t["token"]): float(t["logprob"]) for t in item.get("top_logprobs") or []}
        )
        out["text_offset"].append(offset)
        offset += len(token)
    return out


def _mean_logprob(choice: dict[str, Any]) -> float:
    found = legacy_logprobs(choice.get("logprobs"))
    values = found["token_logprobs"] if found else []
    return sum(values) / len(values) if values else 0.0


def no_logprobs(model: str) -> GatewayError:
    return invalid(
        f"Invalid 'logprobs': the model `{model}` gives no log probabilities here, so they cannot be "
        "returned; leave out logprobs.",
        "logprobs",
        "invalid_value",
    )


def finish_reason(value: Any) -> str:
    return value if value in ("stop", "length", "content_filter") else "stop"


async def _candidates(
    config: GatewayConfig, body: dict[str, Any], model: str, prompt: str, asked: Shape
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`best_of` chat choices for one prompt (asked again for the rest if the model gave fewer)."""
    choices: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    while len(choices) < asked.best_of:
        last = await upstream.chat(
            config, chat_body(body, model, prompt, asked.best_of - len(choices), asked)
        )
        choices.extend(c for c in last["choices"] if isinstance(c, dict))
        for key in usage:
            usage[key] += int((last.get("usage") or {}).get(key) or 0)
    return choices[: asked.best_of], {**last, "usage": usage}


async def emulate(config: GatewayConfig, body: dict[str, Any], model: str) -> dict[str, Any]:
    asked = shape(body)
    choices: list[dict[str, Any]] = []
    fingerprint = None
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for prompt in asked.prompts:
        candidates, answer = await _candidates(config, body, model, prompt, asked)
        if asked.best_of > asked.n:
            candidates = sorted(candidates, key=_mean_logprob, reverse=True)
        for candidate in candidates[: asked.n]:
            text = str((candidate.get("message") or {}).get("content") or "")
            logprobs = None
            if asked.logprobs is not None:
                logprobs = legacy_logprobs(candidate.get("logprobs"))
                if logprobs is None:
                    raise no_logprobs(model)
            choices.append(
                {
                    "text": prompt + text if asked.echo else text,
                    "index": len(choices),
                    "logprobs": logprobs,
                    "finish_reason": finish_reason(candidate.get("finish_reason")),
                }
            )
        for key in usage:
            usage[key] += int(answer["usage"].get(key) or 0)
        model = answer.get("model") or model
        fingerprint = answer.get("system_fingerprint") or fingerprint
    result: dict[str, Any] = {
        "id": f"cmpl-{ids.random_token()}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    if isinstance(fingerprint, str):  # a string when present, never null, in the spec
        result["system_fingerprint"] = fingerprint
    return result


def answering_model(config: GatewayConfig, body: dict[str, Any]) -> str:
    """The model that answers: the team's default stands in for a retired completion model."""
    model = str(body.get("model") or "")
    return config.effective_default_model if model in upstream.RETIRED_COMPLETION_MODELS else model


async def completion(config: GatewayConfig, body: dict[str, Any]) -> dict[str, Any]:
    """A text_completion: the provider's own /completions when it has one, else emulated by chat."""
    shape(body)
    model = answering_model(config, body)
    if model != offline.MODEL_ID and config.provider is not None and model == body.get("model"):
        try:
            answer: dict[str, Any] = await ProviderClient(config.provider).request(
                "POST", "/completions", json=body
            )
        except ProviderError as exc:
            if exc.status not in (404, 405):
                raise upstream.from_provider(exc) from None
        except NodeError as exc:
            raise upstream.from_provider(exc) from None
        else:
            return answer
    return await emulate(config, body, model)


async def stream(config: GatewayConfig, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """text_completion chunks as they come: the provider's own stream when it has /completions, else
    the emulation's, from a chat stream; the usage chunk last."""
    asked = shape(body)
    model = answering_model(config, body)
    if model != offline.MODEL_ID and config.provider is not None and model == body.get("model"):
        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        try:
            async for event in ProviderClient(config.provider).stream("POST", "/completions", request):
                yield event
            return
        except ProviderError as exc:
            if exc.status not in (404, 405):
                raise upstream.from_provider(exc) from None
        except NodeError as exc:
            raise upstream.from_provider(exc) from None
    base = {"id": f"cmpl-{ids.random_token()}", "object": "text_completion", "created": int(time.time())}
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for number, prompt in enumerate(asked.prompts):
        produced = 0
        while produced < asked.n:  # a model that ignores chat's `n` is asked again for the rest
            offsets: dict[int, int] = {}
            request = chat_body(body, model, prompt, asked.n - produced, asked)
            async for chunk in upstream.chat_stream(config, request):
                base["model"] = chunk.get("model") or model
                for key in usage:
                    usage[key] += int((chunk.get("usage") or {}).get(key) or 0)
                for part in chunk.get("choices") or []:
                    index = number * asked.n + produced + int(part.get("index") or 0)
                    text = str((part.get("delta") or {}).get("content") or "")
                    if index not in offsets:
                        offsets[index] = 0
                        text = prompt + text if asked.echo else text
                    logprobs = None
                    if asked.logprobs is not None and text:
                        logprobs = legacy_logprobs(part.get("logprobs"), offsets[index])
                        if logprobs is None:
                            raise no_logprobs(model)
                    offsets[index] += len(text)
                    finish = part.get("finish_reason")
                    choice = {
                        "text": text,
                        "index": index,
                        "logprobs": logprobs,
                        "finish_reason": finish_reason(finish) if finish else None,
                    }
                    yield {**base, "choices": [choice]}
            produced += max(1, len(offsets))
    yield {**base, "choices": [], "usage": usage}
