"""The hot statements store and read exactly what the ORM does: the UPDATE what `update()` stores
(JSON, NULL, dates, UUIDs, `IfNull` as its `Coalesce`), changing only the rows its filter names and
counting them (a lease's fence depends on it); the INSERT what `save()` and `bulk_create()` store,
with the new primary keys back in the objects; the SELECT the instances a filter gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from durable import plain_sql
from scenarios.models import Execution, NodeRun, Scenario

pytestmark = pytest.mark.django_db

VALUES = {
    "status": "succeeded",
    "params": {"q": "é\u2028", "n": [1, 2.5, None, True]},
    "output": ["a", {"b": None}],
    "error": None,
    "ports": ["true"],
    "finished_at": timezone.now(),
}


def test_a_plain_update_stores_what_the_orm_update_stores(make_job):
    job = make_job()
    by_orm, by_plain = (
        NodeRun.objects.create(execution=job, node_number=n, node_kind="x", attempt=1) for n in (1, 2)
    )
    NodeRun.objects.filter(pk=by_orm.pk).update(**VALUES)
    assert plain_sql.update(NodeRun, {"pk": by_plain.pk}, VALUES) == 1
    fields = ["status", "params", "output", "error", "ports", "finished_at"]
    assert NodeRun.objects.values(*fields).get(pk=by_plain.pk) == NodeRun.objects.values(*fields).get(
        pk=by_orm.pk
    )


def test_a_plain_update_changes_only_the_rows_its_filter_names_and_counts_them(make_job):
    job, other = make_job(), make_job()
    Execution.objects.filter(pk__in=[job.pk, other.pk]).update(attempt=1, lease_owner="me")
    renewed = timezone.now() + timedelta(seconds=30)
    assert (
        plain_sql.update(
            Execution, {"pk": job.pk, "attempt": 2, "lease_owner": "me"}, {"lease_until": renewed}
        )
        == 0
    )
    assert (
        plain_sql.update(
            Execution, {"pk": job.pk, "attempt": 1, "lease_owner": "me"}, {"lease_until": renewed}
        )
        == 1
    )
    assert Execution.objects.get(pk=job.pk).lease_until == renewed
    assert Execution.objects.get(pk=other.pk).lease_until is None


def test_an_expression_is_left_to_the_orm(make_job):
    job = make_job()
    assert plain_sql.update(Execution, {"pk": job.pk}, {"attempt": F("attempt") + 3}) == 1
    assert Execution.objects.get(pk=job.pk).attempt == 3


def test_if_null_stores_what_coalesce_stores(make_job):
    earlier = timezone.now() - timedelta(hours=1)
    now = timezone.now()
    unset_orm, unset_plain, set_orm, set_plain = (make_job() for _ in range(4))
    Execution.objects.filter(pk__in=[set_orm.pk, set_plain.pk]).update(started_at=earlier)
    coalesce = Coalesce(models.F("started_at"), models.Value(now, output_field=models.DateTimeField()))
    for by_orm, by_plain in ((unset_orm, unset_plain), (set_orm, set_plain)):
        Execution.objects.filter(pk=by_orm.pk).update(started_at=coalesce)
        if_null = plain_sql.IfNull("started_at", now, models.DateTimeField())
        assert plain_sql.update(Execution, {"pk": by_plain.pk}, {"started_at": if_null}) == 1
        assert (
            Execution.objects.get(pk=by_plain.pk).started_at == Execution.objects.get(pk=by_orm.pk).started_at
        )
    assert Execution.objects.get(pk=unset_plain.pk).started_at == now
    assert Execution.objects.get(pk=set_plain.pk).started_at == earlier
    # Beside another expression the ORM builds the statement, and takes IfNull as its Coalesce.
    both = {"started_at": plain_sql.IfNull("started_at", now), "attempt": models.F("attempt") + 1}
    assert plain_sql.update(Execution, {"pk": unset_orm.pk}, both) == 1
    assert Execution.objects.values_list("started_at", "attempt").get(pk=unset_orm.pk) == (now, 1)


def test_a_plain_select_gives_the_instances_the_orm_filter_gives(make_job):
    job = make_job()
    Execution.objects.filter(pk=job.pk).update(
        attempt=1, lease_owner="me", lease_until=timezone.now(), response={"status": 200, "body": ["é"]}
    )
    fence = {"pk": job.pk, "attempt": 1, "lease_owner": "me"}
    (by_plain,) = plain_sql.select(Execution, fence)
    by_orm = Execution.objects.get(**fence)
    names = [field.attname for field in Execution._meta.concrete_fields]
    assert [getattr(by_plain, name) for name in names] == [getattr(by_orm, name) for name in names]
    assert plain_sql.select(Execution, {**fence, "attempt": 2}) == []


def test_an_update_returning_changes_what_update_changes_and_gives_the_rows_as_the_orm_reads_them(make_job):
    job, other = make_job(), make_job()
    Execution.objects.filter(pk=job.pk).update(response={"status": 200, "body": ["é"]})
    now = timezone.now()
    values = {
        "attempt": 1,
        "lease_owner": "me",
        "lease_until": now,
        "started_at": plain_sql.IfNull("started_at", now),
    }
    ((by_plain, team_id),) = plain_sql.update_returning(
        Execution, {"pk": job.pk, "attempt": 0}, values, related="scenario__team"
    )
    by_orm = Execution.objects.get(pk=job.pk)
    names = [field.attname for field in Execution._meta.concrete_fields]
    assert [getattr(by_plain, name) for name in names] == [getattr(by_orm, name) for name in names]
    assert (by_orm.attempt, by_orm.started_at, by_orm.lease_owner) == (1, now, "me")
    assert team_id == by_orm.scenario.team_id
    assert Execution.objects.get(pk=other.pk).attempt == 0  # only the row its filter names
    assert (
        plain_sql.update_returning(Execution, {"pk": job.pk, "attempt": 0}, values, related="scenario__team")
        == []
    )


def test_an_update_returning_refuses_an_expression_rather_than_storing_it_wrong(make_job):
    job = make_job()
    with pytest.raises(TypeError):
        plain_sql.update_returning(
            Execution, {"pk": job.pk}, {"attempt": F("attempt") + 1}, related="scenario__team"
        )
    assert Execution.objects.get(pk=job.pk).attempt == 0


def node_runs(job: Execution, count: int, attempt: int = 1) -> list[NodeRun]:
    return [
        NodeRun(execution=job, node_number=n, node_kind="x", attempt=attempt, label=f"é {n}", **VALUES)
        for n in range(1, count + 1)
    ]


COLUMNS = [f.attname for f in NodeRun._meta.concrete_fields if not f.primary_key]


def test_a_plain_insert_stores_what_bulk_create_stores_and_gives_back_the_new_keys(make_job):
    job = make_job()
    by_orm, by_plain = node_runs(job, 3, attempt=1), node_runs(job, 3, attempt=2)
    NodeRun.objects.bulk_create(by_orm)
    plain_sql.insert(by_plain)
    assert all(isinstance(row.pk, int) for row in by_plain)
    assert len({row.pk for row in by_orm + by_plain}) == 6
    assert [row._state.adding for row in by_plain] == [False] * 3
    stored = {row["id"]: row for row in NodeRun.objects.values("id", *COLUMNS)}
    for orm, plain in zip(by_orm, by_plain, strict=True):
        assert {**stored[plain.pk], "attempt": 1} == {**stored[orm.pk], "id": plain.pk}
    # The objects can be updated through their keys, as the engine does next.
    assert plain_sql.update(NodeRun, {"pk": by_plain[1].pk}, {"status": "failed"}) == 1
    assert NodeRun.objects.get(pk=by_plain[1].pk).status == "failed"


def test_a_plain_insert_of_more_rows_than_one_statement_takes_sends_them_all(make_job):
    job = make_job()
    rows = node_runs(job, 700)  # over SQLite's 999 parameters a statement at 16 columns a row
    plain_sql.insert(rows)
    assert NodeRun.in_loops.filter(execution=job).count() == 700
    assert sorted(row.pk for row in rows) == sorted(NodeRun.in_loops.values_list("pk", flat=True))


def test_an_update_then_insert_stores_what_update_and_bulk_create_store(make_job):
    job = make_job()
    Execution.objects.filter(pk=job.pk).update(attempt=1, lease_owner="me")
    by_orm, by_plain = node_runs(job, 3, attempt=1), node_runs(job, 3, attempt=2)
    NodeRun.objects.bulk_create(by_orm)
    fence = {"pk": job.pk, "attempt": 1, "lease_owner": "me"}
    assert plain_sql.update_then_insert(Execution, fence, {"status": "succeeded", "error": ""}, by_plain)
    assert Execution.objects.values_list("status", flat=True).get(pk=job.pk) == "succeeded"
    assert all(isinstance(row.pk, int) for row in by_plain)
    assert [row._state.adding for row in by_plain] == [False] * 3
    stored = {row["id"]: row for row in NodeRun.objects.values("id", *COLUMNS)}
    for orm, plain in zip(by_orm, by_plain, strict=True):
        assert {**stored[plain.pk], "attempt": 1} == {**stored[orm.pk], "id": plain.pk}


def test_an_update_then_insert_whose_update_finds_no_row_writes_nothing(make_job):
    job = make_job()
    Execution.objects.filter(pk=job.pk).update(attempt=2, lease_owner="other")
    rows = node_runs(job, 2)
    fence = {"pk": job.pk, "attempt": 1, "lease_owner": "me"}
    assert not plain_sql.update_then_insert(Execution, fence, {"status": "succeeded"}, rows)
    assert Execution.objects.values_list("status", flat=True).get(pk=job.pk) == job.status
    assert not NodeRun.in_loops.filter(execution=job).exists()


def test_an_update_then_insert_on_postgresql_is_one_statement(make_job):
    if connection.vendor != "postgresql":
        pytest.skip("one statement needs PostgreSQL's data-modifying WITH")
    job = make_job()
    with CaptureQueriesContext(connection) as queries:
        assert plain_sql.update_then_insert(Execution, {"pk": job.pk}, {"error": "x"}, node_runs(job, 2))
    assert len(queries.captured_queries) == 1
    assert NodeRun.in_loops.filter(execution=job).count() == 2


def test_an_update_then_insert_whose_insert_fails_writes_nothing(make_job):
    job = make_job()
    rows = node_runs(job, 2)
    rows[1].node_number = None  # type: ignore[assignment]  # NOT NULL: refused
    with pytest.raises(IntegrityError), transaction.atomic():
        plain_sql.update_then_insert(Execution, {"pk": job.pk}, {"error": "kept out"}, rows)
    assert Execution.objects.values_list("error", flat=True).get(pk=job.pk) == job.error


def test_a_plain_insert_of_an_execution_stores_what_save_stores(make_job):
    template = make_job()
    fields = {"scenario": template.scenario, "trigger": Execution.Trigger.CLI, "input": {"q": [1, "é"]}}
    by_orm, by_plain = Execution(**fields), Execution(**fields)
    by_orm.save(force_insert=True)
    plain_sql.insert([by_plain])
    columns = [f.attname for f in Execution._meta.concrete_fields if f.attname not in ("id", "created_at")]
    assert Execution.objects.values(*columns).get(pk=by_plain.pk) == Execution.objects.values(*columns).get(
        pk=by_orm.pk
    )
    assert Execution.objects.get(pk=by_plain.pk).created_at == by_plain.created_at


def test_an_insert_if_stores_what_save_stores_while_the_other_row_matches_and_nothing_after(make_job):
    template = make_job()
    scenario = template.scenario
    fields = {"scenario": scenario, "trigger": Execution.Trigger.CLI, "input": {"q": [1, "é", None]}}
    by_orm, by_plain, too_late = Execution(**fields), Execution(**fields), Execution(**fields)
    by_orm.save(force_insert=True)
    still = {"pk": scenario.pk, "active": True, "version": scenario.version, "test_call_until__isnull": True}
    assert plain_sql.insert_if(by_plain, Scenario, still)
    columns = [f.attname for f in Execution._meta.concrete_fields if f.attname not in ("id", "created_at")]
    assert Execution.objects.values(*columns).get(pk=by_plain.pk) == Execution.objects.values(*columns).get(
        pk=by_orm.pk
    )
    Scenario.objects.filter(pk=scenario.pk).update(test_call_until=timezone.now())
    assert not plain_sql.insert_if(too_late, Scenario, still)
    assert not Execution.objects.filter(pk=too_late.pk).exists()
    assert too_late._state.adding  # not taken for a stored row


def test_a_duplicate_insert_fails_as_the_orm_fails_and_marks_the_transaction_for_rollback(make_job):
    job = make_job()
    duplicate = Execution(id=job.pk, scenario=job.scenario, trigger=Execution.Trigger.CLI)
    with pytest.raises(IntegrityError), transaction.atomic():
        try:
            plain_sql.insert([duplicate])
        finally:
            assert transaction.get_rollback()
    assert Execution.objects.filter(pk=job.pk).count() == 1


def test_a_plain_select_of_some_fields_reads_only_those_as_only_would(make_job):
    job = make_job()
    (found,) = plain_sql.select(Execution, {"pk": job.pk}, ["id", "status", "created_at"])
    (by_orm,) = Execution.objects.filter(pk=job.pk).only("id", "status", "created_at")
    assert (found.pk, found.status, found.created_at) == (by_orm.pk, by_orm.status, by_orm.created_at)
    assert found.get_deferred_fields() == by_orm.get_deferred_fields()


def test_a_plain_select_of_some_fields_in_any_order_converts_each_into_its_own_field(make_job):
    job = make_job()
    Execution.objects.filter(pk=job.pk).update(response={"status": 201, "body": ["é"]}, error="late")
    (found,) = plain_sql.select(Execution, {"pk": job.pk}, ["response", "error", "id", "scenario"])
    assert (found.response, found.error, found.pk, found.scenario_id) == (
        {"status": 201, "body": ["é"]},
        "late",
        job.pk,
        job.scenario_id,
    )


def test_a_plain_select_by_a_list_of_keys_gives_what_the_orms_in_filter_gives(make_job):
    jobs = [make_job(), make_job(), make_job()]
    wanted = [jobs[0].pk, jobs[2].pk]
    found = plain_sql.select(Execution, {"pk__in": wanted, "status": jobs[0].status})
    assert sorted(str(e.pk) for e in found) == sorted(
        str(pk) for pk in Execution.objects.filter(pk__in=wanted).values_list("pk", flat=True)
    )
    assert plain_sql.select(Execution, {"pk__in": []}) == []
