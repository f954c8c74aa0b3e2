"""Browser tests: Debian's Chromium driven by Playwright against the live ASGI server (WebSockets
included). Each test logs its users in by session cookie, collects console errors (a test fails on
any it did not expect) and saves screenshots under test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from teams.models import User
from tests.asgi_server import LiveASGIServer

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
# axe-core from npm (package.json, a dev dependency): injected into pages under test, never served.
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The machine is shared by parallel test runs: give slow moments some room.
expect.set_options(timeout=12_000)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """A Playwright of this module only: its event loop is gone when the module ends, so asyncio
    tests that follow get their own.

    Playwright's sync API keeps an event loop running in the test's thread, and Django refuses ORM
    calls from a thread with a running loop: the browser tests (and only they, while their
    Playwright lives) set up and check their data with the async-safety check off."""
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def request_failed(self, failure: str, request: str) -> None:
        # A request the page itself called off (it navigated away, or htmx replaced it with a newer
        # one) never reached an answer to judge; an answer of 400 or more is recorded by status.
        if failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{failure} {request}")

    def allow_errors(self, pattern: str) -> None:
        """Console errors this test provokes on purpose (e.g. the 409 of a stale save)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    def accessibility_problems(self) -> list[str]:
        """The serious and critical WCAG 2 A/AA violations axe-core finds on the page as it is now,
        one line per element: rule, impact, selector and axe's own summary of the fix."""
        if not self.js("() => typeof window.axe === 'object'"):
            self.page.add_script_tag(path=str(AXE))
        violations = self.js(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations)",
            AXE_TAGS,
        )
        return [
            f"{self.page.url} {v['id']} ({v['impact']}) {' '.join(node['target'])}: {node['failureSummary']}"
            for v in violations
            if v["impact"] in ("serious", "critical")
            for node in v["nodes"]
        ]

    def assert_accessible(self) -> None:
        problems = self.accessibility_problems()
        assert not problems, "axe-core:\n" + "\n".join(problems)


@pytest.fixture
def open_tab(chromium: Browser, asgi_server: LiveASGIServer) -> Iterator[Any]:
    """open_tab(user, width=1280, height=800) → a Tab signed in as `user`."""
    tabs: list[Tab] = []

    def open_(user: User, width: int = 1280, height: int = 800, context: BrowserContext | None = None) -> Tab:
        if context is None:
            client = Client()
            client.force_login(user)
            context = chromium.new_context(viewport={"width": width, "height": height})
            context.add_cookies(
                [
                    {
                        "name": settings.SESSION_COOKIE_NAME,
                        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "url": asgi_server.url,
                    }
                ]
            )
        page = context.new_page()
        page.set_default_timeout(15_000)
        tab = Tab(page, context, asgi_server.url)
        page.on("console", lambda m: tab.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))
        page.on(
            "response",
            lambda r: (
                tab.failed_requests.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400
                else None
            ),
        )
        page.on("requestfailed", lambda r: tab.request_failed(f"{r.failure}", f"{r.method} {r.url}"))
        tabs.append(tab)
        return tab

    yield open_
    problems = [e for tab in tabs for e in tab.unexpected_errors()]
    if problems:
        problems += [f"request: {r}" for tab in tabs for r in tab.failed_requests]
    for tab in tabs:
        tab.page.close()
    for context in {id(t.context): t.context for t in tabs}.values():
        context.close()
    assert not problems, "console errors:\n" + "\n".join(problems)
