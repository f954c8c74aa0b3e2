"""Flow control in the editor: the IF's condition builder adds a row and saves it, a Switch's ports
carry its route names, and the inspector fits a phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from scenarios.models import Scenario
from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build

TRIGGER, RESPOND = "webhook.trigger", "webhook.response"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AGE = {"combine": "and", "rules": [{"left": "{{$1.body.age}}", "op": "gte", "right": "18", "type": "number"}]}


@pytest.fixture
def branching(cast) -> Scenario:
    """$1 webhook → $2 IF (age ≥ 18) → $3 / $4 answers; $5 a Switch with two named routes."""
    scenario = build(
        cast.team,
        {
            1: (TRIGGER, {}),
            2: ("flow.if", {"conditions": AGE}),
            3: (RESPOND, {"status": 200, "body": "adult"}),
            4: (RESPOND, {"status": 200, "body": "minor"}),
            5: (
                "flow.switch",
                {
                    "mode": "first",
                    "route1_name": "Refund",
                    "route1_conditions": AGE,
                    "route2_name": "Bug",
                    "route2_conditions": AGE,
                },
            ),  # fmt: skip
        },
        [(1, 2), (2, 3, "true"), (2, 4, "false"), (1, 5)],
    )
    for number, (x, y) in {1: (0, 0), 2: (320, 0), 3: (700, -120), 4: (700, 120), 5: (320, 200)}.items():
        scenario.nodes.filter(number=number).update(position_x=x, position_y=y)
    return scenario


def shot(tab: Any, name: str) -> None:
    """For people to look at (the test asserts nothing about it)."""
    tab.page.wait_for_timeout(300)
    tab.shot(name)


def test_the_condition_builder_adds_a_row_and_saves_it(cast, branching, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    expect(editor.node(2).locator(".x6-port-label", has_text="true")).to_be_visible()
    expect(editor.node(5).locator(".x6-port-label", has_text="Refund")).to_be_visible()
    expect(editor.node(5).locator(".x6-port-label", has_text="fallback")).to_be_visible()

    inspector = editor.inspect(2)
    conditions = inspector.get_by_role("group", name="Conditions")
    expect(conditions.get_by_role("textbox", name="Conditions 1: value")).to_have_value("{{$1.body.age}}")
    conditions.get_by_role("button", name="Add condition").click()
    conditions.get_by_role("textbox", name="Conditions 2: value").fill("{{$1.body.country}}")
    conditions.get_by_role("combobox", name="Conditions 2: operator").select_option("matches")
    conditions.get_by_role("textbox", name="Conditions 2: compared with").fill("^(FR|DE)$")
    inspector.get_by_role("combobox", name="Combine").select_option("or")
    shot(tab, "if-inspector-desktop")
    tab.assert_accessible()
    editor.save_node()

    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    branching.refresh_from_db()
    assert branching.nodes.get(number=2).params["conditions"] == {
        "combine": "or",
        "rules": [
            AGE["rules"][0],
            {"left": "{{$1.body.country}}", "op": "matches", "right": "^(FR|DE)$", "type": "text"},
        ],
    }
    assert not tab.unexpected_errors()


def test_a_bad_regular_expression_shows_at_the_conditions_and_nothing_is_lost(cast, branching, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    inspector = editor.inspect(2)
    conditions = inspector.get_by_role("group", name="Conditions")
    conditions.get_by_role("combobox", name="Conditions 1: operator").select_option("matches")
    conditions.get_by_role("combobox", name="Conditions 1: type").select_option("text")
    conditions.get_by_role("textbox", name="Conditions 1: compared with").fill("(unclosed")
    editor.save_node()

    expect(inspector.locator('[data-field="conditions"] .errorlist')).to_contain_text(
        "Condition 1: the regular expression is not valid"
    )
    expect(conditions.get_by_role("textbox", name="Conditions 1: compared with")).to_have_value("(unclosed")
    tab.allow_errors("400|422")


def test_the_switch_and_if_inspectors_on_a_phone(cast, branching, open_tab):
    tab = open_tab(cast.bob, 390, 844)
    editor = EditorPage(tab, branching).open()
    inspector = editor.inspect(5)
    expect(inspector.get_by_role("group", name="Route 1 conditions")).to_be_visible()
    shot(tab, "switch-inspector-phone")
    tab.page.get_by_role("button", name="Close inspector").click()
    expect(editor.inspect(2).get_by_role("group", name="Conditions")).to_be_visible()
    shot(tab, "if-inspector-phone")
    assert not tab.unexpected_errors()


def test_a_switch_shows_its_next_route_once_the_previous_one_is_named(cast, branching, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    inspector = editor.inspect(5)
    expect(inspector.get_by_role("group", name="Route 2 conditions")).to_be_visible()
    expect(editor.field("Route 3 name")).to_be_visible()
    expect(inspector.get_by_role("group", name="Route 3 conditions")).to_be_hidden()
    expect(editor.field("Route 4 name")).to_be_hidden()

    editor.field("Route 3 name").fill("Other")
    editor.field("Route 3 name").press("Tab")

    expect(inspector.get_by_role("group", name="Route 3 conditions")).to_be_visible()
    expect(editor.field("Route 4 name")).to_be_visible()
    expect(editor.field("Route 5 name")).to_be_hidden()
    shot(tab, "switch-inspector-desktop")
    assert not tab.unexpected_errors()
