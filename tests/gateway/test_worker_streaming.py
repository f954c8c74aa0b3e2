"""The production layout: a run executed by a worker process streams its tokens to the client of the
web process over Redis, while the provider is still answering. Needs REDIS_URL (and is meant for
PostgreSQL); the embedded default has no channel layer between processes."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from django.conf import settings as django_settings
from openai import OpenAI

from gateway.runner import SOURCE_NAME
from tests.durability.conftest import USES_REDIS, workers  # noqa: F401  (the worker pool fixture)
from tests.gateway.test_token_streaming import ANSWER, message_text, stream_a_run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not USES_REDIS, reason="needs REDIS_URL: a channel layer that crosses processes"),
]


@pytest.fixture
def worker_layout(settings: Any) -> None:
    """This process only serves HTTP (its executor claims nothing) and shares the workers' Redis
    channel prefix; only a worker process runs gateway runs."""
    settings.EXECUTOR = "worker"
    settings.EXECUTOR_SOURCES = []
    layer: dict[str, Any] = copy.deepcopy(django_settings.CHANNEL_LAYERS["default"])
    layer["CONFIG"]["prefix"] = f"asgi-test-{os.getpid()}-"
    settings.CHANNEL_LAYERS = {"default": layer}


def test_a_run_executed_by_a_worker_process_streams_its_tokens_to_this_process(
    worker_layout, request, base_url, key, provider, stub_provider
):
    worker = request.getfixturevalue("workers").start(EXECUTOR_SOURCES=SOURCE_NAME)
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60)
    pieces, (run, _), thread = stream_a_run(client, stub_provider)
    assert run.status == "completed", worker.output()
    assert "".join(pieces) == ANSWER and len(pieces) > 1
    assert message_text(client.beta.threads.messages.list(thread.id).data[0]) == ANSWER
