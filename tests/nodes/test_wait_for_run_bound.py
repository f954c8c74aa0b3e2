"""Wait for run is bounded: a run that does not end in time fails the node, naming the field, with
the run as it last was (nothing lost)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from nodes.base import NodeContext, NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from nodes.types import assistant_runs


class ForeverQueued:
    """A provider whose run never leaves `in_progress`; it counts the polls."""

    def __init__(self) -> None:
        self.polls = 0

    async def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        self.polls += 1
        return {"id": "run_1", "object": "thread.run", "thread_id": "thread_1", "status": "in_progress"}


def test_a_run_that_does_not_end_in_time_fails_the_node_naming_wait_at_most(monkeypatch):
    provider = ForeverQueued()
    monkeypatch.setattr(assistant_runs, "client_for", lambda ctx: provider)
    node_type = get_node_type("openai.wait_for_run")
    params = clean_for_run(node_type, {"thread_id": "thread_1", "run_id": "run_1", "wait_seconds": 1})

    async def execute() -> Any:
        return await node_type.execute(NodeContext(team_id=None, execution_id=None, node_number=4), params)

    with pytest.raises(NodeError) as caught:
        asyncio.run(execute())
    assert caught.value.message == "The run run_1 was still in_progress after 1 seconds."
    assert list(caught.value.details["fields"]) == ["wait_seconds"]
    assert caught.value.details["run"]["status"] == "in_progress"
    assert provider.polls >= 2


@pytest.mark.parametrize("seconds", [0, 601, "soon"])
def test_wait_at_most_is_a_number_of_seconds_between_1_and_600(seconds):
    node_type = get_node_type("openai.wait_for_run")
    with pytest.raises(NodeError, match="Wait at most"):
        clean_for_run(node_type, {"thread_id": "t", "run_id": "r", "wait_seconds": seconds})
