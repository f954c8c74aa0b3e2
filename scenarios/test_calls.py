"""Listening for a test call: the next call to a scenario's webhook becomes its trigger's test data
instead of running the scenario, so a user can map fields from a real payload before anything runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from nodes.types import webhook
from scenarios.models import Node, Scenario

LISTEN_SECONDS = 120


def listen(scenario: Scenario) -> datetime:
    """Start (or extend) listening; returns until when."""
    until = timezone.now() + timedelta(seconds=LISTEN_SECONDS)
    Scenario.objects.filter(pk=scenario.pk).update(test_call_until=until)
    scenario.test_call_until = until
    return until


def stop(scenario: Scenario) -> None:
    Scenario.objects.filter(pk=scenario.pk).update(test_call_until=None)
    scenario.test_call_until = None


def listening(scenario: Scenario) -> bool:
    return scenario.test_call_until is not None and scenario.test_call_until > timezone.now()


def capture(scenario_id: Any, request_input: dict[str, Any]) -> int | None:
    """Make a webhook call the test data of the scenario's trigger if the scenario still listens
    (only one call is taken, however many race); returns the scenario's new version, else None."""
    body = request_input.get("body")
    sample = body if body is not None else request_input.get("query") or {}
    with transaction.atomic():
        taken = Scenario.objects.filter(pk=scenario_id, test_call_until__gt=timezone.now()).update(
            test_call_until=None, version=F("version") + 1
        )
        if not taken:
            return None
        trigger = (
            Node.objects.filter(scenario_id=scenario_id, kind=webhook.TRIGGER.key).order_by("number").first()
        )
        if trigger is not None:
            trigger.params = {**trigger.params, "sample": sample}
            trigger.save(update_fields=["params"])
        return Scenario.objects.values_list("version", flat=True).get(pk=scenario_id)
