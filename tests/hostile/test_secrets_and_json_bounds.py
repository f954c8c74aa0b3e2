"""A secret leak through an error page, and JSON the editor or a webhook takes that no JSON column or
answer can hold: nesting past any sense, NaN, Infinity, 1e400, lone surrogates, numbers no integer
column holds (issue 16, items 1 and 6; items 41 and 46 of the map)."""

from __future__ import annotations

import json

import httpx
import pytest
from django.urls import reverse

from nodes.base import Field
from nodes.params import Invalid, clean_value
from scenarios.models import Execution, Node, Scenario
from scripts.write_env import main as write_env
from teams.models import Credential, Team
from tests.editor.conftest import RESPOND, TRIGGER, current_payload
from tests.editor.conftest import build as build_editor
from tests.hostile.webhook_calls import hook_url, responder


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": "x"}
    for _ in range(depth):
        value = {"a": value}
    return value


# -- 41. the secret leak -------------------------------------------------------------------------------


def test_the_env_make_run_writes_serves_without_debugging(tmp_path):
    target = tmp_path / ".env"
    write_env(str(target))
    lines = target.read_text().splitlines()
    assert "DEBUG=false" in lines and "DEBUG=true" not in lines


@pytest.mark.parametrize("depth", [250, 64 + 2])
def test_a_canvas_save_of_params_nested_too_deeply_is_a_clear_400_and_nothing_is_saved(cast, depth):
    scenario = build_editor(cast.team, {1: (TRIGGER, {})})
    payload = current_payload(scenario)
    payload["nodes"].append(
        {"key": "new", "number": 2, "kind": RESPOND, "x": 0, "y": 0, "params": {"body": nested(depth)}}
    )
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:graph", args=[scenario.pk]), json.dumps(payload), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]
    assert scenario.nodes.count() == 1


def test_a_json_field_nested_too_deeply_is_an_error_at_the_field():
    field = Field("schema", "Schema", kind="json")
    with pytest.raises(Invalid, match="nested too deeply"):
        clean_value(field, json.dumps(nested(100)), saving=True)


def _deeply_nested_scenario(cast) -> Scenario:
    """A node stored before the limits (or behind the editor's back), nested 250 levels deep."""
    scenario = build_editor(cast.team, {1: (TRIGGER, {})})
    Node.objects.create(scenario=scenario, number=2, kind=RESPOND, params={"body": nested(250)})
    return scenario


def test_exporting_a_node_nested_too_deeply_is_a_clear_400_even_with_debugging_on(cast, credential, settings):
    settings.DEBUG = True  # the error page that showed every key of the team
    scenario = _deeply_nested_scenario(cast)
    client = cast.client_for(cast.carol)
    client.raise_request_exception = False
    response = client.get(reverse("scenarios:export", args=[scenario.pk]))
    assert response.status_code == 400
    assert "$2 cannot be exported" in response.content.decode()
    assert credential.get_secret() not in response.content.decode()


def test_a_viewers_copy_of_a_node_nested_too_deeply_is_a_clear_400_and_copies_nothing(
    cast, credential, settings
):
    settings.DEBUG = True
    scenario = _deeply_nested_scenario(cast)
    own = Team.bootstrap(cast.carol, "Carol's own")
    client = cast.client_for(cast.carol)
    client.raise_request_exception = False
    response = client.post(reverse("scenarios:copy_to_team", args=[scenario.pk]), {"team": str(own.pk)})
    assert response.status_code == 400
    assert "$2 cannot be exported" in response.content.decode()
    assert credential.get_secret() not in response.content.decode()
    assert Scenario.objects.count() == 1


def test_no_secret_is_decrypted_before_the_export_is_known_to_be_sound(cast, credential, monkeypatch):
    decrypted: list[str] = []
    real = Credential.get_secret

    def spy(self: Credential) -> str:
        decrypted.append(self.name)
        return real(self)

    monkeypatch.setattr(Credential, "get_secret", spy)
    scenario = _deeply_nested_scenario(cast)
    response = cast.client_for(cast.carol).get(reverse("scenarios:export", args=[scenario.pk]))
    assert response.status_code == 400 and decrypted == []


def test_a_sound_export_still_redacts_every_secret_of_the_team(cast, credential):
    scenario = build_editor(cast.team, {1: (TRIGGER, {}), 2: (RESPOND, {"body": credential.get_secret()})})
    response = cast.client_for(cast.carol).get(reverse("scenarios:export", args=[scenario.pk]))
    assert response.status_code == 200
    assert credential.get_secret() not in response.content.decode()
    assert response.json()["nodes"][1]["params"]["body"] == "••••"


# -- 46. numbers and text no JSON column holds ----------------------------------------------------------


@pytest.mark.parametrize("version", ["1e999", "NaN", "-Infinity"])
def test_a_canvas_save_with_a_version_that_is_no_number_is_a_clear_400(cast, version):
    scenario = build_editor(cast.team, {1: (TRIGGER, {})})
    body = json.dumps(current_payload(scenario)).replace(
        f'"version": {scenario.version}', f'"version": {version}'
    )
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:graph", args=[scenario.pk]), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "not a JSON number" in response.json()["error"]


def _import(cast, text: str):
    client = cast.client_for(cast.bob)
    client.raise_request_exception = False
    return client.post(reverse("scenarios:import"), {"text": text})


def _export_with(node: dict[str, object]) -> str:
    return json.dumps(
        {"format": "scenery.scenario", "version": 1, "name": "Odd", "nodes": [node], "edges": []}
    )


def test_an_import_with_a_lone_surrogate_in_a_label_is_a_clear_400(cast):
    text = _export_with({"number": 1, "kind": TRIGGER, "label": "LABEL", "params": {}})
    response = _import(cast, text.replace("LABEL", "\\udc00"))
    assert response.status_code == 400
    assert "unpaired surrogate" in response.content.decode()
    assert not Scenario.objects.exists()


@pytest.mark.parametrize("number", [2**63, 2**31])
def test_an_import_with_a_node_number_no_integer_column_holds_is_a_clear_400(cast, number):
    response = _import(cast, _export_with({"number": number, "kind": TRIGGER, "label": "", "params": {}}))
    assert response.status_code == 400
    assert "must be a whole number from 1 to 2147483647" in response.content.decode()
    assert not Scenario.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_webhook_body_with_a_number_json_cannot_carry_is_a_clear_400(asgi_server, cast, literal):
    scenario = responder(cast.team)
    response = httpx.post(
        hook_url(asgi_server, scenario),
        content=f'{{"question": {literal}}}'.encode(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "not a JSON number" in response.json()["error"]
    assert Execution.objects.get().status == Execution.Status.FAILED
