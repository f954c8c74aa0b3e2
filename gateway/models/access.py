"""Who may call the gateway (API keys per team) and which provider answers for a team."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from teams.models import Credential, Team

KEY_PREFIX = "sk-scenery-"
# Shown in lists so a person can tell keys apart; long enough to be distinctive, far too short to use.
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 6
OFFLINE_MODEL = "scenery-echo"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class GatewayKey(models.Model):
    """A gateway API key. Only its SHA-256 hash is stored; the plaintext is shown once, at issue."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="gateway_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=32)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, team: Team, name: str) -> tuple[GatewayKey, str]:
        """Create a key for `team`; return it with its plaintext (the only time it is known)."""
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.objects.create(
            team=team, name=name, prefix=plaintext[:VISIBLE_PREFIX_LENGTH], key_hash=hash_key(plaintext)
        )
        return key, plaintext

    def revoke(self) -> None:
        if not self.revoked:
            self.revoked = True
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked", "revoked_at"])

    @classmethod
    def authenticate(cls, plaintext: str) -> GatewayKey | None:
        """The live key with this plaintext, or None."""
        if not plaintext.startswith(KEY_PREFIX):
            return None
        key = cls.objects.select_related("team").filter(key_hash=hash_key(plaintext), revoked=False).first()
        if key is not None and (
            key.last_used_at is None or timezone.now() - key.last_used_at > timedelta(minutes=1)
        ):
            # Once a minute is precise enough for "last used" and spares a write per request.
            cls.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key


class GatewayConfig(models.Model):
    """A team's gateway settings: which credential (base URL + key) answers, and the default model."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="gateway_config")
    provider = models.ForeignKey(
        Credential, null=True, blank=True, on_delete=models.SET_NULL, related_name="gateway_configs"
    )
    default_model = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Gateway of {self.team}"

    def clean(self) -> None:
        if self.provider is not None and self.provider.team_id != self.team_id:
            raise ValidationError({"provider": "Choose a credential of this team."})

    @classmethod
    def for_team(cls, team: Team | object) -> GatewayConfig:
        team_id = team.pk if isinstance(team, Team) else team
        config, _ = cls.objects.select_related("provider").get_or_create(team_id=team_id)
        return config

    @property
    def effective_default_model(self) -> str:
        """The model used where a request names none it can use: the chosen one, else the
        provider credential's default, else the offline test model."""
        if self.default_model:
            return self.default_model
        if self.provider is not None and self.provider.default_model:
            return self.provider.default_model
        return OFFLINE_MODEL
