"""Hostile expressions: template-engine escapes, huge results, and reaching for secrets (items 11, 13,
15 of the list), at every place an expression can be saved and when it runs."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from django.urls import reverse

from nodes import expressions
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build, run_now, runs_of, start_and_run

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status

# Sandbox escapes of template engines that evaluate code (Jinja, n8n, Flowise); none is a reference.
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ $1.body|attr('format') }}",
    "{{ __import__('os').system('id') }}",
    "{{ $1.body[0:1] }}",
    "{{ $1.body.q if True else $1 }}",
]


def _responder(cast, body: str = "ok") -> Scenario:
    return build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {"status": 200, "body": body})},
        [(1, 2)],
    )


def _inspect(scenario: Scenario, number: int) -> str:
    node = scenario.nodes.get(number=number)
    return reverse("scenarios:inspector", args=[scenario.pk, node.pk])


# -- 11. code in braces: refused when saved, never run --------------------------------------------


@pytest.mark.parametrize("escape", ESCAPES)
def test_code_in_braces_is_refused_at_the_inspector_and_nothing_is_saved(cast, escape):
    scenario = _responder(cast)
    response = cast.client_for(cast.bob).post(
        _inspect(scenario, 2), {"status": "200", "body": f"answer: {escape}", "version": 1}
    )
    assert response.status_code == 200
    assert "is not a valid expression" in response.content.decode()
    assert scenario.nodes.get(number=2).params == {"status": 200, "body": "ok"}
    scenario.refresh_from_db()
    assert scenario.version == 1


def test_code_in_braces_pasted_on_the_canvas_is_refused(cast):
    scenario = build(cast.team, {1: ("webhook.trigger", {})}, [])
    trigger = scenario.nodes.get(number=1)
    payload = {
        "version": 1,
        "nodes": [
            {"id": str(trigger.pk), "key": "t", "x": 0, "y": 0},
            {
                "key": "r",
                "kind": "webhook.response",
                "number": 2,
                "x": 1,
                "y": 1,
                "params": {"body": ESCAPES[0]},
            },
        ],
        "edges": [{"source": "t", "target": "r"}],
    }
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:graph", args=[scenario.pk]), json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400
    assert "not a valid expression" in response.json()["error"]
    assert not scenario.nodes.filter(number=2).exists()


def test_code_in_braces_that_reached_the_database_stops_the_run_before_any_node(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.echo", {"a": ESCAPES[1]}), 3: ("test.echo", {"b": "x"})},
        [(1, 2), (1, 3)],
    )
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert execution.status == ES.FAILED
    assert "$2 Echo" in execution.error and "is not a valid expression" in execution.error
    assert not execution.node_runs.exists()


@pytest.mark.parametrize("escape", ESCAPES)
def test_code_in_braces_slipped_into_a_snapshot_fails_its_node_naming_it(cast, escape):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"a": "{{$1.q}}"})}, [(1, 2)])
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {"q": "fine"})
    snapshot = execution.snapshot
    snapshot["nodes"][1]["params"] = {"a": escape}
    Execution.objects.filter(pk=execution.pk).update(snapshot=snapshot)
    execution = run_now(execution)
    run = runs_of(execution)[2]
    assert run.status == NS.FAILED
    assert "is not a valid expression" in run.error["message"]
    assert run.output is None


def test_a_dunder_in_a_path_is_a_key_of_the_data_never_a_python_attribute():
    assert (
        expressions.resolve("{{$1.body.__class__}}", {1: {"body": {"__class__": "just data"}}}) == "just data"
    )
    with pytest.raises(expressions.ExpressionError, match=r"\$1.body has no '__class__'"):
        expressions.resolve("{{$1.body.__class__}}", {1: {"body": {}}})
    with pytest.raises(expressions.ExpressionError, match=r"\$1.body has no '__len__'"):
        expressions.resolve("{{$1.body.__len__}}", {1: {"body": "text"}})


def test_text_that_starts_and_ends_with_an_expression_is_resolved(cast):
    params = {"text": "{{$1.first}} and {{$1.last}}"}
    assert expressions.check(params, upstream={1}, known={1, 2}) == []
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", params)}, [(1, 2)])
    execution = start_and_run(scenario, {"first": "Ada", "last": "Lovelace"})
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[2].output["params"] == {"text": "Ada and Lovelace"}


# -- 13. results too large to build --------------------------------------------------------------


def test_text_over_the_cap_fails_its_node_clearly_and_the_engine_carries_on(cast):
    big = "x" * 200_000
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.echo", {"text": "x " + "{{$1.big}} " * 10}),
            3: ("test.echo", {"q": "ok"}),
        },
        [(1, 2), (1, 3)],
    )
    execution = start_and_run(scenario, {"big": big})
    runs = runs_of(execution)
    assert runs[2].status == NS.FAILED
    assert runs[2].error["message"] == "The text built from expressions is over 1,000,000 characters."
    assert runs[3].status == NS.SUCCEEDED
    assert start_and_run(build(cast.team, {1: ("test.trigger", {})}, [])).status == ES.SUCCEEDED


def test_text_over_the_cap_is_stopped_before_it_is_built(monkeypatch):
    monkeypatch.setattr(expressions, "MAX_TEXT_LENGTH", 100_000)
    outputs = {1: {"body": "x" * 100_000}}
    template = "start " + "{{$1.body}} " * 300  # 30 MB if it were built
    tracemalloc.start()
    try:
        with pytest.raises(expressions.ExpressionError, match="over 100,000 characters"):
            expressions.resolve(template, outputs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak:,} bytes used to refuse a 100,000-character result"


# -- 15. nothing but upstream outputs is reachable ------------------------------------------------


@pytest.mark.parametrize(
    "reach",
    [
        "{{ credentials.openai }}",
        "{{ $credentials.openai.secret }}",
        "{{ $env.SECRET_KEY }}",
        "{{ settings.CREDENTIAL_KEYS }}",
        "{{ $request.headers.authorization }}",
        "{{ $secrets }}",
        "{{ $2.credential.secret }}x{{ }}",
    ],
)
def test_credentials_settings_and_the_raw_request_are_not_in_the_expression_language(reach):
    problems = expressions.check({"a": reach}, upstream={1, 2}, known={1, 2})
    assert problems and "is not a valid expression" in problems[0]
    with pytest.raises(expressions.ExpressionError, match="is not a valid expression"):
        expressions.resolve({"a": reach}, {1: {"headers": {}}, 2: {}})


def test_a_credentialed_nodes_output_holds_no_secret_for_later_nodes(cast, stub_credential, stub_provider):
    secret = stub_credential.get_secret()
    scenario = build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("openai.send_message", {"message": "hi", "model": "stub-model"}, stub_credential),
            3: ("test.echo", {"everything": "{{$2}}", "trigger": "{{$1}}"}),
        },
        [(1, 2), (2, 3)],
    )
    execution = start_and_run(scenario, {"headers": {"x": "1"}})
    assert execution.status == ES.SUCCEEDED, execution.error
    assert stub_provider.last("/v1/chat/completions").headers["authorization"] == f"Bearer {secret}"
    stored = json.dumps([[r.params, r.output] for r in execution.node_runs.all()])
    assert secret not in stored and secret[3:-4] not in stored


def test_an_authorization_header_sent_to_a_webhook_is_a_missing_path_not_an_empty_value(cast):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("test.echo", {"a": "{{$1.headers.authorization}}"})},
        [(1, 2)],
    )
    # What the webhook view stores: the headers without authorization or cookies.
    execution = start_and_run(
        scenario, {"method": "POST", "headers": {"x-custom": "1"}, "query": {}, "body": None}
    )
    run = runs_of(execution)[2]
    assert run.status == NS.FAILED
    assert run.error["message"] == "{{$1.headers.authorization}}: $1.headers has no 'authorization'."
