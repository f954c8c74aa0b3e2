"""Running a scenario from the editor, and its execution history: every run, each node's input and output."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from scenarios import picker
from scenarios.forms import SampleInputForm
from scenarios.models import Execution, Scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution
from scenarios.runtime.iterations import item_summary
from scenarios.snapshot import Plan
from scenarios.views.common import HtmxHttpRequest, scenario_for, user_of
from teams.models import Role, User

RUNS = "scenarios/runs.html"
HISTORY_LENGTH = 50
DEFAULT_SAMPLE = {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {}}


def _start(scenario: Scenario, trigger: str, data: dict[str, Any], user: User) -> Execution:
    # A graph that cannot run still gets its (failed) execution, with the reasons, so it shows in history.
    return create_execution(scenario, trigger, data, user)


def _started(request: HtmxHttpRequest, scenario: Scenario, execution: Execution) -> HttpResponse:
    response = render(request, f"{RUNS}#run-started", {"scenario": scenario, "execution": execution})
    return trigger_client_event(
        response, "scenery:runStarted", {"execution": str(execution.pk), "status": execution.status}
    )


@login_required
@require_http_methods(["GET", "POST"])
def run_scenario(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    if request.method == "GET":
        sample, source = picker.run_sample(scenario)
        form = SampleInputForm(
            initial={"sample_input": json.dumps(sample or DEFAULT_SAMPLE, indent=2, ensure_ascii=False)}
        )
        context = {
            "scenario": scenario,
            "form": form,
            "source": source,
            "has_trigger": picker.has_trigger(scenario),
        }
        return render(request, f"{RUNS}#run-form", context)
    form = SampleInputForm(request.POST)
    if not form.is_valid():
        context = {"scenario": scenario, "form": form, "has_trigger": picker.has_trigger(scenario)}
        return render(request, f"{RUNS}#run-form", context)
    execution = _start(
        scenario, Execution.Trigger.MANUAL, form.cleaned_data["sample_input"], user_of(request)
    )
    return _started(request, scenario, execution)


def _history(scenario: Scenario, before: str | None = None) -> list[Execution]:
    """A page of the history, newest first; `before` (an execution id) pages back from that run."""
    executions = scenario.executions.select_related("created_by").order_by("-created_at", "-pk")
    if before:
        try:
            anchor = (
                scenario.executions.filter(pk=uuid.UUID(before)).values_list("created_at", flat=True).first()
            )
        except ValueError:
            anchor = None
        if anchor is not None:
            executions = executions.filter(created_at__lt=anchor)
    return list(executions[: HISTORY_LENGTH + 1])


@login_required
@require_GET
def runs(request: HtmxHttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    page = _history(scenario, request.GET.get("before"))
    context = {
        "scenario": scenario,
        "executions": page[:HISTORY_LENGTH],
        "older": page[HISTORY_LENGTH - 1].pk if len(page) > HISTORY_LENGTH else None,
        "can_edit": membership.allows(Role.EDITOR),
        "in_editor": bool(request.htmx),
    }
    return render(request, f"{RUNS}#run-list" if request.htmx else RUNS, context)


@login_required
@require_GET
def run_detail(request: HtmxHttpRequest, scenario_id: uuid.UUID, execution_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    execution = get_object_or_404(scenario.executions, pk=execution_id)
    return _detail(request, scenario, execution, can_edit=membership.allows(Role.EDITOR))


def related_runs(scenario: Scenario, execution: Execution) -> dict[str, Any]:
    """The runs linked to `execution`, within its team: the one that started it (a Run scenario
    node's, or the failed run an error scenario reports) and those it started."""
    team_runs = Execution.objects.filter(scenario__team_id=scenario.team_id).select_related("scenario")
    parent = team_runs.filter(pk=execution.parent_id).first() if execution.parent_id else None
    children = list(team_runs.filter(parent=execution).order_by("created_at")[:50])
    return {"parent_run": parent, "child_runs": children}


def _detail(
    request: HtmxHttpRequest, scenario: Scenario, execution: Execution, *, can_edit: bool
) -> HttpResponse:
    node_runs = list(execution.node_runs.order_by("node_number", "attempt"))
    overlay = {
        str(r.node_number): {"status": r.status, "duration_ms": r.duration_ms, "ports": r.ports}
        for r in node_runs
    }  # the latest attempt of each node wins, since attempts are in order
    for number, summary in item_summary(execution.pk, Plan.of(execution.snapshot)).items():
        overlay[str(number)] = {
            **summary,
            "duration_ms": None,
            "ports": None,
        }  # a loop's body, over its items
    context = {
        "scenario": scenario,
        "execution": execution,
        "node_runs": node_runs,
        "overlay": overlay,
        "can_edit": can_edit,
        "in_editor": bool(request.htmx),
        **related_runs(scenario, execution),
    }
    if request.htmx:
        return render(request, f"{RUNS}#run-detail", context)
    page = _history(scenario)
    older = page[HISTORY_LENGTH - 1].pk if len(page) > HISTORY_LENGTH else None
    return render(request, RUNS, {**context, "executions": page[:HISTORY_LENGTH], "older": older})


@login_required
@require_POST
def rerun(request: HtmxHttpRequest, scenario_id: uuid.UUID, execution_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    execution = get_object_or_404(scenario.executions, pk=execution_id)
    again = _start(scenario, Execution.Trigger.RERUN, execution.input, user_of(request))
    if not request.htmx:
        return redirect("scenarios:run_detail", scenario.pk, again.pk)
    return _started(request, scenario, again)


@login_required
@require_POST
def cancel(request: HtmxHttpRequest, scenario_id: uuid.UUID, execution_id: uuid.UUID) -> HttpResponse:
    """Stop a queued or running execution (an editor's call); one that has ended stays as it is."""
    scenario, _ = scenario_for(request, scenario_id, Role.EDITOR)
    execution = get_object_or_404(scenario.executions, pk=execution_id)
    jobs.cancel(execution, by=user_of(request).get_username())
    if not request.htmx:
        return redirect("scenarios:run_detail", scenario.pk, execution.pk)
    execution.refresh_from_db()
    return _detail(request, scenario, execution, can_edit=True)
