"""Guards that hold for every area of Scenery before any view runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.decorators import sync_and_async_middleware

from gateway.api import invalid_url

SyncGetResponse = Callable[[HttpRequest], HttpResponseBase]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def unknown_path(request: HttpRequest) -> HttpResponseBase:
    """The 404 its area gives for an id or token it does not know."""
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        raise Http404("Not found") from None
    if match.namespace == "gateway":
        return invalid_url(request)
    raise Http404("Not found")


@sync_and_async_middleware
def nul_in_path_is_not_found(
    get_response: SyncGetResponse | AsyncGetResponse,
) -> SyncGetResponse | AsyncGetResponse:
    """No id, token or name in Scenery contains NUL, and PostgreSQL text cannot even hold one: such a
    path (`/hooks/a%00b`, `/v1/assistants/asst_%00`) is answered as unknown before it reaches a
    query, instead of failing there with a 500."""
    if iscoroutinefunction(get_response):
        async_get_response = get_response

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            if "\x00" in request.path_info:
                return unknown_path(request)
            return await async_get_response(request)

        return async_middleware

    sync_get_response: SyncGetResponse = get_response  # type: ignore[assignment]

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if "\x00" in request.path_info:
            return unknown_path(request)
        return sync_get_response(request)

    return middleware
