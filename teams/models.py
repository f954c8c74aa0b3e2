from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.contrib.auth.models import AbstractUser
from django.db import models, transaction

from teams import crypto

if TYPE_CHECKING:
    from collections.abc import Iterable

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


class User(AbstractUser):
    """Scenery's user. Kept as our own model so accounts can grow without a swap later."""


class Role(models.IntegerChoices):
    # Ordered: a higher value includes every right of the lower ones.
    VIEWER = 10, "Viewer"
    EDITOR = 20, "Editor"
    ADMIN = 30, "Admin"
    OWNER = 40, "Owner"


class TeamQuerySet(models.QuerySet["Team"]):
    def for_user(self, user: User) -> TeamQuerySet:
        return self.filter(memberships__user=user)


class Team(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    @classmethod
    def bootstrap(cls, owner: User, name: str) -> Team:
        """Create a team with its first owner, atomically."""
        with transaction.atomic():
            team = cls.objects.create(name=name)
            Membership.objects.create(team=team, user=owner, role=Role.OWNER)
        return team

    def role_of(self, user: User) -> Role | None:
        membership = self.memberships.filter(user=user).first()
        return Role(membership.role) if membership else None


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.IntegerField(choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"

    def allows(self, role: Role) -> bool:
        return self.role >= role


class CredentialQuerySet(models.QuerySet["Credential"]):
    def for_team(self, team: Team) -> CredentialQuerySet:
        return self.filter(team=team)


class Credential(models.Model):
    """An API key and the base URL it may be sent to. The secret is write-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=100)
    base_url = models.URLField(max_length=500, default=DEFAULT_OPENAI_BASE_URL)
    secret_encrypted = models.TextField(blank=True, default="")
    # The last four characters, kept in clear to show "•••• abcd"; never the rest.
    secret_hint = models.CharField(max_length=4, blank=True, default="")
    default_model = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_credential_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def host(self) -> str:
        """The host (with port) the secret is bound to."""
        return urlsplit(self.base_url).netloc.lower()

    @property
    def masked(self) -> str:
        return f"•••• {self.secret_hint}" if self.secret_hint else "(no secret)"

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = crypto.encrypt(secret) if secret else ""
        self.secret_hint = secret[-4:] if len(secret) >= 8 else ""

    def get_secret(self) -> str:
        """The plaintext secret. Raises crypto.SecretUnreadable when it needs re-entry."""
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    @property
    def needs_reentry(self) -> bool:
        if not self.secret_encrypted:
            return False
        try:
            self.get_secret()
        except crypto.SecretUnreadable:
            return True
        return False


def secrets_of(credentials: Iterable[Credential]) -> list[str]:
    """Plaintext secrets, for redaction only."""
    found = []
    for credential in credentials:
        try:
            secret = credential.get_secret()
        except crypto.SecretUnreadable:
            continue
        if secret:
            found.append(secret)
    return found
