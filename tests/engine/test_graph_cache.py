"""An execution's graph is read once per scenario version in a process: the calls of an unchanged
scenario cost no query for it, and a change (which always claims a new version) runs at once."""

from __future__ import annotations

import pytest
from django.db import transaction

from scenarios import canvas
from scenarios.models import Execution, Scenario
from scenarios.runtime.engine import create_execution
from scenarios.snapshot import snapshot_of
from tests.engine.conftest import build

pytestmark = pytest.mark.django_db


def test_the_graph_of_an_unchanged_scenario_is_read_once(cast, django_assert_num_queries):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"value": "a"})}, [(1, 2)])
    first = snapshot_of(scenario)
    with django_assert_num_queries(0):
        again = snapshot_of(scenario)
    assert again == first
    again["nodes"][1]["params"]["value"] = "changed by a caller"
    assert snapshot_of(scenario) == first  # each caller gets a copy of its own


def test_a_saved_change_is_what_the_next_execution_runs(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {"value": "before"})}, [(1, 2)])
    before = create_execution(scenario, Execution.Trigger.MANUAL, {})
    node = scenario.nodes.get(number=2)
    with transaction.atomic():  # as the node form saves it
        canvas.claim_version(scenario, scenario.version, cast.bob)
        node.params = {"value": "after"}
        node.save(update_fields=["params"])
    scenario = Scenario.objects.get(pk=scenario.pk)
    after = create_execution(scenario, Execution.Trigger.MANUAL, {})
    assert before.snapshot["nodes"][1]["params"] == {"value": "before"}
    assert after.snapshot["nodes"][1]["params"] == {"value": "after"}
    assert after.snapshot["scenario_version"] == before.snapshot["scenario_version"] + 1
