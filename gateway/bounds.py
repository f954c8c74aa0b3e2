"""How much one gateway request may hold and ask for, since anyone can sign up and get a key: the
body's size, depth and lists, numbers JSON can carry, text every database stores, the choices an
inference asks for, and the requests one key has in flight. Refused in OpenAI's error envelope."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from django.conf import settings

from gateway.errors import GatewayError, invalid
from gateway.validation import param_path
from nodes.json_limits import MAX_JSON_DEPTH

INT64 = 2**63


def check_body(body: Any) -> None:
    """Every list within GATEWAY_MAX_LIST_ITEMS, nesting within MAX_JSON_DEPTH, numbers finite and
    64-bit, text without lone surrogates; the first problem is a 400 naming its parameter."""
    pending: list[tuple[tuple[Any, ...], Any]] = [((), body)]
    limit = settings.GATEWAY_MAX_LIST_ITEMS
    while pending:
        path, item = pending.pop()
        if len(path) > MAX_JSON_DEPTH:
            raise invalid(
                f"Invalid '{param_path(path[:MAX_JSON_DEPTH])}': nested too deeply "
                f"(more than {MAX_JSON_DEPTH} levels).",
                param_path(path[:MAX_JSON_DEPTH]),
                "invalid_value",
            )
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and not -INT64 <= item < INT64:
            where = param_path(path)
            raise invalid(
                f"Invalid '{where}': integer out of range (beyond 64 bits).", where, "invalid_value"
            )
        elif isinstance(item, float) and not math.isfinite(item):
            where = param_path(path)
            raise invalid(f"Invalid '{where}': {item} is not a JSON number.", where, "invalid_value")
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, path)
                pending.append(((*path, key), child))
        elif isinstance(item, list):
            if len(item) > limit:
                where = param_path(path)
                raise invalid(
                    f"Invalid '{where}': array too long. Expected an array with maximum length {limit}, "
                    f"but got an array with length {len(item)} instead.",
                    where,
                    "array_above_max_length",
                )
            pending.extend(((*path, i), child) for i, child in enumerate(item))


def _check_text(text: str, path: tuple[Any, ...]) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = param_path(path)
        raise invalid(
            f"Invalid value for '{where}': text cannot contain an unpaired surrogate "
            f"(\\u{ord(text[exc.start]):04x}).",
            where,
            "invalid_value",
        ) from None


def check_inference(body: dict[str, Any]) -> None:
    """What the spec leaves open: at least one token, and prompts × n within GATEWAY_MAX_CHOICES
    (each prompt of a list may be one call to the provider)."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if isinstance(value, int) and value < 1:
            raise invalid(
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead.",
                name,
                "integer_below_min_value",
            )
    prompt = body.get("prompt")
    prompts = len(prompt) if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int) else 1
    choices = prompts * (body.get("n") or 1)
    cap = settings.GATEWAY_MAX_CHOICES
    if choices > cap:
        raise invalid(
            f"Invalid 'n': this request asks for {choices} completions ({prompts} prompts × n); "
            f"at most {cap} per request.",
            "n" if prompts == 1 else "prompt",
            "invalid_value",
        )


_in_flight: Counter[Any] = Counter()


@asynccontextmanager
async def slot(key_id: Any) -> AsyncIterator[None]:
    """One of the key's GATEWAY_MAX_CONCURRENT_PER_KEY requests in flight in this process; a 429
    when it has them all."""
    cap = settings.GATEWAY_MAX_CONCURRENT_PER_KEY
    if cap > 0 and _in_flight[key_id] >= cap:
        raise GatewayError(
            f"Too many requests in flight for this API key (at most {cap} at once). "
            "Wait for one to finish and try again.",
            status=429,
            type="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": "1"},
        )
    _in_flight[key_id] += 1
    try:
        yield
    finally:
        _in_flight[key_id] -= 1
        if not _in_flight[key_id]:
            del _in_flight[key_id]
