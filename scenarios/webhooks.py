"""Webhooks: `/hooks/<token>` starts the scenario with the request as its trigger's output.

We choose how a body is read, never the sender's Content-Type alone: a body that is JSON is parsed
as JSON (bounded depth), a urlencoded form becomes a dict of fields (never files), anything else is
text. Nothing in a request is ever evaluated: `{{$1.x}}` in a body is data. Bodies are bounded
(`WEBHOOK_MAX_BODY_BYTES`) by an ASGI wrapper that counts the bytes it reads, so a missing or
understated Content-Length cannot get past it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from scenarios import engine, waiting
from scenarios.engine import create_execution
from scenarios.executor import db
from scenarios.models import Execution, Scenario
from scenarios.snapshot import Plan

MAX_JSON_DEPTH = 64
MAX_FORM_FIELDS = 1000
STRIPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
# Headers the Webhook response node may not set: framing is ours, and the sandbox CSP stays.
RESERVED_RESPONSE_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "content-security-policy"}
)
NOT_FOUND = {"error": "Not found."}


class BadBody(ValueError):
    """The request cannot become a trigger input; the message says why (400)."""


# -- reading the request -----------------------------------------------------------------------------
def parse_body(raw: bytes, content_type: str) -> Any:
    """The body as data: JSON, a form's fields, text, or None when empty."""
    if not raw:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadBody(f"The body is not valid UTF-8 (byte {exc.start}).") from exc
    stripped = text.lstrip()
    says_json = media == "application/json" or media.endswith("+json")
    if says_json or stripped[:1] in ("{", "["):
        try:
            value = json.loads(text)
        except RecursionError as exc:
            raise BadBody(f"The JSON body is nested too deeply (more than {MAX_JSON_DEPTH} levels).") from exc
        except ValueError as exc:
            if says_json:
                raise BadBody(f"The body is not valid JSON: {exc}.") from exc
        else:
            check_data(value, "body")
            return value
    if media == "application/x-www-form-urlencoded":
        return _form(text)
    check_data(text, "body")
    return text


def _form(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(f"The form body cannot be read: {exc}.") from exc
    fields = multi_dict(pairs)
    check_data(fields, "body")
    return fields


def multi_dict(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Fields by name; a name given several times holds a list."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            existing = fields[key]
            fields[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[key] = value
    return fields


def check_data(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what cannot be stored faithfully (PostgreSQL jsonb holds no NUL nor lone surrogate)."""
    if depth > MAX_JSON_DEPTH:
        raise BadBody(f"The JSON {where} is nested too deeply (more than {MAX_JSON_DEPTH} levels).")
    if isinstance(value, str):
        if "\x00" in value:
            raise BadBody(f"The {where} contains a NUL character (\\u0000), which cannot be stored.")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadBody(
                    f"The {where} contains an unpaired surrogate (\\u{ord(value[exc.start]):04x})."
                ) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            check_data(key, where, depth + 1)
            check_data(item, where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_data(item, where, depth + 1)


def trigger_input(request: HttpRequest, raw: bytes) -> dict[str, Any]:
    """The trigger's output: {method, headers, query, body}, without cookies or credentials."""
    headers = {
        name.lower(): value for name, value in request.headers.items() if name.lower() not in STRIPPED_HEADERS
    }
    query = {key: values[0] if len(values) == 1 else values for key, values in request.GET.lists()}
    check_data(query, "query string")
    check_data(headers, "headers")
    body = parse_body(raw, request.content_type or request.headers.get("Content-Type", ""))
    return {"method": request.method, "headers": headers, "query": query, "body": body}


# -- answering ---------------------------------------------------------------------------------------
def _json(data: dict[str, Any], status: int) -> JsonResponse:
    response = JsonResponse(data, status=status)
    response["Cache-Control"] = "no-store"
    return response


def answer(execution: Execution) -> HttpResponse:
    """The Webhook response node's answer, or an error when the run ended without one."""
    if execution.response is None:
        return _json(
            {
                "error": "The scenario failed before its Webhook response node answered.",
                "execution_id": str(execution.id),
            },
            500,
        )
    status = int(execution.response.get("status") or 200)
    headers = execution.response.get("headers") or {}
    body = execution.response.get("body")
    if status in (204, 304):
        body = None  # these statuses carry no body
    if isinstance(body, str):
        response = HttpResponse(body.encode("utf-8"), status=status, content_type="text/plain; charset=utf-8")
    elif isinstance(body, bytes):
        response = HttpResponse(body, status=status, content_type="application/octet-stream")
    elif body is None:
        response = HttpResponse(b"", status=status, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(
            json.dumps(body, ensure_ascii=False).encode("utf-8"),
            status=status,
            content_type="application/json",
        )
    for name, value in headers.items():
        if name.lower() in RESERVED_RESPONSE_HEADERS or any(c in f"{name}{value}" for c in "\r\n\x00"):
            continue
        response[name] = value
    # The body is the scenario's, served from our origin: it must never run as our page.
    response["Content-Security-Policy"] = "sandbox"
    response["X-Execution-Id"] = str(execution.id)
    return response


# -- the view ----------------------------------------------------------------------------------------
def _start(
    token: str, request_input: dict[str, Any], problem: str, execution_id: uuid.UUID, owner: str
) -> Execution | None:
    scenario = Scenario.objects.filter(webhook_token=token, active=True).first()
    if scenario is None:
        return None
    refused = f"The webhook request was refused: {problem}" if problem else ""
    return create_execution(
        scenario,
        Execution.Trigger.WEBHOOK,
        request_input,
        execution_id=execution_id,
        error=refused,
        lease_owner=owner,
    )


@csrf_exempt
async def webhook(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        response = _json({"error": "Use POST or GET."}, 405)
        response["Allow"] = "GET, POST"
        return response
    try:
        raw = request.body
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE is below the webhook limit
        return too_large_response()
    if len(raw) > settings.WEBHOOK_MAX_BODY_BYTES:
        return too_large_response()
    problem = ""
    try:
        request_input = trigger_input(request, raw)
    except BadBody as exc:
        problem = str(exc)
        request_input = {"method": request.method, "headers": {}, "query": {}, "body": None}
    execution_id = uuid.uuid4()
    async with waiting.waiter(execution_id) as waiter:
        # The embedded executor runs the execution at once, without a claim round; separate
        # workers claim it. The process's database thread: no thread and connection per request.
        runner = engine.adopter()
        owner = runner.owner if runner is not None else ""
        execution = await db(_start, token, request_input, problem, execution_id, owner)
        if execution is None:
            return _json(NOT_FOUND, 404)
        if runner is not None:
            await engine.start_here(execution, runner)
        if problem:
            return _json({"error": problem, "execution_id": str(execution.id)}, 400)
        if not Plan.of(execution.snapshot).responds():
            return _json({"execution_id": str(execution.id)}, 202)
        if execution.is_terminal:
            return answer(execution)
        deadline = settings.WEBHOOK_RESPONSE_DEADLINE
        answered = await waiter.answer(deadline)
    if answered is None:
        return _json(
            {
                "error": f"The scenario did not answer within {deadline:g} seconds; it goes on running.",
                "execution_id": str(execution.id),
            },
            504,
        )
    return answer(answered)


def too_large_response() -> JsonResponse:
    return _json(
        {"error": f"The request body is over the limit of {settings.WEBHOOK_MAX_BODY_BYTES} bytes."}, 413
    )


# -- the body limit, before Django buffers the body --------------------------------------------------
class WebhookBodyLimit:
    """ASGI wrapper: answer 413 as soon as a webhook body passes the limit, whatever Content-Length says."""

    def __init__(self, app: Any, prefix: str = "/hooks/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send)
            return
        received = 0
        refused = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _send_413(send)
                    # Django stops reading and answers nothing more.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted_receive, guarded_send)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Any) -> None:
    body = too_large_response().content
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
