"""Outbound HTTP to providers: one shared httpx client per event loop and a client bound to a credential.

- The API key goes in `Authorization: Bearer` only when the request's origin is the credential's
  own origin; redirects are never followed (a redirect is an error).
- Every connection passes the SSRF guard of nodes/transport/guard.py and goes to the address it checked.
- httpx is the client API; the transport underneath is aiohttp's (httpx-aiohttp), which costs about half
  the CPU per request of httpcore + anyio. Its errors are named as httpx names them.
- Bounded retries with exponential backoff and jitter on 429, 5xx, connection errors and timeouts,
  honouring `retry-after-ms` / `Retry-After` (capped); other 4xx are not retried.
- Bodies are read streaming up to PROVIDER_MAX_RESPONSE_BYTES. OpenAI error bodies, HTML pages and
  invalid JSON become a `ProviderError` the user can act on. The key never appears in any of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import json as jsonlib
import logging
import random
import ssl
import time
import weakref
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import httpx
import httpx_aiohttp
import yarl
from django.conf import settings

from nodes.base import NodeError
from nodes.transport.guard import OutboundRefused, Unresolvable, origin, pinned_target
from teams.crypto import SecretUnreadable

if TYPE_CHECKING:
    from teams.models import Credential

__all__ = ["OutboundRefused", "ProviderClient", "ProviderError", "list_models", "shared_client"]

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5  # seconds before the first retry when the provider does not say
MODELS_CACHE_SECONDS = 60.0
ProgressFn = Callable[[dict[str, Any]], Awaitable[None]]


class ProviderError(NodeError):
    """The provider (or the way to it) failed. Carries the OpenAI error fields when there were some."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, status=status, type=type, code=code, param=param)
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.retryable = retryable


# -- the shared client ----------------------------------------------------------------------------

_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
_transports: weakref.WeakKeyDictionary[httpx.AsyncClient, _Transport] = weakref.WeakKeyDictionary()
# An aiohttp session must be closed inside its own loop. Each loop with a client gets an async
# generator, kept here, whose `finally` closes the client: loops finalise their pending async
# generators in shutdown_asyncgens(), which asyncio.run, asyncio.Runner (uvicorn, the executor worker,
# pytest-asyncio) and asgiref's async_to_sync call before they close the loop.
_closers: dict[asyncio.AbstractEventLoop, AsyncGenerator[None]] = {}


def _timeout() -> httpx.Timeout:
    return _timeout_of(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT)


@functools.lru_cache(maxsize=8)
def _timeout_of(connect: float, read: float) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


# aiohttp has no cap on idle connections (max_keepalive_connections); they close after
# keepalive_expiry (5 s) unused.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# aiohttp's exception -> httpx's, most specific first. httpx-aiohttp's own map turns every
# ClientConnectionError (a refused connection, a server that hung up) into ConnectTimeout, which the
# user would read as "timed out"; this one keeps what happened.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, unreachable, TLS handshake
    (aiohttp.ClientOSError, httpx.ReadError),  # reset
    (aiohttp.ClientConnectionResetError, httpx.ReadError),
    (aiohttp.ClientConnectionError, httpx.RemoteProtocolError),  # the server hung up
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),  # the body ended early or is mis-framed
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not a valid HTTP answer
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
)


class ConnectionBroke(aiohttp.ClientConnectionError):
    """A connection that broke mid-request (`cause`), raised past aiohttp's own resend."""

    def __init__(self, cause: aiohttp.ClientError) -> None:
        super().__init__(str(cause))
        self.cause = cause


async def _no_resend(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp resends an idempotent request (GET, DELETE) once by itself when its connection breaks;
    this client middleware hands the break to Scenery's own retries instead, which are counted, back
    off and report progress."""
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise ConnectionBroke(exc) from exc


def _as_httpx(exc: aiohttp.ClientError) -> httpx.TransportError:
    if isinstance(exc, ConnectionBroke):
        exc = exc.cause
    kind = next((target for source, target in _ERRORS if isinstance(exc, source)), httpx.TransportError)
    return kind(str(exc) or exc.__class__.__name__)


class _Body(httpx.AsyncByteStream):
    """A response body read from aiohttp, as it arrives, with httpx's exceptions."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(64 * 1024):
                yield chunk
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end, else the connection is closed.
        self._response.release()
        try:
            await self._response.wait_for_close()
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc


class _Transport(httpx_aiohttp.AiohttpTransport):
    """httpx-aiohttp's transport with our session settings, the URL sent as httpx built it and
    httpx's exception classes (its own request method re-quotes the URL and uses that map)."""

    def get_client(self) -> aiohttp.ClientSession:
        # Called on the first request, inside the loop the session belongs to.
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(
            connector=connector,
            middlewares=(_no_resend,),
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies stay httpx's business, as before
            auto_decompress=False,  # read_bounded decompresses, with a bound
            trust_env=False,
            # httpx always sends these; aiohttp must not add a Content-Type of its own either.
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
            # httpcore read response heads of up to 100 KiB; aiohttp's default is 8 KiB a line.
            max_line_size=100 * 1024,
            max_field_size=100 * 1024,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it
        try:
            response = await self.client.request(
                request.method,
                # encoded=True: the path goes out byte for byte (yarl would turn %3D into =).
                yarl.URL(str(request.url), encoded=True),
                headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
                data=data,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
                # The TLS name (and the certificate's check) when the URL holds a pinned address.
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except aiohttp.ClientError as exc:
            raise _as_httpx(exc) from exc
        except ValueError as exc:  # a header aiohttp refuses to write (h11 refused it too)
            raise httpx.LocalProtocolError(str(exc)) from exc
        version = response.version or aiohttp.HttpVersion11
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={
                "http_version": f"HTTP/{version.major}.{version.minor}".encode(),
                "reason_phrase": (response.reason or "").encode(),
            },
        )


def _tls_context() -> ssl.SSLContext:
    """certifi's roots, as httpx's own default; never SSL_CERT_FILE / SSL_CERT_DIR from the environment."""
    return httpx.create_ssl_context(trust_env=False)


def shared_client() -> httpx.AsyncClient:
    """The process's client for the running event loop (connections are pooled per loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        # trust_env=False: no proxy or .netrc from the environment, they would bypass the guard.
        transport = _Transport(verify=_tls_context(), trust_env=False, limits=LIMITS)
        client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=_timeout(),
            cookies=_no_cookies(),
        )
        _clients[loop] = client
        _transports[client] = transport
        if loop not in _closers:
            closer = _closer(loop)
            _closers[loop] = closer
            with contextlib.suppress(StopIteration):  # up to its `yield`: now the loop knows it
                closer.asend(None).send(None)
    return client


def shared_transport() -> _Transport:
    """The transport of the running loop's shared client (its connection pool)."""
    return _transports[shared_client()]


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: the client is shared by every team and credential of the process,
    so a cookie one provider sets must never ride along on another team's request. (A CookieJar,
    not httpx.Cookies: httpx copies those into a jar of its own, without the policy.)"""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


async def _closer(loop: asyncio.AbstractEventLoop) -> AsyncGenerator[None]:
    try:
        yield
    finally:
        _closers.pop(loop, None)
        await close_shared_client()


async def close_shared_client() -> None:
    """Close the running loop's client and its aiohttp session (on shutdown; the next call makes a
    new one)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


# -- the credential-bound client -------------------------------------------------------------------


@dataclass
class _Answer:
    status: int
    headers: httpx.Headers
    data: bytes
    response: httpx.Response | None = None  # a stream's open body


class ProviderClient:
    """Calls one provider with one credential: `await client.request("POST", "/assistants", json=...)`."""

    def __init__(self, credential: Credential | None, *, progress: ProgressFn | None = None) -> None:
        if credential is None:
            raise NodeError("Choose an API key for this node (the API Key field is empty).")
        self.credential = credential
        self.progress = progress
        try:
            self._secret = credential.get_secret()
        except SecretUnreadable:
            raise NodeError(
                f"The credential '{credential.name}' needs re-entry: its secret can no longer be "
                "decrypted. Enter the API key again under Credentials.",
                credential=credential.name,
            ) from None
        self.base = httpx.URL(credential.base_url.rstrip("/") + "/")
        self._origin = origin(self.base)
        self._base_text = str(self.base)

    def __repr__(self) -> str:
        return f"<ProviderClient {self.credential.name} {self.credential.host}>"

    def url(self, path: str) -> httpx.URL:
        if path.startswith(("http://", "https://")):
            return httpx.URL(path)
        # What base.join(path) gives for our relative paths (ids are encoded as one segment by
        # outbound.path_segment), parsed once instead of three times.
        return httpx.URL(self._base_text + path.lstrip("/"))

    def redact(self, text: str) -> str:
        if self._secret and len(self._secret) >= 4:
            text = text.replace(self._secret, "[redacted]")
        return text

    async def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        beta: bool = False,
        expect: Literal["json", "bytes"] = "json",
    ) -> Any:
        """Send one request (with retries) and return the decoded JSON, or the raw bytes."""
        accept = "application/binary" if expect == "bytes" else "application/json"
        answer, where = await self._exchange(method, path, json, beta=beta, accept=accept, stream=False)
        return self._decode(answer, expect, where)

    async def stream(self, method: str, path: str, json: Any = None) -> AsyncIterator[dict[str, Any]]:
        """Send a `stream: true` request (retried until the answer starts) and yield each server-sent
        event's JSON as it arrives, until `[DONE]`. A provider that answers with plain JSON instead
        yields that one object."""
        answer, where = await self._exchange(
            method, path, json, beta=False, accept="text/event-stream", stream=True
        )
        response = answer.response
        if response is None:  # answered without streaming
            yield self._decode(answer, "json", where)
            return
        try:
            async for event in self._events(response, where):
                yield event
        finally:
            await response.aclose()

    async def _events(self, response: httpx.Response, where: str) -> AsyncIterator[dict[str, Any]]:
        limit = settings.PROVIDER_MAX_RESPONSE_BYTES
        pending = b""
        size = 0
        try:
            async for raw in response.aiter_raw():
                size += len(raw)
                if size > limit:
                    raise ProviderError(
                        f"The provider's streamed answer to {where} is larger than {limit:,} bytes "
                        "(PROVIDER_MAX_RESPONSE_BYTES); Scenery stopped reading it."
                    )
                pending = (pending + raw).replace(b"\r\n", b"\n")
                *blocks, pending = pending.split(b"\n\n")
                for block in blocks:
                    data = b"\n".join(
                        line[5:].removeprefix(b" ")
                        for line in block.split(b"\n")
                        if line.startswith(b"data:")
                    )
                    if not data:
                        continue  # a comment or keep-alive
                    if data.strip() == b"[DONE]":
                        return
                    yield self._event(data, where)
        except httpx.TransportError as exc:
            raise ProviderError(f"The provider's stream for {where} broke off ({_kind(exc)}).") from None

    def _event(self, data: bytes, where: str) -> dict[str, Any]:
        try:
            event = jsonlib.loads(data)
        except (ValueError, RecursionError):
            raise ProviderError(
                f"The provider streamed an event that is not valid JSON for {where}: {self._snippet(data)}"
            ) from None
        if not isinstance(event, dict):
            raise ProviderError(f"The provider streamed an event that is not an object for {where}.")
        error = event.get("error")
        if error:
            detail = error.get("message") if isinstance(error, dict) else str(error)
            raise ProviderError(f"The provider failed while streaming: {self.redact(str(detail))[:1000]}")
        return event

    async def _exchange(
        self, method: str, path: str, json: Any, *, beta: bool, accept: str, stream: bool
    ) -> tuple[_Answer, str]:
        """The provider's successful answer (retried as configured), with the request's description;
        with `stream`, a 2xx answer's body is left open to read."""
        url = self.url(path)
        headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": "Scenery"}
        if beta:
            headers["OpenAI-Beta"] = "assistants=v2"
        if self._secret and origin(url) == self._origin:
            headers["Authorization"] = f"Bearer {self._secret}"
        content = None
        if json is not None:
            content = jsonlib.dumps(json, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"

        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.PROVIDER_TOTAL_TIMEOUT
        attempts = max(1, settings.PROVIDER_MAX_RETRIES + 1)
        where = f"{method} {url.path}"
        for attempt in range(1, attempts + 1):
            retry_headers: httpx.Headers | None = None
            try:
                async with asyncio.timeout_at(deadline):
                    answer = await self._send_once(method, url, headers, content, stream)
            except TimeoutError:
                raise ProviderError(
                    f"The provider did not finish answering {where} within "
                    f"{settings.PROVIDER_TOTAL_TIMEOUT:g} s (PROVIDER_TOTAL_TIMEOUT).",
                ) from None
            except httpx.TimeoutException as exc:
                error = ProviderError(
                    f"The provider did not answer {where} in time ({_kind(exc)}).", retryable=True
                )
            except httpx.TransportError as exc:
                error = ProviderError(
                    f"Could not reach the provider at {self.credential.host} ({_kind(exc)}).",
                    retryable=True,
                )
            except Unresolvable as exc:
                error = ProviderError(exc.message, retryable=True)
            else:
                if 200 <= answer.status < 300:
                    return answer, where
                if 300 <= answer.status < 400:
                    raise ProviderError(
                        f"The provider answered {where} with a redirect (HTTP {answer.status}); Scenery "
                        "does not follow redirects. Check the credential's base URL.",
                        status=answer.status,
                    )
                error = self._error(answer)
                if not error.retryable:
                    raise error
                retry_headers = answer.headers
            if attempt == attempts:
                error.message = f"{error.message} (gave up after {attempts} attempts)"
                error.args = (error.message,)
                raise error
            wait = retry_wait(attempt, retry_headers)
            if loop.time() + wait >= deadline:
                raise error
            log.info(
                "provider %s %s: %s; retry %d/%d in %.1fs",
                self.credential.host,
                where,
                error.status or "connection error",
                attempt,
                attempts - 1,
                wait,
            )
            if self.progress is not None:
                await self.progress(
                    {"retrying": attempt, "of": attempts - 1, "wait": round(wait, 2), "reason": error.message}
                )
            await _pause(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str],
        content: bytes | None,
        stream: bool = False,
    ) -> _Answer:
        target, host_header, extensions = await pinned_target(url)
        # Straight to the shared client's transport: the client's cookie jar, auth flow and
        # redirect handling would do nothing here (no cookies kept, the key is a header, redirects
        # are refused) and cost a tenth of a call's CPU.
        transport = shared_transport()
        request = httpx.Request(
            method,
            target,
            headers={**headers, **host_header},
            content=content,
            extensions={**extensions, "timeout": _timeout().as_dict()},
        )
        response = await transport.handle_async_request(request)
        kind = response.headers.get("content-type", "")
        if stream and 200 <= response.status_code < 300 and kind.startswith("text/event-stream"):
            return _Answer(response.status_code, response.headers, b"", response)
        try:
            data = await read_bounded(response)
        finally:
            await response.aclose()
        return _Answer(response.status_code, response.headers, data)

    def _decode(self, answer: _Answer, expect: str, where: str) -> Any:
        if expect == "bytes":
            return answer.data
        content_type = answer.headers.get("content-type", "").lower()
        if "html" in content_type or answer.data.lstrip()[:1] == b"<":
            raise ProviderError(
                f"The provider answered {where} with an HTML page instead of JSON (HTTP {answer.status}). "
                "Check the credential's base URL (for OpenAI it ends in /v1).",
                status=answer.status,
            )
        try:
            return jsonlib.loads(answer.data)
        except (ValueError, RecursionError):
            raise ProviderError(
                f"The provider's answer to {where} is not valid JSON (HTTP {answer.status}): "
                f"{self._snippet(answer.data)}",
                status=answer.status,
            ) from None

    def _error(self, answer: _Answer) -> ProviderError:
        status = answer.status
        fields: dict[str, Any] = {}
        try:
            payload = jsonlib.loads(answer.data) if answer.data else None
        except (ValueError, RecursionError):
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            detail = str(error.get("message") or "").strip()
            for key in ("type", "code", "param"):
                if error.get(key) is not None:
                    fields[key] = str(error[key])
        elif isinstance(error, str):
            detail = error
        elif answer.data.lstrip()[:1] == b"<":
            detail = "the answer was an HTML error page"
        else:
            detail = self._snippet(answer.data) or "no details"
        detail = self.redact(detail)[:1000]
        name = self.credential.name
        kind = f", {fields['type']}" if "type" in fields else ""
        if status == 401:
            message = (
                f"The credential '{name}' is invalid: the provider refused its API key (HTTP 401). "
                f"Enter a valid key under Credentials. Provider said: {detail}"
            )
        elif status == 403:
            message = f"The credential '{name}' is not allowed to do this (HTTP 403{kind}): {detail}"
        elif status == 429:
            message = f"The provider is limiting requests (HTTP 429{kind}): {detail}"
        elif status >= 500:
            message = f"The provider failed (HTTP {status}{kind}): {detail}"
        else:
            message = f"The provider refused the request (HTTP {status}{kind}): {detail}"
        return ProviderError(message, status=status, retryable=status == 429 or status >= 500, **fields)

    def _snippet(self, data: bytes) -> str:
        text = data[:200].decode("utf-8", "replace")
        text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
        return self.redact(text)[:160]


def _kind(exc: Exception) -> str:
    names = {
        "ConnectTimeout": "connection timed out",
        "ReadTimeout": "read timed out",
        "WriteTimeout": "write timed out",
        "PoolTimeout": "no free connection",
        "ConnectError": "connection failed",
        "ReadError": "connection broken",
        "RemoteProtocolError": "connection closed unexpectedly",
    }
    return names.get(exc.__class__.__name__, exc.__class__.__name__)


async def _pause(seconds: float) -> None:
    """The wait between retries (tests replace it)."""
    await asyncio.sleep(seconds)


def retry_wait(attempt: int, headers: Mapping[str, str] | None) -> float:
    """Seconds to wait before retry number `attempt`: as the provider says, else backoff + jitter."""
    cap = settings.PROVIDER_MAX_RETRY_WAIT
    told = _told_wait(headers) if headers is not None else None
    if told is not None:
        return max(0.0, min(cap, told))
    backoff = BACKOFF_BASE * 2 ** (attempt - 1)
    return min(cap, backoff + random.uniform(0, backoff))


def _told_wait(headers: Mapping[str, str]) -> float | None:
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    after = headers.get("retry-after")
    if not after:
        return None
    try:
        return float(after)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - time.time()


async def read_bounded(
    response: httpx.Response, limit: int | None = None, source: str = "The provider's answer"
) -> bytes:
    """The body, read streaming; an error once it passes `limit` (PROVIDER_MAX_RESPONSE_BYTES by
    default) bytes, decoded."""
    if limit is None:
        limit = settings.PROVIDER_MAX_RESPONSE_BYTES
    too_large = ProviderError(
        f"{source} is larger than {limit:,} bytes (PROVIDER_MAX_RESPONSE_BYTES); Scenery stopped reading it.",
        status=response.status_code,
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise ProviderError(f"The provider answered in an unsupported encoding ({encoding}).")
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        piece = raw
        if decoder is not None:
            try:
                # Bounded output: a compression bomb stops at the limit, not in memory.
                piece = decoder.decompress(raw, limit - size + 1)
            except zlib.error:
                raise ProviderError("The provider's compressed answer is corrupt.") from None
        size += len(piece)
        if size > limit:
            raise too_large
        chunks.append(piece)
    return b"".join(chunks)


async def send_guarded(
    method: str,
    url: httpx.URL,
    headers: Mapping[str, str],
    content: bytes | None,
    *,
    timeout: httpx.Timeout,
    limit: int | None = None,
) -> tuple[int, httpx.Headers, bytes]:
    """One request, no redirect followed and no retry: through the SSRF guard to the address it
    checked, on the shared connection pool, the body read up to `limit` bytes. For callers that
    follow redirects and retry themselves (the HTTP Request node)."""
    target, host_header, extensions = await pinned_target(url)
    request = httpx.Request(
        method,
        target,
        headers={**headers, **host_header},
        content=content,
        extensions={**extensions, "timeout": timeout.as_dict()},
    )
    response = await shared_transport().handle_async_request(request)
    try:
        data = await read_bounded(response, limit, source="The answer")
    finally:
        await response.aclose()
    return response.status_code, response.headers, data


def transport_problem(exc: Exception) -> str:
    """What went wrong on the way, in words ("connection failed", "read timed out")."""
    return _kind(exc)


# -- the model list ---------------------------------------------------------------------------------

_models_cache: dict[str, tuple[float, list[str]]] = {}


def _models_key(credential: Credential) -> str:
    material = f"{credential.pk}|{credential.base_url}|{credential.secret_encrypted}"
    return hashlib.sha256(material.encode()).hexdigest()


async def list_models(credential: Credential) -> list[str]:
    """The provider's model ids (GET /models), sorted; cached per credential for a minute."""
    key = _models_key(credential)
    cached = _models_cache.get(key)
    if cached and time.monotonic() - cached[0] < MODELS_CACHE_SECONDS:
        return list(cached[1])
    try:
        payload = await ProviderClient(credential).request("GET", "/models")
    except NodeError as exc:
        raise NodeError(
            f"Could not load the model list of '{credential.name}': {exc.message} "
            "You can still type a model ID.",
            **exc.details,
        ) from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise NodeError(
            f"The model list of '{credential.name}' is not in the expected format "
            '({"data": [{"id": ...}]}). You can still type a model ID.'
        )
    models = sorted({str(item["id"]) for item in data if isinstance(item, dict) and item.get("id")})
    _models_cache[key] = (time.monotonic(), models)
    return list(models)


def forget_models() -> None:
    """Empty the model-list cache (tests, credential edits elsewhere)."""
    _models_cache.clear()
