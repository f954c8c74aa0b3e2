"""`scenery-echo`: the offline test model. Deterministic, no network, no weights.

It answers "Echo: <last user message>". When functions are offered (and tool_choice allows them) and
the last user message asks for one — it names a function, says "call", or tool_choice forces it — it
calls the first matching function with arguments built from the message. After tool outputs it
reports them. Given file-search excerpts it quotes the best-matching sentence with its citation marker.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from gateway import ids

MODEL_ID = "scenery-echo"
OWNED_BY = "scenery-test-model"
# The marker the run uses to number file-search excerpts, e.g. "【1†source】".
EXCERPT = re.compile(r"【(\d+)†source】 file: ([^\n]*)\n(.*?)(?=\n\n【\d+†source】|\Z)", re.S)


def model_object() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": OWNED_BY}


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(count_tokens(message_text(m)) + 3 for m in messages)


def chat(body: dict[str, Any]) -> dict[str, Any]:
    """A `chat.completion` object answering `body` (a chat completions request)."""
    messages: list[dict[str, Any]] = body.get("messages") or []
    call = _function_call(messages, body.get("tools") or [], body.get("tool_choice"))
    finish = "stop"
    if call is not None:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [call],
        }
        finish = "tool_calls"
        completion = count_tokens(call["function"]["name"] + call["function"]["arguments"])
    else:
        text = _answer(messages)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and count_tokens(text) > limit:
            text, finish = _cut(text, limit), "length"
        message = {"role": "assistant", "content": text, "refusal": None}
        completion = count_tokens(text)
    prompt = prompt_tokens(messages)
    return {
        "id": f"chatcmpl-{ids.random_token()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
        "system_fingerprint": "scenery-echo",
    }


def _last(messages: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("role") == role), None)


def _answer(messages: list[dict[str, Any]]) -> str:
    user = _last(messages, "user")
    question = message_text(user) if user else ""
    text = f"Echo: {question}"
    if messages and messages[-1].get("role") == "tool":
        outputs = [m for m in messages if m.get("role") == "tool"]
        text += "\n" + "\n".join(f"Tool output: {message_text(m)}" for m in outputs)
    quote = _quote(messages, question)
    if quote:
        text += f"\n\n{quote}"
    return text


def _quote(messages: list[dict[str, Any]], question: str) -> str:
    """The sentence of the excerpts sharing most words with the question, cited."""
    words = set(re.findall(r"\w+", question.lower()))
    best: tuple[int, str, str, str] | None = None
    for message in messages:
        if message.get("role") != "system":
            continue
        for number, filename, excerpt in EXCERPT.findall(message_text(message)):
            for sentence in re.split(r"(?<=[.!?])\s+", excerpt.strip()):
                score = len(words & set(re.findall(r"\w+", sentence.lower())))
                if sentence and (best is None or score > best[0]):
                    best = (score, number, filename, sentence)
    if best is None:
        return ""
    _, number, filename, sentence = best
    return f'From {filename}: "{sentence}" 【{number}†source】'


def _cut(text: str, limit: int) -> str:
    pieces = re.findall(r"\w+|[^\w\s]|\s+", text)
    out, used = [], 0
    for piece in pieces:
        if not piece.isspace():
            if used == limit:
                break
            used += 1
        out.append(piece)
    return "".join(out).rstrip()


def _function_call(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: Any
) -> dict[str, Any] | None:
    functions = [
        t["function"] for t in tools if t.get("type") == "function" and isinstance(t.get("function"), dict)
    ]
    if not functions or tool_choice == "none" or not messages or messages[-1].get("role") != "user":
        return None
    text = message_text(messages[-1])
    lowered = text.lower()
    forced = tool_choice.get("function", {}).get("name") if isinstance(tool_choice, dict) else None
    chosen = next((f for f in functions if f.get("name") == forced), None) if forced else None
    if chosen is None:
        chosen = next((f for f in functions if str(f.get("name", "")).lower() in lowered), None)
    if chosen is None and (tool_choice == "required" or re.search(r"\bcall\b", lowered)):
        chosen = functions[0]
    if chosen is None:
        return None
    return {
        "id": ids.new_call_id(),
        "type": "function",
        "function": {"name": chosen.get("name", ""), "arguments": json.dumps(arguments_for(chosen, text))},
    }


def arguments_for(function: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments fitting the function's JSON Schema, taken from the message where it can."""
    schema = function.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text)
    lowered = text.lower()
    args: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
        enum = spec.get("enum") if isinstance(spec, dict) else None
        if enum:
            args[name] = next((v for v in enum if str(v).lower() in lowered), enum[0])
        elif kind == "integer":
            args[name] = int(float(numbers.pop(0))) if numbers else 0
        elif kind == "number":
            args[name] = float(numbers.pop(0)) if numbers else 0
        elif kind == "boolean":
            args[name] = bool(re.search(r"\b(yes|true)\b", lowered))
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = text
    return args
