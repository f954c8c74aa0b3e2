"""What every gateway endpoint shares: key authentication, the OpenAI-Beta check, JSON bodies,
OpenAI's error body, list pagination, and the team scope of every lookup."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import models
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from gateway import bounds, ids
from gateway.errors import GatewayError, invalid, not_found
from gateway.models import GatewayKey
from gateway.validation import check_no_nul, query_int, validate
from nodes import json_limits
from teams import throttle

log = logging.getLogger(__name__)

BETA_MISSING = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by setting "
    "the header 'OpenAI-Beta: assistants=v2'."
)
BETA_OLD = (
    "The v1 Assistants API has been retired. Please try again by setting the header "
    "'OpenAI-Beta: assistants=v2'."
)


@dataclass
class Call:
    """One authenticated request: its team comes from the key, never from the client."""

    request: HttpRequest
    key: GatewayKey

    @property
    def team_id(self) -> Any:
        return self.key.team_id

    def json(self) -> Any:
        try:
            raw = self.request.body
        except RequestDataTooBig:
            raise GatewayError(
                "The request body is larger than this server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
                status=413,
            ) from None
        if len(raw) > settings.GATEWAY_MAX_BODY_BYTES:
            raise GatewayError(
                f"The request body is larger than this server accepts ({settings.GATEWAY_MAX_BODY_BYTES} bytes).",
                status=413,
            )
        if not raw.strip():
            return {}
        try:
            parsed = json_limits.parse(raw, "body")
        except json_limits.BadData as exc:
            raise invalid(
                "We could not parse the JSON body of your request. The API expects a JSON payload, but what "
                f"was sent was not valid JSON. {exc}"
            ) from None
        bounds.check_body(parsed)
        return parsed

    def body(self, schema_name: str) -> dict[str, Any]:
        """The JSON body, validated against the spec's request schema."""
        return validate(schema_name, self.json())


Handler = Callable[..., Awaitable[HttpResponseBase]]


def ok(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False)


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def authenticate(request: HttpRequest) -> GatewayKey:
    token = _bearer(request)
    if not token:
        raise GatewayError(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). Gateway keys are created in Scenery's "
            "team settings.",
            status=401,
        )
    key = await sync_to_async(GatewayKey.authenticate)(token)
    if key is None:
        # Counted on failures only, so valid keys cost nothing more. A key is 192 random bits: this
        # stops the hammering; guessing one was never the risk.
        if await sync_to_async(throttle.failed)("gateway_key", address=throttle.address_of(request)):
            raise GatewayError(
                "Too many requests with incorrect API keys from your address. "
                f"Try again in {throttle.wait_text()}.",
                status=429,
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(settings.THROTTLE_SECONDS)},
            )
        raise GatewayError(
            "Incorrect API key provided. Gateway keys are created in Scenery's team settings; a revoked key "
            "stops working at once.",
            status=401,
            code="invalid_api_key",
        )
    return key


def check_beta(request: HttpRequest) -> None:
    values = [v.strip() for v in request.headers.get("OpenAI-Beta", "").split(",")]
    if "assistants=v2" in values:
        return
    message = BETA_OLD if "assistants=v1" in values else BETA_MISSING
    raise GatewayError(message, code="invalid_beta")


def route(*, beta: bool = False, **handlers: Handler) -> Callable[..., Coroutine[Any, Any, HttpResponseBase]]:
    """A view answering the given methods (GET=..., POST=...) for one path."""

    async def view(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        try:
            key = await authenticate(request)
            handler = handlers.get(request.method or "")
            if handler is None:
                raise GatewayError(
                    f"Invalid method for URL ({request.method} {request.path}).",
                    status=405,
                    headers={"Allow": ", ".join(handlers)},
                )
            if beta:
                check_beta(request)
            for name, values in request.GET.lists():  # ids, cursors and filters, looked up as they are
                for value in values:
                    check_no_nul({name: value})
            async with bounds.slot(key.pk):
                response: HttpResponseBase = await handler(Call(request, key), **kwargs)
        except GatewayError as exc:
            response = exc.response()
        except Exception:
            log.exception("gateway %s %s failed", request.method, request.path)
            response = GatewayError(
                "The server had an error while processing your request. Sorry about that!",
                status=500,
                type="server_error",
            ).response()
        response["openai-poll-after-ms"] = str(settings.GATEWAY_POLL_AFTER_MS)
        response["x-request-id"] = f"req_{ids.random_token(32)}"
        return response

    return csrf_exempt(view)


def invalid_url(request: HttpRequest) -> JsonResponse:
    """OpenAI's answer for a path it does not serve; it needs no key."""
    return GatewayError(f"Invalid URL ({request.method} {request.path})", status=404).response()


@csrf_exempt
async def unknown_url(request: HttpRequest, path: str = "") -> HttpResponse:
    return invalid_url(request)


# -- team scope -------------------------------------------------------------------------------------


def owned[M: models.Model](model: type[M], team_id: Any, object_id: str, kind: str, **lookup: Any) -> M:
    """The team's object with this id; unknown ids and other teams' ids are the same 404."""
    obj = model._default_manager.filter(team_id=team_id, pk=object_id, **lookup).first()
    if obj is None:
        raise not_found(kind, object_id)
    return obj


# -- lists ------------------------------------------------------------------------------------------


def list_page[M: models.Model](
    queryset: models.QuerySet[M],
    params: dict[str, str],
    render: Callable[[M], dict[str, Any]],
    *,
    default_limit: int = 20,
    max_limit: int = 100,
    allow_before: bool = True,
    key: str = "id",
) -> dict[str, Any]:
    """OpenAI's cursor pagination over `created_at` (ties broken by `key`, the field holding the id the
    API shows)."""
    limit = query_int(params.get("limit"), "limit", default_limit, 1, max_limit)
    order = params.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order", "invalid_value"
        )
    after, before = params.get("after"), params.get("before") if allow_before else None
    forward = ["created_at", key] if order == "asc" else ["-created_at", f"-{key}"]
    backward = [f.lstrip("-") if f.startswith("-") else f"-{f}" for f in forward]
    rows = queryset
    if after:
        rows = rows.filter(_beyond(queryset, key, after, "after", order == "asc"))
    if before:
        rows = rows.filter(_beyond(queryset, key, before, "before", order != "asc"))
    if before and not after:
        # The page just before the cursor: walk backwards from it, then put it in order again.
        items = list(rows.order_by(*backward)[: limit + 1])
        has_more = len(items) > limit
        items = list(reversed(items[:limit]))
    else:
        items = list(rows.order_by(*forward)[: limit + 1])
        has_more = len(items) > limit
        items = items[:limit]
    data = [render(item) for item in items]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _beyond(queryset: models.QuerySet[Any], key: str, cursor_id: str, name: str, later: bool) -> models.Q:
    cursor = queryset.filter(**{key: cursor_id}).values("created_at", key).first()
    if cursor is None:
        raise invalid(f"Invalid '{name}': no object with id '{cursor_id}' in this list.", name)
    at, pk = cursor["created_at"], cursor[key]
    side = "gt" if later else "lt"
    return models.Q(**{f"created_at__{side}": at}) | models.Q(created_at=at, **{f"{key}__{side}": pk})
