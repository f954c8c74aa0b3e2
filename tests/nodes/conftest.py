"""Fixtures of the node catalog's tests: retries do not sleep, and the URL configuration is our own."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.transport import http


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries do not really sleep in these tests; the waits asked for are recorded instead."""
    asked: list[float] = []

    async def pause(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(http, "_pause", pause)
    http.forget_models()
    return asked


@pytest.fixture(autouse=True)
def urls_with_teams(settings: Any) -> None:
    """A URL configuration with the teams helper's inline "new credential" endpoint only, so these
    tests do not depend on the rest of the site's URLs."""
    settings.ROOT_URLCONF = "tests.nodes.urls_with_teams"
