"""Keys and outbound HTTP under attack and under faults: foreign credential ids, local services, start-up
without keys, and providers that reset, trickle or flood (items 17, 19, 21, 22, 35-37 of the list)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

import config.settings as shipped
from nodes.base import NodeContext
from nodes.registry import NODE_TYPES
from nodes.transport import guard as outbound
from nodes.transport.http import OutboundRefused, ProviderClient, ProviderError
from teams.models import Credential
from tests.editor.conftest import SEND, TRIGGER
from tests.editor.conftest import build as build_editor
from tests.engine.conftest import build, runs_of, start_and_run
from tests.hostile.raw_server import RawServer, raw_server, read_request_head, reset
from tests.nodes.conftest import waits
from tests.waiting import HANG

__all__ = ["waits"]  # retries do not really sleep here; the waits asked for are recorded

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-hostile-secret-4242abcd"


def credential_at(base_url: str, team: Any) -> Credential:
    credential = Credential(team=team, name="Hostile", base_url=base_url)
    credential.set_secret(SECRET)
    return credential


# -- 17. the key in no log line -------------------------------------------------------------------


@pytest.mark.usefixtures("test_nodes")
def test_a_node_failure_that_mentions_the_key_is_logged_without_it(cast, credential, caplog):
    async def leaky(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        assert ctx.credential is not None
        raise RuntimeError(f"upstream rejected {ctx.credential.get_secret()}")

    NODE_TYPES["test.leaky"] = dataclasses.replace(NODE_TYPES["test.secret"], key="test.leaky", execute=leaky)
    try:
        caplog.set_level(logging.DEBUG)
        scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.leaky", {}, credential)}, [(1, 2)])
        run = runs_of(start_and_run(scenario))[2]
    finally:
        NODE_TYPES.pop("test.leaky", None)
    secret = credential.get_secret()
    assert run.error["message"] == "The node failed unexpectedly: RuntimeError: upstream rejected ••••"
    assert secret not in caplog.text


# -- 19. another team's credential id -------------------------------------------------------------


def test_another_teams_credential_posted_to_a_node_is_refused_and_never_called(cast, stub_provider):
    foreign = Credential(team=cast.other_team, name="Mallory's key", base_url=stub_provider.base_url)
    foreign.set_secret("sk-mallory-0123456789")
    foreign.save()
    scenario = build_editor(
        cast.team, {1: (TRIGGER, {}), 2: (SEND, {"message": "hi"})}, [(1, 2)], name="Victim"
    )
    node = scenario.nodes.get(number=2)
    client = cast.client_for(cast.bob)
    data = {"message": "hi", "model": "stub-model", "credential": str(foreign.pk), "version": 1}
    for name in ("scenarios:inspector", "scenarios:run_once"):
        response = client.post(reverse(name, args=[scenario.pk, node.pk]), data)
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert stub_provider.requests == [], "another team's key was used"
    node.refresh_from_db()
    assert node.credential is None and node.params == {"message": "hi"}
    assert not scenario.executions.exists()


# -- 21. local services ---------------------------------------------------------------------------

LOCAL_REDIS = [
    "http://127.0.0.1:6379/v1",
    "http://[::ffff:127.0.0.1]:6379/v1",
    "http://[::ffff:7f00:1]:6379/v1",
    "http://localhost.:6379/v1",
    "http://LOCALHOST:6379/v1",
    "http://[::1]:6379/v1",
    "http://127.1:6379/v1",
    "http://0x7f000001:6379/v1",
]


@pytest.mark.parametrize("base_url", LOCAL_REDIS)
async def test_without_loopback_allowed_every_spelling_of_a_local_redis_is_refused(cast, settings, base_url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused):
        await ProviderClient(credential_at(base_url, cast.team)).request("GET", "/models")


@pytest.mark.parametrize("base_url", LOCAL_REDIS[:4])
async def test_the_shipped_defaults_refuse_a_local_redis(cast, settings, base_url):
    settings.OUTBOUND_ALLOWED_NETWORKS = shipped.OUTBOUND_ALLOWED_NETWORKS
    with pytest.raises(OutboundRefused):
        await outbound.pinned_target(ProviderClient(credential_at(base_url, cast.team)).url("/models"))


# -- 22. keys at start-up -------------------------------------------------------------------------


def _start(keys: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CREDENTIAL_KEYS": keys,
        "DATABASE_URL": "sqlite:////tmp/scenery-hostile-start.sqlite3",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_scenery_refuses_to_start_without_credential_keys():
    result = _start("")
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS is not set" in result.stderr


def test_scenery_refuses_to_start_with_a_malformed_credential_key():
    result = _start("not-a-fernet-key")
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS" in result.stderr


# -- 35. resets, DNS and TLS failures -------------------------------------------------------------


def _resets(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    reset(sock)


async def test_a_connection_reset_is_retried_with_backoff_then_reported(cast, settings, waits):
    settings.PROVIDER_MAX_RETRIES = 2
    with raw_server(_resets) as server:
        with pytest.raises(ProviderError) as caught:
            await ProviderClient(credential_at(server.base_url, cast.team)).request("GET", "/models")
        assert server.connections == 3
    assert "Could not reach the provider at 127.0.0.1" in caught.value.message
    assert "gave up after 3 attempts" in caught.value.message
    assert len(waits) == 2 and waits[0] < waits[1]


async def test_a_dns_failure_is_retried_then_reported(cast, settings, waits, monkeypatch):
    settings.PROVIDER_MAX_RETRIES = 2
    asked: list[str] = []

    async def no_answer(host: str, port: int) -> list[str]:
        asked.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(outbound, "_resolve", no_answer)
    with pytest.raises(ProviderError, match="Cannot resolve the host 'api.provider.test'"):
        await ProviderClient(credential_at("https://api.provider.test/v1", cast.team)).request(
            "GET", "/models"
        )
    assert asked == ["api.provider.test"] * 3 and len(waits) == 2


async def test_a_tls_failure_is_retried_then_reported_without_the_key(cast, settings, waits, stub_provider):
    settings.PROVIDER_MAX_RETRIES = 1
    https_to_plain = stub_provider.base_url.replace("http://", "https://")
    with pytest.raises(ProviderError) as caught:
        await ProviderClient(credential_at(https_to_plain, cast.team)).request("GET", "/models")
    assert "Could not reach the provider" in caught.value.message
    assert SECRET not in str(caught.value.as_dict()) and len(waits) == 1


# -- 36. a provider that trickles -------------------------------------------------------------------


def _trickles(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(200):  # a byte every 0.2 s: each read is quick, the whole answer never ends
        sock.sendall(b" ")
        time.sleep(0.2)


async def test_a_trickling_provider_is_cut_off_at_the_total_deadline_and_its_connection_freed(
    cast, settings, waits
):
    settings.PROVIDER_READ_TIMEOUT = 1.0
    settings.PROVIDER_TOTAL_TIMEOUT = 1.5
    with raw_server(_trickles) as server:
        # The answer would trickle for 40 s: what ends it is the total deadline, as the error says.
        with pytest.raises(ProviderError, match=r"within 1.5 s \(PROVIDER_TOTAL_TIMEOUT\)"):
            await ProviderClient(credential_at(server.base_url, cast.team)).request("GET", "/models")
        # The server notices that Scenery hung up: the connection is not kept trickling.
        assert await asyncio.to_thread(server.closed_by_client.wait, HANG)
    assert server.connections == 1


# -- 37. a body without end --------------------------------------------------------------------------


def _floods(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"[" + b"1," * 32_000
    for _ in range(3_300):  # about 200 MB, if it were all read
        sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        server.bytes_sent += len(chunk)


async def test_a_chunked_answer_without_length_is_read_only_up_to_the_limit(cast, settings, waits):
    settings.PROVIDER_MAX_RESPONSE_BYTES = 100_000
    with raw_server(_floods) as server:
        with pytest.raises(ProviderError, match="larger than 100,000 bytes"):
            await ProviderClient(credential_at(server.base_url, cast.team)).request("GET", "/models")
        assert await asyncio.to_thread(server.closed_by_client.wait, 5)
    assert server.bytes_sent < 20_000_000, f"{server.bytes_sent:,} bytes were sent before Scenery hung up"


def test_the_limits_are_bounded_by_default():
    assert 0 < django_settings.PROVIDER_MAX_RESPONSE_BYTES <= 100 * 1024 * 1024
    assert 0 < django_settings.PROVIDER_TOTAL_TIMEOUT <= 600
    assert 0 < django_settings.PROVIDER_MAX_RETRY_WAIT <= 120
