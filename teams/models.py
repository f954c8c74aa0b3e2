from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone

from teams import crypto
from teams.names import name_key

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
# A stored secret starts with this and the origin it was entered for (Credential.set_secret).
BOUND_TO = "scenery-origin:"
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`https://api.openai.com:443`: scheme, host and port (the default one spelled out)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


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


class CredentialKind(models.TextChoices):
    """How a credential's secret is sent. OpenAI-compatible ones serve the provider nodes; the generic
    kinds serve the HTTP Request node (nodes/types/http.py)."""

    OPENAI = "openai", "OpenAI-compatible API key"
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "Basic auth (user and password)"
    HEADER = "header", "A header"
    QUERY = "query", "A query parameter"


GENERIC_KINDS = (CredentialKind.BEARER, CredentialKind.BASIC, CredentialKind.HEADER, CredentialKind.QUERY)


class CredentialQuerySet(models.QuerySet["Credential"]):
    def for_team(self, team: Team) -> CredentialQuerySet:
        return self.filter(team=team)

    def of_kinds(self, kinds: tuple[str, ...]) -> CredentialQuerySet:
        return self.filter(kind__in=kinds)

    def looking_like(self, name: str) -> CredentialQuerySet:
        """Credentials whose name looks the same as `name` (teams/names.py)."""
        return self.filter(name_key=name_key(name))


class Credential(models.Model):
    """An API key and the base URL it may be sent to. The secret is write-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=100)
    # The name's comparison form (teams/names.py), unique per team: look-alike names cannot coexist.
    name_key = models.CharField(max_length=64, editable=False)
    kind = models.CharField(max_length=10, choices=CredentialKind.choices, default=CredentialKind.OPENAI)
    # Not secret: the user name (basic), the header's name (header) or the parameter's name (query).
    auth_name = models.CharField(max_length=200, blank=True, default="")
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
        constraints = [
            models.UniqueConstraint(fields=["team", "name_key"], name="unique_credential_name_key")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = name_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "name" in update_fields:
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)

    @property
    def host(self) -> str:
        """The host (with port) of the base URL, as shown."""
        return urlsplit(self.base_url).netloc.lower()

    @property
    def origin(self) -> str:
        """Scheme, host and port of the base URL: what the secret is bound to."""
        return origin_of(self.base_url)

    @property
    def masked(self) -> str:
        return f"•••• {self.secret_hint}" if self.secret_hint else "(no secret)"

    def set_secret(self, secret: str) -> None:
        """Store `secret` bound to the base URL's origin: sent nowhere else, even if the base URL is
        changed behind the form's back (the admin, a shell, an import)."""
        self.secret_encrypted = crypto.encrypt(f"{BOUND_TO}{self.origin}\n{secret}") if secret else ""
        self.secret_hint = secret[-4:] if len(secret) >= 8 else ""

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_plaintext", None)  # a pickled or copied credential carries no plaintext
        return state

    def _decrypted(self) -> tuple[str | None, str]:
        """(the origin the secret is bound to — None when entered before secrets were bound, the
        secret). Raises crypto.SecretUnreadable when it needs re-entry."""
        if not self.secret_encrypted:
            return None, ""
        # An execution asks several times (redaction, each provider call); decrypt once per
        # instance and ciphertext.
        cached = self.__dict__.get("_plaintext")
        if cached is not None and cached[0] == self.secret_encrypted:
            plaintext = str(cached[1])
        else:
            plaintext = crypto.decrypt(self.secret_encrypted)
            self.__dict__["_plaintext"] = (self.secret_encrypted, plaintext)
        if not plaintext.startswith(BOUND_TO):
            return None, plaintext
        origin, _, secret = plaintext[len(BOUND_TO) :].partition("\n")
        return origin, secret

    def get_secret(self) -> str:
        """The plaintext secret, for a request to the base URL. Raises crypto.SecretUnreadable when
        it needs re-entry: undecryptable, or entered for another scheme, host or port."""
        origin, secret = self._decrypted()
        if origin is not None and origin != self.origin:
            raise crypto.SecretUnreadable(
                f"The key was entered for {origin}, but the base URL now points to {self.origin}; "
                "enter the key again to send it there."
            )
        return secret

    def readable_secret(self) -> str:
        """The plaintext secret wherever it may be sent, or "" when there is none or it cannot be
        decrypted (for redaction)."""
        try:
            return self._decrypted()[1]
        except crypto.SecretUnreadable:
            return ""

    @property
    def needs_reentry(self) -> bool:
        if not self.secret_encrypted:
            return False
        try:
            self.get_secret()
        except crypto.SecretUnreadable:
            return True
        return False


class InvitationError(Exception):
    """An invitation that cannot be used; the message is shown to the user as is."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An invitation to join a team with a role, by email or by a link anyone signed in may use once.

    Only the SHA-256 of the token is stored: the link is shown (or mailed) once, at creation.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"
        REVOKED = "revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    # Empty for an invitation link; otherwise only a user with this address may accept.
    email = models.EmailField(blank=True, default="")
    role = models.IntegerField(choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    used_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation to {self.team} ({self.email or 'link'})"

    @classmethod
    def issue(cls, team: Team, role: Role, invited_by: User, email: str = "") -> tuple[Invitation, str]:
        """Create an invitation; return it and its plaintext token (never stored)."""
        token = secrets.token_urlsafe(32)
        days = getattr(settings, "INVITATION_EXPIRY_DAYS", 7)
        invitation = cls.objects.create(
            team=team,
            role=role,
            email=email.strip(),
            invited_by=invited_by,
            token_hash=hash_token(token),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return invitation, token

    @classmethod
    def find(cls, token: str) -> Invitation | None:
        return cls.objects.select_related("team", "invited_by").filter(token_hash=hash_token(token)).first()

    @property
    def is_expired(self) -> bool:
        return timezone.now() >= self.expires_at

    @property
    def masked_email(self) -> str:
        name, _, domain = self.email.partition("@")
        return f"{name[:1]}•••@{domain}" if domain else ""

    def check_usable_by(self, user: User) -> None:
        """Raise InvitationError with a message for the user when `user` may not use this invitation."""
        if self.status == self.Status.REVOKED:
            raise InvitationError("This invitation was withdrawn. Ask the team for a new one.", 410)
        if self.status != self.Status.PENDING:
            raise InvitationError("This invitation was already used. Ask the team for a new one.", 410)
        if self.is_expired:
            expired = timezone.localtime(self.expires_at).strftime("%Y-%m-%d %H:%M %Z")
            raise InvitationError(f"This invitation expired on {expired}. Ask the team for a new one.", 410)
        if self.email and self.email.casefold() != (user.email or "").casefold():
            raise InvitationError(
                f"This invitation was sent to {self.masked_email}, not to the account you are signed in "
                f"with ({user.username}). Sign in with that address's account to accept it.",
                403,
            )
        if self.team.memberships.filter(user=user).exists():
            raise InvitationError(f"You are already a member of {self.team.name}.", 409)

    def accept(self, user: User) -> Membership:
        with transaction.atomic():
            # Re-read under a lock so that a link used twice at the same moment joins only once.
            current = Invitation.objects.select_for_update().select_related("team").get(pk=self.pk)
            current.check_usable_by(user)
            membership = Membership.objects.create(team=current.team, user=user, role=current.role)
            current._close(self.Status.ACCEPTED, user)
        self.refresh_from_db()
        return membership

    def decline(self, user: User) -> None:
        with transaction.atomic():
            current = Invitation.objects.select_for_update().select_related("team").get(pk=self.pk)
            current.check_usable_by(user)
            current._close(self.Status.DECLINED, user)
        self.refresh_from_db()

    def _close(self, status: str, user: User) -> None:
        self.status = status
        self.used_by = user
        self.used_at = timezone.now()
        self.save(update_fields=["status", "used_by", "used_at"])


class StoredFileQuerySet(models.QuerySet["StoredFile"]):
    def for_team(self, team_id: Any) -> StoredFileQuerySet:
        return self.filter(team_id=team_id)


class StoredFile(models.Model):
    """A file a node received (an HTTP Request's binary answer), kept out of the JSON outputs: a node's
    output refers to it by id, with its name, type and size, and later nodes of the team use it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="stored_files")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def reference(self) -> dict[str, Any]:
        """What a node's output holds instead of the bytes."""
        return {
            "file_id": str(self.id),
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
        }
