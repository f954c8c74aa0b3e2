"""How the rest of Scenery reaches the built-in gateway: a team's base URL and a fresh API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from teams.models import Team


def gateway_base_url() -> str:
    return settings.SCENERY_BASE_URL.rstrip("/") + "/v1"


def ensure_team_gateway_key(team: Team, name: str = "Demo") -> tuple[str, str]:
    """Issue a fresh gateway API key for `team`, revoking its earlier live keys of the same name (their
    plaintext is unknown by design, so a new one is the only way to hand a key out again).
    Returns (gateway base URL, plaintext key)."""
    from gateway.models import GatewayConfig, GatewayKey

    with transaction.atomic():
        for old in GatewayKey.objects.filter(team=team, name=name, revoked=False):
            old.revoke()
        _, plaintext = GatewayKey.issue(team, name)
        GatewayConfig.for_team(team)
    return gateway_base_url(), plaintext
