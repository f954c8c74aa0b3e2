"""The shared provider client: retries, clear errors, bounded bodies, the key's confinement, SSRF."""

from __future__ import annotations

import gzip
import logging

import pytest

from nodes.base import NodeError
from nodes.transport import guard as outbound
from nodes.transport.http import OutboundRefused, ProviderClient, ProviderError, list_models, shared_client
from teams.models import Credential
from tests.nodes.helpers import openai_error
from tests.stub_provider import StubProvider

SECRET = "sk-stub-secret-wxyz9876"
OK: tuple[int, dict, dict] = (200, {"object": "list", "data": []}, {})


def credential_at(base_url: str, team) -> Credential:
    credential = Credential(team=team, name="Elsewhere", base_url=base_url)
    credential.set_secret(SECRET)
    return credential


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), str(getattr(error, "as_dict", dict)())):
        assert SECRET not in text


# -- retries ---------------------------------------------------------------------------------------


async def test_a_429_with_retry_after_is_retried_after_the_wait_the_provider_asked_for(
    stub_provider, stub_credential, waits
):
    stub_provider.script(
        "/v1/models", [(429, openai_error("Slow down", "rate_limit_exceeded"), {"Retry-After": "2"}), OK]
    )
    assert await ProviderClient(stub_credential).request("GET", "/models") == OK[1]
    assert waits == [2.0]
    assert len(stub_provider.requests) == 2


async def test_retry_after_ms_wins_and_every_wait_is_capped(stub_provider, stub_credential, waits, settings):
    settings.PROVIDER_MAX_RETRY_WAIT = 5
    stub_provider.script(
        "/v1/models",
        [
            (429, openai_error("a"), {"retry-after-ms": "250", "Retry-After": "9"}),
            (503, b"", {"Retry-After": "3600"}),
            OK,
        ],
    )
    await ProviderClient(stub_credential).request("GET", "/models")
    assert waits == [0.25, 5]


async def test_a_429_that_never_ends_becomes_a_clear_error_after_the_retry_limit(
    stub_provider, stub_credential, waits, settings
):
    settings.PROVIDER_MAX_RETRIES = 2
    busy = (
        429,
        openai_error("Rate limit reached", "requests", code="rate_limit_exceeded"),
        {"Retry-After": "1"},
    )
    stub_provider.script("/v1/models", [busy] * 5)
    with pytest.raises(ProviderError) as caught:
        await ProviderClient(stub_credential).request("GET", "/models")
    error = caught.value
    assert (error.status, error.type, error.code) == (429, "requests", "rate_limit_exceeded")
    assert "Rate limit reached" in error.message and "gave up after 3 attempts" in error.message
    assert len(stub_provider.requests) == 3
    assert waits == [1.0, 1.0]


async def test_a_500_is_retried_with_growing_backoff(stub_provider, stub_credential, waits):
    stub_provider.script(
        "/v1/models", [(500, openai_error("boom", "server_error"), {}), (502, b"Bad gateway", {}), OK]
    )
    assert await ProviderClient(stub_credential).request("GET", "/models") == OK[1]
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_other_4xx_are_not_retried_and_carry_the_openai_error_fields(
    stub_provider, stub_credential, status
):
    body = openai_error("No assistant found with id 'asst_x'.", param="assistant_id", code="not_found")
    stub_provider.script("/v1/assistants/asst_x", [(status, body, {})])
    with pytest.raises(ProviderError) as caught:
        await ProviderClient(stub_credential).request("GET", "/assistants/asst_x")
    error = caught.value
    assert len(stub_provider.requests) == 1
    assert error.as_dict() == {
        "message": f"The provider refused the request (HTTP {status}, invalid_request_error): "
        "No assistant found with id 'asst_x'.",
        "status": status,
        "type": "invalid_request_error",
        "code": "not_found",
        "param": "assistant_id",
    }


async def test_a_401_says_the_credential_is_invalid(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/models", [(401, openai_error("Incorrect API key provided.", code="invalid_api_key"), {})]
    )
    with pytest.raises(ProviderError, match="The credential 'Stub' is invalid") as caught:
        await ProviderClient(stub_credential).request("GET", "/models")
    assert caught.value.status == 401 and len(stub_provider.requests) == 1


async def test_a_read_timeout_is_retried_then_reported(stub_provider, stub_credential, settings, waits):
    settings.PROVIDER_READ_TIMEOUT = 0.1
    settings.PROVIDER_MAX_RETRIES = 1
    stub_provider.delay = 0.5
    with pytest.raises(ProviderError, match=r"did not answer GET /v1/models in time \(read timed out\)"):
        await ProviderClient(stub_credential).request("GET", "/models")
    assert len(stub_provider.requests) == 2 and len(waits) == 1


async def test_the_total_deadline_bounds_the_whole_request(stub_provider, stub_credential, settings):
    settings.PROVIDER_TOTAL_TIMEOUT = 0.2
    stub_provider.delay = 1.0
    with pytest.raises(ProviderError, match=r"within 0.2 s \(PROVIDER_TOTAL_TIMEOUT\)"):
        await ProviderClient(stub_credential).request("GET", "/models")


async def test_an_unreachable_provider_is_retried_then_reported(cast, settings, waits):
    settings.PROVIDER_MAX_RETRIES = 1
    credential = credential_at("http://127.0.0.1:9/v1", cast.team)
    with pytest.raises(
        ProviderError, match=r"Could not reach the provider at 127.0.0.1:9 \(connection failed\)"
    ):
        await ProviderClient(credential).request("GET", "/models")
    assert len(waits) == 1


async def test_progress_is_reported_before_each_retry(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/models", [(503, openai_error("busy", "server_error"), {"Retry-After": "1"}), OK]
    )
    seen = []

    async def progress(event):
        seen.append(event)

    await ProviderClient(stub_credential, progress=progress).request("GET", "/models")
    assert seen == [
        {"retrying": 1, "of": 3, "wait": 1.0, "reason": "The provider failed (HTTP 503, server_error): busy"}
    ]


# -- bodies ------------------------------------------------------------------------------------------


async def test_invalid_json_is_a_clear_error(stub_provider, stub_credential):
    stub_provider.script("/v1/models", [(200, b'{"object": "list", "data": [', {})])
    with pytest.raises(ProviderError, match="not valid JSON"):
        await ProviderClient(stub_credential).request("GET", "/models")


async def test_an_html_page_with_status_200_is_a_clear_error(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/models", [(200, b"<!doctype html><html>Login</html>", {"Content-Type": "text/html"})]
    )
    with pytest.raises(ProviderError, match="HTML page instead of JSON.*base URL"):
        await ProviderClient(stub_credential).request("GET", "/models")


async def test_an_oversized_body_is_refused(stub_provider, stub_credential, settings):
    settings.PROVIDER_MAX_RESPONSE_BYTES = 1000
    stub_provider.script("/v1/models", [(200, b"[" + b"1," * 2000 + b"1]", {})])
    with pytest.raises(ProviderError, match="larger than 1,000 bytes"):
        await ProviderClient(stub_credential).request("GET", "/models")


async def test_a_compression_bomb_stops_at_the_limit(stub_provider, stub_credential, settings):
    settings.PROVIDER_MAX_RESPONSE_BYTES = 10_000
    bomb = gzip.compress(b" " * 5_000_000)
    assert len(bomb) < 10_000
    stub_provider.script("/v1/models", [(200, bomb, {"Content-Encoding": "gzip"})])
    with pytest.raises(ProviderError, match="larger than 10,000 bytes"):
        await ProviderClient(stub_credential).request("GET", "/models")


async def test_a_compressed_answer_is_decoded_by_scenery_not_by_the_transport(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/models", [(200, gzip.compress(b'{"object": "list", "data": []}'), {"Content-Encoding": "gzip"})]
    )
    assert await ProviderClient(stub_credential).request("GET", "/models") == OK[1]
    assert stub_provider.last().headers["accept-encoding"] == "identity"


async def test_bytes_are_returned_as_bytes(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/files/file-1/content", [(200, b"\x00\x01binary", {"Content-Type": "application/octet-stream"})]
    )
    data = await ProviderClient(stub_credential).request("GET", "/files/file-1/content", expect="bytes")
    assert data == b"\x00\x01binary"
    assert stub_provider.last().headers["accept"] == "application/binary"


# -- the key ---------------------------------------------------------------------------------------


async def test_the_key_and_beta_header_go_to_the_credential_host(stub_provider, stub_credential):
    stub_provider.script("/v1/assistants", [(200, {"ok": True}, {})])
    await ProviderClient(stub_credential).request("POST", "/assistants", {"model": "m"}, beta=True)
    request = stub_provider.last("/v1/assistants")
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["openai-beta"] == "assistants=v2"
    assert request.headers["content-type"] == "application/json"


async def test_the_key_is_not_sent_to_another_host(stub_provider, stub_credential):
    other = StubProvider()
    other.start()
    try:
        await ProviderClient(stub_credential).request("GET", f"{other.base_url}/models")
        assert "authorization" not in other.last("/v1/models").headers
    finally:
        other.stop()


async def test_a_cookie_one_provider_call_gets_never_rides_along_on_the_next(stub_provider, stub_credential):
    """The connection pool is shared by every team of the process: a cookie from one team's
    provider call must never ride along on the next call, which may be another team's."""
    stub_provider.script("/v1/models", [(200, OK[1], {"Set-Cookie": "session=team-a; Path=/"}), OK])
    client = ProviderClient(stub_credential)
    await client.request("GET", "/models")
    await client.request("GET", "/models")
    assert len(stub_provider.requests) == 2
    assert "cookie" not in stub_provider.last("/v1/models").headers
    assert list(shared_client().cookies.jar) == []


async def test_a_redirect_is_not_followed(stub_provider, stub_credential):
    other = StubProvider()
    other.start()
    try:
        stub_provider.script("/v1/models", [(302, b"", {"Location": f"{other.base_url}/models"})])
        with pytest.raises(ProviderError, match="redirect .*does not follow redirects"):
            await ProviderClient(stub_credential).request("GET", "/models")
        assert other.requests == []
    finally:
        other.stop()


async def test_the_key_never_appears_in_errors_or_logs(stub_provider, stub_credential, caplog, settings):
    settings.PROVIDER_MAX_RETRIES = 1
    caplog.set_level(logging.DEBUG)
    echo = openai_error(f"Incorrect API key provided: {SECRET}.", code="invalid_api_key")
    stub_provider.script("/v1/models", [(500, echo, {}), (401, echo, {})])
    with pytest.raises(ProviderError) as caught:
        await ProviderClient(stub_credential).request("GET", "/models")
    assert "[redacted]" in caught.value.message
    assert_no_secret(caught.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(ProviderClient(stub_credential))


async def test_a_credential_that_cannot_be_decrypted_needs_reentry(stub_credential, settings):
    from cryptography.fernet import Fernet

    from teams import crypto

    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_keys()
    try:
        with pytest.raises(NodeError, match="'Stub' needs re-entry"):
            ProviderClient(stub_credential)
    finally:
        crypto.reset_keys()


def test_no_credential_is_a_clear_error():
    with pytest.raises(NodeError, match="Choose an API key"):
        ProviderClient(None)


# -- SSRF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/latest",
        "http://10.0.0.1/v1",
        "http://192.168.1.20:8080/v1",
        "http://100.64.0.1/v1",
        "http://[::ffff:10.0.0.1]/v1",
        "http://[::ffff:169.254.169.254]/v1",
        "http://[64:ff9b::a9fe:a9fe]/v1",
        "http://[fd00::1]/v1",
        "http://0.0.0.0/v1",
        "http://224.0.0.1/v1",
        "http://0x7f000001/v1",
        "http://2130706433/v1",
        "http://017700000001/v1",
        "file:///etc/passwd",
        "ftp://example.com/v1",
    ],
)
async def test_private_local_and_odd_destinations_are_refused(cast, base_url):
    with pytest.raises(OutboundRefused) as caught:
        await ProviderClient(credential_at(base_url, cast.team)).request("GET", "/models")
    assert_no_secret(caught.value)


async def test_a_name_resolving_to_a_private_address_is_refused(cast, monkeypatch):
    async def resolve(host, port):
        return ["10.1.2.3"] if host == "internal.example" else []

    monkeypatch.setattr(outbound, "_resolve", resolve)
    with pytest.raises(OutboundRefused, match="'internal.example'.*10.1.2.3"):
        await ProviderClient(credential_at("https://internal.example/v1", cast.team)).request(
            "GET", "/models"
        )


async def test_one_private_address_among_public_ones_is_enough_to_refuse(cast, monkeypatch):
    async def resolve(host, port):
        return ["93.184.216.34", "169.254.169.254"]

    monkeypatch.setattr(outbound, "_resolve", resolve)
    with pytest.raises(OutboundRefused):
        await ProviderClient(credential_at("https://rebind.example/v1", cast.team)).request("GET", "/models")


async def test_loopback_is_refused_when_not_in_the_allowed_networks(stub_provider, stub_credential, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundRefused):
        await ProviderClient(stub_credential).request("GET", "/models")
    trailing_dot = credential_at(
        stub_provider.base_url.replace("127.0.0.1", "localhost."), stub_credential.team
    )
    with pytest.raises(OutboundRefused):
        await ProviderClient(trailing_dot).request("GET", "/models")
    assert stub_provider.requests == []


async def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(
    stub_provider, stub_credential, monkeypatch
):
    async def resolve(host, port):
        assert host == "provider.test"
        return ["127.0.0.1"]

    monkeypatch.setattr(outbound, "_resolve", resolve)
    named = credential_at(stub_provider.base_url.replace("127.0.0.1", "provider.test"), stub_credential.team)
    await ProviderClient(named).request("GET", "/models")
    request = stub_provider.last("/v1/models")
    assert request.headers["host"] == named.host
    assert request.headers["authorization"] == f"Bearer {SECRET}"


def test_public_addresses_are_allowed():
    import ipaddress

    assert outbound.address_allowed(ipaddress.ip_address("93.184.216.34"))
    assert outbound.address_allowed(ipaddress.ip_address("2606:4700::1111"))
    assert not outbound.address_allowed(ipaddress.ip_address("169.254.169.254"))


# -- ids in paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", " ", ".", "..", "a\r\nb"])
def test_ids_that_would_change_the_path_are_refused(value):
    with pytest.raises(NodeError, match="not a valid id"):
        outbound.path_segment(value)


def test_ids_are_encoded_as_one_path_segment():
    assert outbound.path_segment("../files?x=1#y") == "..%2Ffiles%3Fx%3D1%23y"


# -- models ----------------------------------------------------------------------------------------


async def test_the_model_list_is_sorted_and_cached_per_credential(stub_provider, stub_credential):
    stub_provider.models = ["zeta", "alpha", "mid"]
    assert await list_models(stub_credential) == ["alpha", "mid", "zeta"]
    assert await list_models(stub_credential) == ["alpha", "mid", "zeta"]
    assert len(stub_provider.requests) == 1


async def test_a_model_list_that_cannot_load_is_a_clear_error(stub_provider, stub_credential, settings):
    settings.PROVIDER_MAX_RETRIES = 0
    stub_provider.script("/v1/models", [(500, openai_error("down", "server_error"), {})])
    with pytest.raises(NodeError, match="Could not load the model list of 'Stub'.*type a model ID"):
        await list_models(stub_credential)
    stub_provider.script("/v1/models", [(200, {"data": "nope"}, {})])
    with pytest.raises(NodeError, match="not in the expected format"):
        await list_models(stub_credential)
