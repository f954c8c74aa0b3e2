from __future__ import annotations

import httpx
import pytest

from nodes import outbound
from nodes.outbound import OutboundRefused


@pytest.fixture
def no_private_networks(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.OUTBOUND_ALLOWED_ORIGINS = []
    settings.SCENERY_BASE_URL = "http://127.0.0.1:8000"


async def test_scenerys_own_origin_is_reachable_without_allowing_loopback(no_private_networks):
    target, headers, _ = await outbound.pinned_target(httpx.URL("http://127.0.0.1:8000/v1/models"))
    assert target.host == "127.0.0.1" and target.port == 8000


async def test_another_port_on_the_same_host_is_still_refused(no_private_networks):
    with pytest.raises(OutboundRefused, match="OUTBOUND_ALLOWED_ORIGINS"):
        await outbound.pinned_target(httpx.URL("http://127.0.0.1:6379/v1/models"))


async def test_an_origin_named_by_the_administrator_is_reachable(no_private_networks, settings):
    settings.OUTBOUND_ALLOWED_ORIGINS = ["http://localhost:11434"]
    target, headers, _ = await outbound.pinned_target(httpx.URL("http://localhost:11434/v1/models"))
    assert headers["Host"] == "localhost:11434"
    with pytest.raises(OutboundRefused):
        await outbound.pinned_target(httpx.URL("https://localhost:11434/v1/models"))


async def test_an_allowed_origin_matches_its_address_as_well_as_its_name(no_private_networks, settings):
    settings.OUTBOUND_ALLOWED_ORIGINS = ["http://127.0.0.1:11434"]
    target, _, _ = await outbound.pinned_target(httpx.URL("http://localhost:11434/v1/models"))
    assert target.host == "127.0.0.1"
