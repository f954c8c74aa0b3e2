"""Waits and schedules with real `manage.py executor` processes, on whichever database the suite runs
(SQLite by default; PostgreSQL and Redis with DATABASE_URL and REDIS_URL):

- a worker killed with SIGKILL while an execution waits: another worker resumes it at its time, and
  no node that had succeeded runs again;
- several workers noticing the same due slots at once: each slot fires exactly one execution.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scenarios.models import Edge, Execution, Node, NodeRun, Scenario
from scenarios.runtime.engine import create_execution
from teams.models import Team
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ES = Execution.Status
SERVE_EXECUTIONS = {"EXECUTOR_SOURCES": "executions", "EXECUTOR_LEASE_SECONDS": 2}


def graph(
    scenario: Scenario, nodes: dict[int, tuple[str, dict[str, Any]]], edges: list[tuple[int, int, str]]
) -> None:
    made = {
        n: Node.objects.create(scenario=scenario, number=n, kind=k, params=p) for n, (k, p) in nodes.items()
    }
    for source, target, port in edges:
        Edge.objects.create(scenario=scenario, source=made[source], target=made[target], source_port=port)


def status_of(execution: Execution) -> str:
    execution.refresh_from_db()
    return execution.status


def test_a_worker_killed_during_a_wait_is_replaced_and_the_execution_finishes_with_nothing_run_twice(
    workers, scenario
):
    graph(
        scenario,
        {
            1: ("manual.trigger", {"sample": {"name": "Ada"}}),
            2: (
                "flow.if",
                {
                    "conditions": {
                        "combine": "and",
                        "rules": [
                            {"left": "{{$1.body.name}}", "op": "is_not_empty", "right": "", "type": "text"}
                        ],
                    }
                },
            ),
            3: ("flow.wait", {"amount": 3, "unit": "seconds"}),
            4: ("webhook.response", {"status": 200, "body": "{{$1.body.name}} waited"}),
        },
        [(1, 2, "main"), (2, 3, "true"), (3, 4, "main")],
    )
    first = workers.start(**SERVE_EXECUTIONS)
    execution = create_execution(scenario, Execution.Trigger.CLI, {})
    wait_until(lambda: status_of(execution) in (ES.WAITING, ES.FAILED), "the execution to wait")
    assert execution.status == ES.WAITING, execution.error
    assert execution.lease_owner == ""  # no worker holds it while it waits
    first.signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    second = workers.start(**SERVE_EXECUTIONS)

    wait_until(lambda: status_of(execution) == ES.SUCCEEDED, "another worker to resume and finish it")
    runs = {(r.node_number, r.attempt, r.status) for r in NodeRun.objects.filter(execution=execution)}
    assert runs == {(1, 1, "succeeded"), (2, 1, "succeeded"), (3, 1, "succeeded"), (4, 2, "succeeded")}
    assert execution.response is not None and execution.response["body"] == "Ada waited"
    assert str(second.pid) in execution.lease_owner or execution.lease_owner == ""
    wait_run = NodeRun.objects.get(execution=execution, node_number=3)
    assert wait_run.finished_at is not None and wait_run.wake_at is not None
    assert wait_run.finished_at >= wait_run.wake_at


def test_several_workers_fire_each_due_slot_of_each_schedule_exactly_once(workers, scenario):
    team = Team.objects.get(pk=scenario.team_id)
    scheduled = []
    for i in range(12):
        each = Scenario.objects.create(team=team, name=f"Every minute {i}")
        graph(
            each,
            {
                1: ("schedule.trigger", {"every": 1, "every_unit": "minutes"}),
                2: ("webhook.response", {"status": 200, "body": "{{$1.scheduled_for}}"}),
            },
            [(1, 2, "main")],
        )
        scheduled.append(each)
    # Saved well before the current slot, so it is due as soon as a worker sweeps (at its start).
    Scenario.objects.filter(pk__in=[s.pk for s in scheduled]).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    pool = [workers.start(ready=False, **SERVE_EXECUTIONS) for _ in range(3)]
    for worker in pool:
        workers.wait_ready(worker)

    fired = Execution.objects.filter(scenario__in=scheduled, trigger=Execution.Trigger.SCHEDULE)
    wait_until(lambda: fired.count() >= len(scheduled), "every schedule to fire")
    wait_until(lambda: not fired.exclude(status=ES.SUCCEEDED).exists(), "the fired executions to finish")
    per_slot = list(fired.values_list("scenario_id", "scheduled_for"))
    assert len(per_slot) == len(set(per_slot))
    # Every schedule fired its current slot (or, at a minute's turn, that one and the next, each once).
    assert {scenario_id for scenario_id, _ in per_slot} == {s.pk for s in scheduled}
    assert fired.count() <= 2 * len(scheduled)
