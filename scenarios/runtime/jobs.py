"""Executions as a job source of the durable executor: claiming them, and failing the ones whose
workers kept dying (so nothing stays `running` forever and the user sees why).
"""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from durable import executor, leases
from durable.executor import JobSource
from durable.leases import Lease
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import error_scenarios, events, scheduling, waiting

log = logging.getLogger(__name__)

ES = Execution.Status


def claimable(now: Any) -> models.QuerySet[Execution]:
    """Queued executions, waiting ones whose time has come, and running ones whose worker's lease
    expired with attempts left."""
    return Execution.objects.filter(
        models.Q(status=ES.QUEUED)
        | models.Q(status=ES.WAITING, wake_at__lte=now)
        | (models.Q(status=ES.RUNNING) & leases.expired(now) & ~leases.exhausted())
    )


def claim(owner: str, lease_seconds: float, *, pk: Any = None) -> Lease | None:
    """Claim an execution for `owner` (only execution `pk` when given).

    Fair between teams: the oldest waiting execution of the team with the fewest executions
    running now, so one team's backlog does not hold up another team's webhook.
    """
    now = timezone.now()
    fail_exhausted(now)
    candidates = claimable(now) if pk is None else claimable(now).filter(pk=pk)
    for _ in range(3):
        # Reads first: an idle poll must not take SQLite's write lock.
        chosen = _fairest(candidates, now)
        if chosen is None:
            return None
        lease = leases.claim_one(
            candidates if chosen is OLDEST else candidates.filter(pk=chosen),
            owner,
            lease_seconds,
            status=ES.RUNNING,
            started_at=Coalesce(
                models.F("started_at"), models.Value(now, output_field=models.DateTimeField())
            ),
        )
        if lease is not None:
            return lease  # else another worker took that one first: choose again
    return None


def claim_woken(owner: str, lease_seconds: float, pk: Any) -> Lease | None:
    """Claim the execution a wake-up named, in one statement, if it still waits in the queue.

    The executor does this only while it has room, so no other team's execution is waiting for
    that room (when it was full, the slot that frees runs a fair `claim` round instead)."""
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        return None
    now = timezone.now()
    # Queued executions have never been claimed (attempt 0): claimed now, it is attempt 1.
    claimed = leases.retry_locked(
        lambda: Execution.objects.filter(pk=pk, status=ES.QUEUED, attempt=0).update(
            status=ES.RUNNING,
            attempt=1,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds),
            started_at=Coalesce(
                models.F("started_at"), models.Value(now, output_field=models.DateTimeField())
            ),
        )
    )
    return Lease(model=Execution, pk=pk, attempt=1, owner=owner) if claimed else None


FAIRNESS_WINDOW = 50
# One team waiting: the claim takes the oldest row no other worker holds (SKIP LOCKED), so workers
# racing for the queue each get their own instead of all trying the same one and choosing again.
OLDEST = object()


def _fairest(candidates: models.QuerySet[Execution], now: Any) -> Any:
    waiting = list(candidates.order_by("created_at").values_list("pk", "scenario__team_id")[:FAIRNESS_WINDOW])
    if len({team for _, team in waiting}) <= 1:
        return OLDEST if waiting else None
    busy = dict(
        Execution.objects.filter(status=ES.RUNNING, lease_until__gte=now)
        .values_list("scenario__team_id")
        .annotate(running=models.Count("pk"))
        .values_list("scenario__team_id", "running")
    )
    # min() keeps the first of equals: the oldest execution of the least busy team.
    return min(waiting, key=lambda row: busy.get(row[1], 0))[0]


def fail_exhausted(now: Any | None = None) -> int:
    """Fail running executions whose lease expired after their last allowed attempt."""
    now = now or timezone.now()
    stale = Execution.objects.filter(leases.expired(now), leases.exhausted(), status=ES.RUNNING)
    failed = 0
    for pk, attempt in list(stale.order_by("lease_until").values_list("pk", "attempt")[:50]):
        with transaction.atomic():
            error = f"Worker lost {attempt} times: the execution was stopped. Run it again when the workers are healthy."
            given_up = leases.give_up(
                stale.filter(pk=pk, attempt=attempt), status=ES.FAILED, finished_at=now, error=error
            )
            if not given_up:
                continue
            _start_error_scenario(pk, error)
            NodeRun.objects.filter(
                execution_id=pk, status__in=[NodeRun.Status.QUEUED, NodeRun.Status.RUNNING]
            ).update(
                status=NodeRun.Status.FAILED,
                finished_at=now,
                error={"message": "Interrupted: the worker running this node was lost."},
            )
            transaction.on_commit(functools.partial(_announce_ended, pk))
        failed += 1
        log.warning("execution %s failed: worker lost %s times", pk, attempt)
    return failed


def _start_error_scenario(pk: Any, error: str) -> None:
    """The failed execution's error scenario, in the transaction that fails it (as the engine does)."""
    from scenarios.runtime.engine import create_execution

    execution = Execution.objects.filter(pk=pk).first()
    run = error_scenarios.error_run_for(execution, error) if execution is not None else None
    if run is not None:
        create_execution(run.scenario, Execution.Trigger.ERROR, run.input, parent=execution)


def _announce_ended(pk: Any) -> None:
    execution = Execution.objects.filter(pk=pk).first()
    if execution is None:
        return
    messages = [events.execution_event(execution)]
    messages += [
        events.node_event(pk, run) for run in execution.node_runs.filter(finished_at=execution.finished_at)
    ]
    events.publish_soon(Scenario.group_name_for(execution.scenario_id), messages)
    waiting.progressed_soon(pk)


def cancel(execution: Execution, by: str) -> bool:
    """End an execution that has not ended, as cancelled, saying by whom; False when it had ended.

    Its lease is cleared, so the worker running it is fenced out: its next write or heartbeat finds
    the lease gone and stops its nodes (in this process at once, see `executor.stop_job`). Node runs
    not started are skipped; running ones fail, as they were cut short.
    """
    now = timezone.now()
    reason = f"Cancelled by {by}."
    with transaction.atomic():
        stopped = leases.give_up(
            Execution.objects.filter(pk=execution.pk, status__in=[ES.QUEUED, ES.RUNNING, ES.WAITING]),
            status=ES.CANCELLED,
            started_at=Coalesce(
                models.F("started_at"), models.Value(now, output_field=models.DateTimeField())
            ),
            finished_at=now,
            error=reason,
        )
        if not stopped:
            return False
        runs = NodeRun.objects.filter(execution_id=execution.pk)
        runs.filter(status=NodeRun.Status.QUEUED).update(
            status=NodeRun.Status.SKIPPED, finished_at=now, error={"message": f"{reason} It did not run."}
        )
        runs.filter(status__in=[NodeRun.Status.RUNNING, NodeRun.Status.WAITING]).update(
            status=NodeRun.Status.FAILED, finished_at=now, error={"message": f"{reason} It was cut short."}
        )
        transaction.on_commit(functools.partial(_announce_ended, execution.pk))
        transaction.on_commit(functools.partial(executor.stop_job, Execution, execution.pk))
    log.info("execution %s cancelled by %s", execution.pk, by)
    return True


def sweep() -> None:
    fail_exhausted()
    try:
        scheduling.fire_due()
    except Exception:  # a schedule must not stop the housekeeping of executions
        log.exception("firing schedules failed; the next sweep tries again")


def job_source() -> JobSource:
    from scenarios.runtime.engine import run_execution

    return JobSource("executions", claim, run_execution, sweep, claim_woken)
