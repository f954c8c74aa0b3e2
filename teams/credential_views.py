"""The team's credentials: list, add (also inline from the node inspector), edit, delete.

Secrets are write-only: no page or fragment renders one (only `credential.masked`), and the POST
parameter is marked sensitive so error reports leave it out. Admins manage; everyone sees the list.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gateway.provisioning import gateway_credential
from scenarios.models import Node, Scenario
from scenarios.views.sharing import node_name
from teams.forms import CredentialForm
from teams.models import Credential, CredentialKind, Membership, Role
from teams.scoping import get_scoped, require_current, require_role

# The id of the <select> that receives the new <option> (set by the node inspector's picker).
SELECT_ID = re.compile(r"[A-Za-z][\w-]{0,63}")
INLINE_PREFIX = "new-credential"


@login_required
@require_GET
def credentials(request: HttpRequest) -> HttpResponse:
    membership = require_current(request)
    rows = Credential.objects.for_team(membership.team).annotate(node_count=Count("nodes")).order_by("name")
    context = {
        "credentials": rows,
        "team": membership.team,
        "can_manage": membership.allows(Role.ADMIN),
    }
    return render(request, "teams/credential_list.html", context)


def _team_for_new(request: HttpRequest, role: Role = Role.ADMIN) -> Membership:
    """The current team, or the team of `?scenario=` when the node inspector names one."""
    scenario_id = request.GET.get("scenario")
    if not scenario_id:
        return require_current(request, role)
    _, membership = get_scoped(request.user, Scenario.objects.all(), role, id=scenario_id)
    return membership


@sensitive_post_parameters("secret", f"{INLINE_PREFIX}-secret")
@login_required
@require_http_methods(["GET", "POST"])
def credential_new(request: HttpRequest) -> HttpResponse:
    inline = request.GET.get("inline") == "1"
    if inline and request.method == "GET":
        # An editor picks credentials but does not manage them: the inspector's "Add new" tells them
        # whom to ask instead of failing with a 403.
        membership = _team_for_new(request, Role.EDITOR)
        if not membership.allows(Role.ADMIN):
            return render(request, "teams/credential_form.html#inline-not-allowed", {"team": membership.team})
    membership = _team_for_new(request)
    # Inline, the form sits inside the node inspector's page: prefixed names and ids never clash.
    # A node field asking for another kind (HTTP Request: bearer…) opens the form on that kind.
    kind = request.GET.get("kind", "")
    form = CredentialForm(
        request.POST or None,
        team=membership.team,
        prefix=INLINE_PREFIX if inline else None,
        initial={"kind": kind, "base_url": ""} if kind in CredentialKind.values else None,
    )
    if request.method == "POST" and form.is_valid():
        credential = form.save()
        if inline:
            return _created_inline(request, credential)
        messages.success(request, f"Saved “{credential.name}”.")
        return redirect("teams:credentials")
    context = {"form": form, "team": membership.team, "inline_query": _inline_query(request)}
    if inline:  # htmx swaps 200s only: errors come back in the fragment with 200
        return render(request, "teams/credential_form.html#inline-form", context)
    return render(request, "teams/credential_form.html", context, status=400 if form.errors else 200)


def _select_id(request: HttpRequest) -> str:
    select = request.GET.get("select", "")
    return select if SELECT_ID.fullmatch(select) else ""


def _inline_query(request: HttpRequest) -> str:
    """The query of the inline form's own POST, rebuilt from checked values only."""
    params = {"inline": "1"}
    if scenario := request.GET.get("scenario"):
        params["scenario"] = scenario
    if select := _select_id(request):
        params["select"] = select
    return urlencode(params)


def _created_inline(request: HttpRequest, credential: Credential) -> HttpResponse:
    """The form gives way to a confirmation; the new <option> goes out of band into the picker's select."""
    select = _select_id(request)
    context = {"credential": credential, "select": select}
    response = render(request, "teams/credential_form.html#inline-created", context)
    event = {"credentialCreated": {"id": str(credential.id), "name": credential.name, "select": select}}
    response["HX-Trigger"] = json.dumps(event)
    return response


def _scoped_credential(request: HttpRequest, credential_id: UUID) -> tuple[Credential, Membership]:
    # Found among the user's teams first (404 otherwise), then the role is checked (403).
    credential, membership = get_scoped(request.user, Credential.objects.all(), Role.VIEWER, id=credential_id)
    require_role(membership, Role.ADMIN)
    return credential, membership


@sensitive_post_parameters("secret")
@login_required
@require_http_methods(["GET", "POST"])
def credential_edit(request: HttpRequest, credential_id: UUID) -> HttpResponse:
    credential, membership = _scoped_credential(request, credential_id)
    needs_reentry = credential.needs_reentry  # as stored: validating puts the typed URL on it
    form = CredentialForm(request.POST or None, instance=credential, team=membership.team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Saved “{credential.name}”.")
        return redirect("teams:credentials")
    context = {
        "form": form,
        "team": membership.team,
        "credential": credential,
        "needs_reentry": needs_reentry,
    }
    return render(request, "teams/credential_form.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def credential_delete(request: HttpRequest, credential_id: UUID) -> HttpResponse:
    credential, membership = _scoped_credential(request, credential_id)
    nodes = [
        (node.scenario, node_name(node))
        for node in Node.objects.filter(credential=credential)
        .select_related("scenario")
        .order_by("scenario__name", "number")
    ]
    if request.method == "POST":
        name = credential.name
        credential.delete()  # the nodes keep their place, without a credential (SET_NULL)
        messages.success(request, f"Deleted “{name}”.")
        return redirect("teams:credentials")
    context = {"credential": credential, "team": membership.team, "nodes": nodes}
    return render(request, "teams/credential_delete.html", context)


@login_required
@require_POST
def credential_gateway(request: HttpRequest) -> HttpResponse:
    """ "Use Scenery's built-in gateway": the team's gateway credential, made with a fresh key if need
    be, in one action; inline (from a node's credential picker) it is selected there."""
    inline = request.GET.get("inline") == "1"
    if inline:
        membership = _team_for_new(request, Role.EDITOR)
        if not membership.allows(Role.ADMIN):
            return render(request, "teams/credential_form.html#inline-not-allowed", {"team": membership.team})
    membership = _team_for_new(request)
    credential = gateway_credential(membership.team)
    if inline:
        return _created_inline(request, credential)
    messages.success(request, f"“{credential.name}” uses Scenery's built-in gateway; pick it in any node.")
    return redirect("teams:credentials")
