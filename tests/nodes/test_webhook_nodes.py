"""Trigger on Webhook and Webhook response."""

from __future__ import annotations

import pytest

from nodes import expressions
from nodes.base import NodeError
from nodes.forms import clean_for_run, params_from_form
from nodes.registry import get_node_type
from tests.nodes.helpers import error_texts, form_for, run_node

REQUEST = {
    "method": "POST",
    "headers": {"content-type": "application/json"},
    "query": {"lang": "en"},
    "body": {"question": "What is Scenery?"},
}


async def test_the_trigger_outputs_the_executions_input():
    assert await run_node("webhook.trigger", {}, None, trigger_input=REQUEST) == REQUEST


def test_the_trigger_shows_the_webhook_url_read_only_and_stores_nothing(cast):
    url = "http://127.0.0.1:8000/hooks/s3cr3t-token"
    form = form_for("webhook.trigger", {"webhook_url": "http://evil.example/"}, webhook_url=url)
    assert form.is_valid()
    assert params_from_form(form) == {}
    html = form_for("webhook.trigger", webhook_url=url).render()
    assert f'value="{url}"' in html and "readonly" in html and "data-copy=" in html


def test_the_response_defaults_to_status_200_as_one_response():
    assert form_for("webhook.response")["status"].value() == 200
    form = form_for("webhook.response", {"status": ""})
    assert form.is_valid(), form.errors
    assert clean_for_run(get_node_type("webhook.response"), params_from_form(form)) == {
        "status": 200,
        "redirect": False,
        "answer_as": "one",
    }


def test_the_response_may_answer_as_server_sent_events_and_nothing_else():
    assert form_for("webhook.response", {"status": "200", "answer_as": "sse"}).is_valid()
    form = form_for("webhook.response", {"status": "200", "answer_as": "websocket"})
    assert not form.is_valid()
    assert form.errors["answer_as"] == ["Choose one of: one, sse."]


@pytest.mark.parametrize(
    ("status", "ok"), [("99", False), ("100", True), ("599", True), ("600", False), ("abc", False)]
)
def test_the_status_code_is_between_100_and_599(status, ok):
    assert form_for("webhook.response", {"status": status}).is_valid() is ok


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Transfer-Encoding", "chunked", "is set by the server"),
        ("Set-Cookie", "session=x", "would act on visitors' sessions"),
        ("Connection", "close", "is set by the server"),
        ("X-Bad Name", "1", "is not a valid header name"),
        ("X-Split", "a\r\nSet-Cookie: x=1", "must be one line"),
    ],
)
def test_unsafe_headers_are_refused(name, value, message):
    form = form_for("webhook.response", {"headers-key": [name], "headers-value": [value]})
    assert message in error_texts(form, "headers")


def test_a_header_made_of_an_expression_is_checked_again_once_resolved():
    params = {"headers": {"X-Answer": "{{$1.body.x}}"}, "status": 200}
    resolved = expressions.resolve(params, {1: {"body": {"x": "a\r\nSet-Cookie: y=1"}}})
    with pytest.raises(NodeError) as caught:
        clean_for_run(get_node_type("webhook.response"), resolved)
    assert "must be one line" in " ".join(caught.value.details["fields"]["headers"])


async def test_a_text_body_is_answered_as_text():
    output = await run_node("webhook.response", {"status": 201, "body": "Hello"}, None)
    assert output == {
        "status": 201,
        "headers": {"Content-Type": "text/plain; charset=utf-8"},
        "body": "Hello",
    }


async def test_a_body_that_is_one_expression_keeps_its_json_type_and_is_answered_as_json():
    params = expressions.resolve({"body": "{{$2.choices}}", "status": "200"}, {2: {"choices": [{"n": 1}]}})
    output = await run_node("webhook.response", params, None)
    assert output == {"status": 200, "headers": {"Content-Type": "application/json"}, "body": [{"n": 1}]}


async def test_a_content_type_set_by_the_user_is_kept():
    output = await run_node(
        "webhook.response", {"body": "<b>hi</b>", "headers": {"content-type": "text/html"}}, None
    )
    assert output["headers"] == {"content-type": "text/html"}


def test_the_body_may_reference_upstream_outputs_only(cast):
    good = form_for("webhook.response", {"body": "{{$2.reply}}"}, upstream={1, 2}, known={1, 2, 3})
    assert good.is_valid(), good.errors
    bad = form_for("webhook.response", {"body": "{{$3.reply}}"}, upstream={1, 2}, known={1, 2, 3})
    assert "not upstream" in error_texts(bad, "body")
