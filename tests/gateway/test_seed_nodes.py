"""The seed's ChatGPT Assistant nodes, executed against the built-in gateway over a real socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.models import File, FileContent
from nodes.base import NodeContext
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from tests.gateway.conftest import run_status
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def node(ctx: NodeContext, key: str, **params: Any) -> dict[str, Any]:
    async def execute() -> dict[str, Any]:
        node_type = get_node_type(key)
        output, _ports = node_type.ports_fired(await node_type.execute(ctx, clean_for_run(node_type, params)))
        return output

    return asyncio.run(execute())


def test_every_assistants_node_works_against_the_gateway(cast, ctx):
    notes = File.objects.create(team=cast.team, filename="notes.txt", bytes=21, purpose="assistants")
    FileContent.objects.create(file=notes, data=b"The vault code is 4711.")

    assistant = node(
        ctx,
        "openai.create_assistant",
        model="scenery-echo",
        name="Helper",
        instructions="Answer briefly.",
        metadata={"source": "seed"},
        code_interpreter=True,
        retrieval=True,
        file_ids=[notes.id],
        functions=WEATHER,
    )
    assert assistant["object"] == "assistant" and assistant["name"] == "Helper"
    assert assistant["tool_resources"]["code_interpreter"]["file_ids"] == [notes.id]
    modified = node(
        ctx, "openai.modify_assistant", assistant_id=assistant["id"], retrieval=True, file_ids=[notes.id]
    )
    assert modified["tool_resources"]["file_search"]["vector_store_ids"][0].startswith("vs_")

    thread = node(ctx, "openai.create_thread", new_message=True, content="Hello", metadata={"k": "v"})
    assert thread["object"] == "thread"
    message = node(
        ctx,
        "openai.create_message",
        thread_id=thread["id"],
        content="What is the vault code?",
        file_ids=[notes.id],
    )
    assert message["object"] == "thread.message" and message["attachments"][0]["file_id"] == notes.id

    run = node(ctx, "openai.create_run", thread_id=thread["id"], assistant_id=assistant["id"])
    assert run["object"] == "thread.run" and run["status"] == "queued"
    wait_until(lambda: run_status(run["id"]) == "completed", "the run")
    changed = node(ctx, "openai.modify_run", thread_id=thread["id"], run_id=run["id"], metadata={"seen": "1"})
    assert changed["metadata"] == {"seen": "1"}

    downloaded = node(ctx, "openai.download_file", file_id=notes.id)
    assert downloaded["content"] == "The vault code is 4711." and downloaded["encoding"] == "utf-8"

    assert node(ctx, "openai.delete_thread", thread_id=thread["id"])["deleted"] is True
    assert node(ctx, "openai.delete_assistant", assistant_id=assistant["id"])["deleted"] is True


def test_the_chat_and_instruct_nodes_answer_through_the_gateway_offline(ctx):
    sent = node(ctx, "openai.send_message", message="Ping")
    assert sent["reply"] == "Echo: Ping"
    # The instruct node names the credential's default model (here the offline one).
    instructed = node(ctx, "openai.instruct", message="Complete me")
    assert instructed["object"] == "text_completion" and instructed["text"] == "Echo: Complete me"
