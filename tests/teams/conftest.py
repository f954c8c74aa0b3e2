"""Objects of alice's team (and one of mallory's) that the team tests address by URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gateway.models import (
    Assistant,
    File,
    FileContent,
    GatewayKey,
    Message,
    Run,
    RunStep,
    Thread,
    VectorStore,
    VectorStoreFile,
    VectorStoreFileBatch,
)
from scenarios.models import Edge, Execution, Node, NodeRun, Scenario
from teams.models import Credential, Invitation, Membership, Role


@dataclass
class World:
    scenario: Scenario
    node: Node
    execution: Execution
    credential: Credential
    invitation: Invitation
    invitation_token: str
    link_token: str
    carol_membership: Membership
    other_scenario: Scenario
    other_credential: Credential
    gateway_key: GatewayKey
    cast: Any
    gateway: GatewayObjects | None = None  # see the gateway_world fixture


SECRET = "sk-live-WORLD-secret-7f3a9c"


@pytest.fixture
def world(cast) -> World:
    credential = Credential(team=cast.team, name="OpenAI", base_url="https://api.openai.com/v1")
    credential.set_secret(SECRET)
    credential.save()
    scenario = Scenario.objects.create(team=cast.team, name="Support bot", created_by=cast.alice)
    trigger = Node.objects.create(scenario=scenario, number=1, kind="webhook.trigger", label="Webhook")
    node = Node.objects.create(
        scenario=scenario,
        number=2,
        kind="openai.send_message",
        label="Ask",
        credential=credential,
        params={"message": "Hello", "model": "stub-model"},
    )
    Edge.objects.create(scenario=scenario, source=trigger, target=node)
    execution = Execution.objects.create(
        scenario=scenario, trigger=Execution.Trigger.MANUAL, status=Execution.Status.SUCCEEDED
    )
    NodeRun.objects.create(
        execution=execution, node_number=1, node_kind="webhook.trigger", status="succeeded"
    )
    invitation, token = Invitation.issue(cast.team, Role.EDITOR, cast.alice, email="dave@example.com")
    _, link_token = Invitation.issue(cast.team, Role.EDITOR, cast.alice)
    other_credential = Credential(
        team=cast.other_team, name="Mallory's key", base_url="https://api.openai.com/v1"
    )
    other_credential.set_secret("sk-mallory-secret-0000")
    other_credential.save()
    return World(
        scenario=scenario,
        node=node,
        execution=execution,
        credential=credential,
        invitation=invitation,
        invitation_token=token,
        link_token=link_token,
        carol_membership=Membership.objects.get(team=cast.team, user=cast.carol),
        other_scenario=Scenario.objects.create(team=cast.other_team, name="Mallory's scenario"),
        other_credential=other_credential,
        gateway_key=GatewayKey.issue(cast.team, "World")[0],
        cast=cast,
    )


@dataclass
class GatewayObjects:
    team_key: str  # a gateway key of alice's team
    other_team_key: str  # one of mallory's team
    ids: dict[str, Any]  # URL kwargs naming objects of alice's team


@pytest.fixture
def gateway_world(world: World, cast) -> World:
    """The world plus one gateway object of each kind in alice's team, and keys of both teams."""
    team = cast.team
    _, team_key = GatewayKey.issue(team, "matrix")
    _, other_key = GatewayKey.issue(cast.other_team, "mallory")
    assistant = Assistant.objects.create(team=team, model="scenery-echo")
    thread = Thread.objects.create(team=team)
    message = Message.objects.create(team=team, thread=thread, role="user", content=[])
    run = Run.objects.create(
        team=team, thread=thread, assistant_id=assistant.id, model="scenery-echo", status=Run.Status.COMPLETED
    )
    step = RunStep.objects.create(
        team=team, run=run, thread_id=thread.id, assistant_id=assistant.id, type="message_creation"
    )
    file = File.objects.create(team=team, filename="a.txt", bytes=1, purpose="assistants")
    FileContent.objects.create(file=file, data=b"a")
    store = VectorStore.objects.create(team=team, name="docs")
    VectorStoreFile.objects.create(vector_store=store, file=file)
    batch = VectorStoreFileBatch.objects.create(team=team, vector_store=store, status="completed")
    ids = {
        "assistant_id": assistant.id,
        "thread_id": thread.id,
        "message_id": message.id,
        "run_id": run.id,
        "step_id": step.id,
        "file_id": file.id,
        "vector_store_id": store.id,
        "batch_id": batch.id,
        "model_id": "scenery-echo",
    }
    world.gateway = GatewayObjects(team_key, other_key, ids)
    return world
