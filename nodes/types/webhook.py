"""Trigger on Webhook (the execution's input) and Webhook response (what the caller gets back)."""

from __future__ import annotations

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
SAMPLE = Field(
    "sample",
    "Test data",
    kind="json",
    expressions=False,
    placeholder='{"question": "Hello"}',
    help="The body of a test call, as JSON. While it is set, Run once and the data picker use it as this "
    "trigger's output and Run scenario starts with it; real calls to the URL always use their own body.",
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


def sample_input(params: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger input a test call with the pinned test data would give, or None when none is set."""
    sample = params.get("sample")
    if sample is None or sample == "":
        return None
    return {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": sample}


def pinned_output(kind: str, params: Any) -> dict[str, Any] | None:
    """What a node outputs for a test call when it is a Trigger on Webhook with test data, else None.
    A trigger's output is its input, so the same value serves as either."""
    if kind != "webhook.trigger" or not isinstance(params, dict):
        return None
    return sample_input(params)


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
    fields=(WEBHOOK_URL, SAMPLE),
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
    color=COLOR,
    icon="webhook",
)

TYPES = (TRIGGER, RESPONSE)
