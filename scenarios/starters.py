"""Scenarios to start from: the demo ("Ask ChatGPT") that `manage.py demo` installs and a new team
can copy from its empty scenario list."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from scenarios.models import Edge, Node, Scenario
from teams.models import Credential, Team

ASK_CHATGPT = "Ask ChatGPT"
# The built-in gateway's offline test model: it answers without any provider key.
OFFLINE_MODEL = "scenery-echo"
QUESTION = "What can Scenery do?"


def ask_chatgpt(
    team: Team, user: Any, credential: Credential | None, model: str = OFFLINE_MODEL, name: str = ASK_CHATGPT
) -> Scenario:
    """Trigger on Webhook (with a sample question as test data) → Send Message → Webhook response."""
    with transaction.atomic():
        scenario = Scenario.objects.create(
            team=team,
            name=name,
            description="Send a question to the webhook; the answer comes back in the response.",
            created_by=user,
            updated_by=user,
        )
        add_ask_chatgpt_nodes(scenario, credential, model)
    return scenario


def add_ask_chatgpt_nodes(
    scenario: Scenario, credential: Credential | None, model: str = OFFLINE_MODEL
) -> None:
    specs = [
        # Test data, so Run once and Run scenario work before the webhook was ever called.
        ("webhook.trigger", "Trigger on Webhook", {"sample": {"question": QUESTION}}, None),
        (
            "openai.send_message",
            "Send Message",
            {"message": "{{$1.body.question}}", "model": model},
            credential,
        ),
        ("webhook.response", "Webhook response", {"status": 200, "body": "{{$2.reply}}"}, None),
    ]
    with transaction.atomic():
        nodes = [
            Node.objects.create(
                scenario=scenario,
                number=number,
                kind=kind,
                label=label,
                params=params,
                credential=node_credential,
                # Spaced so that the edges between them are long enough to see.
                position_x=80 + (number - 1) * 340,
                position_y=160,
            )
            for number, (kind, label, params, node_credential) in enumerate(specs, start=1)
        ]
        for source, target in zip(nodes, nodes[1:], strict=False):
            Edge.objects.create(scenario=scenario, source=source, target=target)
