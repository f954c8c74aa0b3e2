"""The nodes that get an answer out of an assistant (Ask assistant, Wait for run, Retrieve Run, List
Messages, Submit Tool Outputs), each run once against the built-in gateway over a real socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nodes.base import NodeContext, NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from nodes.transport.http import ProviderError

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def node(ctx: NodeContext, key: str, **params: Any) -> tuple[Any, tuple[str, ...]]:
    async def execute() -> tuple[Any, tuple[str, ...]]:
        node_type = get_node_type(key)
        return node_type.ports_fired(await node_type.execute(ctx, clean_for_run(node_type, params)))

    return asyncio.run(execute())


@pytest.fixture
def assistant(ctx) -> dict[str, Any]:
    output, _ = node(ctx, "openai.create_assistant", model="scenery-echo", name="Helper", functions=WEATHER)
    return output


def test_ask_assistant_starts_a_thread_runs_waits_and_outputs_the_answer(ctx, assistant):
    output, ports = node(ctx, "openai.ask_assistant", assistant_id=assistant["id"], content="Hello there")
    assert ports == ("main",)
    assert output["answer"] == "Echo: Hello there"
    assert output["status"] == "completed" and output["run"]["status"] == "completed"
    assert output["thread_id"].startswith("thread_") and output["run_id"] == output["run"]["id"]


def test_ask_assistant_continues_a_thread_it_is_given(ctx, assistant):
    thread, _ = node(ctx, "openai.create_thread")
    first, _ = node(
        ctx, "openai.ask_assistant", assistant_id=assistant["id"], content="One", thread_id=thread["id"]
    )
    second, _ = node(
        ctx, "openai.ask_assistant", assistant_id=assistant["id"], content="Two", thread_id=thread["id"]
    )
    assert first["thread_id"] == second["thread_id"] == thread["id"]
    assert second["answer"] == "Echo: Two"
    listed, _ = node(ctx, "openai.list_messages", thread_id=thread["id"], order="asc")
    assert listed["texts"] == ["One", "Echo: One", "Two", "Echo: Two"]


def test_ask_assistant_that_ends_wanting_a_function_fails_saying_what_to_use(ctx, assistant):
    with pytest.raises(NodeError) as caught:
        node(ctx, "openai.ask_assistant", assistant_id=assistant["id"], content="Call get_weather for Paris")
    assert (
        "ended as requires_action" in caught.value.message and "Submit Tool Outputs" in caught.value.message
    )
    assert caught.value.details["run_id"].startswith("run_")


def test_wait_for_run_goes_out_of_completed_with_the_assistants_last_message(ctx, assistant):
    thread, _ = node(ctx, "openai.create_thread", new_message=True, content="What time is it?")
    run, _ = node(ctx, "openai.create_run", thread_id=thread["id"], assistant_id=assistant["id"])
    assert run["status"] == "queued"
    output, ports = node(ctx, "openai.wait_for_run", thread_id=thread["id"], run_id=run["id"])
    assert ports == ("completed",)
    assert output["answer"] == "Echo: What time is it?"
    assert output["message"]["role"] == "assistant" and output["message"]["run_id"] == run["id"]
    retrieved, _ = node(ctx, "openai.retrieve_run", thread_id=thread["id"], run_id=run["id"])
    assert retrieved["status"] == "completed" and retrieved["id"] == run["id"]
    listed, _ = node(ctx, "openai.list_messages", thread_id=thread["id"], run_id=run["id"])
    assert listed["texts"] == ["Echo: What time is it?"]


def test_a_function_call_is_finished_on_the_canvas_wait_submit_and_wait_again(ctx, assistant):
    thread, _ = node(ctx, "openai.create_thread", new_message=True, content="Call get_weather for Paris")
    run, _ = node(ctx, "openai.create_run", thread_id=thread["id"], assistant_id=assistant["id"])
    waiting, ports = node(ctx, "openai.wait_for_run", thread_id=thread["id"], run_id=run["id"])
    assert ports == ("requires_action",)
    [call] = waiting["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    submitted, _ = node(
        ctx,
        "openai.submit_tool_outputs",
        thread_id=thread["id"],
        run_id=run["id"],
        tool_outputs=[{"tool_call_id": call["id"], "output": {"celsius": 22}}],
    )
    assert submitted["id"] == run["id"]
    done, ports = node(ctx, "openai.wait_for_run", thread_id=thread["id"], run_id=run["id"])
    assert ports == ("completed",)
    assert "22" in done["answer"]


def test_wait_for_run_goes_out_of_ended_with_the_error_of_a_failed_run(ctx, assistant):
    thread, _ = node(ctx, "openai.create_thread", new_message=True, content="Hi")
    run, _ = node(
        ctx, "openai.create_run", thread_id=thread["id"], assistant_id=assistant["id"], model="no-such-model"
    )
    output, ports = node(ctx, "openai.wait_for_run", thread_id=thread["id"], run_id=run["id"])
    assert ports == ("ended",)
    assert output["status"] == "failed" and output["error"]["message"]
    assert "answer" not in output


def test_an_unknown_run_is_the_providers_clear_error(ctx):
    thread, _ = node(ctx, "openai.create_thread")
    with pytest.raises(ProviderError, match="run"):
        node(ctx, "openai.wait_for_run", thread_id=thread["id"], run_id="run_nope")


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ([], "Tool outputs is empty."),
        ({"tool_call_id": "call_1"}, "Give a list with one entry per tool call."),
        ([{"output": "x"}], "Entry 1 needs a tool_call_id (text)."),
        ([{"tool_call_id": "call_1"}], "Entry 1 (call_1) needs an output."),
    ],
)
def test_submit_tool_outputs_refuses_entries_it_cannot_send_naming_the_field(ctx, outputs, message):
    with pytest.raises(NodeError) as caught:
        node(ctx, "openai.submit_tool_outputs", thread_id="thread_x", run_id="run_x", tool_outputs=outputs)
    assert "Tool outputs" in caught.value.message and message in caught.value.message
