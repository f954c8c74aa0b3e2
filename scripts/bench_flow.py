"""Engine overhead of flow control, in one process on a fresh SQLite database (`make bench` with
`--only loop`, or `python -m scripts.bench_flow`):

- per item of a 1,000-item Loop over items whose body is one compute-only node (an IF), every item's
  node runs stored, from the execution's stored timestamps;
- per run of a 10-way Switch (trigger → Switch with 10 routes → a Webhook response on each).

No network and no provider: what is measured is the engine (routing, rows, writes), not a model.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from typing import Any

ITEMS = 1_000


def _django(database: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["EXECUTOR_SOURCES"] = "none"  # this process runs the executions itself, below
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _scenario(
    team: Any, name: str, nodes: list[tuple[str, dict[str, Any]]], edges: list[tuple[Any, ...]]
) -> Any:
    from scenarios.models import Edge, Node, Scenario

    scenario = Scenario.objects.create(team=team, name=name)
    made = {
        number: Node.objects.create(scenario=scenario, number=number, kind=kind, params=params)
        for number, (kind, params) in enumerate(nodes, start=1)
    }
    for source, target, *port in edges:
        Edge.objects.create(
            scenario=scenario,
            source=made[source],
            target=made[target],
            source_port=port[0] if port else "main",
        )
    return scenario


def _run(scenario: Any, body: dict[str, Any]) -> Any:
    from asgiref.sync import async_to_sync

    from scenarios.models import Execution
    from scenarios.runtime import jobs
    from scenarios.runtime.engine import create_execution, run_execution

    execution = create_execution(scenario, Execution.Trigger.MANUAL, {"body": body})
    lease = jobs.claim("bench-flow", 300)
    assert lease is not None and lease.pk == execution.pk
    async_to_sync(run_execution)(lease)
    execution.refresh_from_db()
    if execution.status != Execution.Status.SUCCEEDED:
        raise SystemExit(f"{scenario.name}: the run failed: {execution.error}")
    return execution


def _rule(left: str, op: str, right: str) -> dict[str, Any]:
    return {"combine": "and", "rules": [{"left": left, "op": op, "right": right, "type": "number"}]}


def measure(loop_runs: int = 3, switch_runs: int = 200) -> list[str]:
    from scenarios.models import NodeRun
    from teams.models import Team, User

    user = User.objects.create_user(username="bench-flow", password="bench-" * 4)
    team = Team.bootstrap(user, "Bench flow")
    loop = _scenario(
        team,
        "Loop (bench)",
        [
            ("manual.trigger", {}),
            ("flow.loop", {"items": "{{$1.body.items}}"}),
            ("flow.if", {"conditions": _rule("{{$item}}", "gte", "500"), "value": "{{$index}}"}),
            ("flow.aggregate", {}),
        ],
        [(1, 2), (2, 3, "item"), (3, 4, "true"), (3, 4, "false")],
    )
    per_item = []
    for _ in range(loop_runs):
        started = time.perf_counter()
        execution = _run(loop, {"items": list(range(ITEMS))})
        per_item.append((time.perf_counter() - started) / ITEMS * 1e6)
    rows = NodeRun.in_loops.filter(execution=execution).count()
    params: dict[str, Any] = {"mode": "first"}
    for n in range(1, 11):
        params[f"route{n}_name"] = f"r{n}"
        params[f"route{n}_conditions"] = _rule("{{$1.body.n}}", "equals", str(n))
    switch = _scenario(
        team,
        "Switch (bench)",
        [("manual.trigger", {}), ("flow.switch", params)]
        + [("webhook.response", {"body": f"r{n}"}) for n in range(1, 11)]
        + [("webhook.response", {"body": "fallback"})],
        [(1, 2)] + [(2, 2 + n, f"route{n}") for n in range(1, 11)] + [(2, 13, "fallback")],
    )
    per_run = []
    for i in range(switch_runs):
        started = time.perf_counter()
        _run(switch, {"n": i % 11 + 1})
        per_run.append((time.perf_counter() - started) * 1e3)
    per_run.sort()
    return [
        f"engine overhead per item, {ITEMS:,}-item Loop over items through an IF (compute-only), "
        f"{rows:,} node runs stored per execution, {loop_runs} runs: "
        f"median {statistics.median(per_item):.0f} µs per item",
        f"10-way Switch (trigger → Switch → one of 11 responses), {switch_runs} runs one after the other, "
        f"whole execution created, run and stored: p50 {per_run[len(per_run) // 2]:.1f} ms, "
        f"p99 {per_run[int(len(per_run) * 0.99) - 1]:.1f} ms",
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        _django(os.path.join(folder, "bench-flow.sqlite3"))
        for line in measure():
            print(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
