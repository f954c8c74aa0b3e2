"""A scenario's settings page: its error scenario (scenarios/runtime/error_scenarios.py)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from scenarios.forms import ScenarioSettingsForm
from scenarios.views.common import scenario_for, user_of
from teams.models import Role

SETTINGS = "scenarios/settings.html"


@login_required
@require_http_methods(["GET", "POST"])
def scenario_settings(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    # Viewers see the settings; editors change them.
    role = Role.EDITOR if request.method == "POST" else Role.VIEWER
    scenario, membership = scenario_for(request, scenario_id, role)
    can_edit = membership.allows(Role.EDITOR)
    form = ScenarioSettingsForm(request.POST if request.method == "POST" else None, instance=scenario)
    if request.method == "POST":
        if form.is_valid():
            changed = form.save(commit=False)
            changed.updated_by = user_of(request)
            changed.save(update_fields=["error_scenario", "updated_by", "updated_at"])
            return redirect("scenarios:settings", scenario_id=scenario.pk)
        return render(
            request, SETTINGS, {"scenario": scenario, "form": form, "can_edit": can_edit}, status=400
        )
    if not can_edit:
        form.fields["error_scenario"].disabled = True
    return render(request, SETTINGS, {"scenario": scenario, "form": form, "can_edit": can_edit})
