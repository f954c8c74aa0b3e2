"""A run's life cycle, written in one place for the API and the executor alike.

queued -> in_progress -> completed | requires_action | incomplete | failed, and cancelling -> cancelled,
expired. Every change is a conditional update: through the lease when a worker holds the run, else
on the (status, attempt) it was read with, bumping `attempt` so that a zombie worker's later writes
are fenced out (durable/leases.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from durable import executor
from durable.leases import Lease
from gateway import resources
from gateway.errors import invalid
from gateway.models import Assistant, File, Message, Run, RunStep, Thread, VectorStore
from gateway.threads import add_message

END_STEP_STATUS = {
    Run.Status.CANCELLED: (RunStep.Status.CANCELLED, "cancelled_at"),
    Run.Status.FAILED: (RunStep.Status.FAILED, "failed_at"),
    Run.Status.EXPIRED: (RunStep.Status.EXPIRED, "expired_at"),
    Run.Status.INCOMPLETE: (RunStep.Status.CANCELLED, "cancelled_at"),
    Run.Status.COMPLETED: (RunStep.Status.COMPLETED, "completed_at"),
}
# What an unfinished answer's message says when its run ends otherwise.
MESSAGE_CUT_SHORT = {
    Run.Status.CANCELLED: "run_cancelled",
    Run.Status.FAILED: "run_failed",
    Run.Status.EXPIRED: "run_expired",
    Run.Status.INCOMPLETE: "max_tokens",
}
END_RUN_TIME: dict[str, str] = {
    Run.Status.CANCELLED: "cancelled_at",
    Run.Status.FAILED: "failed_at",
    Run.Status.COMPLETED: "completed_at",
    Run.Status.INCOMPLETE: "completed_at",
}


def lock(thread_id: str) -> None:
    """Serialise writers on one thread until the transaction ends (a PostgreSQL row lock; SQLite's
    IMMEDIATE transactions already serialise every writer)."""
    list(Thread.objects.select_for_update().filter(pk=thread_id).values_list("pk", flat=True))


def active_run(thread: Thread) -> Run | None:
    expire_overdue(thread_id=thread.pk)
    return Run.objects.filter(thread=thread, status__in=Run.ACTIVE).order_by("-created_at").first()


def check_unlocked_for_message(thread: Thread) -> None:
    run = active_run(thread)
    if run is not None:
        raise invalid(f"Can't add messages to {thread.id} while a run {run.id} is active.")


def check_unlocked_for_run(thread: Thread) -> None:
    run = active_run(thread)
    if run is not None:
        raise invalid(f"Thread {thread.id} already has an active run {run.id}.")


# -- creating -----------------------------------------------------------------------------------------


def _given(data: dict[str, Any], key: str, fallback: Any) -> Any:
    value = data.get(key)
    return fallback if value is None else value


def create_run(thread: Thread, assistant: Assistant, data: dict[str, Any]) -> Run:
    """Store a CreateRunRequest (validated) as a queued run; the executor is woken on commit."""
    instructions = _given(data, "instructions", assistant.instructions or "")
    if data.get("additional_instructions"):
        instructions = (
            f"{instructions}\n\n{data['additional_instructions']}"
            if instructions
            else data["additional_instructions"]
        )
    with transaction.atomic():
        lock(thread.pk)
        check_unlocked_for_run(thread)
        for index, message in enumerate(data.get("additional_messages") or []):
            add_message(thread, message, f"additional_messages[{index}]")
        now = timezone.now()
        run = Run.objects.create(
            team_id=thread.team_id,
            thread=thread,
            assistant_id=assistant.id,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.GATEWAY_RUN_EXPIRES_SECONDS),
            model=data.get("model") or assistant.model,
            instructions=instructions,
            tools=_given(data, "tools", assistant.tools),
            tool_resources=resources.resolve(thread.team_id, data.get("tool_resources")),
            metadata=data.get("metadata") or {},
            temperature=_given(data, "temperature", assistant.temperature),
            top_p=_given(data, "top_p", assistant.top_p),
            max_prompt_tokens=data.get("max_prompt_tokens"),
            max_completion_tokens=data.get("max_completion_tokens"),
            truncation_strategy=_given(data, "truncation_strategy", {"type": "auto", "last_messages": None}),
            tool_choice=_given(data, "tool_choice", "auto"),
            parallel_tool_calls=_given(data, "parallel_tool_calls", True),
            response_format=_given(data, "response_format", assistant.response_format or "auto"),
            reasoning_effort=_given(data, "reasoning_effort", assistant.reasoning_effort),
        )
        transaction.on_commit(executor.notify)
    return run


# -- moving on ----------------------------------------------------------------------------------------


def write(run: Run, lease: Lease | None, *, fence: bool = True, **fields: Any) -> bool:
    """Change the run if it is still in the status it was read in, and still held by `lease` (or,
    without a lease, still at the attempt it was read at; `fence` then bumps the attempt so that a
    zombie worker cannot write after this)."""
    if lease is not None:
        rows = lease.fenced()
    else:
        rows = Run.objects.filter(pk=run.pk, attempt=run.attempt)
        if fence:
            fields = {"attempt": run.attempt + 1, **fields}
    return bool(rows.filter(status=run.status).update(**fields))


def usage_of(run: Run) -> dict[str, int]:
    total = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for usage in RunStep.objects.filter(run=run, usage__isnull=False).values_list("usage", flat=True):
        for key in total:
            total[key] += int((usage or {}).get(key) or 0)
    return total


def end_run(
    run: Run,
    lease: Lease | None,
    status: str,
    *,
    last_error: dict[str, str] | None = None,
    incomplete_details: dict[str, str] | None = None,
) -> bool:
    """Put the run in a terminal status, closing its open steps."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": status,
        "required_action": None,
        "last_error": last_error,
        "incomplete_details": incomplete_details,
        "usage": usage_of(run),
        "lease_owner": "",
        "lease_until": None,
    }
    if status in END_RUN_TIME:
        fields[END_RUN_TIME[status]] = now
    with transaction.atomic():
        if not write(run, lease, **fields):
            return False
        step_status, stamp = END_STEP_STATUS[Run.Status(status)]
        step_fields: dict[str, Any] = {"status": step_status, stamp: now}
        if status == Run.Status.FAILED:
            step_fields["last_error"] = last_error
        RunStep.objects.filter(run=run, status=RunStep.Status.IN_PROGRESS).update(**step_fields)
        if status in MESSAGE_CUT_SHORT:
            Message.objects.filter(run_id=run.id, status=Message.Status.IN_PROGRESS).update(
                status=Message.Status.INCOMPLETE,
                incomplete_details={"reason": MESSAGE_CUT_SHORT[Run.Status(status)]},
                incomplete_at=now,
            )
    return True


def cancel(run: Run) -> Run:
    """Cancel an active run: at once when no worker holds it, else through `cancelling`."""
    with transaction.atomic():
        lock(run.thread_id)
        expire_overdue(run_id=run.pk)
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status not in (Run.Status.QUEUED, Run.Status.IN_PROGRESS, Run.Status.REQUIRES_ACTION):
            raise invalid(f"Cannot cancel run with status '{run.status}'.")
        if _held(run):
            # The worker holding it sees this and stops (see gateway/runner.py); no fencing needed.
            write(run, None, fence=False, status=Run.Status.CANCELLING)
        else:
            end_run(run, None, Run.Status.CANCELLED)
        transaction.on_commit(executor.notify)
    return Run.objects.get(pk=run.pk)


def _held(run: Run) -> bool:
    return bool(run.lease_owner) and run.lease_until is not None and run.lease_until > timezone.now()


def submit_tool_outputs(run: Run, outputs: list[dict[str, Any]]) -> Run:
    """Record every output of the pending tool calls and queue the run again."""
    with transaction.atomic():
        lock(run.thread_id)
        expire_overdue(run_id=run.pk)
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status != Run.Status.REQUIRES_ACTION or not run.required_action:
            raise invalid(f'Runs in status "{run.status}" do not accept tool outputs.')
        expected = [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]
        given = [o.get("tool_call_id") for o in outputs]
        if sorted(expected) != sorted(str(g) for g in given):
            raise invalid(f"Expected tool outputs for call_ids {expected}, got {given}", "tool_outputs")
        answers = {o["tool_call_id"]: str(o.get("output") or "") for o in outputs}
        step = RunStep.objects.filter(run=run, type="tool_calls", status=RunStep.Status.IN_PROGRESS).first()
        if step is not None:
            calls = [
                {**c, "function": {**c["function"], "output": answers.get(c["id"])}}
                if c.get("type") == "function"
                else c
                for c in step.step_details.get("tool_calls", [])
            ]
            step.step_details = {**step.step_details, "tool_calls": calls}
            step.status = RunStep.Status.COMPLETED
            step.completed_at = timezone.now()
            step.save(update_fields=["step_details", "status", "completed_at"])
        transcript = [
            *run.transcript,
            *({"role": "tool", "tool_call_id": i, "content": answers[i]} for i in expected),
        ]
        write(run, None, status=Run.Status.QUEUED, required_action=None, transcript=transcript, tries=0)
        transaction.on_commit(executor.notify)
    return Run.objects.get(pk=run.pk)


# -- housekeeping -------------------------------------------------------------------------------------


def expire_overdue(thread_id: str | None = None, run_id: str | None = None) -> int:
    """Expire active runs past `expires_at` that no live worker holds (a worker stops its own)."""
    now = timezone.now()
    rows = Run.objects.filter(status__in=Run.ACTIVE, expires_at__lt=now).filter(
        models.Q(lease_until__isnull=True)
        | models.Q(lease_until__lt=now)
        | models.Q(status=Run.Status.REQUIRES_ACTION)
    )
    if thread_id is not None:
        rows = rows.filter(thread_id=thread_id)
    if run_id is not None:
        rows = rows.filter(pk=run_id)
    done = 0
    for run in rows:
        status = Run.Status.CANCELLED if run.status == Run.Status.CANCELLING else Run.Status.EXPIRED
        done += end_run(run, None, status)
    return done


def fail_exhausted() -> int:
    """Fail the runs whose workers kept dying: claimed EXECUTOR_MAX_ATTEMPTS times without finishing."""
    now = timezone.now()
    rows = Run.objects.filter(
        models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now),
        status__in=(Run.Status.QUEUED, Run.Status.IN_PROGRESS, Run.Status.CANCELLING),
        tries__gte=settings.EXECUTOR_MAX_ATTEMPTS,
    )
    done = 0
    for run in rows:
        if run.status == Run.Status.CANCELLING:
            done += end_run(run, None, Run.Status.CANCELLED)
            continue
        error = {
            "code": "server_error",
            "message": f"The run was interrupted {run.tries} times (the server stopped while running it) "
            "and was given up.",
        }
        done += end_run(run, None, Run.Status.FAILED, last_error=error)
    return done


def sweep() -> None:
    """Periodic: expire overdue runs, fail exhausted ones, drop expired files and vector stores."""
    expire_overdue()
    fail_exhausted()
    now = timezone.now()
    File.objects.filter(expires_at__lt=now).delete()
    VectorStore.objects.filter(expires_at__lt=now).delete()
