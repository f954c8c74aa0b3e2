"""Executions as a job source of the durable executor: claiming them, and failing the ones whose
workers kept dying (so nothing stays `running` forever and the user sees why).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from scenarios import events, leases, waiting
from scenarios.executor import JobSource
from scenarios.leases import Lease
from scenarios.models import Execution, NodeRun, Scenario

log = logging.getLogger(__name__)

ES = Execution.Status


def claimable(now: Any) -> models.QuerySet[Execution]:
    """Queued executions, and running ones whose worker's lease expired with attempts left."""
    return Execution.objects.filter(
        models.Q(status=ES.QUEUED) | (models.Q(status=ES.RUNNING) & leases.expired(now) & ~leases.exhausted())
    )


def claim(owner: str, lease_seconds: float, *, pk: Any = None) -> Lease | None:
    """Claim the oldest claimable execution (or only execution `pk`) for `owner`."""
    now = timezone.now()
    fail_exhausted(now)
    candidates = claimable(now) if pk is None else claimable(now).filter(pk=pk)
    # A read first: an idle poll must not take SQLite's write lock.
    if not candidates.exists():
        return None
    return leases.claim_one(
        candidates,
        owner,
        lease_seconds,
        status=ES.RUNNING,
        started_at=Coalesce(models.F("started_at"), models.Value(now, output_field=models.DateTimeField())),
    )


def fail_exhausted(now: Any | None = None) -> int:
    """Fail running executions whose lease expired after their last allowed attempt."""
    now = now or timezone.now()
    stale = Execution.objects.filter(leases.expired(now), leases.exhausted(), status=ES.RUNNING)
    failed = 0
    for pk, attempt in list(stale.order_by("lease_until").values_list("pk", "attempt")[:50]):
        with transaction.atomic():
            given_up = leases.give_up(
                stale.filter(pk=pk, attempt=attempt),
                status=ES.FAILED,
                finished_at=now,
                error=f"Worker lost {attempt} times: the execution was stopped. Run it again when the workers are healthy.",
            )
            if not given_up:
                continue
            NodeRun.objects.filter(
                execution_id=pk, status__in=[NodeRun.Status.QUEUED, NodeRun.Status.RUNNING]
            ).update(
                status=NodeRun.Status.FAILED,
                finished_at=now,
                error={"message": "Interrupted: the worker running this node was lost."},
            )
            transaction.on_commit(functools.partial(_announce_failed, pk))
        failed += 1
        log.warning("execution %s failed: worker lost %s times", pk, attempt)
    return failed


def _announce_failed(pk: Any) -> None:
    execution = Execution.objects.filter(pk=pk).first()
    if execution is None:
        return
    messages = [events.execution_event(execution)]
    messages += [
        events.node_event(pk, run) for run in execution.node_runs.filter(finished_at=execution.finished_at)
    ]
    events.publish_soon(Scenario.group_name_for(execution.scenario_id), messages)
    waiting.progressed_soon(pk)


def sweep() -> None:
    fail_exhausted()


def job_source() -> JobSource:
    from scenarios.engine import run_execution

    return JobSource("executions", claim, run_execution, sweep)
