"""Error scenarios: a failed execution starts its scenario's error scenario with what went wrong, once;
an error scenario's own failure starts nothing; the setting is team-scoped, on a settings page, and
travels through export/import by name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.portable import export_scenario, import_scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build, run_now, runs_of, start_and_run

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS, T = Execution.Status, NodeRun.Status, Execution.Trigger


def failing(cast, name: str = "Orders") -> Scenario:
    """$1 trigger → $2 a node that fails."""
    return build(cast.team, {1: ("test.trigger", {}), 2: ("test.fail", {})}, [(1, 2)], name=name)


def reporter(team, name: str = "Report errors", kind: str = "test.echo") -> Scenario:
    """$1 manual trigger → $2 echo of what the failure reported (or a failing node)."""
    return build(team, {1: ("manual.trigger", {}), 2: (kind, {"v": "{{$1.body}}"})}, [(1, 2)], name=name)


def error_runs_of(execution: Execution) -> list[Execution]:
    return list(Execution.objects.filter(parent=execution, trigger=T.ERROR))


def test_a_failed_execution_starts_its_error_scenario_with_the_execution_node_error_and_input(cast):
    orders, report = failing(cast), reporter(cast.team)
    orders.error_scenario = report
    orders.save()

    failed = start_and_run(orders, {"body": {"order": 7}})

    assert failed.status == ES.FAILED
    [started] = error_runs_of(failed)
    assert started.scenario == report and started.parent == failed
    finished = run_now(started)
    assert finished.status == ES.SUCCEEDED, finished.error
    assert runs_of(finished)[2].output["params"]["v"] == {
        "execution_id": str(failed.pk),
        "scenario": {"id": str(orders.pk), "name": "Orders"},
        "node": {"number": 2, "title": "$2 Fail"},
        "error": "$2 Fail failed: The thing refused.",
        "input": {"body": {"order": 7}},
    }


def test_a_succeeding_execution_starts_no_error_scenario(cast):
    fine = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {})}, [(1, 2)])
    fine.error_scenario = reporter(cast.team)
    fine.save()

    assert error_runs_of(start_and_run(fine)) == []


def test_an_error_scenario_that_fails_does_not_start_itself_or_its_caller_again(cast):
    orders, report = failing(cast), reporter(cast.team, kind="test.fail")
    orders.error_scenario, report.error_scenario = report, orders
    orders.save()
    report.save()

    [started] = error_runs_of(start_and_run(orders))
    report_run = run_now(started)

    assert report_run.status == ES.FAILED
    assert error_runs_of(report_run) == []
    assert Execution.objects.count() == 2


def test_a_scenario_named_as_its_own_error_scenario_starts_nothing(cast):
    orders = failing(cast)
    orders.error_scenario = orders
    orders.save()

    assert error_runs_of(start_and_run(orders)) == []


def test_an_error_scenario_in_another_team_is_never_started(cast):
    orders = failing(cast)
    Scenario.objects.filter(pk=orders.pk).update(error_scenario=reporter(cast.other_team))

    assert error_runs_of(start_and_run(orders)) == []


def test_a_failure_handled_by_continue_on_error_starts_no_error_scenario(cast):
    handled = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.fail", {"settings_on_error": "continue"})},
        [(1, 2)],
    )
    handled.error_scenario = reporter(cast.team)
    handled.save()

    execution = start_and_run(handled)
    assert execution.status == ES.SUCCEEDED and error_runs_of(execution) == []


def test_export_and_import_carry_the_error_scenario_by_name(cast):
    orders, report = failing(cast), reporter(cast.team)
    orders.error_scenario = report
    orders.save()
    data = export_scenario(orders)
    assert data["error_scenario"] == "Report errors"

    same_team = import_scenario(data, cast.team, cast.alice)
    notes: list[str] = []
    elsewhere = import_scenario(data, cast.other_team, cast.mallory, notes)

    assert same_team.error_scenario == report
    assert elsewhere.error_scenario is None
    assert any("The error scenario 'Report errors' is not in this team" in note for note in notes)


def settings_url(scenario: Scenario) -> str:
    return reverse("scenarios:settings", args=[scenario.pk])


def test_an_editor_chooses_the_error_scenario_on_the_settings_page(cast):
    orders, report = failing(cast), reporter(cast.team)
    bob = cast.client_for(cast.bob)

    page = bob.get(settings_url(orders))
    answer = bob.post(settings_url(orders), {"error_scenario": str(report.pk)})

    assert page.status_code == 200 and "Report errors" in page.content.decode()
    assert answer.status_code == 302
    orders.refresh_from_db()
    assert orders.error_scenario == report


def test_the_settings_page_offers_only_the_teams_other_scenarios(cast):
    orders, theirs = failing(cast), reporter(cast.other_team, name="Mallory's scenario")
    alice = cast.client_for(cast.alice)

    page = alice.get(settings_url(orders)).content.decode()
    refused = alice.post(settings_url(orders), {"error_scenario": str(theirs.pk)})
    itself = alice.post(settings_url(orders), {"error_scenario": str(orders.pk)})

    assert "Mallory&#x27;s scenario" not in page and "Mallory's scenario" not in page
    assert refused.status_code == 400 and itself.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    orders.refresh_from_db()
    assert orders.error_scenario is None


def test_a_viewer_sees_the_settings_but_cannot_change_them_and_a_stranger_gets_404(cast):
    orders, report = failing(cast), reporter(cast.team)
    carol, mallory = cast.client_for(cast.carol), cast.client_for(cast.mallory)

    assert carol.get(settings_url(orders)).status_code == 200
    assert carol.post(settings_url(orders), {"error_scenario": str(report.pk)}).status_code == 403
    assert mallory.get(settings_url(orders)).status_code == 404
    assert mallory.post(settings_url(orders), {"error_scenario": ""}).status_code == 404


def test_the_failed_runs_history_links_to_its_error_run_and_back(cast):
    orders, report = failing(cast), reporter(cast.team)
    orders.error_scenario = report
    orders.save()
    failed = start_and_run(orders)
    [started] = error_runs_of(failed)
    alice = cast.client_for(cast.alice)
    failed_page = reverse("scenarios:run_detail", args=[orders.pk, failed.pk])
    error_page = reverse("scenarios:run_detail", args=[report.pk, started.pk])

    assert error_page in alice.get(failed_page).content.decode()
    seen = alice.get(error_page).content.decode()
    assert failed_page in seen and "Reports the failed" in seen


def test_an_execution_failed_because_its_workers_keep_dying_starts_its_error_scenario(cast):
    orders, report = failing(cast), reporter(cast.team)
    orders.error_scenario = report
    orders.save()
    execution = create_execution(orders, T.MANUAL, {})
    for owner in ("w1", "w2", "w3"):
        assert jobs.claim(owner, 30) is not None
        Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    assert jobs.claim("w4", 30) is not None  # the error run, once the lost execution is failed
    execution.refresh_from_db()
    [started] = error_runs_of(execution)
    assert execution.status == ES.FAILED
    assert started.input["body"]["error"].startswith("Worker lost 3 times")
    assert started.input["body"]["node"] is None
