"""The chat completions request a run sends: instructions, the thread's messages, file-search
excerpts, the run's own tool-call exchange, tools and limits."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from gateway import offline
from gateway.models import FileContent, Message, Run
from gateway.search import Hit

CODE_INTERPRETER_SYSTEM_NOTE = (
    "Code execution is not available here: you cannot run code or read files with code. If the user asks "
    "you to run code, say that this server does not execute code."
)
# Added to every answer of a run whose tools include code_interpreter, as its own content part.
CODE_INTERPRETER_ANSWER_NOTE = (
    "Note: this server does not execute code. The code_interpreter tool is accepted but never run, so "
    "nothing in this answer was computed by running code."
)
CITATION = re.compile(r"【(\d+)(?::\d+)?†[^】]*】|(?<![\w\]])\[(\d+)\]")


@dataclass
class Conversation:
    messages: list[dict[str, Any]]
    prompt_tokens: int  # an estimate (see offline.count_tokens)


def tool_types(run: Run) -> set[str]:
    return {str(tool.get("type")) for tool in run.tools}


def excerpts(hits: list[Hit]) -> str:
    blocks = [f"【{n}†source】 file: {hit.filename}\n{hit.content}" for n, hit in enumerate(hits, start=1)]
    return (
        "Relevant excerpts from the files attached to this conversation. When you use one, cite it with "
        "its marker, for example 【1†source】.\n\n" + "\n\n".join(blocks)
    )


def _image_url(file_id: str) -> str | None:
    stored = FileContent.objects.filter(file_id=file_id).select_related("file").first()
    if stored is None or not stored.file.content_type.startswith("image/"):
        return None
    return f"data:{stored.file.content_type};base64,{base64.b64encode(bytes(stored.data)).decode()}"


def chat_message(message: Message) -> dict[str, Any]:
    texts = [p["text"]["value"] for p in message.content if p.get("type") == "text"]
    images = [p for p in message.content if p.get("type") in ("image_file", "image_url")]
    if not images or message.role != "user":
        return {"role": message.role, "content": "\n".join(texts)}
    parts: list[dict[str, Any]] = [{"type": "text", "text": t} for t in texts]
    for part in images:
        if part["type"] == "image_url":
            url: str | None = part["image_url"]["url"]
            detail = part["image_url"].get("detail", "auto")
        else:
            url = _image_url(part["image_file"]["file_id"])
            detail = part["image_file"].get("detail", "auto")
        if url:
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": detail}})
    return {"role": "user", "content": parts}


def build(run: Run, hits: list[Hit], budget: int | None) -> Conversation:
    """The run's chat messages; with a prompt-token `budget` and `auto` truncation, the oldest thread
    messages are left out until the estimate fits (the last one always stays)."""
    system = run.instructions or ""
    if "code_interpreter" in tool_types(run):
        system = f"{system}\n\n{CODE_INTERPRETER_SYSTEM_NOTE}".strip()
    head = [{"role": "system", "content": system}] if system else []
    thread = [
        chat_message(m) for m in Message.objects.filter(thread_id=run.thread_id).order_by("created_at", "id")
    ]
    strategy = run.truncation_strategy or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        thread = thread[-int(strategy["last_messages"]) :]
    tail = ([{"role": "system", "content": excerpts(hits)}] if hits else []) + list(run.transcript)

    def total() -> int:
        return offline.prompt_tokens(head + thread + tail)

    if budget is not None and strategy.get("type", "auto") == "auto":
        while len(thread) > 1 and total() > budget:
            thread.pop(0)
    return Conversation(head + thread + tail, total())


def search_query(run: Run) -> str:
    last = Message.objects.filter(thread_id=run.thread_id, role="user").order_by("-created_at", "-id").first()
    return last.text if last else ""


def request_body(
    run: Run, messages: list[dict[str, Any]], max_completion_tokens: int | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": run.model, "messages": messages}
    functions = [t for t in run.tools if t.get("type") == "function"]
    if functions:
        body["tools"] = [{"type": "function", "function": t["function"]} for t in functions]
        choice = run.tool_choice
        if choice in ("none", "auto", "required") or (
            isinstance(choice, dict) and choice.get("type") == "function"
        ):
            body["tool_choice"] = choice
        if not run.parallel_tool_calls:
            body["parallel_tool_calls"] = False
    for key in ("temperature", "top_p", "reasoning_effort"):
        if getattr(run, key) is not None:
            body[key] = getattr(run, key)
    if isinstance(run.response_format, dict) and run.response_format.get("type") != "text":
        body["response_format"] = run.response_format
    if max_completion_tokens is not None:
        body["max_completion_tokens"] = max_completion_tokens
    return body


def citations(text: str, hits: list[Hit]) -> list[dict[str, Any]]:
    """file_citation annotations for the excerpt markers the model wrote."""
    found = []
    for match in CITATION.finditer(text):
        number = int(match.group(1) or match.group(2))
        if 1 <= number <= len(hits):
            found.append(
                {
                    "type": "file_citation",
                    "text": match.group(0),
                    "start_index": match.start(),
                    "end_index": match.end(),
                    "file_citation": {"file_id": hits[number - 1].file_id},
                }
            )
    return found
