"""The production layout: a webhook answered as server-sent events by a web process that does not
execute, while a worker process runs the scenario; the tokens cross over Redis while the provider is
still answering. Needs REDIS_URL (and is meant for PostgreSQL)."""

from __future__ import annotations

import pytest

from scenarios.models import Execution
from tests.durability.conftest import USES_REDIS
from tests.engine.test_webhook_sse import ANSWER, call, hook, streaming_scenario
from tests.waiting import wait_for_end

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not USES_REDIS, reason="needs REDIS_URL: a channel layer that crosses processes"),
]


def test_a_run_executed_by_a_worker_streams_its_tokens_to_the_caller_of_the_web_process(
    workers, web_process, cast, stub_credential, stub_provider
):
    worker = workers.start(EXECUTOR_SOURCES="executions")
    web = web_process()
    scenario = streaming_scenario(cast, stub_credential)
    headers, received = call(hook(web, scenario), stub_provider)
    tokens = [data for name, data in received if name == "token"]
    assert tokens and tokens[0] == {"node": 2, "text": "echo: "}, workers.logs()
    assert "".join(token["text"] for token in tokens) == ANSWER
    assert received[-1] == ("response", {"status": 201, "body": ANSWER})
    execution = wait_for_end(headers["x-execution-id"])
    assert execution.status == Execution.Status.SUCCEEDED
    assert f":{worker.pid}:" in execution.lease_owner  # run by the worker, not the web process
