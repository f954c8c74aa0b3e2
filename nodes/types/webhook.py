"""Trigger on Webhook (the execution's input) and Webhook response (what the caller gets back).

The Webhook response node owns its answer: what its output means as an HTTP response
(`response_of`, stored on the execution), how that is sent (`answer`), and which headers it may set
(`header_problems`, checked in the form, before it runs and again when answering from stored data).
"""

from __future__ import annotations

import json
import re
from typing import Any

from nodes.base import Field, NodeContext
from nodes.params import define

APP = "Webhook"
COLOR = "#6b5bd6"

WEBHOOK_URL = Field(
    "webhook_url",
    "Webhook URL",
    kind="webhook_url",
    expressions=False,
    help="Send a POST (or GET) here to start the scenario. Keep it secret: anyone with it can run it.",
)
STATUS = Field(
    "status",
    "Status code",
    kind="number",
    default=200,
    min_value=100,
    max_value=599,
    help="The HTTP status the caller gets (100–599).",
)
HEADERS = Field(
    "headers",
    "Headers",
    kind="key_values",
    max_items=50,
    help="Extra response headers. Connection-level headers and Set-Cookie are not allowed.",
)
BODY = Field(
    "body",
    "Body",
    kind="long_text",
    keeps_type=True,
    help="Text, or exactly one expression such as {{$2.reply}}. A value that is not text is sent as JSON.",
)


HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Hop-by-hop headers and those the server must own (framing, our sandbox CSP); Set-Cookie would plant
# cookies on Scenery's origin.
UNSAFE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        "content-security-policy",
        "host",
        "set-cookie",
        "set-cookie2",
    }
)


def header_problems(name: str, value: str) -> list[str]:
    """Why the response may not carry header `name: value` (none: it may): a token for a name, not a
    header the server owns, one line of Latin-1 without control characters for a value."""
    problems = []
    if not HEADER_NAME.fullmatch(name):
        problems.append(f"'{name[:64]}' is not a valid header name.")
    elif name.lower() in UNSAFE_HEADERS:
        problems.append(f"The header '{name}' is set by the server and cannot be set here.")
    if "\r" in value or "\n" in value or "\x00" in value:
        problems.append(f"The value of '{name[:64]}' must be one line (no line breaks).")
    elif any(ch != "\t" and (ord(ch) < 32 or ord(ch) == 127) for ch in value):
        problems.append(f"The value of '{name[:64]}' contains a control character, which no header may hold.")
    else:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            problems.append(
                f"The value of '{name[:64]}' has characters a header cannot carry (Latin-1 only)."
            )
    return problems


def check_response(params: dict[str, Any]) -> dict[str, list[str]]:
    headers = params.get("headers")
    if not isinstance(headers, dict):
        return {}
    problems = [
        problem for name, value in headers.items() for problem in header_problems(str(name), str(value))
    ]
    return {"headers": problems} if problems else {}


def response_of(output: Any) -> dict[str, Any]:
    """What a Webhook response node's output answers, as stored on the execution: {"status",
    "headers", "body"} (any other output is the body of a 200)."""
    if not (isinstance(output, dict) and {"status", "headers", "body"} & output.keys()):
        return {"status": 200, "headers": {}, "body": output}
    try:
        status = int(output.get("status") or 200)
    except (TypeError, ValueError):
        status = 200
    if not 200 <= status <= 599:
        status = 200
    headers: dict[str, str] = {}
    raw = output.get("headers") or {}
    pairs: list[Any] = (
        list(raw.items()) if isinstance(raw, dict) else list(raw) if isinstance(raw, list) else []
    )
    for pair in pairs:
        if isinstance(pair, dict):
            key, value = pair.get("key"), pair.get("value")
        elif isinstance(pair, list | tuple) and len(pair) == 2:
            key, value = pair
        else:
            continue
        if key:
            headers[str(key)] = "" if value is None else str(value)
    return {"status": status, "headers": headers, "body": output.get("body")}


def answer(response: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """The HTTP answer of a stored response: status, headers and body bytes. Text is sent as text,
    anything else as JSON; the node's headers replace ours, except those it may not set (stored data
    is checked again: it may predate a rule)."""
    status = int(response.get("status") or 200)
    body = response.get("body")
    if status in (204, 304):
        body = None  # these statuses carry no body
    if isinstance(body, str):
        headers, data = {"Content-Type": "text/plain; charset=utf-8"}, body.encode("utf-8")
    elif body is None:
        headers, data = {"Content-Type": "text/plain; charset=utf-8"}, b""
    else:
        headers, data = (
            {"Content-Type": "application/json"},
            json.dumps(body, ensure_ascii=False).encode("utf-8"),
        )
    chosen = {name.lower(): name for name in headers}
    for name, value in (response.get("headers") or {}).items():
        name, value = str(name), str(value)
        if header_problems(name, value):
            continue
        headers.pop(chosen.pop(name.lower(), name), None)
        headers[name] = value
        chosen[name.lower()] = name
    return status, headers, data


async def trigger(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    given = ctx.trigger_input or {}
    return {
        "method": given.get("method", ""),
        "headers": given.get("headers", {}),
        "query": given.get("query", {}),
        "body": given.get("body"),
    }


async def respond(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    headers = dict(params.get("headers") or {})
    body = params.get("body", "")
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "text/plain; charset=utf-8" if isinstance(body, str) else "application/json"
    return {"status": int(params.get("status", 200)), "headers": headers, "body": body}


TRIGGER = define(
    key="webhook.trigger",
    app=APP,
    title="Trigger on Webhook",
    description="Starts the scenario when its webhook URL is called.",
    kind="trigger",
    fields=(WEBHOOK_URL,),
    run=trigger,
    color=COLOR,
    icon="webhook",
)
RESPONSE = define(
    key="webhook.response",
    app=APP,
    title="Webhook response",
    description="Answers the webhook's caller with a status, headers and a body.",
    kind="response",
    fields=(STATUS, HEADERS, BODY),
    run=respond,
    check=check_response,
    color=COLOR,
    icon="webhook",
)

TYPES = (TRIGGER, RESPONSE)
