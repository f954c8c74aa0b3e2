"""Getting an answer out of an assistant: Wait for run, Retrieve Run, List Messages, Submit Tool
Outputs, and Ask assistant (message, run, wait and answer in one node).

A run is created `queued`; these nodes poll it until it is terminal, within a bound the user sets,
so a scenario can route on how it ended (Wait for run's ports) and read the assistant's answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

from nodes.base import Field, NodeContext, NodeError, NodeType, Routed
from nodes.params import define
from nodes.transport.guard import path_segment
from nodes.transport.http import ProviderClient
from nodes.types.assistant_fields import (
    APP,
    ASSISTANT_ID,
    CREDENTIAL,
    INSTRUCTIONS,
    MESSAGE_CONTENT,
    RUN_ID,
    THREAD_ID,
    client_for,
    expect_object,
)

TERMINAL = ("completed", "requires_action", "failed", "cancelled", "expired", "incomplete")
ENDED = "ended"  # Wait for run's port for failed, cancelled, expired and incomplete runs
MAX_WAIT_SECONDS = 600
FIRST_POLL, LAST_POLL = 0.2, 2.0
MAX_TOOL_OUTPUTS = 128

WAIT = Field(
    "wait_seconds",
    "Wait at most (seconds)",
    kind="number",
    default=120,
    min_value=1,
    max_value=MAX_WAIT_SECONDS,
    help=f"How long to wait for the run to end, 1 to {MAX_WAIT_SECONDS} seconds; past that the node fails "
    "(the run carries on at the provider).",
)
LIMIT = Field(
    "limit",
    "Limit",
    kind="number",
    default=20,
    min_value=1,
    max_value=100,
    help="How many messages, 1 to 100.",
)
ORDER = Field(
    "order",
    "Order",
    kind="select",
    choices=(("desc", "Newest first"), ("asc", "Oldest first")),
    default="desc",
    expressions=False,
)
MESSAGES_OF_RUN = Field(
    "run_id",
    "Run ID",
    kind="id",
    placeholder="run_abc123",
    help="Only the messages this run created (empty: the whole thread).",
)
TOOL_OUTPUTS = Field(
    "tool_outputs",
    "Tool outputs",
    kind="json",
    required=True,
    placeholder='[{"tool_call_id": "call_abc123", "output": "22°C and sunny"}]',
    help="One entry per tool call the run asked for (the run's required_action.submit_tool_outputs."
    "tool_calls): its tool_call_id and the output as text (other values are sent as JSON).",
)
OPTIONAL_THREAD = Field(
    "thread_id",
    "Thread ID",
    kind="id",
    placeholder="thread_abc123",
    help="The conversation to continue; empty starts a new thread.",
)


def _run_path(thread_id: Any, run_id: Any) -> str:
    return f"/threads/{path_segment(thread_id)}/runs/{path_segment(run_id)}"


def message_text(message: dict[str, Any]) -> str:
    """The text parts of an Assistants message, joined."""
    parts = message.get("content") if isinstance(message, dict) else None
    texts = []
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict) and part.get("type") == "text":
            text = part.get("text")
            texts.append(text.get("value", "") if isinstance(text, dict) else str(text or ""))
    return "\n".join(texts)


async def _answer(client: ProviderClient, thread_id: str, run_id: str) -> dict[str, Any] | None:
    """The last message the assistant wrote in this run, or None."""
    query = urlencode({"order": "desc", "limit": 20, "run_id": run_id})
    page = await client.request("GET", f"/threads/{path_segment(thread_id)}/messages?{query}", beta=True)
    for message in expect_object(page, "List Messages").get("data") or []:
        if isinstance(message, dict) and message.get("role") == "assistant":
            return message
    return None


async def wait_for(client: ProviderClient, thread_id: str, run_id: str, seconds: float) -> dict[str, Any]:
    """The run once it is terminal; NodeError naming Wait at most when it is not within `seconds`."""
    deadline = time.monotonic() + seconds
    pause = FIRST_POLL
    while True:
        run = expect_object(
            await client.request("GET", _run_path(thread_id, run_id), beta=True), "Retrieve Run"
        )
        if run.get("status") in TERMINAL:
            return run
        if time.monotonic() + pause > deadline:
            raise NodeError(
                f"The run {run_id} was still {run.get('status') or 'unfinished'} after {seconds:g} seconds.",
                fields={"wait_seconds": ["Wait longer, or check the run later with Retrieve Run."]},
                run=run,
            )
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, LAST_POLL)


async def _ended(client: ProviderClient, run: dict[str, Any]) -> dict[str, Any]:
    """A terminal run with, when it completed, the assistant's last message and its text."""
    output: dict[str, Any] = {"status": run.get("status"), "run": run}
    if run.get("status") == "completed":
        message = await _answer(client, str(run.get("thread_id")), str(run.get("id")))
        output["message"] = message
        output["answer"] = message_text(message) if message else ""
    elif run.get("status") == "requires_action":
        action = run.get("required_action") or {}
        output["tool_calls"] = (action.get("submit_tool_outputs") or {}).get("tool_calls") or []
    else:
        output["error"] = run.get("last_error") or run.get("incomplete_details")
    return output


async def wait_for_run(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    client = client_for(ctx)
    run = await wait_for(client, params["thread_id"], params["run_id"], float(params["wait_seconds"]))
    output = await _ended(client, run)
    port = run["status"] if run["status"] in ("completed", "requires_action") else ENDED
    return Routed(output, (port,))


async def retrieve_run(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    path = _run_path(params["thread_id"], params["run_id"])
    return expect_object(await client_for(ctx).request("GET", path, beta=True), "Retrieve Run")


async def list_messages(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    query: dict[str, Any] = {"order": params.get("order") or "desc", "limit": int(params.get("limit") or 20)}
    if params.get("run_id"):
        query["run_id"] = params["run_id"]
    path = f"/threads/{path_segment(params['thread_id'])}/messages?{urlencode(query)}"
    page = expect_object(await client_for(ctx).request("GET", path, beta=True), "List Messages")
    # Each message's text beside the page, so later nodes map {{$n.texts.0}} without digging.
    page["texts"] = [message_text(m) for m in page.get("data") or [] if isinstance(m, dict)]
    return page


def check_tool_outputs(params: dict[str, Any]) -> dict[str, list[str]]:
    outputs = params.get("tool_outputs")
    if outputs is None:
        return {}
    if not isinstance(outputs, list) or not outputs:
        return {"tool_outputs": ["Give a list with one entry per tool call."]}
    if len(outputs) > MAX_TOOL_OUTPUTS:
        return {"tool_outputs": [f"At most {MAX_TOOL_OUTPUTS} tool outputs (this has {len(outputs)})."]}
    for position, entry in enumerate(outputs, start=1):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("tool_call_id"), str)
            or not entry["tool_call_id"]
        ):
            return {"tool_outputs": [f"Entry {position} needs a tool_call_id (text)."]}
        if "output" not in entry:
            return {"tool_outputs": [f"Entry {position} ({entry['tool_call_id']}) needs an output."]}
    return {}


async def submit_tool_outputs(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    problems = check_tool_outputs(params)
    if problems:
        raise NodeError(problems["tool_outputs"][0], fields=problems)
    body = {
        "tool_outputs": [
            {
                "tool_call_id": entry["tool_call_id"],
                "output": entry["output"]
                if isinstance(entry["output"], str)
                else json.dumps(entry["output"], ensure_ascii=False),
            }
            for entry in params["tool_outputs"]
        ]
    }
    path = f"{_run_path(params['thread_id'], params['run_id'])}/submit_tool_outputs"
    return expect_object(await client_for(ctx).request("POST", path, body, beta=True), "Submit Tool Outputs")


async def ask_assistant(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    client = client_for(ctx)
    message = {"role": "user", "content": params["content"]}
    run_body: dict[str, Any] = {"assistant_id": params["assistant_id"]}
    if params.get("instructions"):
        run_body["additional_instructions"] = params["instructions"]
    if params.get("thread_id"):
        thread = f"/threads/{path_segment(params['thread_id'])}"
        expect_object(
            await client.request("POST", f"{thread}/messages", message, beta=True), "Create Message"
        )
        run = await client.request("POST", f"{thread}/runs", run_body, beta=True)
    else:
        run = await client.request(
            "POST", "/threads/runs", {**run_body, "thread": {"messages": [message]}}, beta=True
        )
    run = expect_object(run, "Create Run")
    thread_id, run_id = str(run.get("thread_id")), str(run.get("id"))
    ended = await _ended(client, await wait_for(client, thread_id, run_id, float(params["wait_seconds"])))
    if ended["status"] != "completed":
        hint = (
            " The assistant wants to call a function: use Create Run, Wait for run and Submit Tool Outputs."
            if ended["status"] == "requires_action"
            else ""
        )
        raise NodeError(
            f"The assistant's run ended as {ended['status']}, without an answer.{hint}",
            thread_id=thread_id,
            run_id=run_id,
            error=ended.get("error"),
        )
    return {"answer": ended["answer"], "thread_id": thread_id, "run_id": run_id, **ended}


WAIT_FOR_RUN = NodeType(
    key="openai.wait_for_run",
    app=APP,
    title="Wait for run",
    description="Waits until a run has ended; goes out of completed (with the answer), requires_action "
    "(with the tool calls) or ended (failed, cancelled, expired or incomplete).",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, RUN_ID, WAIT),
    execute=wait_for_run,
    outputs=("completed", "requires_action", ENDED),
)
RETRIEVE_RUN = define(
    key="openai.retrieve_run",
    app=APP,
    title="Retrieve Run",
    description="Reads a run: its status, required action, usage and error.",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, RUN_ID),
    run=retrieve_run,
)
LIST_MESSAGES = define(
    key="openai.list_messages",
    app=APP,
    title="List Messages",
    description="Lists a thread's messages (or one run's), with each message's text.",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, MESSAGES_OF_RUN, LIMIT, ORDER),
    run=list_messages,
)
SUBMIT_TOOL_OUTPUTS = define(
    key="openai.submit_tool_outputs",
    app=APP,
    title="Submit Tool Outputs",
    description="Answers the function calls of a run that requires action; the run then carries on.",
    kind="action",
    fields=(CREDENTIAL, THREAD_ID, RUN_ID, TOOL_OUTPUTS),
    check=check_tool_outputs,
    run=submit_tool_outputs,
)
ASK_ASSISTANT = define(
    key="openai.ask_assistant",
    app=APP,
    title="Ask assistant",
    description="Adds a message to a thread (or a new one), runs the assistant, waits and outputs its answer.",
    kind="action",
    fields=(
        CREDENTIAL,
        ASSISTANT_ID,
        MESSAGE_CONTENT,
        OPTIONAL_THREAD,
        Field(
            "instructions", "Additional instructions", kind="long_text", max_length=INSTRUCTIONS.max_length
        ),
        WAIT,
    ),
    run=ask_assistant,
)

TYPES = (ASK_ASSISTANT, WAIT_FOR_RUN, RETRIEVE_RUN, LIST_MESSAGES, SUBMIT_TOOL_OUTPUTS)
