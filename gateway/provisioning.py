"""How the rest of Scenery reaches the built-in gateway (implemented by the gateway app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teams.models import Team


def ensure_team_gateway_key(team: Team, name: str = "Demo") -> tuple[str, str]:
    """Issue a fresh gateway API key for `team`; return (gateway base URL, plaintext key)."""
    raise NotImplementedError("the gateway app provides this")
