"""Trigger on Webhook (the execution's input) and Webhook response (what the caller gets back)."""

from __future__ import annotations

import re
from typing import Any

from nodes.base import Field, NodeContext, as_bool
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


async def trigger(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    given = ctx.trigger_input or {}
    return {
        "method": given.get("method", ""),
        "headers": given.get("headers", {}),
        "query": given.get("query", {}),
        "body": given.get("body"),
    }


def _check(params: dict[str, Any]) -> dict[str, list[str]]:
    redirect = as_bool(params.get("redirect"))
    headers = params.get("headers") or {}
    problems = [
        reason
        for name, value in headers.items()
        if (reason := response_header_refused(str(name), str(value), redirect=redirect))
    ]
    return {"headers": problems} if problems else {}


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
    fields=(STATUS, HEADERS, BODY, REDIRECT),
    run=respond,
    check=_check,
    color=COLOR,
    icon="webhook",
)

TYPES = (TRIGGER, RESPONSE)
