"""The CPU a worker's database thread spends per call of its hot statements: a claim round that finds
nothing (an idle poll), a claim that takes a queued execution (one team waiting, and two), a claim of
the execution a wake-up named, loading a claimed job, and a heartbeat.

Run against a database of its own, migrated (it creates a team, scenarios and executions there):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME python -m scripts.bench_claims [CALLS]
Prints process CPU microseconds per call (time.process_time), the median of five rounds of CALLS
calls (default 2000; a quarter of that for the claims that need a fresh queued row each time).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any


def main(calls: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from scenarios.models import Execution, Scenario
    from scenarios.runtime import engine, jobs
    from scripts.bench_setup import setup

    if not Scenario.objects.filter(name="Ask (bench)").exists():
        setup("http://127.0.0.1:9/v1")  # the two teams' "Ask" scenarios, each with a credential
    ask = Scenario.objects.get(name="Ask (bench)")
    other_team = Scenario.objects.get(name="Ask (bench, team B)")
    owner = f"bench-{uuid.uuid4().hex[:6]}"

    def queued(scenario: Any = ask) -> Execution:
        execution = engine.new_execution(scenario, Execution.Trigger.WEBHOOK, {"body": {"question": "hi"}})
        execution.save()
        return execution

    def finish_all() -> None:
        Execution.objects.exclude(status__in=Execution.TERMINAL).update(
            status=Execution.Status.SUCCEEDED, lease_owner="", lease_until=None
        )

    results: dict[str, float] = {}

    finish_all()
    results["claim, nothing to claim"] = _per_call(calls, lambda: None, lambda _: jobs.claim(owner, 30))

    def one_queued() -> None:
        finish_all()
        queued()

    results["claim, one team waiting"] = _per_call(calls // 4, one_queued, lambda _: jobs.claim(owner, 30))

    def two_teams() -> None:
        finish_all()
        queued()
        queued(other_team)
        running = queued()
        Execution.objects.filter(pk=running.pk).update(status="running", attempt=1, lease_owner="x")

    results["claim, two teams waiting"] = _per_call(calls // 4, two_teams, lambda _: jobs.claim(owner, 30))

    def one_named() -> Any:
        finish_all()
        return queued().pk

    results["claim_woken"] = _per_call(calls // 4, one_named, lambda pk: jobs.claim_woken(owner, 30, [pk]))

    finish_all()
    execution = queued()
    [lease] = jobs.claim_woken(owner, 30, [execution.pk])
    assert engine.load_job(lease) is not None
    results["load_job"] = _per_call(calls, lambda: None, lambda _: engine.load_job(lease))
    results["Lease.renew"] = _per_call(calls, lambda: None, lambda _: lease.renew(30))
    finish_all()

    for name, micros in results.items():
        print(f"{name:28} {micros:8.0f} µs CPU/call")


def _per_call(calls: int, prepare: Callable[[], Any], call: Callable[[Any], Any]) -> float:
    """Median over five rounds of the CPU of `call` alone (`prepare` runs untimed before each)."""
    rounds = []
    for _ in range(5):
        spent = 0.0
        for _ in range(calls):
            arg = prepare()
            start = time.process_time()
            call(arg)
            spent += time.process_time() - start
        rounds.append(spent / calls * 1e6)
    return statistics.median(rounds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
