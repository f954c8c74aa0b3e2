"""The scenario list of the current team: create, rename, duplicate, activate, delete."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone

from scenarios.models import Execution, Scenario
from tests.editor.conftest import build, demo

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_list_shows_the_current_teams_scenarios_with_their_last_run(cast):
    mine = demo(cast.team)
    Scenario.objects.create(team=cast.other_team, name="Mallory's secret plan")
    Execution.objects.create(scenario=mine, trigger="manual", status="failed", created_at=timezone.now())
    response = cast.client_for(cast.carol).get(reverse("scenarios:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Demo" in html
    assert "Mallory&#x27;s secret plan" not in html and "Mallory's secret plan" not in html
    assert re.search(r'class="status-pill status-failed"[^>]*>failed</span>', html)


def test_the_list_says_who_changed_a_scenario_last(cast):
    scenario = demo(cast.team)
    scenario.updated_by = cast.bob
    scenario.save()
    html = cast.client_for(cast.alice).get(reverse("scenarios:list")).content.decode()
    assert "by bob" in html


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("scenarios:list"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_editor_creates_a_scenario_and_lands_in_its_editor(cast):
    response = cast.client_for(cast.bob).post(reverse("scenarios:create"), {"name": "  Support bot "}, **HX)
    scenario = Scenario.objects.get(team=cast.team, name="Support bot")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("scenarios:editor", args=[scenario.pk])
    assert scenario.created_by == cast.bob


def test_a_blank_name_is_refused_at_the_field(cast):
    response = cast.client_for(cast.bob).post(reverse("scenarios:create"), {"name": "   "}, **HX)
    assert response.status_code == 200
    assert "Give the scenario a name." in response.content.decode()
    assert not Scenario.objects.filter(team=cast.team).exists()


def test_a_viewer_cannot_create_a_scenario(cast):
    response = cast.client_for(cast.carol).post(reverse("scenarios:create"), {"name": "Nope"})
    assert response.status_code == 403
    assert not Scenario.objects.exists()


def test_an_editor_renames_a_scenario(cast, scenario):
    client = cast.client_for(cast.bob)
    form = client.get(reverse("scenarios:rename", args=[scenario.pk]), **HX)
    assert 'value="Demo"' in form.content.decode()
    response = client.post(reverse("scenarios:rename", args=[scenario.pk]), {"name": "Renamed"}, **HX)
    assert response.status_code == 200
    assert "Renamed" in response.content.decode()
    scenario.refresh_from_db()
    assert scenario.name == "Renamed" and scenario.updated_by == cast.bob


def test_a_failed_rename_keeps_what_was_typed(cast, scenario):
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:rename", args=[scenario.pk]), {"name": "x" * 201}, **HX
    )
    html = response.content.decode()
    assert "x" * 201 in html
    assert "aria-invalid" in html
    scenario.refresh_from_db()
    assert scenario.name == "Demo"


def test_duplicating_copies_nodes_and_edges_inactive_with_a_new_webhook(cast, scenario):
    response = cast.client_for(cast.bob).post(reverse("scenarios:duplicate", args=[scenario.pk]), **HX)
    assert response.status_code == 200
    copy = Scenario.objects.get(name="Demo (copy)")
    assert "Demo (copy)" in response.content.decode()
    assert not copy.active
    assert copy.webhook_token != scenario.webhook_token
    assert sorted(copy.nodes.values_list("number", "kind")) == sorted(
        scenario.nodes.values_list("number", "kind")
    )
    assert sorted(copy.edges.values_list("source__number", "target__number")) == [(1, 2), (2, 3)]
    assert not copy.edges.filter(source__scenario=scenario).exists()


def test_the_active_toggle_switches_and_shows_the_new_state(cast, scenario):
    response = cast.client_for(cast.bob).post(reverse("scenarios:toggle_active", args=[scenario.pk]), **HX)
    scenario.refresh_from_db()
    assert scenario.active is False
    assert 'aria-checked="false"' in response.content.decode()


def test_delete_asks_first_then_deletes(cast, scenario):
    client = cast.client_for(cast.bob)
    confirm = client.get(reverse("scenarios:delete", args=[scenario.pk]), **HX)
    assert "Delete “Demo”?" in confirm.content.decode()
    assert "3 nodes" in confirm.content.decode()
    assert Scenario.objects.filter(pk=scenario.pk).exists()
    response = client.post(reverse("scenarios:delete", args=[scenario.pk]), **HX)
    assert response.status_code == 200
    assert not Scenario.objects.filter(pk=scenario.pk).exists()


def test_a_viewer_cannot_change_scenarios(cast, scenario):
    client = cast.client_for(cast.carol)
    for name in ("rename", "duplicate", "toggle_active", "delete"):
        assert client.post(reverse(f"scenarios:{name}", args=[scenario.pk]), {"name": "x"}).status_code == 403
    scenario.refresh_from_db()
    assert scenario.name == "Demo" and scenario.active
    assert Scenario.objects.count() == 1


def test_a_stranger_gets_404_for_every_scenario_action(cast, scenario):
    client = cast.client_for(cast.mallory)
    for name in ("row", "rename", "delete"):
        assert client.get(reverse(f"scenarios:{name}", args=[scenario.pk])).status_code == 404
    for name in ("rename", "duplicate", "toggle_active", "delete"):
        assert client.post(reverse(f"scenarios:{name}", args=[scenario.pk]), {"name": "x"}).status_code == 404
    assert Scenario.objects.filter(pk=scenario.pk, name="Demo", active=True).exists()


def test_a_row_comes_back_on_cancel(cast, scenario):
    response = cast.client_for(cast.carol).get(reverse("scenarios:row", args=[scenario.pk]), **HX)
    assert response.status_code == 200
    assert f'id="scenario-{scenario.pk}"' in response.content.decode()


def test_an_empty_team_sees_how_to_start(cast):
    html = cast.client_for(cast.alice).get(reverse("scenarios:list")).content.decode()
    assert "No scenarios yet" in html
    build(cast.team, {1: ("webhook.trigger", {})})
    assert (
        "No scenarios yet" not in cast.client_for(cast.alice).get(reverse("scenarios:list")).content.decode()
    )
