"""How the rest of Scenery reaches the built-in gateway: a team's base URL and a fresh API key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

if TYPE_CHECKING:
    from teams.models import Credential, Team


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


GATEWAY_CREDENTIAL_NAME = "Scenery gateway"


def gateway_credential(team: Team) -> Credential:
    """The team's credential for the built-in gateway: its existing one (a readable key for this base
    URL), or a new one holding a fresh gateway key. One action where a credential is needed, instead
    of issuing a key on one page and copying it into a credential on another."""
    from gateway.models import GatewayConfig
    from gateway.models.access import OFFLINE_MODEL
    from teams.models import Credential
    from teams.names import name_key

    base_url = gateway_base_url()
    with transaction.atomic():
        for existing in Credential.objects.for_team(team).filter(base_url=base_url):
            if existing.secret_encrypted and not existing.needs_reentry:
                return existing
        _, key = ensure_team_gateway_key(team, name=GATEWAY_CREDENTIAL_NAME)
        config = GatewayConfig.for_team(team)
        # A credential of that base URL whose key cannot be read any more gets the new key.
        credential = Credential.objects.for_team(team).filter(base_url=base_url).first()
        if credential is None:
            taken = {c.name_key for c in Credential.objects.for_team(team)}
            name = GATEWAY_CREDENTIAL_NAME
            for n in range(2, 100):
                if name_key(name) not in taken:
                    break
                name = f"{GATEWAY_CREDENTIAL_NAME} ({n})"
            credential = Credential(team=team, name=name, base_url=base_url)
        # Without a provider the gateway answers with its offline model, so a first run works at once.
        credential.default_model = config.default_model or ("" if config.provider_id else OFFLINE_MODEL)
        credential.set_secret(key)
        credential.save()
    return credential


def ensure_assistant(team: Team, name: str, instructions: str, model: str = "") -> str:
    """The id of the team's gateway assistant called `name`, created the first time (on the offline
    model unless `model` says otherwise), so a starter scenario can name it."""
    from gateway.models import Assistant
    from gateway.models.access import OFFLINE_MODEL

    with transaction.atomic():
        existing = Assistant.objects.filter(team=team, name=name).order_by("created_at").first()
        if existing is not None:
            return existing.id
        return Assistant.objects.create(
            team=team, name=name, instructions=instructions, model=model or OFFLINE_MODEL
        ).id
