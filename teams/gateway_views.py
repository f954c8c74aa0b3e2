"""The team's page for the built-in gateway (/v1/): API keys and which credential answers.

A key's plaintext exists only in the response that issues it; the gateway stores its hash. Everyone
in the team sees the page; admins issue and revoke keys and choose the provider.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from gateway.models import GatewayConfig, GatewayKey
from gateway.provisioning import gateway_base_url
from teams.models import Credential, Membership, Role, Team
from teams.scoping import get_scoped, require_current, require_role

PAGE = "teams/gateway.html"


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="Key name", help_text="Say who or what uses it.")


class ConfigForm(forms.ModelForm):
    class Meta:
        model = GatewayConfig
        fields = ["provider", "default_model"]
        labels = {"provider": "Provider credential", "default_model": "Default model"}
        help_texts = {
            "provider": "Requests are answered by this credential's provider. None: the offline test model.",
            "default_model": "Used when a request names no model it can use.",
        }

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only this team's credentials can be chosen; another team's id is "not a valid choice".
        self.fields["provider"].queryset = Credential.objects.for_team(team)  # type: ignore[attr-defined]
        self.fields["provider"].required = False
        self.fields["provider"].empty_label = "None: the offline test model"  # type: ignore[attr-defined]


def _context(membership: Membership, **extra: Any) -> dict[str, Any]:
    team = membership.team
    config = GatewayConfig.for_team(team)
    context: dict[str, Any] = {
        "team": team,
        "can_manage": membership.allows(Role.ADMIN),
        "keys": GatewayKey.objects.filter(team=team),
        "base_url": gateway_base_url(),
        "config": config,
        "key_form": KeyForm(),
        "config_form": ConfigForm(instance=config, team=team),
    }
    context.update(extra)
    return context


@login_required
@require_GET
def gateway(request: HttpRequest) -> HttpResponse:
    return render(request, PAGE, _context(require_current(request)))


@login_required
@require_POST
def gateway_key_new(request: HttpRequest) -> HttpResponse:
    membership = require_current(request, Role.ADMIN)
    form = KeyForm(request.POST)
    if not form.is_valid():
        return render(request, PAGE, _context(membership, key_form=form), status=400)
    key, plaintext = GatewayKey.issue(membership.team, form.cleaned_data["name"])
    # The only response that ever holds the key: rendered, not redirected.
    return render(request, PAGE, _context(membership, new_key=key, plaintext=plaintext), status=201)


@login_required
@require_POST
def gateway_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key, membership = get_scoped(request.user, GatewayKey.objects.all(), Role.VIEWER, pk=key_id)
    require_role(membership, Role.ADMIN)
    key.revoke()
    messages.success(request, f"Revoked “{key.name}”. Programs using it get 401 from now on.")
    return redirect("teams:gateway")


@login_required
@require_POST
def gateway_settings(request: HttpRequest) -> HttpResponse:
    membership = require_current(request, Role.ADMIN)
    with transaction.atomic():
        config = GatewayConfig.for_team(membership.team)
        form = ConfigForm(request.POST, instance=config, team=membership.team)
        if not form.is_valid():
            return render(request, PAGE, _context(membership, config_form=form), status=400)
        form.save()
    messages.success(request, "Saved the gateway settings.")
    return redirect("teams:gateway")
