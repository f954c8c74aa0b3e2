"""`manage.py demo --host H --port P`: the demo user, team and scenarios, "Ask ChatGPT" and "Ask an
assistant" (with its gateway assistant), idempotent.

Run by `make run` before serving. Every run sets a new random password for the demo user and a new
gateway key for the demo credential, and prints them with the webhook URL and a ready curl command.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import F
from django.urls import reverse

from scenarios import starters
from scenarios.models import Scenario
from scenarios.runtime import webhooks
from teams.models import Credential, Membership, Role, Team, User

USERNAME = "demo"
TEAM_NAME = "Demo team"
SCENARIO_NAME = "Ask ChatGPT"
CREDENTIAL_NAME = "Scenery gateway (demo)"
ASSISTANT_NAME = "Scenery demo assistant"
ASSISTANT_INSTRUCTIONS = "Answer the question briefly and kindly."
MODEL = starters.OFFLINE_MODEL
QUESTION = starters.QUESTION


class Command(BaseCommand):
    help = "Create (or refresh) the demo user, team, credential and the 'Ask ChatGPT' and 'Ask an assistant' scenarios, and print how to use them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="where Scenery is served (for the printed URLs)"
        )
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        site = f"http://{options['host']}:{options['port']}"
        gateway_url = f"{site}/v1"
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = _user(password)
            team = _team(user)
            credential, key, note = _credential(team, gateway_url)
            scenario = _scenario(team, user, credential)
            assistant_scenario = _assistant_scenario(team, user, credential)
        webhook = f"{site}{webhooks.url_for(scenario.webhook_token)}"
        assistant_webhook = f"{site}{webhooks.url_for(assistant_scenario.webhook_token)}"
        lines = [
            "",
            "Scenery demo",
            f"  Log in:        {site}{reverse('teams:login')}",
            f"  Username:      {USERNAME}",
            f"  Password:      {password}   (new on every `make run`)",
            f"  Scenario:      {scenario.name} ({scenario.id})",
            f"  Webhook URL:   {webhook}",
            "  Ask it:",
            f"    {_curl(webhook)}",
            f"  Scenario 2:    {assistant_scenario.name} ({assistant_scenario.id})",
            f"  Assistant webhook: {assistant_webhook}",
            "  Ask the assistant:",
            f"    {_curl(assistant_webhook)}",
            f"  Gateway:       {gateway_url}",
            f"  Gateway key:   {key}" if key else f"  Gateway key:   (not issued) {note}",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _curl(webhook: str) -> str:
    return (
        f"curl -X POST {shlex.quote(webhook)} -H 'Content-Type: application/json' "
        f"-d {shlex.quote(json.dumps({'question': QUESTION}))}"
    )


def _user(password: str) -> User:
    user, _ = User.objects.get_or_create(username=USERNAME, defaults={"email": "demo@example.com"})
    user.set_password(password)
    user.is_active = True
    user.save()
    return user


def _team(user: User) -> Team:
    membership = Membership.objects.filter(user=user, team__name=TEAM_NAME).select_related("team").first()
    if membership is None:
        return Team.bootstrap(user, TEAM_NAME)
    if membership.role != Role.OWNER:
        membership.role = Role.OWNER
        membership.save(update_fields=["role"])
    return membership.team


def _credential(team: Team, gateway_url: str) -> tuple[Credential, str, str]:
    """The demo credential pointing at the built-in gateway, with a fresh key (or a note why not)."""
    credential, _ = Credential.objects.get_or_create(team=team, name=CREDENTIAL_NAME)
    credential.base_url = gateway_url
    credential.default_model = MODEL
    key, note = "", ""
    try:
        from gateway.provisioning import ensure_team_gateway_key

        _, key = ensure_team_gateway_key(team, name="Demo")
    except NotImplementedError:
        note = "The built-in gateway is not available yet; set a provider key on the demo credential to try the scenario."
    if key:
        credential.set_secret(key)
    credential.save()
    return credential, key, note


def _scenario(team: Team, user: User, credential: Credential) -> Scenario:
    return _installed(
        team,
        SCENARIO_NAME,
        "openai.send_message",
        credential,
        lambda: starters.ask_chatgpt(team, user, credential, MODEL, SCENARIO_NAME),
        lambda scenario: starters.add_ask_chatgpt_nodes(scenario, credential, MODEL),
    )


def _assistant_scenario(team: Team, user: User, credential: Credential) -> Scenario:
    """ "Ask an assistant", answering through the demo assistant of the team's built-in gateway."""
    from gateway.provisioning import ensure_assistant

    assistant_id = ensure_assistant(team, ASSISTANT_NAME, ASSISTANT_INSTRUCTIONS, MODEL)
    return _installed(
        team,
        starters.ASK_AN_ASSISTANT,
        "openai.ask_assistant",
        credential,
        lambda: starters.ask_an_assistant(team, user, credential, assistant_id),
        lambda scenario: starters.add_ask_an_assistant_nodes(scenario, credential, assistant_id),
    )


def _installed(
    team: Team,
    name: str,
    kind: str,
    credential: Credential,
    create: Callable[[], Scenario],
    add_nodes: Callable[[Scenario], None],
) -> Scenario:
    """The team's scenario of that name, created if missing, active, with its nodes."""
    scenario = Scenario.objects.for_team(team).filter(name=name).order_by("created_at").first()
    if scenario is None:
        scenario = create()
    if not scenario.active:
        scenario.active = True
        scenario.save(update_fields=["active"])
    if not scenario.nodes.exists():
        add_nodes(scenario)
    else:
        # Keep the user's edits; only re-attach the demo credential if the node lost it.
        if scenario.nodes.filter(kind=kind, credential__isnull=True).update(credential=credential):
            # The graph changed: a new version, as every edit makes (running processes read it again).
            Scenario.objects.filter(pk=scenario.pk).update(version=F("version") + 1)
    return scenario
