"""Objects of alice's team (and one of mallory's) that the team tests address by URL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.models import GatewayKey
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
    )
