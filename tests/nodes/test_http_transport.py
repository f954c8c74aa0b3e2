"""The transport under the provider client (httpx over aiohttp): TLS names with pinned addresses,
errors that say what happened, no environment, no retries of its own, one client per event loop."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nodes.transport import guard as outbound
from nodes.transport import http
from nodes.transport.http import ProviderClient, ProviderError
from teams.models import Credential
from tests.hostile.raw_server import RawServer, raw_server, read_request_head, reset

MODELS = {"object": "list", "data": []}


def credential_at(base_url: str) -> Credential:
    credential = Credential(name="Transport", base_url=base_url)
    credential.set_secret("sk-transport-secret-1234")
    return credential


@pytest.fixture
def no_retries(settings):
    settings.PROVIDER_MAX_RETRIES = 0


# -- TLS with a pinned address -----------------------------------------------------------------------


def _certificates(folder: Path) -> tuple[bytes, Path, Path]:
    """A test CA (PEM) and a certificate + key for provider.test only, signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Scenery test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provider.test")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("provider.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "provider.pem", folder / "provider.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


@dataclass
class TlsProvider:
    port: int
    ca_pem: bytes
    server_names: list[str | None] = field(default_factory=list)
    heads: list[bytes] = field(default_factory=list)

    def url(self, host: str) -> str:
        return f"https://{host}:{self.port}/v1"


@pytest.fixture
async def tls_provider(tmp_path, monkeypatch) -> AsyncIterator[TlsProvider]:
    """An HTTPS provider on 127.0.0.1 whose certificate names provider.test only; provider.test and
    other.test both resolve to it."""
    ca_pem, cert_file, key_file = _certificates(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    provider = TlsProvider(port=0, ca_pem=ca_pem)
    server_context.sni_callback = lambda _sock, name, _context: provider.server_names.append(name)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                provider.heads.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n"
                )
                writer.write(b'{"object": "list", "data": []}')
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    provider.port = server.sockets[0].getsockname()[1]

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host in ("provider.test", "other.test") else []

    monkeypatch.setattr(outbound, "_resolve", resolve)
    try:
        yield provider
    finally:
        server.close()


@pytest.fixture
def trusting_the_test_ca(tls_provider, monkeypatch) -> None:
    """The provider client trusts the test CA (instead of certifi's roots)."""
    monkeypatch.setattr(
        http, "_tls_context", lambda: ssl.create_default_context(cadata=tls_provider.ca_pem.decode())
    )


@pytest.mark.usefixtures("trusting_the_test_ca")
async def test_tls_names_the_host_while_the_connection_goes_to_the_checked_address(tls_provider):
    url = tls_provider.url("provider.test")
    assert await ProviderClient(credential_at(url)).request("GET", "/models") == MODELS
    assert tls_provider.server_names == ["provider.test"]
    head = tls_provider.heads[0]
    assert head.startswith(b"GET /v1/models HTTP/1.1\r\n")
    assert f"\r\nHost: provider.test:{tls_provider.port}\r\n".encode() in head


@pytest.mark.usefixtures("trusting_the_test_ca", "no_retries")
async def test_the_certificate_is_checked_against_the_host_name_not_the_pinned_address(tls_provider):
    # A verified connection to provider.test is in the pool for 127.0.0.1; other.test, pinned to
    # the same address, must get its own connection, whose certificate does not name it.
    await ProviderClient(credential_at(tls_provider.url("provider.test"))).request("GET", "/models")
    other = credential_at(tls_provider.url("other.test"))
    with pytest.raises(
        ProviderError, match=r"Could not reach the provider at other\.test:\d+ \(connection failed\)"
    ):
        await ProviderClient(other).request("GET", "/models")
    assert tls_provider.server_names == ["provider.test", "other.test"]
    assert len(tls_provider.heads) == 1


@pytest.mark.usefixtures("no_retries")
async def test_a_certificate_authority_from_the_environment_is_not_trusted(
    tls_provider, monkeypatch, tmp_path
):
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(tls_provider.ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with pytest.raises(ProviderError, match=r"\(connection failed\)"):
        await ProviderClient(credential_at(tls_provider.url("provider.test"))).request("GET", "/models")
    assert tls_provider.heads == []


# -- the environment, aiohttp's own retries --------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_proxies_from_the_environment_are_not_used(stub_provider, monkeypatch):
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    assert await ProviderClient(credential_at(stub_provider.base_url)).request("GET", "/models")
    assert stub_provider.last("/v1/models").method == "GET"


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
async def test_a_broken_connection_is_retried_by_scenery_only(settings, method):
    settings.PROVIDER_MAX_RETRIES = 1

    def resets(server: RawServer, sock: socket.socket) -> None:
        read_request_head(sock)
        reset(sock)

    with raw_server(resets) as server:
        with pytest.raises(ProviderError, match="gave up after 2 attempts"):
            await ProviderClient(credential_at(server.base_url)).request(method, "/threads/t")
        assert server.connections == 2


# -- errors say what happened ------------------------------------------------------------------------


def _hangs_up(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    sock.shutdown(socket.SHUT_RDWR)


def _resets(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    reset(sock)


def _cuts_the_body_short(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}")
    sock.shutdown(socket.SHUT_RDWR)


def _is_not_http(server: RawServer, sock: socket.socket) -> None:
    read_request_head(sock)
    sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    time.sleep(0.2)


@pytest.mark.usefixtures("no_retries")
@pytest.mark.parametrize(
    "behave, kind",
    [
        (_hangs_up, "connection closed unexpectedly"),
        (_resets, "connection broken"),
        (_cuts_the_body_short, "connection closed unexpectedly"),
        (_is_not_http, "connection closed unexpectedly"),
    ],
)
async def test_a_failing_connection_is_reported_as_what_happened(behave, kind):
    with raw_server(behave) as server, pytest.raises(ProviderError) as caught:
        await ProviderClient(credential_at(server.base_url)).request("GET", "/models")
    assert caught.value.message == (
        f"Could not reach the provider at 127.0.0.1:{server.port} ({kind}). (gave up after 1 attempts)"
    )


@pytest.mark.usefixtures("no_retries")
async def test_a_refused_connection_is_a_failed_connection_not_a_timeout():
    port = _closed_port()
    with pytest.raises(ProviderError) as caught:
        await ProviderClient(credential_at(f"http://127.0.0.1:{port}/v1")).request("GET", "/models")
    assert caught.value.message == (
        f"Could not reach the provider at 127.0.0.1:{port} (connection failed). (gave up after 1 attempts)"
    )


@pytest.mark.parametrize(
    "error, expected, kind",
    [
        (aiohttp.ConnectionTimeoutError("slow"), httpx.ConnectTimeout, "connection timed out"),
        (aiohttp.SocketTimeoutError("slow"), httpx.ReadTimeout, "read timed out"),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, "connection closed unexpectedly"),
        (aiohttp.ClientPayloadError("short"), httpx.RemoteProtocolError, "connection closed unexpectedly"),
        (aiohttp.ClientOSError(104, "reset"), httpx.ReadError, "connection broken"),
        (aiohttp.ClientConnectionResetError("reset"), httpx.ReadError, "connection broken"),
    ],
)
def test_aiohttp_errors_become_the_httpx_errors_of_the_same_meaning(error, expected, kind):
    translated = http._as_httpx(error)
    assert type(translated) is expected
    assert http._kind(translated) == kind


# -- one client per event loop -----------------------------------------------------------------------


def _session_of(client: httpx.AsyncClient) -> aiohttp.ClientSession:
    transport = client._transport
    assert isinstance(transport, http._Transport)
    assert isinstance(transport.client, aiohttp.ClientSession)
    return transport.client


@pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_each_event_loop_has_its_own_client_closed_with_the_loop(stub_provider, loop_factory):
    seen = []

    async def call() -> None:
        client = http.shared_client()
        assert http.shared_client() is client
        assert (await client.get(f"{stub_provider.base_url}/models")).status_code == 200
        seen.append((asyncio.get_running_loop(), client, _session_of(client)))

    for _ in range(2):
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(call())
    (first_loop, first, first_session), (second_loop, second, second_session) = seen
    assert first is not second and first_session is not second_session
    assert first.is_closed and second.is_closed
    assert first_session.closed and second_session.closed
    assert first_loop not in http._clients and second_loop not in http._clients


async def test_closing_the_shared_client_closes_its_aiohttp_session(stub_provider):
    client = http.shared_client()
    await client.get(f"{stub_provider.base_url}/models")
    session = _session_of(client)
    assert not session.closed
    await http.close_shared_client()
    assert client.is_closed and session.closed
    assert http.shared_client() is not client
