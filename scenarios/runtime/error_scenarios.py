"""Error scenarios: when an execution fails, its scenario's error scenario (Scenario.error_scenario,
another scenario of the same team) starts with what went wrong.

The error scenario's trigger gets a request-shaped input whose body is
`{"execution_id", "scenario": {"id", "name"}, "node": {"number", "title"} | None, "error", "input"}`,
so `{{$1.body.error}}` reads the same with a Manual or a Webhook trigger.

The engine asks `error_run_for` inside the transaction that records the failure, and creates the
run there: a worker lost just after the failure cannot lose it, and the unique constraint on
(parent, trigger "error") keeps a takeover from starting it twice. No loops: an execution that is
itself an error scenario's run, or a sub-scenario's (its parent's failure is what gets reported),
starts nothing; neither does a scenario named as its own error scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scenarios.models import Execution, Scenario

# Executions whose failure starts no error scenario.
SILENT_TRIGGERS = (Execution.Trigger.ERROR, Execution.Trigger.SUBSCENARIO, Execution.Trigger.RUN_ONCE)


@dataclass(frozen=True)
class ErrorRun:
    scenario: Scenario
    input: dict[str, Any]


def error_run_for(execution: Execution, error: str, node: dict[str, Any] | None = None) -> ErrorRun | None:
    """The error scenario run a failure of `execution` calls for, or None. `node`: the first failed
    node as {"number", "title"}. Queries only; the caller creates the run."""
    if execution.trigger in SILENT_TRIGGERS:
        return None
    target_id = (
        Scenario.objects.filter(pk=execution.scenario_id).values_list("error_scenario_id", flat=True).first()
    )
    if target_id is None or target_id == execution.scenario_id:
        return None
    # The same team only: a scenario moved to another team keeps no link across teams.
    target = Scenario.objects.filter(pk=target_id, team__scenarios=execution.scenario_id).first()
    if target is None or not target.active:
        return None
    if Execution.objects.filter(parent=execution, trigger=Execution.Trigger.ERROR).exists():
        return None
    source = Scenario.objects.filter(pk=execution.scenario_id).values_list("name", flat=True).first()
    body = {
        "execution_id": str(execution.pk),
        "scenario": {"id": str(execution.scenario_id), "name": source or ""},
        "node": node,
        "error": error,
        "input": execution.input,
    }
    return ErrorRun(target, {"method": "POST", "headers": {}, "query": {}, "body": body})


def error_scenario_choices(scenario: Scenario) -> list[Scenario]:
    """The scenarios `scenario` may name as its error scenario: the team's others."""
    return list(Scenario.objects.for_team(scenario.team).exclude(pk=scenario.pk).order_by("name"))
