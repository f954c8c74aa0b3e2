"""Forms of accounts and teams. Explicit fields only: the team and owner are always set by the view."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.http import HttpRequest, QueryDict

from teams import throttle
from teams.models import Credential, CredentialKind, Role, Team, User, origin_of
from teams.names import comparison_form

LOOK_ALIKE = (
    "Names that differ only in case, width, accents' encoding or invisible characters count as the same."
)


def username_taken(username: str, exclude_pk: Any = None) -> bool:
    """Whether another account's username looks the same (teams/names.py). Compared here rather than
    with `username__iexact`, which on SQLite folds ASCII case only; Django's own check also scans."""
    wanted = comparison_form(username)
    others = User.objects.exclude(pk=exclude_pk) if exclude_pk is not None else User.objects.all()
    return any(comparison_form(u) == wanted for u in others.values_list("username", flat=True).iterator())


class LookAlikeUsernames(forms.ModelForm):
    """For every form that creates or renames a user: one account per look of a username."""

    def clean_username(self) -> str:
        username: str = self.cleaned_data.get("username") or ""
        if username and username_taken(username, self.instance.pk):
            raise forms.ValidationError(f"A user with that username already exists. {LOOK_ALIKE}")
        return username


def check_credential_name(team: Team, name: str, exclude_pk: Any = None) -> None:
    """Refuse a name that is empty once invisible characters are gone, or that looks like the name of
    another credential of the team (teams/names.py; the database enforces it too)."""
    if not comparison_form(name):
        raise forms.ValidationError("Give the credential a name.")
    taken = Credential.objects.for_team(team).looking_like(name).exclude(pk=exclude_pk).first()
    if taken is not None:
        message = f"This team already has a credential named “{taken.name}”."
        raise forms.ValidationError(message if taken.name == name else f"{message} {LOOK_ALIKE}")


class SignupForm(LookAlikeUsernames, UserCreationForm):
    email = forms.EmailField(
        help_text="For password resets and invitations.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta:
        model = User
        fields = ["username", "email"]

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.")
        return email


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name"]

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the team a name.")
        return name


def _role_field(roles: list[Role], initial: Role | None = None) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=[(role.value, role.label) for role in roles],
        coerce=lambda value: Role(int(value)),
        initial=initial.value if initial is not None else None,
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        required=False,
        help_text="Leave empty to create a link that anyone signed in can use once.",
    )

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"] = _role_field(roles, Role.EDITOR if Role.EDITOR in roles else None)


class RoleForm(forms.Form):
    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"] = _role_field(roles)


class DeleteTeamForm(forms.Form):
    confirm = forms.CharField(label="Type the team's name to confirm", strip=True)

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_confirm(self) -> str:
        value: str = self.cleaned_data["confirm"]
        if value != self.team.name:
            raise forms.ValidationError(f"Type “{self.team.name}” exactly to delete this team.")
        return value


# Which fields each kind of credential uses (the form shows only those; see credential_kinds.js).
KIND_FIELDS = {
    "auth_name": (CredentialKind.BASIC, CredentialKind.HEADER, CredentialKind.QUERY),
    "default_model": (CredentialKind.OPENAI,),
}
AUTH_NAME_LABELS = {
    CredentialKind.BASIC: "User name",
    CredentialKind.HEADER: "Header name",
    CredentialKind.QUERY: "Parameter name",
}
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}")
# Headers the HTTP client sets itself; a credential cannot replace them.
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-type"}


class CredentialForm(forms.ModelForm):
    """Kind, name, base URL and a write-only secret: an empty secret keeps the stored one."""

    secret = forms.CharField(
        required=False,
        strip=True,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    clear_secret = forms.BooleanField(required=False, label="Remove the stored key")

    class Meta:
        model = Credential
        fields = ["kind", "name", "base_url", "auth_name", "default_model"]
        labels = {
            "kind": "Kind",
            "base_url": "Base URL",
            "auth_name": "Identifier (user, header or parameter)",
            "default_model": "Default model",
        }
        help_texts = {
            "kind": "OpenAI-compatible keys serve the model nodes; the other kinds serve HTTP Request.",
            "base_url": "The key is only ever sent to this scheme, host and port. Changing any of them "
            "needs the key again.",
            "auth_name": "Basic: the user name. Header: the header's name (e.g. X-API-Key). "
            "Query parameter: its name (e.g. api_key). Not secret.",
            "default_model": "Optional; nodes may choose another.",
        }

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team
        creating = self.instance._state.adding  # (UUID primary keys are set before saving)
        if creating:
            self.instance.team = team
        self.original_url = "" if creating else self.instance.base_url
        self.had_secret = not creating and bool(self.instance.secret_encrypted)
        self.fields["secret"].help_text = (
            f"Stored: {self.instance.masked}. Leave empty to keep it."
            if self.had_secret
            else "An OpenAI-compatible server that needs no key: leave it empty."
        )
        if not self.had_secret:
            del self.fields["clear_secret"]
        self.fields["secret"].label = "API key, token or password"
        # Forms posted without a kind (older pages, scripts) keep the credential's kind.
        self.fields["kind"].required = False
        self.fields["kind"].widget.attrs["data-credential-kind"] = ""
        for name, kinds in KIND_FIELDS.items():
            self.fields[name].widget.attrs["data-kinds"] = " ".join(kinds)

    def clean_kind(self) -> str:
        return str(self.cleaned_data.get("kind") or self.instance.kind or CredentialKind.OPENAI)

    def clean_auth_name(self) -> str:
        name: str = self.cleaned_data.get("auth_name", "").strip()
        kind = self.cleaned_data.get("kind")
        if kind not in KIND_FIELDS["auth_name"]:
            return ""
        label = AUTH_NAME_LABELS[CredentialKind(kind)]
        if not name:
            raise forms.ValidationError(f"{label}: required for this kind of credential.")
        if kind == CredentialKind.HEADER:
            if not HEADER_NAME.fullmatch(name):
                raise forms.ValidationError(f"'{name[:80]}' is not a valid header name.")
            if name.lower() in RESERVED_HEADERS:
                raise forms.ValidationError(f"Scenery sets {name} itself; choose another header.")
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or (
            kind == CredentialKind.BASIC and ":" in name
        ):
            raise forms.ValidationError(f"{label}: no colons, line breaks or control characters.")
        return name

    def clean_default_model(self) -> str:
        if self.cleaned_data.get("kind") != CredentialKind.OPENAI:
            return ""
        return str(self.cleaned_data.get("default_model") or "")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        check_credential_name(self.team, name, self.instance.pk)
        return name

    def clean_base_url(self) -> str:
        url: str = self.cleaned_data["base_url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError("Use an http:// or https:// URL with a host.")
        if parts.username or parts.password:
            # Not even echoed back into the field: what is before the "@" may be a key.
            scrubbed = QueryDict(mutable=True)
            scrubbed.update(self.data)
            scrubbed[self.add_prefix("base_url")] = parts._replace(
                netloc=parts.netloc.rpartition("@")[2]
            ).geturl()
            self.data = scrubbed
            raise forms.ValidationError("Put the key in the API key field, not in the URL.")
        if parts.query or parts.fragment:
            raise forms.ValidationError("The base URL cannot have a query (?…) or a fragment (#…).")
        try:
            parts.port  # noqa: B018 (reading it checks it)
        except ValueError:
            raise forms.ValidationError("The port must be a number from 0 to 65535.") from None
        return url.rstrip("/")

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in secret):
            raise forms.ValidationError("The key contains a line break or another control character.")
        return secret

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        secret, clear = cleaned.get("secret"), cleaned.get("clear_secret")
        if secret and clear:
            self.add_error("clear_secret", "Either enter a new key or remove the stored one, not both.")
        if (
            cleaned.get("kind", CredentialKind.OPENAI) != CredentialKind.OPENAI
            and not secret
            and (clear or not self.had_secret)
        ):
            self.add_error("secret", "Enter the token, password or value this credential sends.")
        base_url = cleaned.get("base_url")
        if self.had_secret and base_url and not secret and not clear:
            new, old = origin_of(base_url), origin_of(self.original_url)
            if new != old:
                # As typed, with the scheme when that is what changed (an http downgrade).
                shown = [urlsplit(url) for url in (base_url, self.original_url)]
                same_scheme = shown[0].scheme.lower() == shown[1].scheme.lower()
                now, before = (p.netloc.lower() if same_scheme else f"{p.scheme}://{p.netloc}" for p in shown)
                self.add_error(
                    "secret",
                    f"The base URL now points to {now} instead of {before}. "
                    "Enter the key again to allow sending it there.",
                )
        return cleaned

    def save(self, commit: bool = True) -> Credential:
        credential = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            credential.set_secret(self.cleaned_data["secret"])
        elif self.cleaned_data.get("clear_secret"):
            credential.set_secret("")
        if commit:
            credential.save()
        return credential


# -- throttled sign-in and password reset (teams/throttle.py) ----------------------------------------


class ThrottledLoginForm(AuthenticationForm):
    """Django's sign-in, refused for an account or an address with too many failures."""

    def clean(self) -> dict[str, Any]:
        account = throttle.account_of(self.cleaned_data.get("username") or "")
        address = throttle.address_of(self.request) if self.request is not None else "unknown"
        if throttle.refused("login", address=address, account=account):
            raise forms.ValidationError(
                "Too many failed sign-ins for this account or from your address. "
                f"Try again in {throttle.wait_text()}.",
                code="throttled",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.count("login", address=address, account=account)
            raise
        throttle.forget_account("login", account)
        return cleaned


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's password reset, refused past a number of requests for one address or from one
    network address (each request may send an email)."""

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        account = throttle.account_of(cleaned.get("email") or "")
        address = throttle.address_of(self.request)
        if throttle.refused("password_reset", address=address, account=account):
            raise forms.ValidationError(
                "Too many password reset requests for this email address or from your address. "
                f"Try again in {throttle.wait_text()}.",
                code="throttled",
            )
        throttle.count("password_reset", address=address, account=account)
        return cleaned
