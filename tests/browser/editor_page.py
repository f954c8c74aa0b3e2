"""Driving the editor page like a person: catalog clicks, port-to-port drags, the inspector."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from scenarios.models import Scenario
from tests.browser.conftest import Tab
from tests.waiting import HANG


class EditorPage:
    def __init__(self, tab: Tab, scenario: Scenario) -> None:
        self.tab = tab
        self.page = tab.page
        self.scenario = scenario

    def open(self) -> EditorPage:
        self.tab.goto(f"/scenarios/{self.scenario.pk}/")
        self.page.wait_for_function("window.scenery && window.scenery.ready")
        return self

    # -- the canvas -----------------------------------------------------------------------------
    def cell_id(self, number: int) -> str:
        cell_id = self.tab.js("(n) => window.scenery.cellByNumber(n)?.id", number)
        assert cell_id, f"no node ${number} on the canvas"
        return str(cell_id)

    def node(self, number: int) -> Locator:
        return self.page.locator(f'#canvas g.x6-node[data-cell-id="{self.cell_id(number)}"]')

    def port(self, number: int, port: str) -> Locator:
        return self.node(number).locator(f'circle[port="{port}"]')

    def numbers(self) -> list[int]:
        return sorted(self.tab.js("() => window.scenery.graph.getNodes().map(c => c.getData().number)"))

    def edges(self) -> list[tuple[int, int]]:
        return sorted(tuple(e) for e in self.tab.js("() => window.scenery.edgesByNumber()"))

    def status_text(self, number: int) -> str:
        return str(self.tab.js("(n) => window.scenery.cellByNumber(n).attr('status/text')", number))

    def wait_status(self, number: int, prefix: str) -> None:
        """Until node `number`'s status on the canvas starts with `prefix` (the browser polls)."""
        try:
            self.page.wait_for_function(
                "([n, prefix]) => String(window.scenery.cellByNumber(n).attr('status/text')).startsWith(prefix)",
                arg=[number, prefix],
                timeout=HANG * 1000,
            )
        except PlaywrightTimeoutError:
            raise AssertionError(f"${number} is {self.status_text(number)!r}, not {prefix!r}") from None

    def add_from_catalog(self, title: str) -> int:
        before = set(self.numbers())
        self.page.locator(".catalog-item", has_text=title).first.click()
        self.wait_saved()
        (added,) = set(self.numbers()) - before
        expect(self.page.locator("#inspector .inspector-title")).to_contain_text(f"${added}")
        return added

    def drag(self, source: Locator, target: Locator) -> None:
        start, end = source.bounding_box(), target.bounding_box()
        assert start and end
        self.page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
        self.page.mouse.up()

    def show_both(self, first: int, second: int) -> None:
        """Nodes `first` and `second` in view (and what lies between them), as a person would pan."""
        self.tab.js(
            """([a, b]) => { const g = window.scenery.graph;
                const box = window.scenery.cellByNumber(a).getBBox().union(window.scenery.cellByNumber(b).getBBox());
                if (!g.getGraphArea().containsRect(box)) g.centerPoint(box.center.x, box.center.y); }""",
            [first, second],
        )
        expect(self.node(first)).to_be_visible()
        expect(self.node(second)).to_be_visible()

    def connect(self, source: int, target: int) -> None:
        self.show_both(source, target)
        self.drag(self.port(source, "out"), self.port(target, "in"))

    def scroll_to(self, number: int) -> None:
        """Bring node `number` into view, as a person would pan to it: Fit keeps text readable, so a
        scenario wider than the screen (a phone's) is not all in view at once."""
        self.tab.js(
            """(n) => { const g = window.scenery.graph; const c = window.scenery.cellByNumber(n);
                if (!g.getGraphArea().containsRect(c.getBBox())) g.centerCell(c); }""",
            number,
        )
        expect(self.node(number)).to_be_visible()

    def click_node(self, number: int) -> None:
        self.scroll_to(number)
        box = self.node(number).bounding_box()
        assert box
        self.page.mouse.click(box["x"] + 30, box["y"] + box["height"] / 2)

    def wait_saved(self) -> None:
        expect(self.page.locator("#save-state")).to_have_text("All changes saved")
        self.page.wait_for_function("!window.scenery.autosave.busy")

    def version(self) -> int:
        return int(self.tab.js("() => window.scenery.autosave.version"))

    # -- the inspector ------------------------------------------------------------------------------
    def inspect(self, number: int) -> Locator:
        self.click_node(number)
        inspector = self.page.locator(f'#inspector[data-node-number="{number}"]')
        expect(inspector).to_be_visible()
        return inspector

    def pick(self, number: int, *path: str) -> None:
        """Click a value of node `number`'s output in the data picker."""
        tree = self.page.locator(".picker-node", has=self.page.locator(".node-num", has_text=f"${number}"))
        expr = "{{$" + str(number) + "".join(f".{p}" for p in path) + "}}"
        tree.locator(f'.pick[data-expr="{expr}"]').click()

    def field(self, label: str, role: str = "textbox") -> Locator:
        """A control of the inspector by its accessible name (the seed's label)."""
        return self.page.locator("#inspector").get_by_role(role, name=label, exact=True)  # type: ignore[arg-type]

    def run_once(self) -> None:
        self.page.locator("#inspector").get_by_role("button", name="Run once").click()

    def save_node(self) -> None:
        self.page.locator("#inspector").get_by_role("button", name="Save", exact=True).click()

    def live_row(self, number: int) -> Locator:
        return self.page.locator(f'#live-nodes li[data-number="{number}"]')


def data_of(page: Any, number: int) -> Any:
    return page.evaluate("(n) => window.scenery.cellByNumber(n).getData()", number)
