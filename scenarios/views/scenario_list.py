"""The scenario list of the current team: create, rename, duplicate, activate and delete scenarios."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from gateway.provisioning import gateway_credential
from scenarios import canvas, starters
from scenarios.forms import ScenarioNameForm
from scenarios.models import Execution, Scenario
from scenarios.views.common import HtmxHttpRequest, scenario_for, user_of
from teams.models import Credential, Role, Team
from teams.scoping import require_current

LIST = "scenarios/list.html"


def scenarios_of(team: Team) -> QuerySet[Scenario]:
    latest = Execution.objects.filter(scenario=OuterRef("pk")).order_by("-created_at")
    return (
        Scenario.objects.for_team(team)
        .select_related("updated_by")
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_run_at=Subquery(latest.values("created_at")[:1]),
        )
    )


def _row(request: HtmxHttpRequest, scenario: Scenario, can_edit: bool) -> HttpResponse:
    annotated = scenarios_of(scenario.team).get(pk=scenario.pk)
    return render(request, f"{LIST}#scenario-row", {"scenario": annotated, "can_edit": can_edit})


@login_required
@require_GET
def scenario_list(request: HtmxHttpRequest) -> HttpResponse:
    membership = require_current(request)
    return render(
        request,
        LIST,
        {
            "scenarios": scenarios_of(membership.team),
            "can_edit": membership.allows(Role.EDITOR),
            "form": ScenarioNameForm(),
        },
    )


@login_required
@require_POST
def scenario_create(request: HtmxHttpRequest) -> HttpResponse:
    membership = require_current(request, Role.EDITOR)
    form = ScenarioNameForm(request.POST)
    if not form.is_valid():
        return render(request, f"{LIST}#create-form", {"form": form}, status=200)
    scenario = form.save(commit=False)
    scenario.team = membership.team
    scenario.created_by = scenario.updated_by = user_of(request)
    scenario.save()
    url = reverse("scenarios:editor", args=[scenario.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
def scenario_from_template(request: HtmxHttpRequest) -> HttpResponse:
    """A copy of the demo in the current team, with a credential that works: the team's only one,
    else (for an admin) the built-in gateway's; an editor of a team with several picks one later."""
    membership = require_current(request, Role.EDITOR)
    team = membership.team
    credentials = list(Credential.objects.for_team(team)[:2])
    credential = credentials[0] if len(credentials) == 1 else None
    if credential is None and membership.allows(Role.ADMIN):
        credential = gateway_credential(team)
    model = credential.default_model if credential is not None and credential.default_model else ""
    scenario = starters.ask_chatgpt(team, user_of(request), credential, model or starters.OFFLINE_MODEL)
    return redirect("scenarios:editor", scenario.pk)


@login_required
@require_GET
def scenario_row(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    return _row(request, scenario, membership.allows(Role.EDITOR))


@login_required
@require_http_methods(["GET", "POST"])
def scenario_rename(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    if request.method == "GET":
        form = ScenarioNameForm(instance=scenario)
        return render(request, f"{LIST}#rename-form", {"scenario": scenario, "form": form})
    form = ScenarioNameForm(request.POST, instance=scenario)
    if not form.is_valid():
        return render(request, f"{LIST}#rename-form", {"scenario": scenario, "form": form})
    scenario = form.save(commit=False)
    scenario.updated_by = user_of(request)
    scenario.save(update_fields=["name", "updated_by", "updated_at"])
    return _changed(request, scenario)


def _changed(request: HtmxHttpRequest, scenario: Scenario) -> HttpResponse:
    """The answer to a change of a scenario's name or state: its row in the list, or its header
    controls when the change was made in the editor."""
    if not request.htmx:
        return redirect("scenarios:list")
    if request.GET.get("in") == "editor":
        return render(request, "scenarios/editor.html#active-toggle", {"scenario": scenario})
    return _row(request, scenario, True)


@login_required
@require_POST
def scenario_duplicate(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    copy = canvas.duplicate(scenario, user_of(request), f"{scenario.name} (copy)")
    if not request.htmx:
        return redirect("scenarios:list")
    return _row(request, copy, True)


@login_required
@require_POST
def scenario_toggle_active(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    scenario.active = not scenario.active
    scenario.updated_by = user_of(request)
    scenario.save(update_fields=["active", "updated_by", "updated_at"])
    return _changed(request, scenario)


@login_required
@require_http_methods(["GET", "POST"])
def scenario_delete(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    if request.method == "GET":
        return render(
            request,
            f"{LIST}#delete-confirm",
            {
                "scenario": scenario,
                "node_count": scenario.nodes.count(),
                "run_count": scenario.executions.count(),
            },
        )
    scenario.delete()
    if not request.htmx:
        return redirect("scenarios:list")
    return HttpResponse("")
