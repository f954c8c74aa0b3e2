"""A loop's items in a run's history: fifty at a time, each with its node runs (htmx paging)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from scenarios.loops import regions
from scenarios.models import NodeRun
from scenarios.runtime.iterations import ItemPage, item_page
from scenarios.snapshot import Plan
from scenarios.views.common import HtmxHttpRequest, scenario_for


@login_required
@require_GET
def run_iterations(
    request: HtmxHttpRequest, scenario_id: uuid.UUID, execution_id: uuid.UUID, number: int
) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id)
    execution = get_object_or_404(scenario.executions, pk=execution_id)
    plan = Plan.of(execution.snapshot)
    region = regions(plan).get(number)
    if region is None:  # not a loop of this run: it has no items
        return render(
            request, "scenarios/_iterations.html", {"number": number, "items": ItemPage([], 1, 1, 0)}
        )
    loop_run = NodeRun.objects.filter(execution=execution, node_number=number).order_by("-attempt").first()
    listed = loop_run.output if loop_run is not None and isinstance(loop_run.output, list) else None
    if listed is not None:
        total = len(listed)
    else:  # still running or failed: count the items that have rows
        seen = NodeRun.in_loops.filter(
            execution=execution, iteration__isnull=False, node_number__in=sorted(region.inner)
        ).order_by("-iteration")
        last = seen.values_list("iteration", flat=True).first()
        total = last + 1 if last is not None else 0
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    context = {
        "scenario": scenario,
        "execution": execution,
        "number": number,
        "items": item_page(execution.pk, plan, number, total, page),
    }
    return render(request, "scenarios/_iterations.html", context)
