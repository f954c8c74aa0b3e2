from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from nodes.transport import guard as outbound
from nodes.transport.guard import OutboundRefused, Unresolvable


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


# -- the resolution cache ----------------------------------------------------------------------------


@dataclass
class Lookups:
    answers: dict[str, list[str] | Exception] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    now: float = 1000.0


@pytest.fixture
def lookups(monkeypatch) -> Iterator[Lookups]:
    """A resolver that counts its lookups, and a clock the test moves."""
    state = Lookups()

    async def lookup(host: str, port: int) -> list[str]:
        state.asked.append(host)
        answer = state.answers.get(host, [])
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    monkeypatch.setattr(outbound, "_lookup", lookup)
    monkeypatch.setattr(outbound, "_clock", lambda: state.now)
    outbound.forget_addresses()
    yield state
    outbound.forget_addresses()


async def test_a_host_name_is_looked_up_again_only_after_the_cache_time(lookups):
    lookups.answers["api.provider.test"] = ["93.184.216.34"]
    url = httpx.URL("https://api.provider.test/v1/models")
    first = await outbound.pinned_target(url)
    lookups.now += outbound.RESOLVE_CACHE_SECONDS - 0.1
    assert await outbound.pinned_target(url) == first
    assert lookups.asked == ["api.provider.test"]
    assert first[0].host == "93.184.216.34" and first[1] == {"Host": "api.provider.test"}

    lookups.answers["api.provider.test"] = ["93.184.216.35"]
    lookups.now += 0.2
    target, _, extensions = await outbound.pinned_target(url)
    assert lookups.asked == ["api.provider.test"] * 2
    assert target.host == "93.184.216.35" and extensions == {"sni_hostname": "api.provider.test"}


async def test_a_cached_answer_is_judged_again_on_every_request(lookups, settings):
    lookups.answers["lan.provider.test"] = ["10.1.2.3"]
    url = httpx.URL("http://lan.provider.test/v1/models")
    for _ in range(2):
        with pytest.raises(OutboundRefused, match=r"10\.1\.2\.3"):
            await outbound.pinned_target(url)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert (await outbound.pinned_target(url))[0].host == "10.1.2.3"
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused):
        await outbound.pinned_target(url)
    assert lookups.asked == ["lan.provider.test"]


async def test_failed_and_empty_lookups_are_not_cached(lookups):
    url = httpx.URL("https://flaky.provider.test/v1/models")
    lookups.answers["flaky.provider.test"] = socket.gaierror(socket.EAI_AGAIN, "Temporary failure")
    with pytest.raises(Unresolvable, match="Cannot resolve the host 'flaky.provider.test'"):
        await outbound.pinned_target(url)
    lookups.answers["flaky.provider.test"] = []
    with pytest.raises(Unresolvable, match="has no address"):
        await outbound.pinned_target(url)
    lookups.answers["flaky.provider.test"] = ["93.184.216.34"]
    assert (await outbound.pinned_target(url))[0].host == "93.184.216.34"
    assert lookups.asked == ["flaky.provider.test"] * 3


async def test_ip_literals_are_never_looked_up(lookups):
    await outbound.pinned_target(httpx.URL("https://93.184.216.34/v1/models"))
    await outbound.pinned_target(httpx.URL("https://[2606:4700::1111]/v1/models"))
    assert lookups.asked == []


async def test_the_cache_keeps_a_bounded_number_of_names(lookups, monkeypatch):
    monkeypatch.setattr(outbound, "RESOLVE_CACHE_SIZE", 3)
    for n in range(5):
        lookups.answers[f"h{n}.provider.test"] = [f"93.184.216.{n + 1}"]
        await outbound.pinned_target(httpx.URL(f"https://h{n}.provider.test/"))
    assert list(outbound._resolved) == ["h2.provider.test", "h3.provider.test", "h4.provider.test"]
    await outbound.pinned_target(httpx.URL("https://h0.provider.test/"))
    assert lookups.asked.count("h0.provider.test") == 2
