"""Scenarios to start from: the demo ("Ask ChatGPT") that `manage.py demo` installs and a new team
can copy from its empty scenario list, and the demo's second one, "Ask an assistant"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from scenarios.models import Edge, Node, Scenario
from teams.models import Credential, Team

ASK_CHATGPT = "Ask ChatGPT"
# The built-in gateway's offline test model: it answers without any provider key.
OFFLINE_MODEL = "scenery-echo"
QUESTION = "What can Scenery do?"
ASK_AN_ASSISTANT = "Ask an assistant"
CONTENT = '{{ trim($1.body.question ?? "' + QUESTION + '") }}'


def ask_chatgpt(
    team: Team, user: Any, credential: Credential | None, model: str = OFFLINE_MODEL, name: str = ASK_CHATGPT
) -> Scenario:
    """Trigger on Webhook (with a sample question as test data) → Send Message → Webhook response."""
    description = "Send a question to the webhook; the answer comes back in the response."
    return _created(team, user, name, description, lambda s: add_ask_chatgpt_nodes(s, credential, model))


def add_ask_chatgpt_nodes(
    scenario: Scenario, credential: Credential | None, model: str = OFFLINE_MODEL
) -> None:
    specs: list[tuple[str, str, dict[str, Any], Credential | None]] = [
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
    _add_chain(scenario, specs)


def ask_an_assistant(team: Team, user: Any, credential: Credential | None, assistant_id: str) -> Scenario:
    """Trigger on Webhook → Ask assistant (a new thread each call) → Webhook response with the answer."""
    description = "Send a question to the webhook; an assistant answers it in a new thread."
    return _created(
        team,
        user,
        ASK_AN_ASSISTANT,
        description,
        lambda s: add_ask_an_assistant_nodes(s, credential, assistant_id),
    )


def add_ask_an_assistant_nodes(scenario: Scenario, credential: Credential | None, assistant_id: str) -> None:
    specs: list[tuple[str, str, dict[str, Any], Credential | None]] = [
        ("webhook.trigger", "Trigger on Webhook", {"sample": {"question": QUESTION}}, None),
        (
            "openai.ask_assistant",
            "Ask assistant",
            # Functions in expressions: a question with stray spaces, or none at all, still gets an answer.
            {"assistant_id": assistant_id, "content": CONTENT, "wait_seconds": 120},
            credential,
        ),
        ("webhook.response", "Webhook response", {"status": 200, "body": "{{$2.answer}}"}, None),
    ]
    _add_chain(scenario, specs)


def _created(team: Team, user: Any, name: str, description: str, add: Callable[[Scenario], None]) -> Scenario:
    with transaction.atomic():
        scenario = Scenario.objects.create(
            team=team, name=name, description=description, created_by=user, updated_by=user
        )
        add(scenario)
    return scenario


def _add_chain(scenario: Scenario, specs: list[tuple[str, str, dict[str, Any], Credential | None]]) -> None:
    """The nodes in a row, each joined to the next."""
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
