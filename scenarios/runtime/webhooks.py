"""Webhooks: `/hooks/<token>` starts the scenario with the request as its trigger's output.

We choose how a body is read, never the sender's Content-Type alone: a body that is JSON is parsed
as JSON (bounded depth), a urlencoded form becomes a dict of fields (never files), anything else is
text. Nothing in a request is ever evaluated: `{{$1.x}}` in a body is data. Bodies are bounded
(`WEBHOOK_MAX_BODY_BYTES`) by counting the bytes read, so a missing or understated Content-Length
cannot get past it.

Webhooks are the hot path, so they are served as plain ASGI (`app`, routed in config/asgi.py before
Django's request handling: they use no session, user, CSRF token or messages, and each of those
middleware costs thread hops per request under ASGI). It is their only endpoint; `url_for` gives
their address. The Webhook response node's answer is shaped by its node type (nodes/types/webhook.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, router

from durable.executor import db
from nodes.json_limits import MAX_JSON_DEPTH, check_data
from nodes.json_limits import BadData as BadBody
from nodes.types import webhook
from scenarios import test_calls
from scenarios.models import Execution, Scenario
from scenarios.runtime import backlog, engine, sse, waiting
from scenarios.runtime.engine import create_execution
from scenarios.snapshot import Plan

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 200
MAX_IDEMPOTENCY_KEY = 200
MAX_FORM_FIELDS = 1000
STRIPPED_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
NOT_FOUND = {"error": "Not found."}


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


def trigger_input(call: Call) -> dict[str, Any]:
    """The trigger's output: {method, headers, query, body}, without cookies or credentials."""
    headers: dict[str, str] = {}
    for name, value in call.headers:
        if name not in STRIPPED_HEADERS:
            # Repeated headers are joined, as Django and most servers do.
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    try:
        pairs = parse_qsl(call.query_string, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError as exc:
        raise BadBody(f"The query string cannot be read: {exc}.") from exc
    query = multi_dict(pairs)
    check_data(query, "query string")
    check_data(headers, "headers")
    body = parse_body(call.body, headers.get("content-type", ""))
    return {"method": call.method, "headers": headers, "query": query, "body": body}


# -- answering ---------------------------------------------------------------------------------------
@dataclass
class Call:
    """A webhook request as we read it: from the ASGI server, or from a Django request (tests)."""

    method: str
    headers: list[tuple[str, str]]  # lower-case names, in order
    query_string: str
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: dict[str, Any], status: int) -> Reply:
        return cls(
            status,
            json.dumps(data).encode(),
            {"Content-Type": "application/json", "Cache-Control": "no-store"},
        )

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-length", str(len(self.body)).encode())]
        headers += [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        ]
        return headers


def answer(execution: Execution) -> Reply:
    """The Webhook response node's answer, or an error when the run ended without one."""
    if execution.response is None and execution.status == Execution.Status.CANCELLED:
        return Reply.json(
            {
                "error": f"The run was cancelled before it answered. {execution.error}".strip(),
                "execution_id": str(execution.id),
            },
            409,
        )
    if execution.response is None and execution.status == Execution.Status.SUCCEEDED:
        # Every Webhook response node sat on a route the run did not take: it ended well, silently.
        return Reply.json(
            {
                "execution_id": str(execution.id),
                "status": "succeeded",
                "message": "The scenario finished without answering: its Webhook response node was on a "
                "route the run did not take.",
            },
            200,
        )
    if execution.response is None:
        return Reply.json(
            {
                "error": "The scenario failed before its Webhook response node answered.",
                "execution_id": str(execution.id),
            },
            500,
        )
    status, headers, body = webhook.answer(execution.response)
    reply = Reply(status, body, headers)
    # The body is the scenario's, served from our origin: it must never run as our page.
    reply.headers["Content-Security-Policy"] = "sandbox"
    reply.headers["X-Content-Type-Options"] = "nosniff"
    reply.headers["X-Execution-Id"] = str(execution.id)
    return reply


# -- the endpoint ------------------------------------------------------------------------------------
@dataclass
class Replay:
    """A call with an Idempotency-Key an earlier call used: it gets that call's execution."""

    execution: Execution


@dataclass
class Captured:
    """A call taken as the trigger's test data while the editor listened for one (scenarios.test_calls)."""


@dataclass
class Busy:
    """A call refused because its team has too many executions waiting (see scenarios.runtime.backlog)."""


def _open(
    token: str, request_input: dict[str, Any], problem: str, execution_id: uuid.UUID, key: str
) -> Execution | Replay | Captured | Busy | None:
    """In one database call: the scenario of `token` and its new execution, or the earlier
    execution of the same Idempotency-Key; Busy when it would wait behind too many of its team's;
    None for an unknown token.

    A webhook called before in this process starts in one statement: its new execution is inserted
    only while the scenario is as the last call found it (`_started`), else the long way decides."""
    known = _started.get(token) if not (problem or key) else None
    if known is not None and (engine.runner_with_room() is not None or backlog.admit(known.team_id)):
        still = {
            "pk": known.pk,
            "webhook_token": token,
            "active": True,
            "version": known.version,
            "test_call_until__isnull": True,
        }
        started = engine.create_execution_if(
            still, known, Execution.Trigger.WEBHOOK, request_input, execution_id=execution_id
        )
        if started is not None:
            return started
    _started.pop(token, None)
    scenario = active_scenario(token)
    if scenario is None:
        return None
    if key and (earlier := _keyed(scenario.pk, key)) is not None:
        return Replay(earlier)
    if (
        not problem
        and scenario.listens_for_test_call
        and test_calls.capture(scenario.pk, request_input) is not None
    ):
        return Captured()
    # A call this process's executor takes at once never waits in the queue: only others count.
    if not problem and engine.runner_with_room() is None and not backlog.admit(scenario.team_id):
        return Busy()
    refused = f"The webhook request was refused: {problem}" if problem else ""
    try:
        created = create_execution(
            scenario,
            Execution.Trigger.WEBHOOK,
            request_input,
            execution_id=execution_id,
            error=refused,
            idempotency_key=key,
        )
    except IntegrityError:
        # Another call with the same key was stored first (they raced): this one is its replay.
        earlier = _keyed(scenario.pk, key) if key else None
        if earlier is None:
            raise
        return Replay(earlier)
    if not scenario.listens_for_test_call:
        _remember(token, scenario)
    return created


# The scenarios of the webhooks this process started lately (id, team, version), by token: their next
# call starts in one statement. Bounded: the oldest is forgotten first.
_started: dict[str, Scenario] = {}
_started_lock = threading.Lock()
MAX_STARTED = 1000


def _remember(token: str, scenario: Scenario) -> None:
    with _started_lock:
        _started.pop(token, None)
        _started[token] = scenario
        while len(_started) > MAX_STARTED:
            _started.pop(next(iter(_started)))


def _keyed(scenario_id: Any, key: str) -> Execution | None:
    return Execution.objects.filter(scenario_id=scenario_id, idempotency_key=key).first()


def idempotency_key(headers: list[tuple[str, str]]) -> str:
    """The caller's Idempotency-Key header ("" without one); BadBody when it cannot be one."""
    values = [value for name, value in headers if name == "idempotency-key"]
    if not values:
        return ""
    key = values[0].strip()
    if len(values) > 1 or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not all(" " <= ch <= "~" for ch in key):
        raise BadBody(
            f"The Idempotency-Key header must be one value of 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters."
        )
    return key


def active_scenario(token: str) -> Scenario | None:
    """The active scenario of `token`, with what starting it needs (its id, team and version).

    One plain statement: every webhook call starts with it, and building it with the ORM cost ten
    times what SQLite takes to run it (as scenarios/snapshot.py reads the graph)."""
    meta = Scenario._meta
    team = meta.get_field("team")
    connection = connections[router.db_for_read(Scenario)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(str(meta.pk.column))}, {quote(str(team.column))}, {quote('version')}, "
            f"{quote('test_call_until')} IS NOT NULL "
            f"FROM {quote(meta.db_table)} WHERE {quote('webhook_token')} = %s AND {quote('active')} = %s",
            [token, True],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = [meta.pk.to_python(row[0]), team.target_field.to_python(row[1]), row[2]]
    scenario = Scenario.from_db(connection.alias, [meta.pk.attname, team.attname, "version"], values)
    # Whether the editor may be listening for a test call (the capture itself checks the time).
    scenario.listens_for_test_call = bool(row[3])
    return scenario


async def respond(token: str, call: Call) -> Reply | sse.Streamed:
    """Start the scenario of `token` with `call` and answer as its Webhook response node does
    (once admitted at the door: see `app`)."""
    if call.method not in ("GET", "POST"):
        reply = Reply.json({"error": "Use POST or GET."}, 405)
        reply.headers["Allow"] = "GET, POST"
        return reply
    if not token or "\x00" in token or len(token) > MAX_TOKEN_LENGTH:
        return Reply.json(NOT_FOUND, 404)
    if len(call.body) > settings.WEBHOOK_MAX_BODY_BYTES:
        return too_large()
    problem = key = ""
    try:
        key = idempotency_key(call.headers)
        request_input = trigger_input(call)
    except BadBody as exc:
        problem, key = str(exc), ""
        request_input = {"method": call.method, "headers": {}, "query": {}, "body": None}
    execution_id = uuid.uuid4()
    async with waiting.waiter(execution_id) as waiter:
        try:
            opened = await db(_open, token, request_input, problem, execution_id, key)
        except DatabaseError:
            log.exception("webhook execution %s could not be stored", execution_id)
            return Reply.json(
                {"error": "Scenery could not store the execution, so it did not run. Try again."}, 503
            )
        if opened is None:
            return Reply.json(NOT_FOUND, 404)
        if isinstance(opened, Replay):
            return await _replay(opened.execution)
        if isinstance(opened, Captured):
            return Reply.json(
                {
                    "message": "Test call received: it is now the trigger's test data in the editor. "
                    "The scenario did not run; the next call runs it."
                },
                200,
            )
        if isinstance(opened, Busy):
            return too_busy()
        execution = opened
        if problem:
            return Reply.json({"error": problem, "execution_id": str(execution.id)}, 400)
        if not Plan.of(execution.snapshot).responds():
            return Reply.json({"execution_id": str(execution.id)}, 202)
        deadline = settings.WEBHOOK_RESPONSE_DEADLINE
        if sse.answers_as_events(execution):
            return await sse.open_stream(execution, deadline)
        answered = await _answered(execution, waiter, deadline)
    if answered is None:
        return _too_slow(execution, deadline)
    return answer(answered)


async def _replay(execution: Execution) -> Reply | sse.Streamed:
    """The answer of the earlier call with the same Idempotency-Key (waited for while it runs),
    marked as replayed; nothing runs again."""
    reply: Reply | sse.Streamed
    if not Plan.of(execution.snapshot).responds():
        reply = Reply.json({"execution_id": str(execution.id)}, 202)
    elif sse.answers_as_events(execution):
        reply = await sse.open_stream(execution, settings.WEBHOOK_RESPONSE_DEADLINE, replay=True)
    else:
        deadline = settings.WEBHOOK_RESPONSE_DEADLINE
        async with waiting.waiter(execution.id) as waiter:
            answered = await _answered(execution, waiter, deadline)
        reply = answer(answered) if answered is not None else _too_slow(execution, deadline)
    reply.headers["Idempotent-Replayed"] = "true"
    return reply


def _too_slow(execution: Execution, deadline: float) -> Reply:
    return Reply.json(
        {
            "error": f"The scenario did not answer within {deadline:g} seconds; it goes on running.",
            "execution_id": str(execution.id),
        },
        504,
    )


async def _answered(execution: Execution, waiter: waiting.Waiter, deadline: float) -> Execution | None:
    if execution.is_terminal or execution.response is not None:
        return execution
    return await waiter.answer(deadline)


def too_busy() -> Reply:
    reply = Reply.json(
        {
            "error": "Too many executions of this team are waiting to run; nothing was started. "
            f"Try again in {backlog.RETRY_AFTER_SECONDS} seconds."
        },
        429,
    )
    reply.headers["Retry-After"] = str(backlog.RETRY_AFTER_SECONDS)
    return reply


def too_many_in_flight() -> Reply:
    cap, wait = settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK, backlog.DOOR_RETRY_AFTER_SECONDS
    reply = Reply.json(
        {
            "error": f"This webhook is already answering {cap} calls and no slot freed in time; "
            "nothing was read or started. "
            f"Try again in {wait} second{'s' if wait != 1 else ''}."
        },
        429,
    )
    reply.headers["Retry-After"] = str(wait)
    return reply


def too_large() -> Reply:
    return Reply.json(
        {"error": f"The request body is over the limit of {settings.WEBHOOK_MAX_BODY_BYTES} bytes."}, 413
    )


# -- the ASGI endpoint: `/hooks/<token>` before Django ---------------------------------------------
PREFIX = "/hooks/"


def url_for(token: str) -> str:
    """The path of the webhook of `token` (served by `app`)."""
    return f"{PREFIX}{token}"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve `/hooks/<token>`: pass the door (scenarios.runtime.backlog: 429 before the body is
    read), read the body within WEBHOOK_MAX_BODY_BYTES (whatever Content-Length says, chunked
    bodies too: 413 as soon as it passes), then `respond`."""
    token = scope["path"][len(PREFIX) :]
    token = token[:-1] if token.endswith("/") else token
    if "/" in token:
        await _send(send, Reply.json(NOT_FOUND, 404))
        return
    headers = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]]
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = next((value for name, value in headers if name == "content-length"), "")
    if declared.isdigit() and int(declared) > limit:
        await _send(send, too_large(), close=True)
        return
    async with backlog.at_the_door(token) as admitted:
        if not admitted:
            await asyncio.sleep(settings.WEBHOOK_REFUSAL_PAUSE_SECONDS)
            await _send(send, too_many_in_flight(), close=True)  # its body is left unread
            return
        await _serve(token, scope, headers, receive, send)


async def _serve(
    token: str, scope: dict[str, Any], headers: list[tuple[str, str]], receive: Any, send: Any
) -> None:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _send(send, too_large(), close=True)
            return
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    call = Call(scope["method"], headers, scope.get("query_string", b"").decode("latin-1"), b"".join(chunks))
    try:
        reply = await respond(token, call)
    except Exception:
        log.exception("webhook %s… failed", token[:6])
        reply = Reply.json({"error": "Scenery failed to handle this webhook; see the server log."}, 500)
    if isinstance(reply, sse.Streamed):
        await reply.send(send, receive)
        return
    await _send(send, reply)


async def _send(send: Any, reply: Reply, *, close: bool = False) -> None:
    headers = reply.asgi_headers()
    if close:  # the rest of an oversized body is not read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
