"""Hostile webhook calls over a real socket: huge or odd bodies, guessed tokens, bursts, values that
try to break out of the URL, header or JSON body they are put into (items 3-8 and 14 of the list)."""

from __future__ import annotations

import contextlib
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from durable import executor
from scenarios.models import Execution, Scenario
from scenarios.runtime import backlog, webhooks
from tests.engine.conftest import CALLS, build
from tests.hostile.webhook_calls import hook_url, responder, wait_for_end, wait_until_all_ended

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES = Execution.Status


def _post(url: str, content: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.post(url, content=content, headers={"Content-Type": content_type}, timeout=30)


# -- 2. a Content-Length that lies ------------------------------------------------------------------


def test_bytes_beyond_an_understated_content_length_never_reach_a_scenario(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    scenario = responder(cast.team)
    head = (
        f"POST /hooks/{scenario.webhook_token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 8\r\n\r\n"
    ).encode()
    with socket.create_connection((asgi_server.host, asgi_server.port), timeout=10) as sock:
        # The server may close while the rest is still being sent.
        with contextlib.suppress(OSError):
            sock.sendall(head + b'{"a": 1}' + b'{"smuggled": "' + b"x" * 2_000_000)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    # The HTTP server answers the declared request or refuses the stream; it never reads past it.
    assert answer.startswith((b"HTTP/1.1 200", b"HTTP/1.1 400")), answer[:200]
    assert b"smuggled" not in answer
    for execution in Execution.objects.all():
        assert wait_for_end(execution.pk).input["body"] == {"a": 1}
    assert Execution.objects.count() <= 1


# -- 3. nesting and size ---------------------------------------------------------------------------


def test_a_json_body_with_a_million_keys_is_refused_at_the_body_limit_at_once(asgi_server, cast):
    scenario = responder(cast.team)
    body = json.dumps({f"k{i}": 0 for i in range(1_000_000)}).encode()
    response = _post(hook_url(asgi_server, scenario), body)
    assert response.status_code == 413
    assert not Execution.objects.exists()


def test_a_json_body_with_as_many_keys_as_fit_under_the_limit_is_taken(asgi_server, cast, settings):
    scenario = responder(cast.team, body="{{$1.body.k99}}")
    keys = {f"k{i}": 0 for i in range(80_000)} | {"k99": 99}
    body = json.dumps(keys, separators=(",", ":")).encode()
    assert len(body) < settings.WEBHOOK_MAX_BODY_BYTES
    response = _post(hook_url(asgi_server, scenario), body)
    assert response.status_code == 200, response.text[:300]
    assert response.json() == 99
    execution = wait_for_end(response.headers["x-execution-id"])
    assert execution.status == ES.SUCCEEDED and len(execution.input["body"]) == 80_000


def test_a_form_with_more_fields_than_allowed_gets_a_clear_400(asgi_server, cast):
    scenario = responder(cast.team)
    body = "&".join(f"f{i}=1" for i in range(100_000)).encode()
    response = _post(hook_url(asgi_server, scenario), body, "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "form body cannot be read" in response.json()["error"]
    assert Execution.objects.get().status == ES.FAILED


# -- 4. text the databases cannot hold -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type", "query", "message"),
    [
        (b"", "", "q=%00", "NUL character"),
        (b"a=%00b", "application/x-www-form-urlencoded", "", "NUL character"),
        (b"a=%ED%A0%80", "application/x-www-form-urlencoded", "", "form body cannot be read"),
        (b'{"\\u0000key": 1}', "application/json", "", "NUL character"),
        (b'{"\\ud800": 1}', "application/json", "", "unpaired surrogate"),
        (b'["ok", {"deep": ["\\udfff"]}]', "application/json", "", "unpaired surrogate"),
    ],
)
def test_nul_and_lone_surrogates_anywhere_in_a_request_get_400_on_every_database(
    asgi_server, cast, content, content_type, query, message
):
    scenario = responder(cast.team)
    url = hook_url(asgi_server, scenario) + (f"?{query}" if query else "")
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(url, content=content, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    execution = Execution.objects.get()
    assert execution.status == ES.FAILED and message in execution.error


def test_emoji_combining_marks_and_escaped_pairs_are_stored_exactly(asgi_server, cast):
    scenario = responder(cast.team)
    text = "😀 👩‍💻 e\u0301 \u200bzero-width \u202eRTL"
    body = b'{"pair": "\\ud83d\\ude00", "text": ' + json.dumps(text).encode() + b"}"
    response = _post(hook_url(asgi_server, scenario), body)
    assert response.status_code == 200
    assert response.json() == {"pair": "😀", "text": text}
    execution = wait_for_end(response.headers["x-execution-id"])
    assert Execution.objects.get(pk=execution.pk).input["body"] == {"pair": "😀", "text": text}


# -- 5 and 8. the token is the only key, and a wrong one tells nothing ----------------------------


def _shape(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("date", "content-length"))
    return response.status_code, response.content, headers


def test_every_wrong_token_gets_the_same_404_and_leaves_no_row(asgi_server, cast):
    live = responder(cast.team)
    inactive = responder(cast.team)
    Scenario.objects.filter(pk=inactive.pk).update(active=False)
    deleted = responder(cast.other_team)
    deleted_token = deleted.webhook_token
    deleted.delete()
    token = live.webhook_token
    wrong = [
        "no-such-token",
        inactive.webhook_token,
        deleted_token,
        token.swapcase(),
        token[:-1],
        token + "x",
        token[:16],
        "a%20b",
        "x" * 64,
    ]
    answers = []
    for candidate in wrong:
        for call in (
            lambda u: httpx.post(u, json={"a": 1}, timeout=30),
            lambda u: httpx.post(u, content=b"\xff not utf-8", timeout=30),
            lambda u: httpx.get(u, params={"q": "1"}, timeout=30),
        ):
            answers.append(_shape(call(f"{asgi_server.url}/hooks/{candidate}")))
    assert {a[0] for a in answers} == {404}
    assert len(set(map(repr, answers))) == 1, "a wrong token must not be told apart from another"
    assert not Execution.objects.exists()
    assert httpx.post(hook_url(asgi_server, live), json={"a": 1}, timeout=30).status_code == 200


def test_webhook_tokens_are_long_random_secrets(cast):
    tokens = {responder(cast.team).webhook_token for _ in range(20)}
    assert len(tokens) == 20
    # token_urlsafe: 6 bits a character; at least 128 bits of randomness.
    assert all(len(t) * 6 >= 128 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


# -- 6. one call, one execution, run once ---------------------------------------------------------


def test_calls_with_one_idempotency_key_are_one_execution_even_when_they_race(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 10  # all ten race past the door (item 48)
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.n}}"})}, [(1, 2)]
    )
    url = hook_url(asgi_server, scenario)

    def call(n: int) -> httpx.Response:
        return httpx.post(url, json={"n": n}, headers={"Idempotency-Key": "same-delivery"}, timeout=30)

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(call, range(10)))
    assert [r.status_code for r in responses] == [202] * 10
    ids = {r.json()["execution_id"] for r in responses}
    assert len(ids) == 1 and Execution.objects.count() == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    (execution_id,) = ids
    assert wait_for_end(execution_id).status == ES.SUCCEEDED
    assert CALLS[f"{execution_id}:2"] == 1, "a node ran twice for one delivery"


def test_calls_without_a_key_or_with_different_keys_are_each_their_own_execution(asgi_server, cast):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.n}}"})}, [(1, 2)]
    )
    url = hook_url(asgi_server, scenario)
    keys: list[dict[str, str]] = [{}, {}, {"Idempotency-Key": "a"}, {"Idempotency-Key": "b"}]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda h: httpx.post(url, json={}, headers=h, timeout=30), keys))
    assert len({r.json()["execution_id"] for r in responses}) == 4
    other = build(cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "x"})}, [(1, 2)])
    elsewhere = httpx.post(
        hook_url(asgi_server, other), json={}, headers={"Idempotency-Key": "a"}, timeout=30
    )
    assert elsewhere.status_code == 202 and "idempotent-replayed" not in elsewhere.headers


def test_a_replay_gets_the_first_calls_answer_and_nothing_runs_again(asgi_server, cast):
    scenario = responder(cast.team, body="first said {{$1.body.n}}")
    url = hook_url(asgi_server, scenario)
    first = httpx.post(url, json={"n": 1}, headers={"Idempotency-Key": "order-42"}, timeout=30)
    again = httpx.post(url, json={"n": 2}, headers={"Idempotency-Key": "order-42"}, timeout=30)
    assert first.text == again.text == "first said 1"
    assert first.headers["x-execution-id"] == again.headers["x-execution-id"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert Execution.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "caf\u00e9", "a\tb"])
def test_an_unusable_idempotency_key_is_a_clear_400(asgi_server, cast, key):
    scenario = responder(cast.team)
    response = httpx.post(
        hook_url(asgi_server, scenario),
        json={},
        headers=[("Idempotency-Key", key.encode("utf-8"))],
        timeout=30,
    )
    assert response.status_code == 400
    assert (
        "Idempotency-Key header must be one value of 1 to 200 visible ASCII characters"
        in response.json()["error"]
    )


# -- 7. a burst ----------------------------------------------------------------------------------


def test_a_burst_on_one_webhook_is_all_accepted_and_another_teams_webhook_still_answers(
    asgi_server, cast, settings
):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 20  # as wide as the burst: wider ones get 429 (item 48)
    busy = build(cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.n}}"})}, [(1, 2)])
    other = responder(cast.other_team, body="still here")
    with ThreadPoolExecutor(max_workers=20) as pool:
        burst = pool.map(
            lambda n: httpx.post(hook_url(asgi_server, busy), json={"n": n}, timeout=60), range(200)
        )
        answer = httpx.post(hook_url(asgi_server, other), json={}, timeout=30)
        statuses = [r.status_code for r in burst]
    assert answer.status_code == 200 and answer.text == "still here"
    assert statuses == [202] * 200
    wait_until_all_ended()
    assert Execution.objects.filter(scenario=busy, status=ES.SUCCEEDED).count() == 200


def test_a_team_with_too_many_executions_waiting_gets_429_and_other_teams_do_not(
    asgi_server, cast, settings, monkeypatch
):
    settings.WEBHOOK_MAX_QUEUED_PER_TEAM = 3
    backlog.forget()
    waiting = build(cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {})}, [(1, 2)])
    other = build(cast.other_team, {1: ("webhook.trigger", {}), 2: ("test.echo", {})}, [(1, 2)])
    # As if every executor were busy: each call only queues its execution.
    runner = executor.local_executor()
    monkeypatch.setattr(runner, "has_room", lambda: False)
    monkeypatch.setattr(executor, "served_sources", lambda: [])
    accepted = [httpx.post(hook_url(asgi_server, waiting), json={}, timeout=30) for _ in range(3)]
    refused = httpx.post(hook_url(asgi_server, waiting), json={}, timeout=30)
    elsewhere = httpx.post(hook_url(asgi_server, other), json={}, timeout=30)
    assert [r.status_code for r in accepted] == [202, 202, 202]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(backlog.RETRY_AFTER_SECONDS)
    assert "Too many executions of this team are waiting" in refused.json()["error"]
    assert elsewhere.status_code == 202
    assert Execution.objects.filter(scenario=waiting).count() == 3  # the refused call left no row
    monkeypatch.undo()
    runner.wake()
    wait_until_all_ended()
    backlog.forget()
    assert httpx.post(hook_url(asgi_server, waiting), json={}, timeout=30).status_code == 202


def test_calls_the_executor_takes_at_once_are_never_refused_however_many(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_QUEUED_PER_TEAM = 1
    backlog.forget()
    answering = responder(cast.team, body="ok")
    statuses = [
        httpx.post(hook_url(asgi_server, answering), json={}, timeout=30).status_code for _ in range(5)
    ]
    assert statuses == [200] * 5


def test_one_teams_backlog_does_not_hold_up_another_teams_webhook(asgi_server, cast, settings, monkeypatch):
    monkeypatch.setattr(executor.local_executor(), "concurrency", 2)
    settings.WEBHOOK_RESPONSE_DEADLINE = 2.5
    slow = build(cast.team, {1: ("webhook.trigger", {}), 2: ("test.sleep", {"seconds": 1.5})}, [(1, 2)])
    other = responder(cast.other_team, body="answered")
    try:
        for _ in range(6):
            assert httpx.post(hook_url(asgi_server, slow), json={}, timeout=30).status_code == 202
        answer = httpx.post(hook_url(asgi_server, other), json={}, timeout=30)
        assert answer.status_code == 200, f"{answer.status_code}: {answer.text}"
    finally:
        wait_until_all_ended()


# -- 14. values that try to leave the place they are put in -------------------------------------

HOSTILE = "../../admin?x=1#frag\"'<>"


def _deletes_thread(cast, credential) -> Scenario:
    """Trigger on Webhook → Delete Thread of the thread id in the body."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.delete_thread", {"thread_id": "{{$1.body.id}}"}, credential),
        },
        [(1, 2)],
    )


def test_a_hostile_id_from_a_webhook_stays_one_encoded_path_segment(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = _deletes_thread(cast, stub_credential)
    response = httpx.post(hook_url(asgi_server, scenario), json={"id": HOSTILE}, timeout=30)
    wait_for_end(response.json()["execution_id"])
    sent = stub_provider.last()
    assert sent.method == "DELETE"
    assert sent.path == "/v1/threads/..%2F..%2Fadmin%3Fx%3D1%23frag%22%27%3C%3E"


def test_an_id_with_a_line_break_is_refused_before_any_request(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = _deletes_thread(cast, stub_credential)
    response = httpx.post(hook_url(asgi_server, scenario), json={"id": "t\r\nHost: evil"}, timeout=30)
    execution = wait_for_end(response.json()["execution_id"])
    assert execution.status == ES.FAILED
    assert "not a valid id" in json.dumps(execution.node_runs.get(node_number=2).error)
    assert stub_provider.requests == []


def test_quotes_and_line_breaks_from_a_webhook_reach_the_provider_as_one_json_string(
    asgi_server, cast, stub_credential, stub_provider
):
    text = 'He said "stop"\r\n}], "model": "evil", "x": [{\\u0000'
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "openai.send_message",
                {"message": "{{$1.body.text}}", "model": "stub-model"},
                stub_credential,
            ),
            3: ("webhook.response", {"body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
    )
    response = httpx.post(hook_url(asgi_server, scenario), json={"text": text}, timeout=30)
    assert response.status_code == 200, response.text
    sent = stub_provider.last("/v1/chat/completions").body
    assert sent["model"] == "stub-model"
    assert sent["messages"] == [{"role": "user", "content": text}]


def test_a_line_break_from_a_webhook_never_splits_a_response_header(asgi_server, cast):
    scenario = responder(cast.team, body="ok", headers={"X-Echo": "{{$1.body.h}}"})
    response = httpx.post(
        hook_url(asgi_server, scenario), json={"h": "a\r\nSet-Cookie: session=evil"}, timeout=30
    )
    assert "set-cookie" not in response.headers
    assert response.status_code == 500
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert "must be one line" in json.dumps(execution.node_runs.get(node_number=2).error)


def test_a_control_character_from_a_webhook_never_reaches_a_response_header(asgi_server, cast):
    scenario = responder(cast.team, body="ok", headers={"X-Echo": "{{$1.body.h}}"})
    response = httpx.post(hook_url(asgi_server, scenario), json={"h": "a\x01b\x7fc"}, timeout=30)
    assert response.status_code == 500
    assert "x-echo" not in response.headers
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert "control character" in json.dumps(execution.node_runs.get(node_number=2).error)


def test_an_answer_never_carries_a_header_the_server_could_not_send():
    """Stored data is checked again when answering (the node refuses these first)."""
    execution = Execution(
        response={
            "status": 200,
            "body": "ok",
            "headers": {
                "X-Fine": "yes\tplease",
                "X Space": "no",
                "X:Colon": "no",
                "X-Control": "a\x01b",
                "X-Delete": "a\x7fb",
                "X-Snowman": "☃",
                "Content-Type": "text/csv",
            },
        }
    )
    reply = webhooks.answer(execution)
    assert {name for name in reply.headers if name.startswith("X-") and name != "X-Execution-Id"} == {
        "X-Fine",
        "X-Content-Type-Options",
    }
    assert reply.headers["Content-Type"] == "text/csv"
