"""A job source for the durability tests, over real `Execution` rows marked `input["durability"]`.

Each job runs `steps` steps; a step is a `NodeRun` row (node_number = step, attempt = the lease's
attempt) written through the lease, so its commit is the checkpoint: a takeover skips the steps that
already succeeded and re-runs only the one in flight. Options in `input["durability"]`:
`steps`, `step_seconds`, `kill_at` (the worker SIGKILLs itself when that step starts: a poison job).
It is registered only in the worker processes the tests start (see worker_settings.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import Q
from django.utils import timezone

from durable import leases
from scenarios.models import Execution, NodeRun

SOURCE = "durability-jobs"
GAVE_UP = "Gave up: the worker running this job was lost on every attempt."


def jobs() -> Any:
    return Execution.objects.filter(input__has_key="durability")


def claim(owner: str, lease_seconds: float, began: Any = None) -> leases.Lease | None:
    now = timezone.now()
    stale = jobs().filter(status=Execution.Status.RUNNING).filter(leases.expired(now))
    leases.give_up(
        stale.filter(leases.exhausted()), status=Execution.Status.FAILED, error=GAVE_UP, finished_at=now
    )
    waiting = Q(status=Execution.Status.QUEUED) | (Q(status=Execution.Status.RUNNING) & leases.expired(now))
    candidates = jobs().filter(waiting).exclude(leases.exhausted())
    return leases.claim_one(candidates, owner, lease_seconds, status=Execution.Status.RUNNING)


def claim_woken(owner: str, lease_seconds: float, pks: list[Any]) -> list[leases.Lease]:
    """The jobs wake-ups named that still wait in the queue: what a busy worker does for most
    wake-ups (scenarios/runtime/jobs.py does the same for executions, in one statement)."""
    claimed = []
    for pk in pks:
        lease = leases.claim_one(
            jobs().filter(pk=pk, status=Execution.Status.QUEUED),
            owner,
            lease_seconds,
            status=Execution.Status.RUNNING,
        )
        if lease is not None:
            claimed.append(lease)
    return claimed


def _begin(lease: leases.Lease) -> tuple[dict[str, Any], set[int]]:
    with lease.atomic():
        spec = Execution.objects.values_list("input", flat=True).get(pk=lease.pk)["durability"]
        # Steps a lost worker left running will never finish: say so.
        NodeRun.objects.filter(execution_id=lease.pk, status=NodeRun.Status.RUNNING).update(
            status=NodeRun.Status.FAILED, error={"message": "interrupted: the worker was lost"}
        )
        done = set(
            NodeRun.objects.filter(execution_id=lease.pk, status=NodeRun.Status.SUCCEEDED).values_list(
                "node_number", flat=True
            )
        )
    return spec, done


def _start_step(lease: leases.Lease, step: int) -> None:
    with lease.atomic():
        NodeRun.objects.create(
            execution_id=lease.pk,
            node_number=step,
            node_kind="durability.step",
            attempt=lease.attempt,
            status=NodeRun.Status.RUNNING,
            params={"pid": os.getpid(), "owner": lease.owner},
            started_at=timezone.now(),
        )


def _finish_step(lease: leases.Lease, step: int) -> None:
    with lease.atomic():
        NodeRun.objects.filter(execution_id=lease.pk, node_number=step, attempt=lease.attempt).update(
            status=NodeRun.Status.SUCCEEDED, output={"pid": os.getpid()}, finished_at=timezone.now()
        )


def _finish(lease: leases.Lease) -> None:
    lease.update(
        status=Execution.Status.SUCCEEDED,
        response={"pid": os.getpid(), "attempt": lease.attempt},
        finished_at=timezone.now(),
        lease_owner="",
        lease_until=None,
    )


async def run(lease: leases.Lease) -> None:
    spec, done = await sync_to_async(_begin)(lease)
    for step in range(int(spec.get("steps", 1))):
        if step in done:
            continue
        await sync_to_async(_start_step)(lease, step)
        if spec.get("kill_at") == step:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(float(spec.get("step_seconds", 0.0)))
        await sync_to_async(_finish_step)(lease, step)
    await sync_to_async(_finish)(lease)
