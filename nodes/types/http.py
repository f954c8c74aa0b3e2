"""HTTP Request: any API, with a credential of a generic kind (bearer, basic, header, query parameter).

- Every hop goes through the SSRF guard (nodes/transport/guard.py). Redirects are followed here, not
  by the client, so each new address is judged again and the credential is sent only to its own
  scheme, host and port: a redirect elsewhere goes on without it (and without the user's
  Authorization and Cookie headers).
- Bounded everywhere: the response size (PROVIDER_MAX_RESPONSE_BYTES), retries on 429/5xx and broken
  connections (honouring Retry-After, capped by PROVIDER_MAX_RETRY_WAIT), redirects, pages.
- A binary answer ("file") is stored as a teams.StoredFile; the output holds its id, name, type and
  size, and a later HTTP Request sends it as multipart with that reference.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import httpx
from django.conf import settings

from nodes.base import Field, NodeContext, NodeError, NodeType
from nodes.expressions import as_text
from nodes.transport.guard import OutboundRefused, Unresolvable, origin
from nodes.transport.http import ProviderError, retry_wait, send_guarded, transport_problem
from teams.crypto import SecretUnreadable
from teams.models import GENERIC_KINDS, CredentialKind, StoredFile

APP = "HTTP"
COLOR = "#2563eb"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MAX_REDIRECTS = 5
MAX_PAGES = 100
MAX_ITEMS = 10_000
# Set by the client from the body, or about the connection: a user header cannot replace them.
RESERVED = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "keep-alive"}
# Not carried to another origin on a redirect (what browsers and curl do too).
CROSS_ORIGIN_DROPPED = {"authorization", "cookie", "proxy-authorization"}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_refused(name: str, value: str) -> str | None:
    if not HEADER_NAME.fullmatch(name):
        return f"'{name[:64]}' is not a valid header name."
    if name.lower() in RESERVED:
        return f"Scenery sets {name} itself."
    if any(ord(ch) < 32 and ch != "\t" for ch in value):
        return f"The value of {name} contains a line break or another control character."
    return None


def _select(name: str, label: str, choices: tuple[tuple[str, str], ...], default: str, **more: Any) -> Field:
    return Field(
        name, label, kind="select", required=True, default=default, choices=choices, expressions=False, **more
    )


CREDENTIAL = Field(
    "credential",
    "Authentication",
    kind="credential",
    credential_kinds=tuple(str(kind) for kind in GENERIC_KINDS),
    help="Optional: a credential (bearer token, basic, a header or a query parameter). It is sent only to "
    "the scheme, host and port it was entered for, never to another host, not even after a redirect.",
)
METHOD = _select("method", "Method", tuple((m, m) for m in METHODS), "GET")
URL = Field(
    "url",
    "URL",
    required=True,
    max_length=2000,
    placeholder="https://api.example.com/items",
    help="An http:// or https:// address; it may hold expressions such as {{$1.body.id}}.",
)
QUERY = Field(
    "query", "Query parameters", kind="key_values", max_items=50, help="Added to the URL's query, encoded."
)
HEADERS = Field("headers", "Headers", kind="key_values", max_items=50, item_check=_header_refused)
BODY_KIND = _select(
    "body_kind",
    "Body",
    (
        ("none", "None"),
        ("json", "JSON"),
        ("form", "Form (URL-encoded)"),
        ("raw", "Raw text"),
        ("multipart", "Multipart form, with a file"),
    ),
    "none",
)
BODY_JSON = Field(
    "body_json",
    "JSON body",
    kind="json",
    required=True,
    show_if=(("body_kind", "json"),),
    placeholder='{"name": "{{$1.body.name}}"}',
)
BODY_FORM = Field(
    "body_form",
    "Form fields",
    kind="key_values",
    max_items=50,
    show_if=(("body_kind", "form"),),
)
MULTIPART_FIELDS = Field(
    "multipart_fields",
    "Multipart fields",
    kind="key_values",
    max_items=50,
    show_if=(("body_kind", "multipart"),),
    help="Text fields sent beside the file.",
)
FILE = Field(
    "file",
    "File",
    keeps_type=True,
    show_if=(("body_kind", "multipart"),),
    placeholder="{{$2.body}}",
    help="A file an earlier node received, e.g. {{$2.body}} of an HTTP Request answering with a file "
    "(or its file_id).",
)
FILE_FIELD = Field(
    "file_field",
    "File field name",
    default="file",
    max_length=100,
    show_if=(("body_kind", "multipart"),),
)
BODY_RAW = Field("body_raw", "Raw body", kind="long_text", show_if=(("body_kind", "raw"),))
RAW_TYPE = Field(
    "raw_content_type",
    "Content type",
    default="text/plain",
    max_length=200,
    show_if=(("body_kind", "raw"),),
)
RESPONSE = _select(
    "response",
    "Response",
    (("json", "JSON"), ("text", "Text"), ("file", "File (stored, referred to by id)")),
    "json",
    help="File: the bytes are stored for the team, and the output holds the file's id, name, type and "
    "size, for a later node (multipart).",
)
NEVER_ERROR = Field(
    "never_error",
    "Treat non-2xx as output",
    kind="toggle",
    default=False,
    expressions=False,
    help="An answer such as 404 or 500 becomes the output (with its status) instead of failing the node.",
)
TIMEOUT = Field(
    "timeout",
    "Timeout (seconds)",
    kind="number",
    default=30,
    min_value=1,
    max_value=300,
    help="For each attempt, from connecting to the last byte.",
)
RETRIES = Field(
    "retries",
    "Retries",
    kind="number",
    default=2,
    min_value=0,
    max_value=5,
    help="On 429, 5xx and broken connections; Retry-After is honoured.",
)
PAGINATION = _select(
    "pagination",
    "Pagination",
    (
        ("none", "None"),
        ("next_url", "Next URL from the response"),
        ("page", "Page number parameter"),
        ("offset", "Offset parameter"),
    ),
    "none",
    help="Requests page after page until there is no next URL or a page has no items.",
)
_PAGED = (("pagination", "page"),)
_OFFSET = (("pagination", "offset"),)
NEXT_PATH = Field(
    "next_path",
    "Next URL path",
    required=True,
    max_length=200,
    default="next",
    expressions=False,
    show_if=(("pagination", "next_url"),),
    help="Where the next page's URL is in the JSON answer, e.g. next or links.next.",
)
ITEMS_PATH = Field(
    "items_path",
    "Items path",
    max_length=200,
    expressions=False,
    placeholder="data",
    help="With pagination: where each page's list of items is (empty: the answer itself). The output's "
    "items are all pages' items.",
)
PAGE_PARAM = Field(
    "page_param", "Page parameter", default="page", max_length=100, expressions=False, show_if=_PAGED
)
OFFSET_PARAM = Field(
    "offset_param", "Offset parameter", default="offset", max_length=100, expressions=False, show_if=_OFFSET
)
PAGE_SIZE = Field(
    "page_size",
    "Page size",
    kind="number",
    default=100,
    min_value=1,
    max_value=10_000,
    show_if=_OFFSET,
    help="How much the offset grows per page.",
)
MAX_PAGES_FIELD = Field(
    "max_pages", "Maximum pages", kind="number", default=10, min_value=1, max_value=MAX_PAGES
)


def check_http(params: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    url = as_text(params.get("url")).strip()
    if url and "{{" not in url:
        problem = url_problem(url)
        if problem:
            problems["url"] = [problem]
    if params.get("pagination", "none") != "none" and params.get("response", "json") != "json":
        problems["pagination"] = ["Pagination reads JSON answers: set Response to JSON."]
    return problems


def url_problem(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"'{url[:200]}' is not a valid URL ({exc})."
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"'{url[:200]}' is not an http:// or https:// URL with a host."
    if parsed.userinfo:
        return "Put user names and passwords in a credential, not in the URL."
    return None


# -- authentication --------------------------------------------------------------------------------


class Auth:
    """A credential's secret, applied only to requests to the credential's own origin."""

    def __init__(self, ctx: NodeContext) -> None:
        self.credential = ctx.credential
        self.secret = ""
        self.origin: tuple[str, str, int] | None = None
        if self.credential is None:
            return
        if self.credential.kind not in GENERIC_KINDS:
            message = (
                f"Authentication: '{self.credential.name}' is an OpenAI-compatible key; choose a bearer, "
                "basic, header or query parameter credential."
            )
            raise NodeError(message, fields={"credential": [message]})
        try:
            self.secret = self.credential.get_secret()
        except SecretUnreadable:
            message = (
                f"Authentication: the secret of '{self.credential.name}' needs re-entry under Credentials."
            )
            raise NodeError(message, fields={"credential": [message]}) from None
        self.origin = origin(self.credential.base_url)

    def applies_to(self, url: httpx.URL) -> bool:
        return self.origin is not None and origin(url) == self.origin

    def apply(self, url: httpx.URL, headers: dict[str, str]) -> httpx.URL:
        if self.credential is None or not self.applies_to(url):
            return url
        kind = self.credential.kind
        name = self.credential.auth_name
        if kind == CredentialKind.BEARER:
            _put(headers, "Authorization", f"Bearer {self.secret}")
        elif kind == CredentialKind.BASIC:
            pair = base64.b64encode(f"{name}:{self.secret}".encode()).decode("ascii")
            _put(headers, "Authorization", f"Basic {pair}")
        elif kind == CredentialKind.HEADER:
            _put(headers, name, self.secret)
        elif kind == CredentialKind.QUERY:
            return url.copy_add_param(name, self.secret)
        return url


def _put(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing one of the same name in any case (the credential wins)."""
    for existing in [k for k in headers if k.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


# -- one request, with redirects and retries -----------------------------------------------------------


def _fail(field: str, message: str, **details: Any) -> NodeError:
    return NodeError(message, fields={field: [message]}, **details)


async def pause(seconds: float) -> None:
    """The wait between retries (tests replace it)."""
    await asyncio.sleep(seconds)


async def _exchange(
    ctx: NodeContext,
    params: dict[str, Any],
    auth: Auth,
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    content: bytes | None,
) -> tuple[int, httpx.Headers, bytes, httpx.URL]:
    """The final answer after redirects; retried on 429/5xx and broken connections."""
    attempts = int(params.get("retries", 2)) + 1
    seconds = float(params.get("timeout", 30))
    timeout = httpx.Timeout(seconds, connect=min(seconds, settings.PROVIDER_CONNECT_TIMEOUT))
    error: NodeError | None = None
    for attempt in range(1, attempts + 1):
        told: httpx.Headers | None = None
        try:
            async with asyncio.timeout(seconds):
                status, answer_headers, data, final = await _follow(
                    auth, method, url, headers, content, timeout
                )
        except TimeoutError:
            error = _fail("timeout", f"Timeout: no complete answer from {url.host} within {seconds:g} s.")
        except OutboundRefused as exc:
            raise _fail("url", f"URL: {exc.message}") from None
        except Unresolvable as exc:
            error = _fail("url", f"URL: {exc.message}")
        except httpx.TimeoutException as exc:
            error = _fail(
                "timeout",
                f"Timeout: {url.host} did not answer within {seconds:g} s ({transport_problem(exc)}).",
            )
        except httpx.TransportError as exc:
            error = _fail("url", f"URL: could not reach {url.host} ({transport_problem(exc)}).")
        except ProviderError as exc:  # too large, corrupt compression
            raise _fail("url", f"Response: {exc.message}", status=exc.status) from None
        else:
            if status != 429 and status < 500:
                return status, answer_headers, data, final
            error = NodeError(f"The server answered HTTP {status}.", status=status)
            told = answer_headers
            if attempt == attempts:
                return status, answer_headers, data, final  # judged by the caller (non-2xx option)
        if attempt == attempts:
            break
        wait = retry_wait(attempt, told)
        if ctx.progress is not None:
            await ctx.progress(
                {"retrying": attempt, "of": attempts - 1, "wait": round(wait, 2), "reason": error.message}
            )
        await pause(wait)
    assert error is not None
    if attempts > 1:
        error.message = f"{error.message} (gave up after {attempts} attempts)"
        error.args = (error.message,)
    raise error


async def _follow(
    auth: Auth,
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    content: bytes | None,
    timeout: httpx.Timeout,
) -> tuple[int, httpx.Headers, bytes, httpx.URL]:
    start = origin(url)
    for _ in range(MAX_REDIRECTS + 1):
        sent = dict(headers)
        if origin(url) != start:
            sent = {k: v for k, v in sent.items() if k.lower() not in CROSS_ORIGIN_DROPPED}
        target = auth.apply(url, sent)
        status, answer_headers, data = await send_guarded(
            method, target, sent, content, timeout=timeout, limit=settings.PROVIDER_MAX_RESPONSE_BYTES
        )
        location = answer_headers.get("location")
        if status not in (301, 302, 303, 307, 308) or not location:
            return status, answer_headers, data, url
        try:
            url = url.join(location)
        except (httpx.InvalidURL, ValueError):
            raise _fail(
                "url", f"URL: the server redirected to an invalid address ({location[:200]})."
            ) from None
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    raise _fail("url", f"URL: more than {MAX_REDIRECTS} redirects; Scenery stopped following them.")


# -- bodies ------------------------------------------------------------------------------------------


async def _body(ctx: NodeContext, params: dict[str, Any], headers: dict[str, str]) -> bytes | None:
    kind = params.get("body_kind", "none")
    lowered = {k.lower() for k in headers}

    def content_type(value: str) -> None:
        if "content-type" not in lowered:
            headers["Content-Type"] = value

    if kind == "json":
        content_type("application/json")
        return json.dumps(params.get("body_json"), ensure_ascii=False).encode()
    if kind == "form":
        content_type("application/x-www-form-urlencoded")
        return urlencode(list((params.get("body_form") or {}).items())).encode()
    if kind == "raw":
        content_type(as_text(params.get("raw_content_type")) or "text/plain")
        return as_text(params.get("body_raw")).encode()
    if kind == "multipart":
        stored = await _stored_file(ctx, params.get("file"))
        files = {}
        if stored is not None:
            field = as_text(params.get("file_field")).strip() or "file"
            files[field] = (stored.name, bytes(stored.data), stored.content_type)
        fields = params.get("multipart_fields") or {}
        request = httpx.Request("POST", "http://body.invalid/", data=fields, files=files)
        for name in [k for k in headers if k.lower() == "content-type"]:
            del headers[name]  # the boundary is ours
        headers["Content-Type"] = request.headers["content-type"]
        return request.read()
    return None


async def _stored_file(ctx: NodeContext, value: Any) -> StoredFile | None:
    if value is None or value == "":
        return None
    file_id = value.get("file_id") if isinstance(value, dict) else value
    if not isinstance(file_id, str):
        raise _fail("file", "File: give a file an earlier node received (its output, or its file_id).")
    try:
        key = uuid.UUID(file_id.strip())
    except ValueError:
        found = None
    else:
        found = await StoredFile.objects.for_team(ctx.team_id).filter(pk=key).afirst()
    if found is None:
        raise _fail("file", f"File: there is no stored file '{file_id[:80]}' in this team.")
    return found


# -- answers -------------------------------------------------------------------------------------------


def _filename(headers: httpx.Headers, url: httpx.URL) -> str:
    disposition = headers.get("content-disposition", "")
    match = re.search(r"filename\*=(?:UTF-8'')?([^;]+)|filename=\"?([^\";]+)\"?", disposition, re.IGNORECASE)
    name = ""
    if match:
        name = unquote((match.group(1) or match.group(2) or "").strip())
    if not name:
        name = unquote(urlsplit(str(url)).path.rstrip("/").rpartition("/")[2])
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "/\\").strip()
    return name[:255] or "download"


async def _decoded(
    ctx: NodeContext, params: dict[str, Any], status: int, headers: httpx.Headers, data: bytes, url: httpx.URL
) -> Any:
    kind = params.get("response", "json")
    if kind == "file" and 200 <= status < 300:
        content_type = headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        stored = await StoredFile.objects.acreate(
            team_id=ctx.team_id,
            name=_filename(headers, url),
            content_type=content_type[:255] or "application/octet-stream",
            size=len(data),
            data=data,
        )
        return stored.reference()
    text = data.decode(_charset(headers), "replace")
    if kind == "json" and data.strip():
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            if 200 <= status < 300:
                snippet = "".join(ch if ch.isprintable() else " " for ch in text[:120]).strip()
                raise _fail(
                    "response",
                    f"Response: the answer is not valid JSON (HTTP {status}, "
                    f"{headers.get('content-type', 'no content type')}): {snippet}. Choose Text to take it as it is.",
                    status=status,
                ) from None
            return text
    if kind == "json":
        return None
    return text


def _charset(headers: httpx.Headers) -> str:
    match = re.search(r"charset=([\w.-]+)", headers.get("content-type", ""), re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"


def _at(value: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


# -- the node ------------------------------------------------------------------------------------------


async def run_http(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    auth = Auth(ctx)
    url = httpx.URL(params["url"])
    for name, value in (params.get("query") or {}).items():
        url = url.copy_add_param(name, value)
    if auth.credential is not None and not auth.applies_to(url):
        shown = "{}://{}:{}".format(*origin(url))
        message = (
            f"Authentication: '{auth.credential.name}' may only be sent to {auth.credential.origin}, "
            f"not to {shown}. Choose another credential or none."
        )
        raise _fail("credential", message)
    headers = {"User-Agent": "Scenery", "Accept-Encoding": "gzip, deflate", **(params.get("headers") or {})}
    method = params.get("method", "GET")
    content = await _body(ctx, params, headers)
    mode = params.get("pagination", "none")
    if mode == "none":
        status, answer_headers, data, final = await _exchange(
            ctx, params, auth, method, url, headers, content
        )
        _judge(params, status, data)
        body = await _decoded(ctx, params, status, answer_headers, data, final)
        return {"status": status, "headers": dict(answer_headers), "body": body}
    return await _paginate(ctx, params, auth, method, url, headers, content)


def _judge(params: dict[str, Any], status: int, data: bytes) -> None:
    if 200 <= status < 300 or params.get("never_error"):
        return
    snippet = "".join(ch if ch.isprintable() else " " for ch in data[:300].decode("utf-8", "replace")).strip()
    raise NodeError(
        f"The server answered HTTP {status}: {snippet or 'no details'}. Turn on “Treat non-2xx as output” "
        "to route on the status instead.",
        status=status,
    )


async def _paginate(
    ctx: NodeContext,
    params: dict[str, Any],
    auth: Auth,
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    content: bytes | None,
) -> dict[str, Any]:
    mode = params["pagination"]
    limit = int(params.get("max_pages", 10))
    items: list[Any] = []
    pages = 0
    status = 0
    answer_headers = httpx.Headers()
    page_url: httpx.URL | None = url
    number = 1
    offset = 0
    while page_url is not None and pages < limit:
        if mode == "page":
            page_url = url.copy_set_param(as_text(params.get("page_param")) or "page", str(number))
        elif mode == "offset":
            page_url = url.copy_set_param(as_text(params.get("offset_param")) or "offset", str(offset))
        status, answer_headers, data, final = await _exchange(
            ctx, params, auth, method, page_url, headers, content
        )
        _judge(params, status, data)
        body = await _decoded(ctx, params, status, answer_headers, data, final)
        pages += 1
        if not 200 <= status < 300:
            break
        found = _at(body, as_text(params.get("items_path"))) if params.get("items_path") else body
        page_items = found if isinstance(found, list) else ([] if found is None else [found])
        items.extend(page_items)
        if len(items) > MAX_ITEMS:
            raise _fail(
                "max_pages", f"Maximum pages: the pages hold over {MAX_ITEMS:,} items; Scenery stopped."
            )
        if mode == "next_url":
            following = _at(body, as_text(params.get("next_path")))
            if not following or not isinstance(following, str):
                page_url = None
            else:
                try:
                    page_url = final.join(following)
                except (httpx.InvalidURL, ValueError):
                    raise _fail(
                        "next_path", f"Next URL path: '{following[:200]}' is not a valid URL."
                    ) from None
        elif not page_items:
            page_url = None
        else:
            number += 1
            offset += int(params.get("page_size", 100))
    return {
        "status": status,
        "headers": dict(answer_headers),
        "pages": pages,
        "complete": page_url is None,
        "items": items,
    }


HTTP_REQUEST = NodeType(
    key="http.request",
    app=APP,
    title="HTTP Request",
    description="Calls any web API: method, URL, query, headers, body; the answer as JSON, text or a file.",
    kind="action",
    fields=(
        CREDENTIAL,
        METHOD,
        URL,
        QUERY,
        HEADERS,
        BODY_KIND,
        BODY_JSON,
        BODY_FORM,
        MULTIPART_FIELDS,
        FILE,
        FILE_FIELD,
        BODY_RAW,
        RAW_TYPE,
        RESPONSE,
        NEVER_ERROR,
        TIMEOUT,
        RETRIES,
        PAGINATION,
        NEXT_PATH,
        ITEMS_PATH,
        PAGE_PARAM,
        OFFSET_PARAM,
        PAGE_SIZE,
        MAX_PAGES_FIELD,
    ),
    execute=run_http,
    check=check_http,
    color=COLOR,
    icon="globe",
    outputs=("main", "error"),
)

TYPES = (HTTP_REQUEST,)
