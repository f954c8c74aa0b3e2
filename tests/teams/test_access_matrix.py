"""Every URL pattern and WebSocket route of Scenery, called as mallory (another team), carol (viewer),
bob (editor), alice (owner) and an anonymous visitor, against the role table in access_table.py.

"Allowed" means the request got past the access checks: not 401, 403, 404 or 405, not a redirect
to a login page, and never a server error. Denied means exactly what the table says: 404 for
strangers (the same as for an unknown id), 403 for a role too low, the login page for anonymous
visitors. POSTs carry no data (or the table's): the role check comes before the form is read.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from scenarios.runtime import webhooks
from scenarios.runtime.routing import websocket_urlpatterns
from teams.models import Credential, Role
from tests.teams.access_table import DJANGO_ADMIN, TABLE, WS_TABLE, Access

WHO = ["anonymous", "mallory", "carol", "bob", "alice"]
ROLE_IN_ALICES_TEAM = {"carol": Role.VIEWER, "bob": Role.EDITOR, "alice": Role.OWNER}
DENIED = {401, 403, 404, 405}


# ---- the project's routes


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the route itself for unnamed patterns
    route: str
    name: str | None  # for reverse()


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield Route(name or route, route, name)


def http_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def ws_routes() -> list[Route]:
    return list(_walk(websocket_urlpatterns))


def is_admin(route: Route) -> bool:
    return route.key.startswith("admin:") or route.route.startswith("admin/")


def access_of(route: Route) -> Access | None:
    return DJANGO_ADMIN if is_admin(route) else TABLE.get(route.key)


# ---- the guard: no URL without a row in the table


def test_every_url_pattern_is_in_the_role_table():
    missing = sorted({r.key for r in http_routes() if access_of(r) is None})
    assert not missing, "URL patterns missing from tests/teams/access_table.py TABLE:\n  " + "\n  ".join(
        missing
    )


def test_every_websocket_route_is_in_the_role_table():
    missing = sorted({r.key for r in ws_routes() if r.key not in WS_TABLE})
    assert not missing, "WebSocket routes missing from access_table.py WS_TABLE:\n  " + "\n  ".join(missing)


def test_the_role_table_lists_no_url_that_no_longer_exists():
    known = {r.key for r in http_routes()}
    stale = sorted(set(TABLE) - known) + sorted(set(WS_TABLE) - {r.key for r in ws_routes()})
    assert not stale, "Entries of access_table.py with no URL pattern any more:\n  " + "\n  ".join(stale)


# ---- filling in URLs


def kwargs_for(world: Any) -> dict[str, Any]:
    """URL kwargs by name: objects of alice's team (see conftest.World and gateway_objects)."""
    values = {
        "team_id": world.cast.team.id,
        "scenario_id": world.scenario.id,
        "node_id": world.node.id,
        "execution_id": world.execution.id,
        "credential_id": world.credential.id,
        "membership_id": world.carol_membership.pk,
        "invitation_id": world.invitation.id,
        "number": world.node.number,
        "source": 1,
        "target": 2,
    }
    if world.gateway is not None:
        values |= world.gateway.ids
    return values


def unknown_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same kwargs with every id replaced by one that exists nowhere."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if isinstance(value, uuid.UUID):
            out[name] = uuid.uuid4()
        elif isinstance(value, int):
            out[name] = 999_999
        elif isinstance(value, str) and name.endswith("_id"):
            out[name] = value.split("_")[0] + "_doesnotexist0000"
        else:
            out[name] = value
    return out


PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def url_for(route: Route, access: Access, world: Any, unknown: bool = False) -> str:
    names = [m.group("name") for m in PARAM.finditer(route.route)] + re.findall(r"\(\?P<(\w+)>", route.route)
    available = kwargs_for(world) | (access.kwargs(world) if access.kwargs else {})
    missing = [n for n in names if n not in available]
    assert not missing, (
        f"{route.key}: no test value for URL kwargs {missing}; add them to KWARGS or the table"
    )
    kwargs = {n: available[n] for n in names}
    if unknown:
        kwargs = unknown_kwargs(kwargs)
    if route.name:
        return reverse(route.name, kwargs=kwargs)
    return "/" + PARAM.sub(lambda m: str(kwargs[m.group("name")]), route.route)


# ---- calling


def client_for(world: Any, who: str) -> Client:
    if who == "anonymous":
        return Client()
    return world.cast.client_for(getattr(world.cast, who))


def call(client: Client, method: str, url: str, access: Access, world: Any, user: Any, **extra: Any) -> Any:
    data = access.data(world, user) if access.data else {}
    headers = access.headers | extra.pop("headers", {})
    if method == "GET":
        return client.get(url, headers=headers)
    if access.kind == "gateway":
        return client.generic(method, url, json.dumps(data), content_type="application/json", headers=headers)
    if method == "POST":
        return client.post(url, data, headers=headers)
    return client.generic(method, url, headers=headers)


def is_login_redirect(response: Any) -> bool:
    login = reverse(settings.LOGIN_URL)
    return response.status_code == 302 and response["Location"].startswith(login)


def outcome(response: Any) -> str:
    status = response.status_code
    assert status < 500, f"server error {status}"
    if is_login_redirect(response):
        return "login"
    if status in DENIED:
        return str(status)
    return "allowed"


def expected(access: Access, method: str, who: str) -> str:
    minimum = access.methods[method]
    if access.kind == "public":
        return "allowed"
    if who == "anonymous":
        return "login"
    if access.kind == "signed_in":
        return "allowed"
    if access.kind == "current" and who == "mallory":
        return "allowed"  # in her own team
    if who == "mallory":
        return "404"
    assert minimum is not None
    return "allowed" if ROLE_IN_ALICES_TEAM[who] >= minimum else "403"


# ---- the matrix

SESSION_KINDS = {"public", "signed_in", "current", "scoped"}


def session_cases() -> list[Any]:
    cases = []
    for key, access in TABLE.items():
        if access.kind in SESSION_KINDS:
            cases += [
                pytest.param(key, method, who, id=f"{key}-{method}-{who}")
                for method in access.methods
                for who in WHO
            ]
    return cases


@pytest.fixture
def world(world, cast, stub_provider):
    # Runs made by editors go to the loopback stub, never to the internet.
    Credential.objects.filter(pk=world.credential.pk).update(base_url=stub_provider.base_url)
    world.credential.refresh_from_db()
    return world


def route_for(key: str) -> Route:
    return next(r for r in http_routes() if r.key == key)


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "method", "who"), session_cases())
def test_access(world, key, method, who):
    access = TABLE[key]
    route = route_for(key)
    url = url_for(route, access, world)
    user = None if who == "anonymous" else getattr(world.cast, who)
    response = call(client_for(world, who), method, url, access, world, user)
    want = expected(access, method, who)
    got = outcome(response)
    if want == "login" and got in ("404", "403", "401"):
        got = "login"  # an API or fragment may refuse anonymous callers without a redirect
    if access.lands_on_login and got == "login":
        got = "allowed"
    assert got == want, f"{method} {url} as {who}: expected {want}, got {got} ({response.status_code})"
    if access.kind == "scoped" and who == "mallory":
        unknown = call(
            client_for(world, who), method, url_for(route, access, world, unknown=True), access, world, user
        )
        assert unknown.status_code == response.status_code == 404, "another team's id must look unknown"


async def _hook(method: str, token: str, cookie: str) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json"), (b"cookie", cookie.encode())]
    communicator = HttpCommunicator(webhooks.app, method, webhooks.url_for(token), b"{}", headers)
    return await communicator.get_response(timeout=10)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("who", ["anonymous", "mallory", "alice"])
def test_webhooks_are_authenticated_by_their_token_not_by_a_session(world, who, method):
    """Webhooks are served as plain ASGI before Django's URLs (scenarios/runtime/webhooks.py), so they
    have no row in the table: whoever's session cookie comes along, or none, the token decides."""
    client = client_for(world, who)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    right = async_to_sync(_hook)(method, world.scenario.webhook_token, cookie)
    assert right["status"] == 202, f"{method} with the token: {right['status']}"
    wrong = async_to_sync(_hook)(method, "not-the-token", cookie)
    assert wrong["status"] == 404


@pytest.mark.django_db
@pytest.mark.parametrize("key", [k for k, a in TABLE.items() if a.kind == "not_found"])
@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_unknown_urls_are_404_for_everyone(world, key, who):
    access, route = TABLE[key], route_for(key)
    for method in access.methods:
        response = call(client_for(world, who), method, url_for(route, access, world), access, world, None)
        assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in http_routes() if is_admin(r)], ids=lambda r: r.key)
@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_the_admin_is_for_staff_only(world, route, who):
    if route.name:
        names = [m.group("name") for m in PARAM.finditer(route.route)] + re.findall(
            r"\(\?P<(\w+)>", route.route
        )
        kwargs = dict.fromkeys(names, "1") | ({"app_label": "teams"} if "app_label" in names else {})
        url = reverse(route.name, kwargs=kwargs)
    elif "(?P<" in route.route:  # the admin's catch-all
        url = "/admin/no-such-page/"
    else:
        url = "/" + PARAM.sub("1", route.route)
    response = client_for(world, who).get(url)
    if route.key in ("admin:login", "admin:logout"):
        assert response.status_code in (200, 302, 405)
        return
    assert response.status_code in (301, 302, 404), response.status_code
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/")
    assert b"Site administration" not in response.content


# ---- the gateway: the team comes from the API key


def gateway_cases() -> list[Any]:
    cases = []
    for key, access in TABLE.items():
        if access.kind == "gateway":
            cases += [
                pytest.param(key, m, who, id=f"{key}-{m}-{who}")
                for m in access.methods
                for who in ("session", "other-key", "team-key")
            ]
    return cases


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "method", "who"), gateway_cases())
def test_gateway_access(gateway_world, key, method, who):
    world = gateway_world
    access, route = TABLE[key], route_for(key)
    url = url_for(route, access, world)
    if who == "session":  # signed in as alice, no key: a session never authenticates the API
        response = call(world.cast.client_for(world.cast.alice), method, url, access, world, None)
        assert response.status_code == 401
        return
    key_of = world.gateway.team_key if who == "team-key" else world.gateway.other_team_key
    auth = {"Authorization": f"Bearer {key_of}"}
    response = call(Client(), method, url, access, world, None, headers=auth)
    if who == "other-key" and access.team_object:
        assert response.status_code == 404, f"{method} {url} with another team's key: {response.status_code}"
        unknown = call(
            Client(), method, url_for(route, access, world, unknown=True), access, world, None, headers=auth
        )
        assert unknown.status_code == 404
    else:
        assert outcome(response) == "allowed", (
            f"{method} {url} as {who}: {response.status_code} {response.content[:200]!r}"
        )


# ---- WebSockets


def ws_cases() -> list[Any]:
    return [pytest.param(key, who, id=f"{key}-{who}") for key in WS_TABLE for who in WHO]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("key", "who"), ws_cases())
async def test_websocket_access(world, key, who):
    from asgiref.sync import sync_to_async

    access = WS_TABLE[key]
    route = next(r for r in ws_routes() if r.key == key)
    url = await sync_to_async(url_for)(route, access, world)
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), url)
    communicator.scope["user"] = AnonymousUser() if who == "anonymous" else getattr(world.cast, who)
    connected, _ = await communicator.connect()
    want = expected(access, "CONNECT", who)
    try:
        assert connected == (want == "allowed"), f"{url} as {who}: expected {want}"
    finally:
        await communicator.disconnect()
