"""Trigger on Webhook (the execution's input) and Webhook response (what the caller gets back).

The Webhook response node owns its answer: what its output means as an HTTP response
(`response_of`, stored on the execution), how that is sent (`answer`), and which headers it may set
(`response_header_refused`, checked in the form, before it runs and again when answering from stored data).
"""

from __future__ import annotations

import json
import re
from typing import Any

from nodes.base import Field, NodeContext, as_bool
from nodes.params import define

APP = "Webhook"
COLOR = "#6b5bd6"

# -- the response headers a scenario may send from Scenery's origin ----------------------------------
# Framing is the server's; the rest would act on the browser's session with Scenery's own site
# (cookies, storage, security policies, a redirect or reload to elsewhere, a password prompt).
FRAMING_HEADERS = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
        "trailer", "transfer-encoding", "upgrade", "content-length", "content-encoding", "host",
        "x-execution-id", "idempotent-replayed",
    }
)  # fmt: skip
SESSION_HEADERS = frozenset(
    {
        "set-cookie", "set-cookie2", "clear-site-data", "refresh", "content-security-policy",
        "content-security-policy-report-only", "strict-transport-security", "permissions-policy",
        "feature-policy", "service-worker-allowed", "origin-agent-cluster", "cross-origin-opener-policy",
        "cross-origin-embedder-policy", "x-content-type-options", "x-frame-options", "alt-svc", "nel",
        "report-to", "reporting-endpoints", "accept-ch", "critical-ch", "www-authenticate",
        "x-xss-protection", "x-dns-prefetch-control", "x-permitted-cross-domain-policies",
    }
)  # fmt: skip
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def response_header_refused(name: str, value: str, *, redirect: bool = False) -> str | None:
    """Why the Webhook response may not send this header (None when it may): the one rule for the
    node's form, its run and the answer. `Location` only with the node's redirect option on."""
    folded = name.lower()
    if not HEADER_NAME.fullmatch(name):
        return f"'{name[:64]}' is not a valid header name."
    if folded in FRAMING_HEADERS:
        return f"The header '{name}' is set by the server and cannot be set here."
    if folded in SESSION_HEADERS:
        return (
            f"The header '{name}' would act on visitors' sessions with Scenery's own site, "
            "so a scenario cannot send it."
        )
    if folded in ("location", "content-location") and not redirect:
        return (
            f"The header '{name}' sends the caller's browser elsewhere from Scenery's site: "
            "turn on “Redirect the caller” to send it."
        )
    if "\r" in value or "\n" in value or "\x00" in value:
        return f"The value of '{name[:64]}' must be one line (no line breaks)."
    if any(ch != "\t" and (ord(ch) < 32 or ord(ch) == 127) for ch in value):
        return f"The value of '{name[:64]}' contains a control character, which no header may hold."
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return f"The value of '{name[:64]}' holds characters a header cannot carry (use Latin-1 text)."
    return None


def _name_refused(name: str, value: str) -> str | None:
    """The rule for one pair as typed, before the redirect option is known (see `_check`)."""
    return response_header_refused(name, value, redirect=True)


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
    item_check=_name_refused,
    help="Extra response headers. Connection-level headers and headers that act on the browser's session "
    "(Set-Cookie, Clear-Site-Data, Refresh, Content-Security-Policy, …) are not allowed; Location only "
    "with “Redirect the caller”.",
)
REDIRECT = Field(
    "redirect",
    "Redirect the caller",
    kind="toggle",
    default=False,
    help="Allows a Location header: the caller's browser goes to that address from Scenery's site. Only "
    "for scenarios meant to redirect; anyone with the webhook URL can make a link that lands there.",
)
BODY = Field(
    "body",
    "Body",
    kind="long_text",
    keeps_type=True,
    help="Text, or exactly one expression such as {{$2.reply}}. A value that is not text is sent as JSON.",
)

ANSWER_AS = Field(
    "answer_as",
    "Answer as",
    kind="select",
    choices=(("one", "One response"), ("sse", "Server-sent events")),
    default="one",
    expressions=False,
    help="Server-sent events: the caller gets a text/event-stream at once, with the text of the model "
    "nodes before this one as it comes (“token” events), then this node's status and body (a "
    "“response” event), or an “error” event naming the node that failed.",
)


def streams(params: Any) -> bool:
    """Whether a Webhook response node with `params` answers as server-sent events."""
    return isinstance(params, dict) and params.get("answer_as") == "sse"


def check_response(params: dict[str, Any]) -> dict[str, list[str]]:
    redirect = as_bool(params.get("redirect"))
    headers = params.get("headers")
    if not isinstance(headers, dict):
        return {}
    problems = [
        reason
        for name, value in headers.items()
        if (reason := response_header_refused(str(name), str(value), redirect=redirect))
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
    shaped = {"status": status, "headers": headers, "body": output.get("body")}
    if output.get("redirect") is True:  # the node's "Redirect the caller": Location may be sent
        shaped["redirect"] = True
    return shaped


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
    redirect = response.get("redirect") is True
    for name, value in (response.get("headers") or {}).items():
        name, value = str(name), str(value)
        if response_header_refused(name, value, redirect=redirect):
            continue
        headers.pop(chosen.pop(name.lower(), name), None)
        headers[name] = value
        chosen[name.lower()] = name
    return status, headers, data


def sample_input(params: dict[str, Any]) -> dict[str, Any] | None:
    """The trigger input a test call with the pinned test data would give, or None when none is set."""
    sample = params.get("sample")
    if sample is None or sample == "":
        return None
    return {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": sample}


# Triggers whose "sample" field stands for a call's body: this one and the Manual trigger.
SAMPLE_TRIGGERS = ("webhook.trigger", "manual.trigger")


def pinned_output(kind: str, params: Any) -> dict[str, Any] | None:
    """What a node outputs for a test call when it is a trigger with test data (SAMPLE_TRIGGERS), else
    None. A trigger's output is its input, so the same value serves as either."""
    if kind not in SAMPLE_TRIGGERS or not isinstance(params, dict):
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
    answer = {"status": int(params.get("status", 200)), "headers": headers, "body": body}
    if as_bool(params.get("redirect")):
        answer["redirect"] = True
    return answer


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
    fields=(STATUS, HEADERS, BODY, REDIRECT, ANSWER_AS),
    run=respond,
    check=check_response,
    color=COLOR,
    icon="webhook",
)

TYPES = (TRIGGER, RESPONSE)
