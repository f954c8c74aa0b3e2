"""After a credential is saved, its secret is in no response: every page and fragment of the role
table (with and without htmx), every gateway read, and the first WebSocket frame."""

from __future__ import annotations

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from scenarios.runtime.routing import websocket_urlpatterns
from teams.models import Credential
from tests.teams.access_table import TABLE, WS_TABLE
from tests.teams.conftest import SECRET
from tests.teams.test_access_matrix import call, route_for, url_for, ws_routes

FRESH = "sk-proj-FRESHLYSAVED-55aa77bb"

SESSION_GETS = [
    k
    for k, a in TABLE.items()
    if a.kind in ("public", "signed_in", "current", "scoped") and "GET" in a.methods
]
GATEWAY_GETS = [k for k, a in TABLE.items() if a.kind == "gateway" and "GET" in a.methods]


def assert_no_secret(text: str, where: str) -> None:
    for secret in (SECRET, FRESH):
        assert secret not in text, f"{where} shows a credential secret"
        assert secret[3:-4] not in text, f"{where} shows part of a credential secret"


@pytest.fixture
def saved(world, cast, stub_provider):
    """alice saves a new credential through the form; the world's node uses it."""
    client = cast.client_for(cast.alice)
    data = {
        "name": "Fresh",
        "base_url": stub_provider.base_url,
        "default_model": "stub-model",
        "secret": FRESH,
    }
    assert client.post(reverse("teams:credential_new"), data).status_code == 302
    fresh = Credential.objects.get(name="Fresh")
    world.node.credential = fresh
    world.node.save()
    Credential.objects.filter(pk=world.credential.pk).update(base_url=stub_provider.base_url)
    return world


@pytest.mark.django_db
@pytest.mark.parametrize("key", SESSION_GETS)
def test_no_page_or_fragment_shows_a_secret(saved, key):
    access = TABLE[key]
    url = url_for(route_for(key), access, saved)
    client = saved.cast.client_for(saved.cast.alice)
    for headers in ({}, {"HX-Request": "true"}):
        response = call(client, "GET", url, access, saved, saved.cast.alice, headers=headers)
        assert response.status_code < 500
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert_no_secret(body.decode("utf-8", "replace") + str(dict(response.headers)), f"GET {url}")


@pytest.mark.django_db
@pytest.mark.parametrize("key", GATEWAY_GETS)
def test_no_gateway_answer_shows_a_secret(saved, gateway_world, key):
    from gateway.models import GatewayConfig

    GatewayConfig.objects.update_or_create(team=saved.cast.team, defaults={"provider": saved.node.credential})
    access = TABLE[key]
    url = url_for(route_for(key), access, gateway_world)
    auth = {"Authorization": f"Bearer {gateway_world.gateway.team_key}"}
    response = call(Client(), "GET", url, access, gateway_world, None, headers=auth)
    assert response.status_code == 200, response.content[:200]
    assert_no_secret(response.content.decode("utf-8", "replace"), f"GET {url}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", list(WS_TABLE))
async def test_no_websocket_frame_shows_a_secret(saved, key):
    from asgiref.sync import sync_to_async

    route = next(r for r in ws_routes() if r.key == key)
    url = await sync_to_async(url_for)(route, WS_TABLE[key], saved)
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), url)
    communicator.scope["user"] = saved.cast.alice
    connected, _ = await communicator.connect()
    assert connected
    try:
        frame = await communicator.receive_from(timeout=5)
        assert_no_secret(frame, f"the first frame of {url}")
    finally:
        await communicator.disconnect()
