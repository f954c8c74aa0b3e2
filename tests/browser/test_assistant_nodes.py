"""The function-calling flow on the canvas: Wait for run's three labelled ports, and its form in the
inspector; desktop and phone, with axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_wait_for_run_shows_its_three_ports_and_its_bounded_form(size, cast, stub_credential, open_tab):
    ids = {"thread_id": "{{$1.body.thread}}", "run_id": "{{$1.body.run}}"}
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"thread": "thread_1", "run": "run_1"}}),
            2: ("openai.wait_for_run", ids, stub_credential),
            3: ("openai.submit_tool_outputs", {**ids, "tool_outputs": []}, stub_credential),
            4: ("openai.list_messages", {"thread_id": "{{$1.body.thread}}"}, stub_credential),
        },
        [(1, 2), (2, 3, "requires_action"), (2, 4, "completed")],
    )
    for number, (x, y) in {1: (40, 200), 2: (340, 200), 3: (700, 80), 4: (700, 320)}.items():
        scenario.nodes.filter(number=number).update(position_x=x, position_y=y)
    width, height = SIZES[size]
    tab = open_tab(cast.bob, width=width, height=height)
    editor = EditorPage(tab, scenario).open()
    tab.page.get_by_role("button", name="Fit to screen").click()
    for port in ("completed", "requires_action", "ended"):
        assert editor.port(2, f"out:{port}").count() == 1, port
    expect(editor.node(2).locator(".x6-port-label", has_text="requires_action")).to_be_attached()
    tab.shot(f"assistant-wait-for-run-canvas-{size}")
    editor.inspect(2)
    wait = editor.field("Wait at most (seconds)", role="textbox")
    expect(wait).to_have_value("120")
    tab.shot(f"assistant-wait-for-run-inspector-{size}")
    problems = tab.accessibility_problems()
    assert not problems, "\n".join(problems)
