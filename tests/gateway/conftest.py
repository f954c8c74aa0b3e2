"""Gateway test fixtures: keys, the official `openai` client over a real socket, raw HTTP, and an
executor that runs gateway runs whichever executor mode the settings chose."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import openai
import pytest
from django.conf import settings
from openai import OpenAI

from durable.executor import Executor
from gateway.models import GatewayConfig, GatewayKey, Run
from nodes.base import NodeContext
from teams.models import Credential
from tests.waiting import wait_until

BETA = {"OpenAI-Beta": "assistants=v2"}


def run_status(run_id: str) -> str:
    return Run.objects.get(pk=run_id).status


BUSY = (Run.Status.QUEUED, Run.Status.IN_PROGRESS, Run.Status.CANCELLING)


@pytest.fixture(autouse=True)
def runs_settle_before_the_database_is_flushed(request: pytest.FixtureRequest) -> Iterator[None]:
    """A run still being worked on when the test ends would hold table locks across the flush of a
    transactional test (PostgreSQL then reports a deadlock). Let the executor finish first."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        wait_until(lambda: not Run.objects.filter(status__in=BUSY).exists(), "runs to settle")


@pytest.fixture
def executor_running(asgi_server) -> Iterator[None]:
    """Gateway runs get executed: by the live server's in-process executor, or (in worker mode, with
    Redis) by an executor started here for the test."""
    if settings.EXECUTOR == "inprocess" and getattr(settings, "EXECUTOR_SOURCES", None) is None:
        yield
        return
    loop = asyncio.new_event_loop()
    executor = Executor(poll_seconds=0.1)
    stopped = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(_serve(executor, stopped))

    thread = threading.Thread(target=serve, name="gateway-test-executor", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=15)


async def _serve(executor: Executor, stopped: threading.Event) -> None:
    executor.start()
    while not stopped.is_set():
        await asyncio.sleep(0.05)
    await executor.stop(grace=2)


@pytest.fixture
def key(cast) -> str:
    _, plaintext = GatewayKey.issue(cast.team, "Tests")
    return plaintext


@pytest.fixture
def other_key(cast) -> str:
    _, plaintext = GatewayKey.issue(cast.other_team, "Mallory")
    return plaintext


@pytest.fixture
def base_url(asgi_server) -> str:
    return f"{asgi_server.url}/v1"


@pytest.fixture
def client(base_url, key, executor_running) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def ctx(cast, base_url, key, executor_running) -> NodeContext:
    """What a node runs with when its credential is a key of the built-in gateway (alice's team)."""
    credential = Credential(team=cast.team, name="Gateway", base_url=base_url, default_model="scenery-echo")
    credential.set_secret(key)
    credential.save()
    return NodeContext(team_id=cast.team.pk, execution_id=None, node_number=2, credential=credential)


@pytest.fixture
def other_client(base_url, other_key) -> OpenAI:
    return OpenAI(base_url=base_url, api_key=other_key, max_retries=0, timeout=30)


@pytest.fixture
def raw(base_url, key) -> Iterator[httpx.Client]:
    """Plain HTTP with the key, for what the SDK would not send (no beta header, unknown fields)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        yield http


@pytest.fixture
def provider(cast, stub_credential) -> GatewayConfig:
    """Alice's team's gateway answers through the stub provider."""
    config = GatewayConfig.for_team(cast.team)
    config.provider = stub_credential
    config.default_model = "stub-model"
    config.save()
    return config


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The openai package marks the Assistants API deprecated; these tests use it on purpose.
    for item in items:
        if "tests/gateway/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))


def message_of(raised: pytest.ExceptionInfo[openai.APIStatusError]) -> str:
    """The error message of an API error the SDK raised."""
    body = raised.value.body
    assert isinstance(body, dict), body
    return str(body["message"])
