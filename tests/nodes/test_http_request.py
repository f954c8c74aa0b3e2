"""HTTP Request against loopback servers the tests start (tests/stub_provider.py): bodies, answers,
files, authentication, redirects, retries, limits, pagination and bad input."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from nodes.base import NodeContext, NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from nodes.types import http as http_node
from teams.models import Credential, StoredFile
from tests.nodes.helpers import error_texts, form_for
from tests.stub_provider import Recorded, StubProvider, running_stub

KEY = "http.request"
SECRET = "s3cret-token-wxyz"


@pytest.fixture(autouse=True)
def _answering_routes(stub_provider: StubProvider) -> None:
    """Routes that take anything and answer 200 (the stub's other paths answer 404)."""
    for path in ("/v1/echo", "/v1/me", "/v1/upload"):
        stub_provider.handlers[path] = lambda rec: (200, {"ok": True}, {})


@pytest.fixture
def other_host() -> Iterator[StubProvider]:
    """A second loopback server: another origin (its port differs)."""
    yield from running_stub()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The node's waits between retries, recorded instead of slept."""
    seen: list[float] = []

    async def pause(seconds: float) -> None:
        seen.append(seconds)

    monkeypatch.setattr(http_node, "pause", pause)
    return seen


def generic(cast: Any, stub: StubProvider, kind: str, auth_name: str = "") -> Credential:
    credential = Credential(
        team=cast.team, name=f"{kind} key", kind=kind, auth_name=auth_name, base_url=stub.base_url
    )
    credential.set_secret(SECRET)
    credential.save()
    return credential


def at(stub: StubProvider, path: str) -> str:
    return stub.base_url + path


@pytest.fixture
def kind_credential(request: pytest.FixtureRequest, cast: Any, stub_provider: StubProvider) -> Credential:
    """A credential of the kind (and auth name) the test is parametrized with, for the stub."""
    kind, auth_name = request.param
    return generic(cast, stub_provider, kind, auth_name)


async def call(
    params: dict[str, Any], credential: Credential | None = None, team_id: Any = None, **context: Any
) -> Any:
    ctx = NodeContext(team_id=team_id, execution_id=None, node_number=2, credential=credential, **context)
    node_type = get_node_type(KEY)
    return await node_type.execute(ctx, clean_for_run(node_type, params))  # as the engine runs it


def reply(status: int, body: Any, **headers: str) -> tuple[int, Any, dict[str, str]]:
    return status, body, headers


# -- bodies ---------------------------------------------------------------------------------------


async def test_a_get_with_query_and_headers_outputs_status_headers_and_the_parsed_json(stub_provider):
    stub_provider.script("/v1/items", [reply(200, {"items": [1, 2]}, **{"X-Total": "2"})])
    output = await call(
        {"url": at(stub_provider, "/items"), "query": {"q": "a b&c"}, "headers": {"X-Trace": "t1"}}
    )
    sent = stub_provider.last("/v1/items")
    assert sent.method == "GET" and sent.path == "/v1/items?q=a+b%26c"
    assert sent.headers["x-trace"] == "t1"
    assert output["status"] == 200 and output["body"] == {"items": [1, 2]}
    assert output["headers"]["x-total"] == "2"


async def test_a_json_body_is_sent_as_json(stub_provider):
    await call(
        {
            "method": "POST",
            "url": at(stub_provider, "/echo"),
            "body_kind": "json",
            "body_json": '{"a": [1, "é"]}',
        }
    )
    sent = stub_provider.last("/v1/echo")
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {"a": [1, "é"]}


async def test_a_form_body_is_url_encoded(stub_provider):
    await call(
        {
            "method": "POST",
            "url": at(stub_provider, "/echo"),
            "body_kind": "form",
            "body_form": {"name": "Ann & Bo", "n": "1"},
        }
    )
    sent = stub_provider.last("/v1/echo")
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.raw == b"name=Ann+%26+Bo&n=1"


async def test_a_raw_body_goes_as_written_with_its_content_type(stub_provider):
    await call(
        {
            "method": "POST",
            "url": at(stub_provider, "/echo"),
            "body_kind": "raw",
            "body_raw": "<note>hi</note>",
            "raw_content_type": "application/xml",
        }
    )
    sent = stub_provider.last("/v1/echo")
    assert (sent.headers["content-type"], sent.raw) == ("application/xml", b"<note>hi</note>")


# -- answers and files ----------------------------------------------------------------------------


async def test_a_text_answer_is_output_as_text(stub_provider):
    stub_provider.script(
        "/v1/page", [reply(200, "héllo".encode("latin-1"), **{"Content-Type": "text/plain; charset=latin-1"})]
    )
    output = await call({"url": at(stub_provider, "/page"), "response": "text"})
    assert output["body"] == "héllo"


@pytest.mark.django_db(transaction=True)
async def test_a_file_answer_is_stored_and_the_output_holds_only_its_reference(cast, stub_provider):
    data = b"\x89PNG\r\n\x1a\n\x00binary"
    stub_provider.script(
        "/v1/logo",
        [
            reply(
                200,
                data,
                **{"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="logo.png"'},
            )
        ],
    )
    output = await call({"url": at(stub_provider, "/logo"), "response": "file"}, team_id=cast.team.pk)
    body = output["body"]
    assert {k: body[k] for k in ("name", "content_type", "size")} == {
        "name": "logo.png",
        "content_type": "image/png",
        "size": len(data),
    }
    assert "binary" not in json.dumps(output)
    stored = await StoredFile.objects.aget(pk=body["file_id"])
    assert bytes(stored.data) == data and stored.team_id == cast.team.pk


@pytest.mark.django_db(transaction=True)
async def test_a_stored_file_goes_out_again_as_multipart_with_its_name_and_type(cast, stub_provider):
    stub_provider.script("/v1/report.csv", [reply(200, b"a,b\n1,2\n", **{"Content-Type": "text/csv"})])
    first = await call({"url": at(stub_provider, "/report.csv"), "response": "file"}, team_id=cast.team.pk)

    await call(
        {
            "method": "POST",
            "url": at(stub_provider, "/upload"),
            "body_kind": "multipart",
            "file": first["body"],
            "file_field": "document",
            "multipart_fields": {"purpose": "import"},
        },
        team_id=cast.team.pk,
    )

    sent = stub_provider.last("/v1/upload")
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="purpose"\r\n\r\nimport' in sent.raw
    assert b'name="document"; filename="report.csv"' in sent.raw
    assert b"Content-Type: text/csv\r\n\r\na,b\n1,2\n" in sent.raw


@pytest.mark.django_db(transaction=True)
async def test_another_teams_file_is_not_found(cast, stub_provider):
    theirs = await StoredFile.objects.acreate(team=cast.other_team, name="x.txt", size=1, data=b"x")
    with pytest.raises(
        NodeError, match=f"File: there is no stored file '{theirs.pk}' in this team"
    ) as caught:
        await call(
            {
                "method": "POST",
                "url": at(stub_provider, "/upload"),
                "body_kind": "multipart",
                "file": str(theirs.pk),
            },
            team_id=cast.team.pk,
        )
    assert caught.value.details["fields"] == {"file": [caught.value.message]}
    assert not stub_provider.requests


# -- authentication ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind_credential", "where", "expected"),
    [
        (("bearer", ""), "authorization", f"Bearer {SECRET}"),
        (("basic", "ann"), "authorization", "Basic " + base64.b64encode(f"ann:{SECRET}".encode()).decode()),
        (("header", "X-API-Key"), "x-api-key", SECRET),
        (("query", "api_key"), "?", f"api_key={SECRET}"),
    ],
    indirect=["kind_credential"],
)
async def test_each_kind_of_credential_is_sent_its_own_way(stub_provider, kind_credential, where, expected):
    await call({"url": at(stub_provider, "/me")}, kind_credential)
    sent = stub_provider.last("/v1/me")
    if where == "?":
        assert sent.path.endswith(expected)
    else:
        assert sent.headers[where] == expected


@pytest.mark.parametrize(
    "kind_credential", [("bearer", ""), ("header", "X-API-Key"), ("query", "api_key")], indirect=True
)
async def test_a_redirect_to_another_host_goes_on_without_the_credential(
    stub_provider, other_host, kind_credential
):
    credential = kind_credential
    stub_provider.script("/v1/start", [reply(302, b"", Location=at(other_host, "/landing"))])
    other_host.script("/v1/landing", [reply(200, {"landed": True})])

    output = await call({"url": at(stub_provider, "/start"), "headers": {"Cookie": "session=1"}}, credential)

    assert output["body"] == {"landed": True}
    landed = other_host.last("/v1/landing")
    assert SECRET not in json.dumps(landed.headers) + landed.path
    assert "authorization" not in landed.headers and "cookie" not in landed.headers
    assert (
        SECRET in json.dumps(stub_provider.last("/v1/start").headers) + stub_provider.last("/v1/start").path
    )


@pytest.mark.parametrize("kind_credential", [("bearer", "")], indirect=True)
async def test_a_redirect_within_the_credentials_host_keeps_it(stub_provider, kind_credential):
    credential = kind_credential
    stub_provider.script("/v1/old", [reply(301, b"", Location="/v1/new")])
    stub_provider.script("/v1/new", [reply(200, {"moved": True})])
    output = await call({"url": at(stub_provider, "/old")}, credential)
    assert output["body"] == {"moved": True}
    assert stub_provider.last("/v1/new").headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize("kind_credential", [("bearer", "")], indirect=True)
async def test_a_credential_for_another_host_is_refused_before_anything_is_sent(other_host, kind_credential):
    credential = kind_credential
    with pytest.raises(
        NodeError, match=r"Authentication: 'bearer key' may only be sent to http://127\.0\.0\.1:\d+"
    ) as caught:
        await call({"url": at(other_host, "/me")}, credential)
    assert "credential" in caught.value.details["fields"]
    assert not other_host.requests


async def test_an_openai_key_is_not_an_http_credential(stub_credential, stub_provider):
    with pytest.raises(NodeError, match="Authentication: 'Stub' is an OpenAI-compatible key"):
        await call({"url": at(stub_provider, "/me")}, stub_credential)


def test_the_node_form_offers_only_credentials_of_generic_kinds(cast, stub_provider, stub_credential):
    bearer = generic(cast, stub_provider, "bearer")
    form = form_for(KEY, None, team=cast.team)
    offered = list(form.fields["credential"].queryset)  # type: ignore[attr-defined]
    assert offered == [bearer]


# -- retries, limits, status ------------------------------------------------------------------------


async def test_429_and_503_are_retried_after_the_wait_the_server_asks_for(stub_provider, waits):
    stub_provider.script(
        "/v1/busy",
        [
            reply(429, {"e": 1}, **{"Retry-After": "3"}),
            reply(503, {"e": 2}, **{"Retry-After": "1"}),
            reply(200, {"ok": 1}),
        ],
    )
    output = await call({"url": at(stub_provider, "/busy"), "retries": 2})
    assert output["body"] == {"ok": 1}
    assert waits == [3.0, 1.0]
    assert len(stub_provider.requests) == 3


async def test_retries_are_bounded_and_the_last_answer_fails_the_node(stub_provider, waits):
    stub_provider.script("/v1/down", [reply(500, {"e": n}) for n in range(5)])
    with pytest.raises(NodeError, match="The server answered HTTP 500") as caught:
        await call({"url": at(stub_provider, "/down"), "retries": 1})
    assert caught.value.details["status"] == 500
    assert len(stub_provider.requests) == 2 and len(waits) == 1


async def test_a_404_is_not_retried_and_fails_the_node_with_its_status(stub_provider, waits):
    with pytest.raises(NodeError, match="HTTP 404.*Treat non-2xx as output"):
        await call({"url": at(stub_provider, "/missing")})
    assert len(stub_provider.requests) == 1 and waits == []


async def test_with_non_2xx_as_output_a_404_is_the_output(stub_provider):
    output = await call({"url": at(stub_provider, "/missing"), "never_error": True})
    assert output["status"] == 404
    assert "stub has no route" in output["body"]["error"]["message"]


async def test_an_answer_over_the_size_limit_is_a_clear_error(stub_provider, settings):
    settings.PROVIDER_MAX_RESPONSE_BYTES = 1000
    stub_provider.script("/v1/big", [reply(200, b"x" * 5000, **{"Content-Type": "text/plain"})])
    with pytest.raises(NodeError, match="Response: The answer is larger than 1,000 bytes"):
        await call({"url": at(stub_provider, "/big"), "response": "text"})


async def test_an_answer_that_is_not_json_says_so_and_suggests_text(stub_provider):
    stub_provider.script("/v1/html", [reply(200, b"<html>hi</html>", **{"Content-Type": "text/html"})])
    with pytest.raises(NodeError, match="Response: the answer is not valid JSON.*Choose Text") as caught:
        await call({"url": at(stub_provider, "/html")})
    assert "response" in caught.value.details["fields"]


# -- pagination ------------------------------------------------------------------------------------


async def test_next_url_pagination_follows_until_there_is_no_next(stub_provider):
    stub_provider.script(
        "/v1/list",
        [
            reply(200, {"data": [1, 2], "next": at(stub_provider, "/list?cursor=b")}),
            reply(200, {"data": [3], "next": "/v1/list?cursor=c"}),
            reply(200, {"data": [4], "next": None}),
        ],
    )
    output = await call(
        {
            "url": at(stub_provider, "/list"),
            "pagination": "next_url",
            "next_path": "next",
            "items_path": "data",
        }
    )
    assert output["items"] == [1, 2, 3, 4]
    assert (output["pages"], output["complete"]) == (3, True)


async def test_pagination_stops_at_the_maximum_pages(stub_provider):
    def endless(rec: Recorded) -> tuple[int, Any, dict[str, str]]:
        return 200, {"data": [rec.path], "next": "/v1/forever?again=1"}, {}

    stub_provider.handlers["/v1/forever"] = endless
    output = await call(
        {"url": at(stub_provider, "/forever"), "pagination": "next_url", "items_path": "data", "max_pages": 3}
    )
    assert (output["pages"], output["complete"]) == (3, False)
    assert len(stub_provider.requests) == 3


@pytest.mark.parametrize(
    ("mode", "param", "values"), [("page", "page", ["1", "2", "3"]), ("offset", "offset", ["0", "2", "4"])]
)
async def test_page_and_offset_pagination_stop_at_the_first_empty_page(stub_provider, mode, param, values):
    pages = [[1, 2], [3, 4], []]
    stub_provider.script("/v1/rows", [reply(200, {"rows": rows}) for rows in pages])
    output = await call(
        {"url": at(stub_provider, "/rows"), "pagination": mode, "items_path": "rows", "page_size": 2}
    )
    assert output["items"] == [1, 2, 3, 4] and output["pages"] == 3
    assert [r.path.split(f"{param}=")[1] for r in stub_provider.requests] == values


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://user:pw@example.com/"])
async def test_a_bad_url_is_an_error_naming_the_field(url):
    with pytest.raises(NodeError, match="URL: ") as caught:
        await call({"url": url})
    assert "url" in caught.value.details["fields"]


def test_the_form_refuses_a_bad_url_and_a_body_that_is_not_json(cast):
    form = form_for(
        KEY,
        {"url": "gopher://x", "method": "POST", "body_kind": "json", "body_json": "{nope"},
        team=cast.team,
    )
    assert "not an http:// or https:// URL" in error_texts(form, "url")
    assert "This is not valid JSON" in error_texts(form, "body_json")


async def test_a_body_that_is_not_json_after_expressions_is_an_error_naming_the_field(stub_provider):
    with pytest.raises(NodeError, match="JSON body: This is not valid JSON") as caught:
        await call(
            {
                "method": "POST",
                "url": at(stub_provider, "/echo"),
                "body_kind": "json",
                "body_json": "{'a': 1}",
            }
        )
    assert "body_json" in caught.value.details["fields"]
    assert not stub_provider.requests


async def test_an_unreachable_host_is_a_clear_error_after_the_retries(waits):
    with pytest.raises(
        NodeError,
        match=r"URL: could not reach 127\.0\.0\.1 \(connection failed\)\. \(gave up after 2 attempts\)",
    ):
        await call({"url": "http://127.0.0.1:9/x", "retries": 1})


async def test_a_reserved_header_is_refused_at_its_field(stub_provider):
    with pytest.raises(NodeError, match="Scenery sets Host itself") as caught:
        await call({"url": at(stub_provider, "/x"), "headers": {"Host": "evil.example"}})
    assert "headers" in caught.value.details["fields"]


# -- hostile (map items 51–53) ----------------------------------------------------------------------


async def test_a_redirect_to_a_private_address_is_refused_by_the_guard(stub_provider, other_host, settings):
    # Only the first server is allowed (as an administrator would allow one origin): the redirect
    # to another loopback port is judged again and refused, and nothing reaches it.
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.OUTBOUND_ALLOWED_ORIGINS = [stub_provider.base_url.removesuffix("/v1")]
    stub_provider.script("/v1/hop", [reply(302, b"", Location=at(other_host, "/internal"))])
    with pytest.raises(NodeError, match="URL: Scenery does not call '127.0.0.1'") as caught:
        await call({"url": at(stub_provider, "/hop")})
    assert "url" in caught.value.details["fields"]
    assert not other_host.requests


async def test_a_huge_compressed_answer_stops_at_the_limit(stub_provider, settings):
    import gzip

    settings.PROVIDER_MAX_RESPONSE_BYTES = 100_000
    bomb = gzip.compress(b"\0" * 50_000_000)
    stub_provider.script(
        "/v1/bomb", [reply(200, bomb, **{"Content-Encoding": "gzip", "Content-Type": "text/plain"})]
    )
    with pytest.raises(NodeError, match="larger than 100,000 bytes"):
        await call({"url": at(stub_provider, "/bomb"), "response": "text"})


@pytest.mark.parametrize("kind_credential", [("header", "X-API-Key")], indirect=True)
async def test_endless_redirects_stop_and_never_carry_the_credential_away(
    stub_provider, other_host, kind_credential
):
    credential = kind_credential
    stub_provider.handlers["/v1/loop"] = lambda rec: (302, b"", {"Location": at(other_host, "/loop")})
    other_host.handlers["/v1/loop"] = lambda rec: (302, b"", {"Location": at(stub_provider, "/loop")})
    with pytest.raises(NodeError, match="URL: more than 5 redirects"):
        await call({"url": at(stub_provider, "/loop")}, credential)
    assert all("x-api-key" not in r.headers for r in other_host.requests)
    assert len(stub_provider.requests) + len(other_host.requests) == 6


@pytest.mark.django_db(transaction=True)
async def test_a_file_that_is_not_an_id_is_an_error_at_the_file_field(cast, stub_provider):
    with pytest.raises(NodeError, match="File: there is no stored file 'report.pdf' in this team"):
        await call(
            {
                "method": "POST",
                "url": at(stub_provider, "/upload"),
                "body_kind": "multipart",
                "file": "report.pdf",
            },
            team_id=cast.team.pk,
        )
    assert not stub_provider.requests


async def test_a_server_slower_than_the_timeout_is_an_error_at_the_timeout_field(stub_provider):
    stub_provider.delay = 2.5
    with pytest.raises(
        NodeError,
        match=r"Timeout: 127\.0\.0\.1 did not answer within 1 s|Timeout: no complete answer from 127\.0\.0\.1 within 1 s",
    ) as caught:
        await call({"url": at(stub_provider, "/slow"), "timeout": 1, "retries": 0})
    assert "timeout" in caught.value.details["fields"]
