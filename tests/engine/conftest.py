"""Helpers for the engine tests: small node types of our own, scenario builders, running one execution.

The test node types are registered only for the duration of a test (the `test_nodes` fixture). They
are real NodeTypes run by the real engine: `test.echo` returns its resolved params, `test.sleep`
waits, `test.fail` raises a NodeError, `test.boom` raises an unexpected exception, `test.secret`
puts its credential's secret into its output (which must be redacted), `test.count` counts calls.
Two have ports: `test.if` fires "true" or "false" as its `when` says, `test.risky` has an "error"
port and fails when its `fail` is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from nodes.base import DEFAULT_PORT, Field, NodeContext, NodeError, NodeType, Routed, as_bool
from nodes.registry import NODE_TYPES
from scenarios.models import Edge, Execution, Node, Scenario
from scenarios.runtime import jobs, waiting
from scenarios.runtime.engine import create_execution, run_execution
from teams.models import Credential, Team
from tests.waiting import eventually

CALLS: Counter[str] = Counter()


async def _echo(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    CALLS[f"{ctx.execution_id}:{ctx.node_number}"] += 1
    return {"params": params, "node": ctx.node_number}


async def _sleep(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    CALLS[f"{ctx.execution_id}:{ctx.node_number}"] += 1
    await asyncio.sleep(float(params.get("seconds", 0.5)))
    return {"slept": params.get("seconds", 0.5), "params": params}


async def _fail(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    raise NodeError("The thing refused.", status=418, type="teapot")


async def _boom(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("internal detail")


async def _secret(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    assert ctx.credential is not None
    secret = ctx.credential.get_secret()
    if params.get("a") == "crash":
        raise RuntimeError(f"crashed holding {secret}")
    if params.get("fail"):
        raise NodeError(f"Upstream said: bad key {secret}")
    return {"echo": f"key={secret}", "params": params}


async def _if(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    CALLS[f"{ctx.execution_id}:{ctx.node_number}"] += 1
    port = params.get("route") or ("true" if as_bool(params.get("when")) else "false")
    return Routed({"when": params.get("when"), "port": port}, (port,))


async def _risky(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    CALLS[f"{ctx.execution_id}:{ctx.node_number}"] += 1
    if as_bool(params.get("fail")):
        raise NodeError("The risky thing broke.", status=503)
    return {"ok": True}


async def _trigger(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    return dict(ctx.trigger_input)


def _type(
    key: str,
    kind: str,
    execute: Any,
    fields: tuple[Field, ...] = (),
    outputs: tuple[str, ...] = (DEFAULT_PORT,),
) -> NodeType:
    return NodeType(
        key=key,
        app="Test",
        title=key.split(".")[1].title(),
        description="",
        kind=kind,  # type: ignore[arg-type]
        fields=fields,
        execute=execute,
        outputs=outputs,
    )


@contextlib.contextmanager
def node_type(key: str, execute: Any, outputs: tuple[str, ...] = (DEFAULT_PORT,)) -> Iterator[None]:
    """An action node type `key` (e.g. "test.stuck") with `outputs`, registered for the block."""
    NODE_TYPES[key] = _type(key, "action", execute, outputs=outputs)
    try:
        yield
    finally:
        NODE_TYPES.pop(key, None)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """A node type `test.gate` that waits until the test opens the gate (sets the event): what a
    test orders against is an event, not a node that sleeps long enough."""
    opened = threading.Event()

    async def wait(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        await eventually(opened.is_set, "the test to open the gate")
        return {"passed": True}

    with node_type("test.gate", wait):
        try:
            yield opened
        finally:
            opened.set()


def _loose(*names: str) -> tuple[Field, ...]:
    """Fields that take any value as it is (text stays text, data keeps its JSON type)."""
    return tuple(Field(name, name.title(), kind="long_text", keeps_type=True) for name in names)


ECHO_FIELDS = _loose(
    "a", "b", "n", "items", "text", "q", "v", "x", "left", "right", "after", "deeper", "join"
)
CREDENTIAL_FIELD = Field("credential", "Credential", kind="credential", required=True)
TEST_TYPES = [
    _type("test.trigger", "trigger", _trigger),
    _type("test.echo", "action", _echo, ECHO_FIELDS),
    _type("test.sleep", "action", _sleep, (Field("seconds", "Seconds", kind="number"), *_loose("v"))),
    _type("test.fail", "action", _fail),
    _type("test.boom", "action", _boom),
    _type(
        "test.secret",
        "action",
        _secret,
        (CREDENTIAL_FIELD, Field("fail", "Fail", kind="toggle"), *_loose("a")),
    ),
    _type("test.if", "action", _if, _loose("when", "route"), outputs=("true", "false")),
    _type("test.risky", "action", _risky, (Field("fail", "Fail", kind="toggle"),), outputs=("main", "error")),
]


@pytest.fixture
def test_nodes() -> Iterator[None]:
    for node_type in TEST_TYPES:
        NODE_TYPES[node_type.key] = node_type
    try:
        yield
    finally:
        for node_type in TEST_TYPES:
            NODE_TYPES.pop(node_type.key, None)
        CALLS.clear()


def build(
    team: Team,
    nodes: dict[int, tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], Credential | None]],
    edges: Sequence[tuple[int, int] | tuple[int, int, str]],
    name: str = "Test scenario",
) -> Scenario:
    """A scenario with nodes {number: (kind, params[, credential])} and edges [(source, target)] or
    [(source, target, source port)]."""
    scenario = Scenario.objects.create(team=team, name=name)
    made: dict[int, Node] = {}
    for number, spec in nodes.items():
        kind, params = spec[0], spec[1]
        credential = spec[2] if len(spec) > 2 else None
        made[number] = Node.objects.create(
            scenario=scenario, number=number, kind=kind, params=params, credential=credential
        )
    for source, target, *port in edges:
        Edge.objects.create(
            scenario=scenario,
            source=made[source],
            target=made[target],
            source_port=port[0] if port else DEFAULT_PORT,
        )
    return scenario


def ask_scenario(team: Team, credential: Credential, **response: Any) -> Scenario:
    """The demo's shape: Trigger on Webhook → Send Message ($2, asked the body's `question`) →
    Webhook response answering the reply, with the response node's `response` params."""
    return build(
        team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "openai.send_message",
                {"message": "{{$1.body.question}}", "model": "stub-model"},
                credential,
            ),
            3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}", **response}),
        },
        [(1, 2), (2, 3)],
    )


def run_now(execution: Execution, owner: str = "test-worker") -> Execution:
    """Claim the queued execution and run it to the end in this thread's event loop."""
    lease = jobs.claim(owner, 30)
    assert lease is not None and lease.pk == execution.pk
    async_to_sync(run_execution)(lease)
    execution.refresh_from_db()
    return execution


def start_and_run(scenario: Scenario, input: dict[str, Any] | None = None) -> Execution:
    return run_now(create_execution(scenario, Execution.Trigger.MANUAL, input or {}))


def runs_of(execution: Execution) -> dict[int, Any]:
    """The latest node run of each node (typed loosely: tests read their JSON fields directly)."""
    latest: dict[int, Any] = {}
    for run in execution.node_runs.order_by("attempt"):
        latest[run.node_number] = run
    return latest


@pytest.fixture
def in_memory_layer(settings: Any) -> InMemoryChannelLayer:
    """The in-memory channel layer as the default one for this test, made now, in the test's thread.
    Channels makes a layer on its first use without a lock: made later, two server threads asking at
    once could each make one, and a group joined on one would not hear what is sent on the other."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    assert isinstance(layer, InMemoryChannelLayer)
    return layer


@pytest.fixture
def no_background_executor(settings: Any) -> None:
    """Keep a live server's in-process executor (if an earlier test started one) off our executions:
    the test claims and runs them itself."""
    settings.EXECUTOR_SOURCES = []


@pytest.fixture
def answer_reads(monkeypatch) -> list[str]:
    """Every read of an execution's answer from the database (waiting._answer_state), in order."""
    reads: list[str] = []
    real = waiting._answer_state

    def read(execution_id: str) -> Execution | None:
        reads.append(execution_id)
        return real(execution_id)

    monkeypatch.setattr(waiting, "_answer_state", read)
    return reads
