"""A Webhook response may not send headers that act on the browser's session with Scenery's own
origin — a redirect elsewhere, a reload, a forced logout, cookies, security policies — except a
redirect when its node says so (issue 16, item 5; item 45 of the map). One rule
(nodes/types/webhook.py, response_header_refused) serves the node's form, its run and the answer."""

from __future__ import annotations

import httpx
import pytest

from nodes.types.webhook import response_header_refused
from scenarios.models import Execution
from scenarios.runtime import webhooks
from tests.hostile.webhook_calls import hook_url, responder, wait_for_end
from tests.nodes.helpers import error_texts, form_for

ATTACK = {
    "Location": "https://evil.example/phish",
    "Refresh": "0; url=https://evil.example/phish",
    "Clear-Site-Data": '"cookies"',
}


def headers_form(headers: dict[str, str], **more: str):
    data = {"headers-key": list(headers), "headers-value": list(headers.values()), "status": "302", **more}
    return form_for("webhook.response", data, upstream=[1], known=[1])


@pytest.mark.parametrize(
    "name",
    [
        "Set-Cookie",
        "Clear-Site-Data",
        "Refresh",
        "Content-Security-Policy",
        "Strict-Transport-Security",
        "Service-Worker-Allowed",
        "WWW-Authenticate",
    ],
)
def test_headers_acting_on_the_session_with_scenerys_site_are_refused_by_name(name):
    errors = error_texts(headers_form({name: "x"}), "headers")
    assert f"The header '{name}' would act on visitors' sessions with Scenery's own site" in errors


def test_location_needs_the_redirect_option_and_is_accepted_with_it():
    errors = error_texts(headers_form({"Location": "https://example.com/"}), "headers")
    assert "The header 'Location' sends the caller's browser elsewhere" in errors
    assert "Redirect the caller" in errors
    assert headers_form({"Location": "https://example.com/"}, redirect="on").is_valid()


def test_a_refused_header_whose_value_is_an_expression_is_refused_by_its_name_at_once():
    errors = error_texts(headers_form({"Refresh": "{{$1.body.url}}"}), "headers")
    assert "The header 'Refresh' would act on visitors' sessions" in errors


def test_framing_and_broken_headers_keep_their_reasons():
    assert "is set by the server" in (response_header_refused("Transfer-Encoding", "chunked") or "")
    assert "not a valid header name" in (response_header_refused("X Bad", "1") or "")
    assert "one line" in (response_header_refused("X-Split", "a\r\nb") or "")
    assert response_header_refused("X-Order", "42") is None
    assert response_header_refused("Access-Control-Allow-Origin", "*") is None


def test_an_answer_from_stored_data_drops_every_refused_header():
    """An older run, or data stored behind the node's back, is checked again when answering."""
    stored = {"status": 302, "body": "", "headers": {**ATTACK, "Set-Cookie": "sessionid=x", "X-Fine": "1"}}
    reply = webhooks.answer(Execution(response=stored))
    sent = {name.lower() for name in reply.headers}
    assert not sent & {"location", "refresh", "clear-site-data", "set-cookie"}
    assert reply.headers["X-Fine"] == "1"
    assert reply.headers["Content-Security-Policy"] == "sandbox"
    redirecting = webhooks.answer(Execution(response={**stored, "redirect": True}))
    assert redirecting.headers["Location"] == "https://evil.example/phish"
    assert "Refresh" not in redirecting.headers


@pytest.mark.django_db(transaction=True)
def test_an_imported_node_answering_with_a_redirect_reload_and_logout_sends_none_of_them(asgi_server, cast):
    scenario = responder(cast.team, body="bye", status=302, headers=ATTACK)
    response = httpx.get(hook_url(asgi_server, scenario), timeout=30, follow_redirects=False)
    assert response.status_code == 500
    assert not {"location", "refresh", "clear-site-data"} & set(response.headers)
    execution = wait_for_end(response.json()["execution_id"])
    assert execution.status == Execution.Status.FAILED
    error = str(execution.node_runs.get(node_number=2).error)
    assert "The header 'Refresh' would act on visitors' sessions" in error


@pytest.mark.django_db(transaction=True)
def test_a_node_with_the_redirect_option_redirects_the_caller(asgi_server, cast):
    scenario = responder(
        cast.team, body="", status=302, headers={"Location": "https://example.com/thanks"}, redirect=True
    )
    response = httpx.get(hook_url(asgi_server, scenario), timeout=30, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/thanks"
