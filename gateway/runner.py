"""Gateway runs as jobs of the durable executor (durable/executor.py).

claim: fail runs whose workers kept dying, then lease the oldest queued (or abandoned) run.
run:   one model call per claim — build the conversation, stream the model's answer while watching
       for cancel and expiry (the message and its step are stored in_progress at the first token, and
       each token goes to the run's streaming clients over the channel layer, see gateway/deltas.py),
       then store the answer (message + step + usage) or the tool calls (requires_action).
sweep: expire overdue runs, fail exhausted ones, drop expired files.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models import F
from django.utils import timezone

from durable.executor import JobSource, db
from durable.leases import Lease, LeaseLost, claim_one
from gateway import conversation, deltas, ids, lifecycle, search, upstream
from gateway.errors import GatewayError
from gateway.models import Assistant, GatewayConfig, Message, Run, RunStep
from gateway.offline import count_tokens, prompt_tokens
from gateway.resources import vector_store_ids
from gateway.search import Hit
from gateway.threads import text_part

log = logging.getLogger(__name__)

SOURCE_NAME = "gateway-runs"
WATCH_SECONDS = 0.5  # how often a running model call checks for cancel and expiry
DEFAULT_MAX_RESULTS = 10
RANKER = "default_2024_08_21"


class Stop(Exception):
    """The run must end now with this status (cancelled while running, or expired)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Plan:
    run: Run
    config: GatewayConfig
    body: dict[str, Any]
    hits: list[Hit]
    message_id: str | None = None  # the answer's message, once its first token came
    text: str = ""  # its text so far


# -- claim and sweep (sync, in a thread) -----------------------------------------------------------


def claim(owner: str, lease_seconds: float, began: datetime | None = None) -> Lease | None:
    """The oldest run that waits or whose lease expired (`began` is not used: a run's wake-up starts
    a whole round)."""
    lifecycle.fail_exhausted()
    now = timezone.now()
    free = models.Q(lease_until__isnull=True) | models.Q(lease_until__lt=now)
    candidates = Run.objects.filter(
        free, status__in=(Run.Status.QUEUED, Run.Status.IN_PROGRESS, Run.Status.CANCELLING)
    )
    return claim_one(candidates, owner, lease_seconds, tries=F("tries") + 1)


def sweep() -> None:
    lifecycle.sweep()


# -- one claim's work ------------------------------------------------------------------------------


async def run(lease: Lease) -> None:
    try:
        plan = await db(_prepare, lease)
        if plan is None:
            return
        try:
            answer = await _watched(lease, plan, _streamed(lease, plan))
        except Stop as stop:
            await db(_keep_partial, plan)
            await db(_end_fresh, lease, stop.status)
            return
        except GatewayError as exc:
            await db(_keep_partial, plan)
            await db(_end_fresh, lease, Run.Status.FAILED, _error_of(exc))
            return
        await db(_apply, lease, plan, answer)
    except LeaseLost:
        log.info("gateway run %s: lease of attempt %s lost; another worker has it", lease.pk, lease.attempt)
    except DatabaseError:
        raise  # the executor gives the run back; the next attempt starts it again from its rows
    except Exception:
        log.exception("gateway run %s failed", lease.pk)
        error = {"code": "server_error", "message": "The server had an error while processing this run."}
        await db(_end_fresh, lease, Run.Status.FAILED, error)


def _error_of(exc: GatewayError) -> dict[str, str]:
    code = {429: "rate_limit_exceeded", 400: "invalid_prompt"}.get(exc.status, "server_error")
    return {"code": code, "message": exc.message}


def _fresh(lease: Lease) -> Run | None:
    return lease.fenced().select_related("thread").first()


def _end_fresh(lease: Lease, status: str, last_error: dict[str, str] | None = None) -> None:
    run = _fresh(lease)
    if run is None or run.status in Run.TERMINAL:
        return
    if run.status == Run.Status.CANCELLING and status == Run.Status.FAILED:
        status, last_error = Run.Status.CANCELLED, None
    lifecycle.end_run(run, lease, status, last_error=last_error)


def _incomplete(run: Run, lease: Lease, reason: str) -> None:
    lifecycle.end_run(run, lease, Run.Status.INCOMPLETE, incomplete_details={"reason": reason})


def _prepare(lease: Lease) -> Plan | None:
    """Start the run (or end it, if it was cancelled or expired) and build its model request; the
    writes (status, the file-search step) commit only while the lease holds."""
    with lease.atomic():
        return _prepare_held(lease)


def _prepare_held(lease: Lease) -> Plan | None:
    run = _fresh(lease)
    if run is None or run.status in Run.TERMINAL or run.status == Run.Status.REQUIRES_ACTION:
        return None
    now = timezone.now()
    if run.status == Run.Status.CANCELLING:
        lifecycle.end_run(run, lease, Run.Status.CANCELLED)
        return None
    if run.expires_at is not None and run.expires_at < now:
        lifecycle.end_run(run, lease, Run.Status.EXPIRED)
        return None
    if run.status == Run.Status.QUEUED:
        if not lifecycle.write(run, lease, status=Run.Status.IN_PROGRESS, started_at=run.started_at or now):
            return None
        run.status = Run.Status.IN_PROGRESS
    hits = _file_search(run)
    used = lifecycle.usage_of(run)
    budget = None
    if run.max_prompt_tokens is not None:
        budget = run.max_prompt_tokens - used["prompt_tokens"]
    talk = conversation.build(run, hits, budget)
    if budget is not None and talk.prompt_tokens > budget:
        _incomplete(run, lease, "max_prompt_tokens")
        return None
    remaining = None
    if run.max_completion_tokens is not None:
        remaining = run.max_completion_tokens - used["completion_tokens"]
        if remaining <= 0:
            _incomplete(run, lease, "max_completion_tokens")
            return None
    body = conversation.request_body(run, talk.messages, remaining)
    return Plan(run, GatewayConfig.for_team(run.team_id), body, hits)


def _file_search(run: Run) -> list[Hit]:
    """Search once per run (the first claim); later claims reuse the step's results."""
    if "file_search" not in conversation.tool_types(run):
        return []
    done = RunStep.objects.filter(run=run, type="tool_calls", step_details__tool_calls__0__type="file_search")
    step = done.first()
    if step is None:
        step = _search_step(run)
    call = step.step_details["tool_calls"][0]["file_search"]
    return [
        Hit(0, r["file_id"], r["file_name"], "\n".join(c["text"] for c in r.get("content", [])), r["score"])
        for r in call["results"]
    ]


def _search_step(run: Run) -> RunStep:
    tool = next(t for t in run.tools if t.get("type") == "file_search")
    options = tool.get("file_search") or {}
    ranking = options.get("ranking_options") or {}
    threshold = float(ranking.get("score_threshold") or 0.0)
    limit = int(options.get("max_num_results") or DEFAULT_MAX_RESULTS)
    assistant = Assistant.objects.filter(pk=run.assistant_id, team_id=run.team_id).first()
    stores = search_scope(run, assistant.tool_resources if assistant else {})
    hits = search.search(stores, conversation.search_query(run), limit, threshold)
    results = [
        {
            "file_id": h.file_id,
            "file_name": h.filename,
            "score": h.score,
            "content": [{"type": "text", "text": h.content}],
        }
        for h in hits
    ]
    details = {
        "type": "tool_calls",
        "tool_calls": [
            {
                "id": ids.new_call_id(),
                "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": RANKER, "score_threshold": threshold},
                    "results": results,
                },
            }
        ],
    }
    return _add_step(run, "tool_calls", details, done=True)


def _add_step(
    run: Run, kind: str, details: dict[str, Any], *, done: bool, usage: dict[str, int] | None = None
) -> RunStep:
    now = timezone.now()
    return RunStep.objects.create(
        team_id=run.team_id,
        run=run,
        thread_id=run.thread_id,
        assistant_id=run.assistant_id,
        type=kind,
        status=RunStep.Status.COMPLETED if done else RunStep.Status.IN_PROGRESS,
        step_details=details,
        usage=usage,
        created_at=now,
        completed_at=now if done else None,
    )


def search_scope(run: Run, assistant_resources: dict[str, Any]) -> list[str]:
    return vector_store_ids(assistant_resources, run.thread.tool_resources, run.tool_resources)


async def _watched(lease: Lease, plan: Plan, call: Any) -> dict[str, Any]:
    """Await the model call, stopping it if the run is cancelled, expires, or the lease is lost."""
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=WATCH_SECONDS)
            if done:
                answer: dict[str, Any] = task.result()
                return answer
            status = await db(_status, lease)
            if status is None:
                raise LeaseLost(f"run {lease.pk}")
            if status == Run.Status.CANCELLING:
                raise Stop(Run.Status.CANCELLED)
            if plan.run.expires_at is not None and timezone.now() > plan.run.expires_at:
                raise Stop(Run.Status.EXPIRED)
    finally:
        if not task.done():
            task.cancel()


async def _streamed(lease: Lease, plan: Plan) -> dict[str, Any]:
    """The model's answer, streamed: its text goes out token by token as it comes."""
    assembled = upstream.Assembled()
    publisher = deltas.Publisher(plan.run.id)
    async for chunk in upstream.chat_stream(plan.config, plan.body):
        assembled.add(chunk)
        for part in chunk.get("choices") or []:
            piece = (part.get("delta") or {}).get("content")
            if part.get("index", 0) != 0 or not piece:
                continue
            if plan.message_id is None:
                plan.message_id = await db(_open_message, lease, plan.run)
            plan.text += piece
            await publisher.publish(plan.message_id, piece)
    if not assembled.answer["choices"]:
        raise GatewayError("The provider's chat completion has no choices.", status=502, type="server_error")
    return assembled.answer


def _keep_partial(plan: Plan) -> None:
    """The text streamed before the run was stopped stays in its (then incomplete) message."""
    if plan.message_id is not None:
        Message.objects.filter(pk=plan.message_id, status=Message.Status.IN_PROGRESS).update(
            content=[text_part(plan.text)]
        )


def _open_message(lease: Lease, run: Run) -> str:
    """The answer's message and its step, in progress (a retried attempt takes over its own)."""
    with lease.atomic():
        if _fresh(lease) is None:
            raise LeaseLost(f"run {lease.pk}")
        step = RunStep.objects.filter(
            run=run, type="message_creation", status=RunStep.Status.IN_PROGRESS
        ).first()
        if step is not None:
            message_id: str = step.step_details["message_creation"]["message_id"]
            return message_id
        now = timezone.now()
        message = Message.objects.create(
            team_id=run.team_id,
            thread_id=run.thread_id,
            role="assistant",
            content=[],
            assistant_id=run.assistant_id,
            run_id=run.id,
            status=Message.Status.IN_PROGRESS,
            created_at=now,
        )
        details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
        _add_step(run, "message_creation", details, done=False)
        return message.id


def _status(lease: Lease) -> str | None:
    return lease.fenced().values_list("status", flat=True).first()


def _usage(answer: dict[str, Any], plan: Plan, text: str) -> dict[str, int]:
    given = answer.get("usage")
    usage: dict[str, Any] = given if isinstance(given, dict) else {}
    prompt = int(usage.get("prompt_tokens") or prompt_tokens(plan.body["messages"]))
    completion = int(usage.get("completion_tokens") or count_tokens(text))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _apply(lease: Lease, plan: Plan, answer: dict[str, Any]) -> None:
    first = answer["choices"][0]
    choice: dict[str, Any] = first if isinstance(first, dict) else {}
    said = choice.get("message")
    message: dict[str, Any] = said if isinstance(said, dict) else {}
    with transaction.atomic():
        run = lease.fenced().select_for_update().select_related("thread").first()
        if run is None:
            raise LeaseLost(f"run {lease.pk}")
        if run.status == Run.Status.CANCELLING:
            lifecycle.end_run(run, lease, Run.Status.CANCELLED)
            return
        if run.status != Run.Status.IN_PROGRESS:
            return
        calls = message.get("tool_calls") or []
        if calls:
            _require_action(run, lease, plan, message, calls, answer)
        else:
            _answer(run, lease, plan, message, choice, answer)


def _require_action(
    run: Run, lease: Lease, plan: Plan, message: dict[str, Any], calls: list[Any], answer: dict[str, Any]
) -> None:
    functions = {t["function"]["name"] for t in run.tools if t.get("type") == "function"}
    pending: list[dict[str, Any]] = []
    for call in calls:
        function = (call or {}).get("function") or {}
        name = str(function.get("name") or "")
        if name not in functions:
            lifecycle.end_run(
                run,
                lease,
                Run.Status.FAILED,
                last_error={
                    "code": "server_error",
                    "message": f"The model called '{name}', which is not one of this run's functions"
                    + (
                        " (this server does not execute code)."
                        if "code_interpreter" in conversation.tool_types(run)
                        else "."
                    ),
                },
            )
            return
        pending.append(
            {
                "id": str(call.get("id") or ids.new_call_id()),
                "type": "function",
                "function": {"name": name, "arguments": str(function.get("arguments") or "{}")},
            }
        )
    if plan.message_id is not None:  # the model said something before calling: keep it
        _finish_message(
            run, plan, [text_part(str(message.get("content") or ""))], Message.Status.COMPLETED, None
        )
    details = {
        "type": "tool_calls",
        "tool_calls": [{**c, "function": {**c["function"], "output": None}} for c in pending],
    }
    _add_step(run, "tool_calls", details, done=False, usage=_usage(answer, plan, ""))
    said = {"role": "assistant", "content": message.get("content"), "tool_calls": pending}
    lifecycle.write(
        run,
        lease,
        status=Run.Status.REQUIRES_ACTION,
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": pending}},
        transcript=[*run.transcript, said],
        lease_owner="",
        lease_until=None,
    )


def _answer(
    run: Run,
    lease: Lease,
    plan: Plan,
    message: dict[str, Any],
    choice: dict[str, Any],
    answer: dict[str, Any],
) -> None:
    text = str(message.get("content") or "")
    refusal = message.get("refusal")
    parts = (
        [{"type": "refusal", "refusal": str(refusal)}]
        if refusal and not text
        else [text_part(text, conversation.citations(text, plan.hits))]
    )
    if "code_interpreter" in conversation.tool_types(run):
        parts.append(text_part(conversation.CODE_INTERPRETER_ANSWER_NOTE))
    usage = _usage(answer, plan, text)
    used = lifecycle.usage_of(run)
    reason = None
    if choice.get("finish_reason") == "length" or (
        run.max_completion_tokens is not None
        and used["completion_tokens"] + usage["completion_tokens"] > run.max_completion_tokens
    ):
        reason = "max_completion_tokens"
    elif (
        run.max_prompt_tokens is not None
        and used["prompt_tokens"] + usage["prompt_tokens"] > run.max_prompt_tokens
    ):
        reason = "max_prompt_tokens"
    ending = Message.Status.INCOMPLETE if reason else Message.Status.COMPLETED
    _finish_message(run, plan, parts, ending, usage)
    if reason:
        _incomplete(run, lease, reason)
    else:
        lifecycle.end_run(run, lease, Run.Status.COMPLETED)


def _finish_message(
    run: Run, plan: Plan, parts: list[dict[str, Any]], status: str, usage: dict[str, int] | None
) -> None:
    """Store the answer's message, finished, with its step (opened at the first token, or now)."""
    now = timezone.now()
    ended = {
        "content": parts,
        "status": status,
        "incomplete_details": {"reason": "max_tokens"} if status == Message.Status.INCOMPLETE else None,
        "incomplete_at": now if status == Message.Status.INCOMPLETE else None,
        "completed_at": now if status == Message.Status.COMPLETED else None,
    }
    if plan.message_id is None:
        message = Message.objects.create(
            team_id=run.team_id,
            thread_id=run.thread_id,
            role="assistant",
            assistant_id=run.assistant_id,
            run_id=run.id,
            created_at=now,
            **ended,
        )
        details = {"type": "message_creation", "message_creation": {"message_id": message.id}}
        _add_step(run, "message_creation", details, done=True, usage=usage)
        return
    Message.objects.filter(pk=plan.message_id).update(**ended)
    RunStep.objects.filter(
        run=run, type="message_creation", step_details__message_creation__message_id=plan.message_id
    ).update(status=RunStep.Status.COMPLETED, completed_at=now, usage=usage)


SOURCE = JobSource(SOURCE_NAME, claim, run, sweep)
