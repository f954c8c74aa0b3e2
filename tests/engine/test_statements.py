"""The execution hot path's plain SQL and shortcuts (commit 1dda5f4), each held to what the ORM gives:
hand-built INSERT and UPDATE statements, leases written through them, the snapshot read in plain
SQL, credentials loaded as a raw query, the decrypted-secret cache, and `events.heard`.

Every value is read back through the ORM, and JSON is compared in its canonical text so that `True`
and `1`, `0` and `None`, a JSON `null` and SQL NULL never pass for each other.
"""

from __future__ import annotations

import copy
import json
import pickle
import uuid
from datetime import UTC, datetime, timedelta
from datetime import timezone as tz
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db.models import F, Value
from django.db.models.functions import Upper
from django.utils import timezone

from durable.leases import Lease, LeaseLost
from scenarios import statements
from scenarios.models import Edge, Execution, Node, NodeRun, Scenario
from scenarios.runtime import events, jobs
from scenarios.runtime.engine import create_execution
from scenarios.runtime.running import MIN_REDACTED_LENGTH, Credentials
from scenarios.snapshot import run_problems, snapshot_of
from teams import crypto
from teams.models import Credential
from tests.engine.conftest import build

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status

UNICODE = 'héllo wörld ☃ 日本語 🎉 "quoted" \\ back\\slash'
NESTED: dict[str, Any] = {
    "text": UNICODE,
    "list": [1, 2.5, True, False, None, {"deeper": {"still": ["ü", {"none": None}]}}],
    "zero": 0,
    "false": False,
    "empty": {},
    "nothing": [],
    "big": 2**53,
    "negative": -7,
    "null_as_text": "null",
    "ключ": "значение",
}
IST = tz(timedelta(hours=5, minutes=30))


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _scenario(cast) -> Scenario:
    return build(cast.team, {1: ("test.trigger", {})}, [])


def _execution(scenario: Scenario, **fields: Any) -> Execution:
    """An execution not stored yet, every kind of column set to something that could go wrong."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "scenario": scenario,
        "snapshot": {"nodes": [{"number": 1, "label": UNICODE, "params": NESTED}], "edges": []},
        "scenario_version": 3,
        "trigger": Execution.Trigger.WEBHOOK,
        "input": {"body": NESTED, "method": "POST"},
        "status": ES.RUNNING,
        "max_attempts": 7,
        "error": f"Ünïcode error: {UNICODE}",
        "response": None,
        "attempt": 1,
        "lease_owner": "host:1234:abcd",
        "lease_until": datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=IST),
        "created_at": datetime(2026, 3, 4, 0, 0, 1, 1, tzinfo=UTC),
        "started_at": datetime(2026, 3, 4, 5, 0, 0, 999999, tzinfo=IST),
        "finished_at": None,
    }
    values.update(fields)
    return Execution(**values)


def _assert_reads_back(execution: Execution, expected: Execution) -> None:
    """`execution` (read from the database) holds every concrete value of `expected`."""
    for f in Execution._meta.concrete_fields:
        got, want = getattr(execution, f.attname), getattr(expected, f.attname)
        if f.get_internal_type() == "JSONField":
            assert canonical(got) == canonical(want), f.name
        else:
            assert got == want, f.name
            assert type(got) is type(want) or want is None or isinstance(want, str), f.name
        if isinstance(want, datetime):
            assert got.utcoffset() is not None, f"{f.name} came back naive"


# -- statements.insert -------------------------------------------------------------------------------
def test_an_inserted_execution_reads_back_through_the_orm_as_it_was_set(cast):
    scenario = _scenario(cast)
    execution = _execution(scenario, created_by=cast.alice)
    statements.insert([execution])
    assert execution._state.adding is False and execution._state.db == "default"
    stored = Execution.objects.get(pk=execution.id)
    assert isinstance(stored.id, uuid.UUID) and stored.id == execution.id
    assert stored.scenario_id == scenario.pk and stored.created_by_id == cast.alice.pk
    assert stored.lease_until == datetime(2026, 3, 3, 23, 36, 7, 123456, tzinfo=UTC)
    assert stored.input["body"]["list"][2] is True and stored.input["body"]["zero"] == 0
    assert Execution.objects.filter(pk=execution.id, response__isnull=True).exists()  # SQL NULL
    _assert_reads_back(stored, execution)


def test_an_inserted_execution_reads_back_exactly_as_one_the_orm_saved(cast):
    scenario = _scenario(cast)
    response = {"status": 201, "headers": {"X-Ünï": "ö"}, "body": [False, 0, "", None, {"a": []}]}
    finished = datetime(2026, 5, 6, 7, 8, 9, 10, tzinfo=IST)
    by_orm = _execution(scenario, response=response, finished_at=finished, status=ES.SUCCEEDED)
    by_statement = _execution(scenario, response=response, finished_at=finished, status=ES.SUCCEEDED)
    by_orm.save(force_insert=True)
    statements.insert([by_statement])
    orm_row = Execution.objects.get(pk=by_orm.id)
    statement_row = Execution.objects.get(pk=by_statement.id)
    for f in Execution._meta.concrete_fields:
        got, want = getattr(statement_row, f.attname), getattr(orm_row, f.attname)
        if f.get_internal_type() == "JSONField":
            assert canonical(got) == canonical(want), f.name
        elif f.name != "id":
            assert got == want and type(got) is type(want), f.name
    _assert_reads_back(statement_row, by_statement)


def test_inserted_node_runs_keep_sql_null_apart_from_every_json_value(cast):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    outputs: list[Any] = [None, False, 0, "", [], {"a": None}, "null", NESTED, True, 1]
    started = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=IST)
    rows = [
        NodeRun(
            execution_id=execution.id,
            node_number=number,
            node_kind="test.echo",
            label=f"Nœud {number} ☃",
            attempt=2,
            status=NS.SUCCEEDED if number % 2 else NS.FAILED,
            params={"n": number, "nested": NESTED},
            output=output,
            error=None if number % 2 else {"message": f"erreur {UNICODE}", "status": 418},
            started_at=started if number % 3 else None,
            finished_at=started + timedelta(microseconds=number),
        )
        for number, output in enumerate(outputs, start=1)
    ]
    statements.insert(rows)  # several rows: one statement
    statements.insert([])  # nothing to do
    stored = {run.node_number: run for run in NodeRun.objects.filter(execution_id=execution.id)}
    assert sorted(stored) == list(range(1, len(outputs) + 1))
    for row in rows:
        got = stored[row.node_number]
        assert got.attempt == 2 and got.status == row.status
        assert got.node_kind == "test.echo" and got.label == row.label
        assert canonical(got.params) == canonical(row.params)
        assert canonical(got.output) == canonical(row.output), row.node_number
        assert canonical(got.error) == canonical(row.error)
        assert got.started_at == row.started_at and got.finished_at == row.finished_at
        assert got.finished_at is not None and got.finished_at.utcoffset() is not None
        assert row._state.adding is False
    null_outputs = NodeRun.objects.filter(execution_id=execution.id, output__isnull=True)
    assert list(null_outputs.values_list("node_number", flat=True)) == [1]
    null_errors = NodeRun.objects.filter(execution_id=execution.id, error__isnull=True)
    assert sorted(null_errors.values_list("node_number", flat=True)) == [1, 3, 5, 7, 9]
    assert stored[2].output is False and stored[9].output is True and stored[10].output == 1
    assert type(stored[10].output) is int and type(stored[3].output) is int


def test_many_rows_are_inserted_a_batch_per_statement(cast, django_assert_num_queries):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    count = statements.INSERT_BATCH * 2 + 1
    rows = [
        NodeRun(execution_id=execution.id, node_number=n, node_kind="test.echo", params={"n": n})
        for n in range(count)
    ]
    with django_assert_num_queries(3):
        statements.insert(rows)
    stored = NodeRun.objects.filter(execution_id=execution.id).order_by("node_number")
    assert [(run.node_number, run.params) for run in stored] == [(n, {"n": n}) for n in range(count)]


def test_a_single_inserted_node_run_reads_back_with_its_defaults(cast):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    statements.insert([NodeRun(execution_id=execution.id, node_number=4, node_kind="test.echo")])
    got = NodeRun.objects.get(execution_id=execution.id)
    assert (got.node_number, got.attempt, got.status, got.label) == (4, 1, NS.QUEUED, "")
    assert got.params == {} and got.output is None and got.error is None
    assert got.started_at is None and got.finished_at is None


# -- statements.update -------------------------------------------------------------------------------
def _runs(execution: Execution, *keys: tuple[int, int]) -> None:
    NodeRun.objects.bulk_create(
        NodeRun(
            execution=execution,
            node_number=number,
            attempt=attempt,
            node_kind="test.echo",
            status=NS.RUNNING,
            output={"before": True},
        )
        for number, attempt in keys
    )


def test_update_changes_only_the_rows_matching_every_where_value_and_counts_them(cast):
    scenario = _scenario(cast)
    execution, other = _execution(scenario), _execution(scenario)
    statements.insert([execution, other])
    _runs(execution, (1, 1), (2, 1), (1, 2))
    _runs(other, (1, 1))
    finished = datetime(2026, 7, 8, 9, 10, 11, 121314, tzinfo=IST)
    changed = statements.update(
        NodeRun,
        {"execution": execution.pk, "attempt": 1},
        {"status": NS.FAILED, "output": {"after": UNICODE, "n": [0, False]}, "finished_at": finished},
    )
    assert changed == 2
    rows = {(r.execution_id, r.node_number, r.attempt): r for r in NodeRun.objects.all()}
    for key in ((execution.id, 1, 1), (execution.id, 2, 1)):
        assert rows[key].status == NS.FAILED and rows[key].finished_at == finished
        assert canonical(rows[key].output) == canonical({"after": UNICODE, "n": [0, False]})
    for key in ((execution.id, 1, 2), (other.id, 1, 1)):
        assert rows[key].status == NS.RUNNING and rows[key].output == {"before": True}
        assert rows[key].finished_at is None


def test_update_sets_none_as_sql_null_and_falsy_json_as_json(cast):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    _runs(execution, (1, 1), (2, 1))
    where = {"execution": execution.pk, "attempt": 1}
    assert statements.update(NodeRun, {**where, "node_number": 1}, {"output": None, "error": None}) == 1
    assert statements.update(NodeRun, {**where, "node_number": 2}, {"output": False, "error": {}}) == 1
    assert list(NodeRun.objects.filter(output__isnull=True).values_list("node_number", flat=True)) == [1]
    second = NodeRun.objects.get(node_number=2)
    assert second.output is False and second.error == {}


def test_update_matches_a_primary_key_given_as_uuid_or_as_text(cast):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    assert statements.update(Execution, {"pk": execution.pk}, {"error": "one"}) == 1
    assert statements.update(Execution, {"pk": str(execution.pk)}, {"error": "two"}) == 1
    assert statements.update(Execution, {"id": execution.pk}, {"lease_until": None}) == 1
    stored = Execution.objects.get(pk=execution.pk)
    assert stored.error == "two" and stored.lease_until is None


@pytest.mark.parametrize(
    ("attempt", "owner"),
    [(1, "worker-b"), (2, "worker-a"), (3, "worker-b")],
    ids=["an earlier attempt", "the old owner", "a later attempt"],
)
def test_a_fenced_update_with_a_wrong_attempt_or_owner_changes_nothing(cast, attempt, owner):
    execution = _execution(_scenario(cast), attempt=2, lease_owner="worker-b", error="")
    statements.insert([execution])
    fence = {"pk": execution.pk, "attempt": attempt, "lease_owner": owner}
    assert statements.update(Execution, fence, {"status": ES.FAILED, "error": "zombie"}) == 0
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.error, stored.attempt, stored.lease_owner) == (
        ES.RUNNING,
        "",
        2,
        "worker-b",
    )
    holder = {"pk": execution.pk, "attempt": 2, "lease_owner": "worker-b"}
    assert statements.update(Execution, holder, {"status": ES.FAILED, "error": "holder"}) == 1
    assert Execution.objects.get(pk=execution.pk).error == "holder"


@pytest.mark.parametrize(
    "where",
    [
        {"attempt": None},
        {"lease_owner": None},
        {"attempt": F("attempt")},
        {"lease_owner": F("lease_owner")},
        {"attempt": F("attempt") + 0},
        {"attempt": Value(1)},
    ],
    ids=["None", "None as text", "F()", "F() on text", "F() + 0", "Value()"],
)
def test_update_refuses_none_and_expressions_in_where(cast, where):
    execution = _execution(_scenario(cast), error="")
    statements.insert([execution])
    with pytest.raises(ValueError):
        changed = statements.update(Execution, {"pk": execution.pk, **where}, {"error": "written"})
        pytest.fail(f"accepted {where}: it matched {changed} row(s) instead of being refused")
    assert Execution.objects.get(pk=execution.pk).error == ""


@pytest.mark.parametrize(
    "values",
    [{"error": F("lease_owner")}, {"attempt": F("attempt") + 1}, {"error": Upper("lease_owner")}],
    ids=["F()", "F() + 1", "a function"],
)
def test_update_refuses_expressions_as_values(cast, values):
    execution = _execution(_scenario(cast), error="")
    statements.insert([execution])
    with pytest.raises(ValueError):
        statements.update(Execution, {"pk": execution.pk}, values)
        stored = Execution.objects.get(pk=execution.pk)
        pytest.fail(f"accepted {values}: the row now holds error={stored.error!r}, attempt={stored.attempt}")
    stored = Execution.objects.get(pk=execution.pk)
    assert stored.error == "" and stored.attempt == 1


def test_update_refuses_a_name_that_is_not_a_column(cast):
    execution = _execution(_scenario(cast))
    statements.insert([execution])
    with pytest.raises(ValueError):
        statements.update(Execution, {"pk": execution.pk}, {"node_runs": 1})


# -- select ------------------------------------------------------------------------------------------
def test_select_gives_the_rows_the_orm_gives_with_the_same_values(cast):
    ours = [_credential(cast.team, "Alpha"), _credential(cast.team, "Beta"), _credential(cast.team, "Gamma")]
    theirs = _credential(cast.other_team, "Mallory's")
    names = [field.name for field in Credential._meta.concrete_fields]
    wanted = [str(ours[0].pk), str(ours[2].pk), str(theirs.pk)]
    found = statements.select(Credential, names, {"team": cast.team.pk, "pk": wanted})
    expected = Credential.objects.filter(team=cast.team, pk__in=wanted)
    assert sorted(c.name for c in found) == ["Alpha", "Gamma"]
    for credential in found:
        orm = expected.get(pk=credential.pk)
        for field in Credential._meta.concrete_fields:
            assert getattr(credential, field.attname) == getattr(orm, field.attname), field.name
        assert credential.created_at.tzinfo is not None  # aware, as the ORM gives it
        assert credential.get_secret() == orm.get_secret()


def test_select_loads_only_the_named_fields_and_the_rest_on_access(cast):
    scenario = Scenario.objects.create(team=cast.team, name="Partly", description="Long text", version=4)
    (found,) = statements.select(
        Scenario, ["id", "team", "version"], {"webhook_token": scenario.webhook_token}
    )
    assert (found.pk, found.team_id, found.version) == (scenario.pk, cast.team.pk, 4)
    assert found.get_deferred_fields() >= {"name", "description"}
    assert found.description == "Long text"  # loaded when asked for


def test_select_gives_each_field_its_own_value_whatever_order_they_are_named_in(cast):
    execution = _execution(_scenario(cast), response={"status": 201}, error="Not the response")
    statements.insert([execution])
    names = ["finished_at", "response", "id", "error", "status", "scenario"]  # not the model's order
    (found,) = statements.select(Execution, names, {"pk": execution.pk})
    assert found.response == {"status": 201}
    assert found.error == "Not the response"
    assert (found.pk, found.status, found.scenario_id) == (execution.pk, ES.RUNNING, execution.scenario_id)
    assert found.finished_at is None


def test_select_matches_every_value_and_refuses_none_and_expressions(cast):
    scenario = Scenario.objects.create(team=cast.team, name="Off", active=False)
    assert (
        statements.select(Scenario, ["id"], {"webhook_token": scenario.webhook_token, "active": True}) == []
    )
    assert statements.select(Scenario, ["id"], {"pk": []}) == []
    for where in ({"webhook_token": None}, {"webhook_token": F("name")}):
        with pytest.raises(ValueError):
            statements.select(Scenario, ["id"], where)


# -- leases through statements -----------------------------------------------------------------------
def _claimed_then_taken_over(cast) -> tuple[Execution, Lease, Lease]:
    execution = create_execution(_scenario(cast), Execution.Trigger.MANUAL, {})
    first = jobs.claim("worker-a", 30)
    assert first is not None and first.pk == execution.pk and first.attempt == 1
    Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = jobs.claim("worker-b", 30)
    assert second is not None and second.pk == execution.pk and second.attempt == 2
    return execution, first, second


def test_a_woken_claim_takes_a_queued_execution_in_one_statement_once(cast, django_assert_num_queries):
    execution = create_execution(_scenario(cast), Execution.Trigger.MANUAL, {})
    with django_assert_num_queries(1):
        lease = jobs.claim_woken("worker-a", 30, str(execution.pk))
    assert lease is not None and (lease.pk, lease.attempt, lease.owner) == (execution.pk, 1, "worker-a")
    execution.refresh_from_db()
    assert (execution.status, execution.attempt, execution.lease_owner) == (ES.RUNNING, 1, "worker-a")
    assert execution.started_at is not None
    assert execution.lease_until is not None and execution.lease_until > timezone.now() + timedelta(
        seconds=25
    )
    assert jobs.claim_woken("worker-b", 30, str(execution.pk)) is None  # it no longer waits
    assert jobs.claim("worker-b", 30) is None


def test_a_woken_claim_leaves_running_ended_unknown_and_malformed_ids_alone(cast):
    scenario = _scenario(cast)
    ended = create_execution(scenario, Execution.Trigger.MANUAL, {}, error="Refused")
    taken = create_execution(scenario, Execution.Trigger.MANUAL, {})
    held = jobs.claim("worker-a", 30)
    assert held is not None and held.pk == taken.pk
    # Even with its lease run out, a running execution is a takeover: a whole round's (fenced) work.
    Execution.objects.filter(pk=taken.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    for pk in (ended.pk, taken.pk, uuid.uuid4(), "not-a-uuid"):
        assert jobs.claim_woken("worker-b", 30, str(pk)) is None
    assert Execution.objects.get(pk=taken.pk).lease_owner == "worker-a"
    assert Execution.objects.get(pk=ended.pk).status == ES.FAILED


def test_a_woken_claim_keeps_a_start_time_set_earlier(cast):
    execution = create_execution(_scenario(cast), Execution.Trigger.MANUAL, {})
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    Execution.objects.filter(pk=execution.pk).update(started_at=started, attempt=2)
    lease = jobs.claim_woken("worker-a", 30, execution.pk)
    assert lease is not None and lease.attempt == 3
    assert Execution.objects.get(pk=execution.pk).started_at == started


def test_claim_refuses_none_and_expressions(cast):
    for where, values in (({"pk": None}, {}), ({"pk": uuid.uuid4()}, {"status": F("trigger")})):
        with pytest.raises(ValueError):
            statements.claim(Execution, where, values, {})


def test_a_lease_writes_its_row_while_it_holds_it(cast):
    execution = create_execution(_scenario(cast), Execution.Trigger.MANUAL, {})
    lease = jobs.claim("worker-a", 30)
    assert lease is not None
    finished = datetime(2026, 9, 10, 11, 12, 13, 141516, tzinfo=IST)
    lease.update(status=ES.SUCCEEDED, error=UNICODE, finished_at=finished, lease_until=None)
    stored = Execution.objects.get(pk=execution.pk)
    assert (stored.status, stored.error, stored.finished_at, stored.lease_until) == (
        ES.SUCCEEDED,
        UNICODE,
        finished,
        None,
    )


def test_a_taken_over_lease_raises_lease_lost_and_writes_nothing(cast):
    execution, stale, holder = _claimed_then_taken_over(cast)
    with pytest.raises(LeaseLost):
        stale.update(status=ES.FAILED, error="zombie")
    stored = Execution.objects.get(pk=execution.pk)
    assert stored.status == ES.RUNNING and stored.error == ""
    assert (stored.attempt, stored.lease_owner) == (2, "worker-b")
    holder.update(error="the holder")
    assert Execution.objects.get(pk=execution.pk).error == "the holder"


def test_a_taken_over_lease_is_not_renewed_and_the_holders_is(cast):
    execution, stale, holder = _claimed_then_taken_over(cast)
    before = Execution.objects.get(pk=execution.pk).lease_until
    assert before is not None
    assert stale.renew(3600) is False
    assert Execution.objects.get(pk=execution.pk).lease_until == before
    assert holder.renew(3600) is True
    renewed = Execution.objects.get(pk=execution.pk).lease_until
    assert renewed is not None and renewed - before > timedelta(minutes=30)


# -- snapshot_of -------------------------------------------------------------------------------------
def _snapshot_by_orm(scenario: Scenario) -> dict[str, Any]:
    """What snapshot_of gave before it was plain SQL (the ORM version of 10cbc1a)."""
    nodes = [
        {
            "number": row["number"],
            "kind": row["kind"],
            "label": row["label"],
            "params": row["params"] if isinstance(row["params"], dict) else {},
            "credential_id": str(row["credential_id"]) if row["credential_id"] else None,
        }
        for row in scenario.nodes.order_by("number").values(
            "number", "kind", "label", "params", "credential_id"
        )
    ]
    edges = [
        [source, target]
        for source, target in scenario.edges.order_by("source__number", "target__number").values_list(
            "source__number", "target__number"
        )
    ]
    return {"scenario_version": scenario.version, "nodes": nodes, "edges": edges}


def _credential(team, name: str) -> Credential:
    credential = Credential(team=team, name=name, base_url="http://127.0.0.1:9/v1")
    credential.set_secret(f"sk-{name}-secret-0000")
    credential.save()
    return credential


def test_run_problems_are_checked_again_when_an_equal_looking_graph_changed():
    """Remembered per snapshot, but compared whole: same version, same node numbers, a new bad
    reference is still found, and an answer is never shared by mutation."""
    snapshot: dict[str, Any] = {
        "scenario_version": 7,
        "nodes": [
            {"number": 1, "kind": "webhook.trigger", "label": "", "params": {}, "credential_id": None},
            {
                "number": 2,
                "kind": "webhook.response",
                "label": "",
                "params": {"body": "{{$1.body}}"},
                "credential_id": None,
            },
        ],
        "edges": [[1, 2]],
    }
    assert run_problems(snapshot) == []
    first = run_problems(snapshot)
    first.append("changed by a caller")
    assert run_problems(snapshot) == []
    changed = copy.deepcopy(snapshot)
    changed["nodes"][1]["params"]["body"] = "{{$9.body}}"
    assert run_problems(changed) and run_problems(changed) != []
    snapshot["nodes"][1]["params"]["body"] = "{{$9.body}}"  # the remembered copy is not this dict
    assert run_problems(snapshot) == run_problems(changed)


def test_the_snapshot_is_what_the_orm_gives_for_a_scenario_with_everything(cast):
    first, second = _credential(cast.team, "First"), _credential(cast.team, "Second")
    scenario = Scenario.objects.create(team=cast.team, name="Everything", version=5)
    specs = {  # created out of order; 10 sorts after 2 as a number, not as text
        10: ("test.echo", "Dix ☃", {"a": "{{$5.params}}", "nested": NESTED}, None),
        2: ("test.secret", "Zwei 日本", {"fail": False, "n": 0}, first),
        1: ("webhook.trigger", "", {}, None),
        5: ("test.secret", "", {"a": None, "list": [True, 1, "1"]}, second),
        3: ("test.echo", "Drei", {"text": UNICODE}, first),
        4: ("test.echo", "list params", [1, 2], None),
    }
    nodes = {
        number: Node.objects.create(
            scenario=scenario, number=number, kind=kind, label=label, params=params, credential=credential
        )
        for number, (kind, label, params, credential) in specs.items()
    }
    for source, target in [(5, 10), (1, 3), (3, 5), (1, 2), (2, 5), (1, 4)]:
        Edge.objects.create(scenario=scenario, source=nodes[source], target=nodes[target])
    # Another team's scenario must not leak in.
    elsewhere = build(cast.other_team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"a": "x"})}, [(1, 2)])

    snapshot = snapshot_of(scenario)
    assert canonical(snapshot) == canonical(_snapshot_by_orm(scenario))
    assert snapshot["scenario_version"] == 5
    assert [node["number"] for node in snapshot["nodes"]] == [1, 2, 3, 4, 5, 10]
    assert snapshot["edges"] == [[1, 2], [1, 3], [1, 4], [2, 5], [3, 5], [5, 10]]
    by_number = {node["number"]: node for node in snapshot["nodes"]}
    assert by_number[2]["credential_id"] == by_number[3]["credential_id"] == str(first.pk)
    assert by_number[5]["credential_id"] == str(second.pk)
    assert (
        len(str(by_number[5]["credential_id"])) == 36 and str(by_number[5]["credential_id"]).count("-") == 4
    )
    assert by_number[1]["credential_id"] is None and by_number[10]["credential_id"] is None
    assert by_number[10]["label"] == "Dix ☃" and canonical(by_number[10]["params"]["nested"]) == canonical(
        NESTED
    )
    assert by_number[5]["params"] == {"a": None, "list": [True, 1, "1"]}
    assert by_number[5]["params"]["list"][0] is True
    assert by_number[4]["params"] == {}  # not an object: no params, as before
    assert canonical(snapshot_of(elsewhere)) == canonical(_snapshot_by_orm(elsewhere))


def test_an_empty_scenario_has_an_empty_snapshot(cast):
    scenario = Scenario.objects.create(team=cast.team, name="Empty")
    assert snapshot_of(scenario) == {"scenario_version": 1, "nodes": [], "edges": []}
    assert snapshot_of(scenario) == _snapshot_by_orm(scenario)


# -- Credentials.load --------------------------------------------------------------------------------
def test_credentials_load_only_the_teams_own_among_the_ids(cast):
    mine, also_mine = _credential(cast.team, "Mine"), _credential(cast.team, "AlsoMine")
    not_asked = _credential(cast.team, "NotAsked")
    mallorys = _credential(cast.other_team, "Mallorys")
    ids = {str(mine.pk), str(also_mine.pk), str(mallorys.pk), str(uuid.uuid4())}

    loaded = Credentials.load(cast.team.pk, ids)
    assert set(loaded.by_id) == {str(mine.pk), str(also_mine.pk)}
    assert loaded.by_id[str(mine.pk)].name == "Mine" and loaded.by_id[str(mine.pk)].team_id == cast.team.pk
    assert sorted(loaded.secrets) == sorted(["sk-Mine-secret-0000", "sk-AlsoMine-secret-0000"])
    assert loaded.unreadable == set()
    assert str(not_asked.pk) not in loaded.by_id
    orm = {str(c.pk) for c in Credential.objects.filter(team_id=cast.team.pk, pk__in=ids)}
    assert set(loaded.by_id) == orm

    theirs = Credentials.load(cast.other_team.pk, ids)
    assert set(theirs.by_id) == {str(mallorys.pk)} and theirs.secrets == ["sk-Mallorys-secret-0000"]
    assert Credentials.load(str(cast.team.pk), {str(mine.pk)}).by_id.keys() == {str(mine.pk)}
    empty = Credentials.load(cast.team.pk, set())
    assert empty.by_id == {} and empty.secrets == [] and empty.unreadable == set()


def test_credentials_that_cannot_be_decrypted_are_loaded_as_unreadable(cast):
    readable = _credential(cast.team, "Readable")
    foreign_key, garbage = _credential(cast.team, "ForeignKey"), _credential(cast.team, "Garbage")
    short = Credential(team=cast.team, name="Short", base_url="http://127.0.0.1:9/v1")
    assert MIN_REDACTED_LENGTH > 3
    short.set_secret("abc")
    short.save()
    other_key = Fernet(Fernet.generate_key()).encrypt(b"sk-under-another-key").decode()
    Credential.objects.filter(pk=foreign_key.pk).update(secret_encrypted=other_key)
    Credential.objects.filter(pk=garbage.pk).update(secret_encrypted="not a fernet token")

    loaded = Credentials.load(cast.team.pk, {str(c.pk) for c in (readable, foreign_key, garbage, short)})
    assert set(loaded.by_id) == {str(c.pk) for c in (readable, foreign_key, garbage, short)}
    assert loaded.unreadable == {str(foreign_key.pk), str(garbage.pk)}
    assert loaded.secrets == ["sk-Readable-secret-0000"]  # too short a secret is not redacted


# -- Credential.get_secret's cache -------------------------------------------------------------------
@pytest.fixture
def decryptions(monkeypatch) -> list[str]:
    """Every ciphertext crypto.decrypt is asked for."""
    seen: list[str] = []
    real = crypto.decrypt

    def counting(token: str) -> str:
        seen.append(token)
        return real(token)

    monkeypatch.setattr(crypto, "decrypt", counting)
    return seen


def test_get_secret_decrypts_once_per_instance_and_ciphertext(cast, decryptions):
    credential = _credential(cast.team, "Cached")
    assert credential.get_secret() == "sk-Cached-secret-0000"
    assert credential.get_secret() == "sk-Cached-secret-0000"
    assert len(decryptions) == 1
    again = Credential.objects.get(pk=credential.pk)  # another instance decrypts for itself
    assert again.get_secret() == "sk-Cached-secret-0000" and len(decryptions) == 2


def test_get_secret_after_set_secret_on_the_same_instance_is_the_new_secret(cast, decryptions):
    credential = _credential(cast.team, "Changing")
    assert credential.get_secret() == "sk-Changing-secret-0000"
    credential.set_secret("sk-the-new-secret-9999")
    assert credential.get_secret() == "sk-the-new-secret-9999"
    assert decryptions[-1] == credential.secret_encrypted  # decrypted anew, not served from the cache
    credential.save()
    assert Credential.objects.get(pk=credential.pk).get_secret() == "sk-the-new-secret-9999"
    credential.set_secret("")
    assert credential.get_secret() == ""
    credential.set_secret("sk-Changing-secret-0000")  # the first secret again, under a new ciphertext
    assert credential.get_secret() == "sk-Changing-secret-0000"
    assert decryptions[-1] == credential.secret_encrypted


def test_get_secret_follows_the_row_when_it_is_reloaded_or_becomes_unreadable(cast):
    credential = _credential(cast.team, "Reloaded")
    assert credential.get_secret() == "sk-Reloaded-secret-0000"
    elsewhere = Credential.objects.get(pk=credential.pk)
    elsewhere.set_secret("sk-rotated-by-someone-1111")
    elsewhere.save()
    credential.refresh_from_db()
    assert credential.get_secret() == "sk-rotated-by-someone-1111"
    credential.secret_encrypted = "not a fernet token"
    with pytest.raises(crypto.SecretUnreadable):
        credential.get_secret()
    assert credential.needs_reentry is True


def test_a_pickled_or_copied_credential_carries_no_plaintext(cast):
    credential = _credential(cast.team, "Pickled")
    assert credential.get_secret() == "sk-Pickled-secret-0000"
    assert b"sk-Pickled-secret-0000" not in pickle.dumps(credential)
    assert "_plaintext" not in copy.copy(credential).__dict__
    assert pickle.loads(pickle.dumps(credential)).get_secret() == "sk-Pickled-secret-0000"


# -- events.heard ------------------------------------------------------------------------------------
@pytest.fixture
def in_memory_layer(settings) -> InMemoryChannelLayer:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    assert isinstance(layer, InMemoryChannelLayer)
    return layer


def test_with_the_in_memory_layer_a_group_nobody_listens_to_is_not_heard(in_memory_layer):
    group = Scenario.group_name_for(uuid.uuid4())
    assert events.heard(group) is False


def test_with_the_in_memory_layer_a_group_is_heard_while_a_channel_is_in_it(in_memory_layer):
    group, other = Scenario.group_name_for(uuid.uuid4()), Scenario.group_name_for(uuid.uuid4())
    channel = async_to_sync(in_memory_layer.new_channel)()
    async_to_sync(in_memory_layer.group_add)(group, channel)
    assert events.heard(group) is True
    assert events.heard(other) is False
    async_to_sync(in_memory_layer.group_discard)(group, channel)
    assert events.heard(group) is False


def test_without_a_channel_layer_nothing_is_heard(settings):
    settings.CHANNEL_LAYERS = {}
    assert get_channel_layer() is None
    assert events.heard(Scenario.group_name_for(uuid.uuid4())) is False


def test_with_a_shared_layer_every_group_is_heard(monkeypatch):
    class SharedLayer:  # any layer but the in-memory one: its members live in other processes
        groups: dict[str, Any] = {}

    monkeypatch.setattr(events, "get_channel_layer", lambda: SharedLayer())
    assert events.heard(Scenario.group_name_for(uuid.uuid4())) is True


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis channel layer needs REDIS_URL")
def test_with_the_redis_layer_every_group_is_heard():
    assert not isinstance(get_channel_layer(), InMemoryChannelLayer)
    assert events.heard(Scenario.group_name_for(uuid.uuid4())) is True
