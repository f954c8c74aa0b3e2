"""Hostile names and posted fields: shell and path syntax, markup, huge and right-to-left names, look-alike
Unicode names, and fields that try to choose the team (items 16, 27 and 40 of the list)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from scenarios.models import Scenario
from teams.models import Credential, User
from tests.editor.conftest import RESPOND, TRIGGER, build

HOSTILE_NAMES = [
    "$(reboot)",
    "`rm -rf /`; echo pwned",
    "../../etc/passwd",
    '</script><script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    "invoice\u202egpj.exe",
    "{{$1.body}} {% debug %}",
]


def _pages(scenario: Scenario, node_id: Any) -> list[str]:
    return [
        reverse("scenarios:list"),
        reverse("scenarios:editor", args=[scenario.pk]),
        reverse("scenarios:outline", args=[scenario.pk]),
        reverse("scenarios:inspector", args=[scenario.pk, node_id]),
        reverse("scenarios:runs", args=[scenario.pk]),
        reverse("scenarios:share", args=[scenario.pk]),
    ]


# -- 16. names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_is_stored_exactly_and_shown_only_as_text(cast, name):
    client = cast.client_for(cast.bob)
    assert client.post(reverse("scenarios:create"), {"name": name}).status_code == 302
    scenario = Scenario.objects.get(team=cast.team)
    assert scenario.name == name
    scenario.nodes.create(number=1, kind=TRIGGER)
    node = scenario.nodes.create(number=2, kind=RESPOND, params={"body": "ok"})
    saved = client.post(
        reverse("scenarios:inspector", args=[scenario.pk, node.pk]),
        {"label": name, "status": "200", "body": "ok", "version": 1},
    )
    assert saved.status_code == 200
    node.refresh_from_db()
    assert node.label == name.strip()
    for url in _pages(scenario, node.pk):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for raw in ("<script>alert", "<img src=x"):
            assert raw not in html, f"{url} shows {raw!r} as markup"
    # The editor hands the graph to its script as JSON inside <script>: it must not end that element.
    editor = client.get(reverse("scenarios:editor", args=[scenario.pk])).content.decode()
    data = editor.split('id="graph-data" type="application/json">', 1)[1].split("</script>", 1)[0]
    assert name.strip() in [n["label"] for n in json.loads(data)["nodes"]]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_never_becomes_a_path_in_the_export_file_name(cast, name):
    scenario = Scenario.objects.create(team=cast.team, name=name)
    response = cast.client_for(cast.carol).get(reverse("scenarios:export", args=[scenario.pk]))
    disposition = response["Content-Disposition"]
    filename = disposition.split('filename="', 1)[1].rstrip('"')
    assert filename.endswith(".json")
    assert all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in filename), filename
    assert ".." not in filename and "/" not in filename
    assert json.loads(response.content)["name"] == name


def test_names_of_10_kb_are_refused_or_cut_at_their_limit_never_stored_whole(cast):
    client = cast.client_for(cast.bob)
    huge = "N" * 10_240
    response = client.post(reverse("scenarios:create"), {"name": huge})
    assert response.status_code == 200 and "at most 200 characters" in response.content.decode()
    assert not Scenario.objects.exists()
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (RESPOND, {"body": "ok"})}, [(1, 2)])
    node = scenario.nodes.get(number=2)
    client.post(
        reverse("scenarios:inspector", args=[scenario.pk, node.pk]),
        {"label": huge, "status": "200", "body": "ok", "version": 1},
    )
    node.refresh_from_db()
    assert len(node.label) <= 200
    created = cast.client_for(cast.alice).post(
        reverse("teams:credential_new"),
        {"name": huge, "base_url": "https://api.openai.com/v1", "secret": "sk-x"},
    )
    assert created.status_code == 400 and "at most" in created.content.decode()
    assert not Credential.objects.exists()


# -- 27. fields that try to choose the team, owner or secret token --------------------------------


def test_posted_team_owner_and_token_fields_are_ignored_when_creating_and_renaming(cast):
    client = cast.client_for(cast.bob)
    planted = {
        "team": str(cast.other_team.pk),
        "team_id": str(cast.other_team.pk),
        "created_by": str(cast.mallory.pk),
        "owner": str(cast.mallory.pk),
        "webhook_token": "chosen-by-the-caller",
        "version": "99",
        "active": "false",
    }
    assert client.post(reverse("scenarios:create"), {"name": "Mine", **planted}).status_code == 302
    scenario = Scenario.objects.get(name="Mine")
    assert scenario.team == cast.team and scenario.created_by == cast.bob
    assert scenario.webhook_token != "chosen-by-the-caller" and scenario.version == 1 and scenario.active
    client.post(reverse("scenarios:rename", args=[scenario.pk]), {"name": "Renamed", **planted})
    scenario.refresh_from_db()
    assert (scenario.name, scenario.team, scenario.webhook_token) == (
        "Renamed",
        cast.team,
        Scenario.objects.get(pk=scenario.pk).webhook_token,
    )
    assert scenario.webhook_token != "chosen-by-the-caller" and scenario.version == 1
    assert not Scenario.objects.filter(team=cast.other_team).exists()


def test_an_import_lands_in_the_current_team_whatever_the_file_says(cast):
    data = {
        "format": "scenery.scenario",
        "version": 1,
        "name": "Imported",
        "team": str(cast.other_team.pk),
        "team_id": str(cast.other_team.pk),
        "webhook_token": "chosen-by-the-file",
        "created_by": str(cast.mallory.pk),
        "nodes": [{"number": 1, "kind": TRIGGER, "label": "", "params": {}, "team": str(cast.other_team.pk)}],
        "edges": [],
    }
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:import"), {"text": json.dumps(data), "team": str(cast.other_team.pk)}
    )
    assert response.status_code == 302
    scenario = Scenario.objects.get(name="Imported")
    assert scenario.team == cast.team and scenario.created_by == cast.bob
    assert scenario.webhook_token != "chosen-by-the-file"
    assert not Scenario.objects.filter(team=cast.other_team).exists()


# -- 40. look-alike Unicode names --------------------------------------------------------------------


def _post_credential(cast: Any, name: str, user: User | None = None) -> Any:
    return cast.client_for(user or cast.alice).post(
        reverse("teams:credential_new"),
        {"name": name, "base_url": "https://api.openai.com/v1", "secret": "sk-abcdefgh"},
    )


def _add_credential(cast: Any, name: str) -> int:
    return _post_credential(cast, name).status_code


def test_emoji_and_combining_names_are_kept_and_shown_as_typed(cast):
    name = "🔑 Clé — 👩‍💻 e\u0301quipe"
    assert _add_credential(cast, name) == 302
    stored = Credential.objects.get(team=cast.team).name
    assert unicodedata.normalize("NFC", stored) == unicodedata.normalize("NFC", name)
    page = cast.client_for(cast.alice).get(reverse("teams:credentials")).content.decode()
    assert unicodedata.normalize("NFC", name) in unicodedata.normalize("NFC", page)


@pytest.mark.parametrize(
    ("first", "second"),
    [("Prod key", "PROD KEY"), ("Prod key", "  prod key  ")],
)
def test_a_name_differing_only_in_ascii_case_or_spaces_is_a_duplicate(cast, first, second):
    assert _add_credential(cast, first) == 302
    assert _add_credential(cast, second) == 400
    assert Credential.objects.filter(team=cast.team).count() == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Caf\u00e9", "Cafe\u0301"),  # NFC and NFD of the same text
        ("Stra\u00dfe", "STRASSE"),  # casefold
        ("Key", "K\u200bey"),  # a zero-width space inside
        ("Key", "Key\u2060"),  # a word joiner at the end
        ("Key", "\uff2b\uff45\uff59"),  # full-width letters
        ("Prod key", "Prod\u00a0 key"),  # a no-break space and a run of spaces, shown as one space
        ("\u2764 Key", "\u2764\ufe0f Key"),  # an emoji with and without its variation selector
    ],
)
def test_a_name_that_looks_the_same_is_a_duplicate(cast, first, second):
    assert _add_credential(cast, first) == 302
    response = _post_credential(cast, second)
    assert response.status_code == 400
    assert f"already has a credential named \u201c{first}\u201d" in response.content.decode()
    assert [c.name for c in Credential.objects.filter(team=cast.team)] == [first]


def test_look_alike_names_stay_possible_in_another_team_and_when_saving_the_same_credential(cast):
    assert _add_credential(cast, "Caf\u00e9") == 302
    mine = Credential.objects.get(team=cast.team)
    assert _post_credential(cast, "CAFE\u0301", cast.mallory).status_code == 302
    renamed = cast.client_for(cast.alice).post(
        reverse("teams:credential_edit", args=[mine.pk]),
        {"name": "CAF\u00c9", "base_url": mine.base_url, "default_model": ""},
    )
    assert renamed.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "CAF\u00c9"  # shown as typed, compared by its look


@pytest.mark.parametrize("name", ["\u200b", "\u2060\u200d\ufeff", "\u00ad"])
def test_a_name_made_only_of_invisible_characters_is_refused(cast, name):
    response = _post_credential(cast, name)
    assert response.status_code == 400 and "Give the credential a name." in response.content.decode()
    assert not Credential.objects.exists()


def test_the_database_refuses_a_look_alike_credential_name_that_bypasses_the_form(cast):
    Credential.objects.create(team=cast.team, name="Caf\u00e9")
    with pytest.raises(IntegrityError), transaction.atomic():
        Credential.objects.create(team=cast.team, name="cafe\u0301")
    renamed = Credential.objects.create(team=cast.team, name="Tea")
    renamed.name = "CAF\u00c9"
    with pytest.raises(IntegrityError), transaction.atomic():
        renamed.save(update_fields=["name"])


def test_credential_names_in_non_ascii_case_variants_are_duplicates_on_every_database(cast):
    assert _add_credential(cast, "\u00c4pfel") == 302
    assert _add_credential(cast, "\u00e4pfel") == 400


SIGNUP = {"email": "other@example.com", "password1": "correct horse battery staple"}


@pytest.mark.parametrize(
    ("existing", "wanted"),
    [("\u00c9mile", "\u00e9mile"), ("\u00c9mile", "E\u0301mile"), ("stra\u00dfe", "STRASSE")],
)
def test_usernames_in_non_ascii_case_variants_are_duplicates_on_every_database(db, client, existing, wanted):
    User.objects.create_user(existing, "emile@example.com", "correct horse battery staple")
    form = {**SIGNUP, "username": wanted, "password2": SIGNUP["password1"]}
    response = client.post(reverse("teams:signup"), form)
    assert response.status_code == 200 and "already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_the_admin_refuses_a_look_alike_username_when_adding_or_renaming_a_user(cast):
    admin = User.objects.create_superuser("root", "root@example.com", "correct horse battery staple")
    client = cast.client_for(admin)
    added = client.post(
        reverse("admin:teams_user_add"),
        {"username": "ALICE", "usable_password": "true", **SIGNUP, "password2": SIGNUP["password1"]},
    )
    assert added.status_code == 200 and "already exists" in added.content.decode()
    assert not User.objects.filter(username="ALICE").exists()
    page = client.get(reverse("admin:teams_user_change", args=[cast.bob.pk]))
    assert page.status_code == 200
    renamed = client.post(
        reverse("admin:teams_user_change", args=[cast.bob.pk]),
        {
            "username": "\uff21lice",
            "email": cast.bob.email,
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert renamed.status_code == 200 and "already exists" in renamed.content.decode()
    cast.bob.refresh_from_db()
    assert cast.bob.username == "bob"


def test_usernames_that_differ_in_width_or_ascii_case_are_duplicates(cast, client):
    form = {
        "email": "new@example.com",
        "password1": "correct horse battery staple",
        "password2": "correct horse battery staple",
    }
    for variant in ("ALICE", "\uff41\uff4c\uff49\uff43\uff45"):  # fullwidth "alice"
        response = client.post(reverse("teams:signup"), {**form, "username": variant})
        assert response.status_code != 302, variant
    assert User.objects.filter(username__iexact="alice").count() == 1
