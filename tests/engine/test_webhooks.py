"""Webhooks end to end, over a real ASGI server (uvicorn running the project's application)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db.models import F

from durable import executor
from durable.leases import Lease
from scenarios import test_calls
from scenarios.models import Execution, Node, NodeRun, Scenario
from scenarios.runtime import engine, jobs, webhooks
from tests.engine.conftest import build, runs_of
from tests.ports import BRANCH, branch_type
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES, NS = Execution.Status, NodeRun.Status


def _hook(server, scenario: Scenario) -> str:
    return f"{server.url}/hooks/{scenario.webhook_token}"


def _responder(cast, body: str = "{{$1.body}}", **more: Any) -> Scenario:
    return build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {"status": 200, "body": body, **more})},
        [(1, 2)],
    )


def test_the_caller_gets_the_webhook_response_nodes_answer(asgi_server, cast, stub_credential, stub_provider):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "openai.send_message",
                {"message": "{{$1.body.question}}", "model": "stub-model"},
                stub_credential,
            ),
            3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(_hook(asgi_server, scenario), json={"question": "What is Scenery?"}, timeout=20)
    assert response.status_code == 200, response.text
    assert response.text == "echo: What is Scenery?"
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-security-policy"] == "sandbox"
    execution = wait_for_end(response.headers["x-execution-id"])
    assert execution.status == ES.SUCCEEDED and execution.trigger == Execution.Trigger.WEBHOOK
    assert (execution.response or {})["body"] == "echo: What is Scenery?"
    assert stub_provider.last("/v1/chat/completions").body["messages"] == [
        {"role": "user", "content": "What is Scenery?"}
    ]


def test_a_json_body_answers_as_json_with_the_nodes_status_and_headers(asgi_server, cast):
    scenario = _responder(cast, status=201, headers={"X-Answer": "yes"})
    response = httpx.post(_hook(asgi_server, scenario), json={"a": [1, 2, {"b": None}]}, timeout=20)
    assert response.status_code == 201
    assert response.json() == {"a": [1, 2, {"b": None}]}
    assert response.headers["x-answer"] == "yes"


def test_without_a_response_node_the_caller_gets_202_and_the_execution_id(asgi_server, cast):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.q}}"})}, [(1, 2)]
    )
    response = httpx.post(_hook(asgi_server, scenario), json={"q": "hi"}, timeout=20)
    assert response.status_code == 202
    execution = wait_for_end(response.json()["execution_id"])
    assert execution.status == ES.SUCCEEDED
    assert runs_of(execution)[2].output["params"] == {"q": "hi"}


def test_unknown_and_inactive_webhooks_are_the_same_404(asgi_server, cast):
    scenario = _responder(cast)
    Scenario.objects.filter(pk=scenario.pk).update(active=False)
    inactive = httpx.post(_hook(asgi_server, scenario), json={}, timeout=20)
    unknown = httpx.post(f"{asgi_server.url}/hooks/no-such-token", json={}, timeout=20)
    assert inactive.status_code == unknown.status_code == 404
    assert inactive.content == unknown.content
    assert not Execution.objects.exists()


def test_get_requests_start_the_scenario_with_their_query(asgi_server, cast):
    scenario = _responder(cast, body="{{$1.query}}")
    response = httpx.get(
        _hook(asgi_server, scenario), params=[("a", "1"), ("b", "x"), ("b", "y")], timeout=20
    )
    assert response.json() == {"a": "1", "b": ["x", "y"]}


def test_cookies_and_authorization_headers_never_reach_the_scenario(asgi_server, cast):
    scenario = _responder(cast, body="{{$1.headers}}")
    response = httpx.post(
        _hook(asgi_server, scenario),
        content=b"{}",
        headers={
            "Authorization": "Bearer sk-caller",
            "Proxy-Authorization": "Basic eHg=",
            "Cookie": "sessionid=abc",
            "X-Custom": "kept",
        },
        timeout=20,
    )
    headers = response.json()
    assert headers["x-custom"] == "kept"
    assert not {"authorization", "proxy-authorization", "cookie"} & set(headers)
    execution = Execution.objects.get()
    assert "sk-caller" not in str(execution.input) and "sessionid" not in str(execution.input)


def test_expressions_arriving_in_a_webhook_body_stay_literal(asgi_server, cast):
    scenario = _responder(cast, body="{{$1.body.q}}")
    for payload in ("{{$1.body.secret}}", "={{7*7}}", "${7*7}", "{{ ''.__class__ }}"):
        response = httpx.post(_hook(asgi_server, scenario), json={"q": payload, "secret": "x"}, timeout=20)
        assert response.text == payload


def test_a_body_shaped_like_upload_metadata_is_only_data(asgi_server, cast):
    scenario = _responder(cast)
    payload = {"files": {"f": {"filepath": "/etc/passwd"}}}
    response = httpx.post(_hook(asgi_server, scenario), json=payload, timeout=20)
    assert response.json() == payload


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        (b"plain words", "text/plain", "plain words"),
        (
            b"a=1&b=two&b=three&empty=",
            "application/x-www-form-urlencoded",
            {"a": "1", "b": ["two", "three"], "empty": ""},
        ),
        # curl -d without a Content-Type sends a form type; a body that is JSON is read as JSON.
        (b'{"question": "hi"}', "application/x-www-form-urlencoded", {"question": "hi"}),
        (b"<xml>not parsed</xml>", "application/xml", "<xml>not parsed</xml>"),
        (
            b"--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\nhi\r\n--b--",
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\nhi\r\n--b--",
        ),
        (b"", "application/json", None),
    ],
)
def test_bodies_are_read_as_json_form_fields_or_text_by_our_rules(
    asgi_server, cast, content, content_type, expected
):
    scenario = _responder(cast, body="{{$1}}")
    response = httpx.post(
        _hook(asgi_server, scenario), content=content, headers={"Content-Type": content_type}, timeout=20
    )
    assert response.status_code == 200, response.text
    assert response.json()["body"] == expected


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nested too deeply"),
        (b"[" * 70 + b"]" * 70, "application/json", "nested too deeply"),
        (b'{"a": ', "application/json", "not valid JSON"),
        (b'{"a": "\xff\xfe"}', "application/json", "not valid UTF-8"),
        (b'{"a": "nul \\u0000 inside"}', "application/json", "NUL character"),
        (b'{"a": "\\ud800"}', "application/json", "unpaired surrogate"),
        (b"text with \x00 nul", "text/plain", "NUL character"),
    ],
)
def test_unreadable_bodies_get_a_clear_400_and_a_failed_execution_in_history(
    asgi_server, cast, content, content_type, message
):
    scenario = _responder(cast)
    response = httpx.post(
        _hook(asgi_server, scenario), content=content, headers={"Content-Type": content_type}, timeout=20
    )
    assert response.status_code == 400
    assert message in response.json()["error"]
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert execution.status == ES.FAILED and message in execution.error
    assert not execution.node_runs.exists()


def test_a_body_with_a_bom_is_read(asgi_server, cast):
    scenario = _responder(cast)
    response = httpx.post(_hook(asgi_server, scenario), content=b'\xef\xbb\xbf{"a": 1}', timeout=20)
    assert response.json() == {"a": 1}


def test_a_body_over_the_limit_is_refused_with_413(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    scenario = _responder(cast)
    response = httpx.post(_hook(asgi_server, scenario), content=b"x" * 1001, timeout=20)
    assert response.status_code == 413
    assert "over the limit of 1000 bytes" in response.json()["error"]
    assert (
        httpx.post(_hook(asgi_server, scenario), content=b'"' + b"x" * 998 + b'"', timeout=20).status_code
        == 200
    )


def test_a_chunked_body_without_content_length_is_cut_off_at_the_limit(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 10_000
    scenario = _responder(cast)
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(5_000):  # 50 MB if it were all read
            sent += 10_000
            yield b"y" * 10_000

    try:
        response = httpx.post(_hook(asgi_server, scenario), content=chunks(), timeout=20)
    except httpx.RemoteProtocolError:
        response = None  # the server may close while we are still sending; then read it raw below
    if response is not None:
        assert response.status_code == 413
    assert sent < 50_000_000
    assert not Execution.objects.exists()


def test_a_raw_chunked_request_gets_413_before_it_ends(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    scenario = _responder(cast)
    with socket.create_connection((asgi_server.host, asgi_server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /hooks/{scenario.webhook_token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n".encode()
        )
        chunk = b"z" * 600
        for _ in range(3):
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        # No final chunk: the server answers without waiting for the rest.
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")


def test_the_caller_gets_504_with_the_execution_id_when_the_scenario_is_too_slow(
    asgi_server, cast, settings, gate
):
    settings.WEBHOOK_RESPONSE_DEADLINE = 0.5
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.gate", {}),
            3: ("webhook.response", {"body": "late"}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(_hook(asgi_server, scenario), json={}, timeout=20)
    assert response.status_code == 504
    assert not Execution.objects.get(pk=response.json()["execution_id"]).is_terminal  # $2 still waits
    gate.set()
    execution = wait_for_end(response.json()["execution_id"])
    assert execution.status == ES.SUCCEEDED  # the run goes on and is in history
    assert (execution.response or {})["body"] == "late"


def test_a_scenario_that_fails_before_answering_gives_500_with_the_execution_id(asgi_server, cast):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("test.fail", {}), 3: ("webhook.response", {"body": "never"})},
        [(1, 2), (2, 3)],
    )
    response = httpx.post(_hook(asgi_server, scenario), json={}, timeout=20)
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "The scenario failed before its Webhook response node answered."
    assert Execution.objects.get(pk=body["execution_id"]).status == ES.FAILED


def test_a_response_node_down_a_route_not_taken_answers_that_the_run_finished_without_answering(
    asgi_server, cast
):
    with branch_type():
        scenario = build(
            cast.team,
            {
                1: ("webhook.trigger", {}),
                2: (BRANCH, {"when": "{{$1.body.answer}}"}),
                3: ("webhook.response", {"body": "answered"}),
            },
            [(1, 2), (2, 3, "true")],
        )
        answered = httpx.post(_hook(asgi_server, scenario), json={"answer": True}, timeout=20)
        silent = httpx.post(_hook(asgi_server, scenario), json={"answer": False}, timeout=20)
    assert answered.status_code == 200 and answered.text == "answered"
    assert silent.status_code == 200
    assert silent.json()["status"] == "succeeded"
    assert "route the run did not take" in silent.json()["message"]
    execution = Execution.objects.get(pk=silent.json()["execution_id"])
    assert execution.status == ES.SUCCEEDED and runs_of(execution)[3].status == NS.SKIPPED


def test_the_caller_is_answered_as_soon_as_the_response_node_ran(asgi_server, cast, gate):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("webhook.response", {"body": "early"}),
            3: ("test.gate", {}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(_hook(asgi_server, scenario), json={}, timeout=20)
    assert response.text == "early"
    assert not Execution.objects.get(pk=response.headers["x-execution-id"]).is_terminal  # $3 still waits
    gate.set()
    assert wait_for_end(response.headers["x-execution-id"]).status == ES.SUCCEEDED


def test_other_methods_are_refused(asgi_server, cast):
    scenario = _responder(cast)
    response = httpx.put(_hook(asgi_server, scenario), json={}, timeout=20)
    assert response.status_code == 405
    assert not Execution.objects.exists()


def test_a_204_answer_carries_no_body(asgi_server, cast):
    scenario = _responder(cast, status=204, body="ignored")
    response = httpx.post(_hook(asgi_server, scenario), json={}, timeout=20)
    assert response.status_code == 204 and response.content == b""


def test_the_embedded_executor_runs_a_webhook_execution_without_a_claim_round(asgi_server, cast, monkeypatch):
    real = executor.SOURCES["executions"]
    never_claims = executor.JobSource("executions", lambda owner, seconds, began: None, real.run, None)
    monkeypatch.setitem(executor.SOURCES, "executions", never_claims)
    scenario = _responder(cast, body="{{$1.body.q}}")
    response = httpx.post(_hook(asgi_server, scenario), json={"q": "fast"}, timeout=20)
    assert response.text == "fast"
    execution = wait_for_end(response.headers["x-execution-id"])
    assert execution.attempt == 1 and execution.lease_owner == executor.local_executor().owner


@pytest.mark.usefixtures("no_background_executor")
def test_an_execution_handed_to_an_executor_that_stopped_is_given_back_for_any_executor(cast):
    scenario = _responder(cast)
    stopped = executor.Executor()
    execution = engine.new_execution(scenario, Execution.Trigger.WEBHOOK, {}, lease_owner=stopped.owner)
    execution.save(force_insert=True)
    assert execution.status == ES.RUNNING and jobs.claim("other", 30) is None  # its lease holds

    async def start_stop_and_hand_over() -> None:
        stopped.start()
        await stopped.stop(grace=0)
        stopped.hand_over("executions", Lease(Execution, execution.pk, 1, stopped.owner))
        for _ in range(500):  # the lease is given back by a task of the executor's loop
            await asyncio.sleep(0.01)
            if await sync_to_async(jobs.claim)("other", 30) is not None:
                return

    async_to_sync(start_stop_and_hand_over)()
    execution.refresh_from_db()
    assert execution.lease_owner == "other" and execution.attempt == 2


# -- a webhook called again ---------------------------------------------------------------------------
@pytest.mark.usefixtures("no_background_executor")
def test_a_webhook_called_again_starts_its_execution_in_one_statement(
    cast, settings, django_assert_num_queries
):
    settings.WEBHOOK_MAX_QUEUED_PER_TEAM = 0  # no count of the team's queue in between
    scenario = _responder(cast)
    first = webhooks._open(scenario.webhook_token, {"body": 1}, "", uuid.uuid4(), "")
    with django_assert_num_queries(1):  # the INSERT, which checks the scenario is as it was
        second = webhooks._open(scenario.webhook_token, {"body": 2}, "", uuid.uuid4(), "")
    assert isinstance(first, Execution) and isinstance(second, Execution)
    stored = Execution.objects.get(pk=second.pk)
    assert stored.input == {"body": 2} and stored.scenario_version == first.scenario_version
    assert stored.snapshot == first.snapshot and stored.status == ES.QUEUED


def test_a_webhook_switched_off_after_a_call_is_404_and_stores_nothing(asgi_server, cast):
    scenario = _responder(cast)
    assert httpx.post(_hook(asgi_server, scenario), json={"n": 1}, timeout=20).status_code == 200
    Scenario.objects.filter(pk=scenario.pk).update(active=False)
    refused = httpx.post(_hook(asgi_server, scenario), json={"n": 2}, timeout=20)
    assert refused.status_code == 404 and refused.json() == {"error": "Not found."}
    assert Execution.objects.count() == 1


def test_a_webhook_whose_token_changed_after_a_call_answers_only_at_its_new_address(asgi_server, cast):
    scenario = _responder(cast)
    old = _hook(asgi_server, scenario)
    assert httpx.post(old, json={"n": 1}, timeout=20).status_code == 200
    Scenario.objects.filter(pk=scenario.pk).update(webhook_token="a-new-token-for-this-test")
    assert httpx.post(old, json={"n": 2}, timeout=20).status_code == 404
    renewed = httpx.post(f"{asgi_server.url}/hooks/a-new-token-for-this-test", json={"n": 3}, timeout=20)
    assert renewed.status_code == 200 and renewed.json() == {"n": 3}
    assert Execution.objects.count() == 2


def test_a_graph_edited_after_a_call_answers_the_next_call_with_the_new_graph(asgi_server, cast):
    scenario = _responder(cast, body="old")
    assert httpx.post(_hook(asgi_server, scenario), json={}, timeout=20).text == "old"
    Node.objects.filter(scenario=scenario, number=2).update(params={"status": 200, "body": "new"})
    Scenario.objects.filter(pk=scenario.pk).update(version=F("version") + 1)  # as every edit does
    assert httpx.post(_hook(asgi_server, scenario), json={}, timeout=20).text == "new"
    assert sorted(Execution.objects.values_list("scenario_version", flat=True)) == [1, 2]


def test_a_call_while_the_editor_listens_for_a_test_call_is_captured_even_after_calls_ran(asgi_server, cast):
    scenario = _responder(cast)
    assert httpx.post(_hook(asgi_server, scenario), json={"n": 1}, timeout=20).status_code == 200
    test_calls.listen(scenario)
    captured = httpx.post(_hook(asgi_server, scenario), json={"n": 2}, timeout=20)
    assert captured.status_code == 200 and "Test call received" in captured.json()["message"]
    assert Execution.objects.count() == 1
    assert httpx.post(_hook(asgi_server, scenario), json={"n": 3}, timeout=20).json() == {"n": 3}
    assert Execution.objects.count() == 2
