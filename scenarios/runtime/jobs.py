"""Executions as a job source of the durable executor: claiming them, and failing the ones whose
workers kept dying (so nothing stays `running` forever and the user sees why).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.functions import Coalesce
from django.utils import timezone

from durable import executor, leases, plain_sql
from durable.executor import JobSource
from durable.leases import Lease
from scenarios.models import Execution, Node, NodeRun, Scenario
from scenarios.runtime import error_scenarios, events, scheduling, waiting
from teams.models import Credential

log = logging.getLogger(__name__)

ES = Execution.Status
STARTED_AT = Execution._meta.get_field("started_at")


def claimable(now: Any) -> models.QuerySet[Execution]:
    """Queued executions, waiting ones whose time has come, and running ones whose worker's lease
    expired with attempts left."""
    return Execution.objects.filter(
        models.Q(status=ES.QUEUED)
        | models.Q(status=ES.WAITING, wake_at__lte=now)
        | (models.Q(status=ES.RUNNING) & leases.expired(now) & ~leases.exhausted())
    )


# Literals, not parameters: a planner matches a partial index's condition only against the query's text.
_ACTIVE = ", ".join(f"'{status.value}'" for status in Execution.CLAIMABLE)


def claimable_rows(now: Any, pk: Any = None, queued_before: Any = None) -> leases.Rows:
    """`claimable(now)` (only execution `pk` when given; only queued executions created before
    `queued_before` when given) as a plain condition: every claim sends it, and building the filter
    cost more CPU than the database takes to run it (docs/performance.md).
    tests/durability/test_claim_sql.py checks that it selects what `claimable` selects."""
    connection = connections[router.db_for_write(Execution)]
    status, wake_at, lease_until, attempt, max_attempts = (
        _column(name, connection) for name in ("status", "wake_at", "lease_until", "attempt", "max_attempts")
    )
    queued, waiting, running = (
        _prepared("status", s, connection) for s in (ES.QUEUED, ES.WAITING, ES.RUNNING)
    )
    # The first term is the condition of the execution_active index, word for word (SQLite uses a
    # partial index only for a query that repeats its condition): a claim looks through the
    # executions that are not over, not the whole history.
    where = (
        f"{status} IN ({_ACTIVE}) AND ({status} = %s OR ({status} = %s AND {wake_at} <= %s)"
        f" OR ({status} = %s AND {lease_until} < %s AND NOT ({attempt} >= {max_attempts})))"
    )
    params = [
        queued,
        waiting,
        _prepared("wake_at", now, connection),
        running,
        _prepared("lease_until", now, connection),
    ]
    if pk is not None:
        where += f" AND {_column('pk', connection)} = %s"
        params.append(_prepared("pk", pk, connection))
    if queued_before is not None:
        created_at = _column("created_at", connection)
        where += f" AND ({status} <> %s OR {created_at} < %s)"
        params += [queued, _prepared("created_at", queued_before, connection)]
    return leases.Rows(Execution, where, params)


def claim(owner: str, lease_seconds: float, queued_before: Any = None, *, pk: Any = None) -> Lease | None:
    """Claim an execution for `owner` (only execution `pk` when given; with `queued_before`, one
    queued before then, or one whose lease expired or whose wait is over).

    Fair between teams: the oldest waiting execution of the team with the fewest executions
    running now, so one team's backlog does not hold up another team's webhook.
    """
    now = timezone.now()
    fail_exhausted(now)
    candidates = claimable_rows(now, pk, queued_before)
    connection = connections[router.db_for_write(Execution)]
    for _ in range(3):
        # Reads first: an idle poll must not take SQLite's write lock.
        chosen = _fairest(candidates, now)
        if chosen is None:
            return None
        rows = candidates if chosen is OLDEST else claimable_rows(now, chosen, queued_before)
        if connection.vendor == "postgresql":
            lease = next(iter(_claim_loading(rows, owner, lease_seconds, now, connection)), None)
        else:
            lease = leases.claim_one(
                rows,
                owner,
                lease_seconds,
                status=ES.RUNNING,
                started_at=plain_sql.IfNull("started_at", now, STARTED_AT),
            )
        if lease is not None:
            return lease  # else another worker took that one first: choose again
    return None


# What a claim carries besides the row: whose lease it took over (if any), and when that lease ended.
_TAKEN_FROM = ("was_owner", "was_until")


def _claim_loading(
    rows: leases.Rows,
    owner: str,
    lease_seconds: float,
    now: Any,
    connection: BaseDatabaseWrapper,
    limit: int = 1,
) -> list[Lease]:
    """On PostgreSQL, the claim of the oldest `limit` of `rows` no other claim holds, as one
    statement that also reads what their runs need: queued executions, waiting ones whose time has
    come, or running ones taken over from a lost worker (whose owner it logs). Oldest first."""
    quote = connection.ops.quote_name
    table = quote(Execution._meta.db_table)
    pk, attempt, lease_owner, lease_until, created_at = (
        _column(name, connection) for name in ("pk", "attempt", "lease_owner", "lease_until", "created_at")
    )
    attempt_name = attempt.rpartition(".")[2]
    sets, set_params = plain_sql.assignments(
        Execution,
        {
            "status": ES.RUNNING,
            "lease_owner": owner,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "started_at": plain_sql.IfNull("started_at", now, STARTED_AT),
        },
        connection,
    )
    returning, reading = _claim_statement(connection.alias)
    # The row lock of FOR UPDATE SKIP LOCKED holds a row from the choice to the update: workers
    # racing for the same rows never wait for each other (nor deadlock), each takes rows of its own,
    # and the attempt read is the one raised.
    statement = (
        f"WITH chosen AS (SELECT {pk} AS id, {attempt}, {lease_owner} AS was_owner, {lease_until} AS was_until"
        f" FROM {table} WHERE {rows.where} ORDER BY {created_at} ASC LIMIT {int(limit)} FOR UPDATE SKIP LOCKED),"
        f" claimed AS (UPDATE {table} SET {attempt_name} = chosen.{attempt_name} + 1, {sets} FROM chosen"
        f" WHERE {pk} = chosen.id RETURNING {returning}, chosen.was_owner, chosen.was_until) {reading}"
    )
    claimed = []
    for execution, (was_owner, was_until), team_id, read in _claimed(
        statement, [*rows.params, *set_params], connection
    ):
        lease = Lease(model=Execution, pk=execution.pk, attempt=execution.attempt, owner=owner)
        if was_owner:
            leases.log_takeover(now, Execution, execution.pk, was_owner, was_until, owner, execution.attempt)
        claimed.append((execution.created_at, _loaded(lease, execution, team_id, read)))
    return [lease for _, lease in sorted(claimed, key=lambda pair: pair[0])]


def claim_woken(owner: str, lease_seconds: float, pks: Sequence[Any]) -> list[Lease]:
    """Claim those of the executions wake-ups named that still wait in the queue, and load what
    running them needs in the same database call: one statement claims the rows (however many were
    named) and returns them with their teams. Oldest first.

    The executor does this only while it has room for them all, so no other team's execution is
    waiting for that room (when it was full, the slot that frees runs a fair `claim` round instead)."""
    keys = []
    for pk in pks:
        try:
            keys.append(uuid.UUID(str(pk)))
        except ValueError:
            continue
    if not keys:
        return []
    now = timezone.now()
    connection = connections[router.db_for_write(Execution)]
    if connection.vendor == "postgresql":
        # Queued executions have never been claimed (attempt 0): claimed now, each is attempt 1.
        rows = leases.Rows(
            Execution,
            f"{_column('status', connection)} = %s AND {_column('attempt', connection)} = 0"
            f" AND {_column('pk', connection)} IN ({', '.join(['%s'] * len(keys))})",
            [_prepared("status", ES.QUEUED, connection), *(_prepared("pk", key, connection) for key in keys)],
        )
        return _claim_loading(rows, owner, lease_seconds, now, connection, limit=len(keys))
    values = {
        "status": ES.RUNNING,
        "attempt": 1,
        "lease_owner": owner,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "started_at": plain_sql.IfNull("started_at", now, STARTED_AT),
    }
    where = {"pk__in": keys, "status": ES.QUEUED, "attempt": 0}
    claimed = leases.retry_locked(
        lambda: plain_sql.update_returning(Execution, where, values, related="scenario__team")
    )
    claimed.sort(key=lambda pair: pair[0].created_at)
    return [
        _loaded(Lease(model=Execution, pk=execution.pk, attempt=1, owner=owner), execution, team_id, None)
        for execution, team_id in claimed
    ]


def _loaded(lease: Lease, execution: Execution, team_id: Any, read: list[Credential] | None) -> Lease:
    """`lease` with the Job its run needs, made from what its claim read."""
    from scenarios.runtime.engine import load_job

    try:
        job = load_job(lease, execution, team_id, read)
    except Exception:  # its run loads it again, and a failure there is handled as any run's
        log.exception("execution %s: loading it with its claim failed", lease.pk)
        return lease
    return dataclasses.replace(lease, loaded=job)


def _claimed(
    statement: str, params: list[Any], connection: BaseDatabaseWrapper
) -> list[tuple[Execution, list[Any], Any, list[Credential]]]:
    """Run a claim statement built on `_claim_statement`: each execution it claimed, with the values
    of `_TAKEN_FROM` that follow the execution's columns, its team and the credentials read with it."""
    with transaction.mark_for_rollback_on_error(connection.alias), connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    _, names, converting = plain_sql.reading(Execution, (), connection, "claimed")
    _, held_names, held_converting = plain_sql.reading(Credential, (), connection, "held")
    width = len(names)
    team = width + len(_TAKEN_FROM)
    pk_field = Execution._meta.pk
    assert pk_field is not None
    key = names.index(pk_field.attname)
    # One row per credential of an execution, or one without any (the credential's columns are then NULL).
    by_execution: dict[Any, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_execution.setdefault(row[key], []).append(row)
    claimed = []
    for found in by_execution.values():
        first = found[0]
        execution = plain_sql.instance(Execution, list(first[:width]), names, converting, connection)
        credentials = [
            plain_sql.instance(Credential, list(row[team + 1 :]), held_names, held_converting, connection)
            for row in found
            if row[team + 1] is not None
        ]
        claimed.append((execution, list(first[width:team]), first[team], credentials))
    return claimed


@functools.cache
def _claim_statement(alias: str) -> tuple[str, str]:
    """The parts of a claim statement around its UPDATE: what the UPDATE returns (the execution's
    columns, named as its table's), and the SELECT that reads them from the `claimed` CTE with the
    `_TAKEN_FROM` columns the CTE adds, the team and the team's credentials the scenario's nodes
    name. The same every time."""
    connection = connections[alias]
    quote = connection.ops.quote_name

    def column(model: type[models.Model], name: str, table: str = "") -> str:
        named = _column(name, connection, model)
        return f"{quote(table)}.{named.rpartition('.')[2]}" if table else named

    returning, _, _ = plain_sql.reading(Execution, (), connection, Execution._meta.db_table)
    claimed, _, _ = plain_sql.reading(Execution, (), connection, "claimed")
    extra = "".join(f"claimed.{quote(name)}, " for name in _TAKEN_FROM)
    held, _, _ = plain_sql.reading(Credential, (), connection, "held")
    team = column(Scenario, "team")
    node = quote(Node._meta.db_table)
    reading = (
        f"SELECT {claimed}, {extra}{team}, {held} FROM claimed "
        f"INNER JOIN {quote(Scenario._meta.db_table)} "
        f"ON {column(Scenario, 'pk')} = {column(Execution, 'scenario', 'claimed')} "
        f"LEFT OUTER JOIN {quote(Credential._meta.db_table)} AS held "
        f"ON {column(Credential, 'team', 'held')} = {team} AND {column(Credential, 'pk', 'held')} IN "
        f"(SELECT {column(Node, 'credential')} FROM {node} "
        f"WHERE {column(Node, 'scenario')} = {column(Execution, 'scenario', 'claimed')})"
    )
    return returning, reading


FAIRNESS_WINDOW = 50
# One team waiting: the claim takes the oldest row no other worker holds (SKIP LOCKED), so workers
# racing for the queue each get their own instead of all trying the same one and choosing again.
OLDEST = object()


def _fairest(candidates: leases.Rows, now: Any) -> Any:
    connection = connections[router.db_for_write(Execution)]
    pk, created_at, status, lease_until = (
        _column(name, connection) for name in ("pk", "created_at", "status", "lease_until")
    )
    scenario, team = _column("scenario", connection), _column("team", connection, Scenario)
    joined = (
        f"{connection.ops.quote_name(Execution._meta.db_table)} INNER JOIN "
        f"{connection.ops.quote_name(Scenario._meta.db_table)} ON ({scenario} = {_column('pk', connection, Scenario)})"
    )
    # Scalars only (UUIDs compared with each other, as the database gives them): a plain cursor.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk}, {team} FROM {joined} WHERE {candidates.where} ORDER BY {created_at} ASC"
            f" LIMIT {FAIRNESS_WINDOW}",
            candidates.params,
        )
        waiting = cursor.fetchall()
        if len({team for _, team in waiting}) <= 1:
            return OLDEST if waiting else None
        cursor.execute(
            f"SELECT {team}, COUNT({pk}) FROM {joined} WHERE {status} = %s AND {lease_until} >= %s GROUP BY {team}",
            [_prepared("status", ES.RUNNING, connection), _prepared("lease_until", now, connection)],
        )
        busy = dict(cursor.fetchall())
    # min() keeps the first of equals: the oldest execution of the least busy team.
    return min(waiting, key=lambda row: busy.get(row[1], 0))[0]


def fail_exhausted(now: Any | None = None) -> int:
    """Fail running executions whose lease expired after their last allowed attempt."""
    now = now or timezone.now()
    failed = 0
    for pk, attempt in _exhausted(now):
        stale = Execution.objects.filter(leases.expired(now), leases.exhausted(), status=ES.RUNNING)
        with transaction.atomic():
            error = f"Worker lost {attempt} times: the execution was stopped. Run it again when the workers are healthy."
            given_up = leases.give_up(
                stale.filter(pk=pk, attempt=attempt), status=ES.FAILED, finished_at=now, error=error
            )
            if not given_up:
                continue
            _start_error_scenario(pk, error)
            NodeRun.objects.filter(
                execution_id=pk, status__in=[NodeRun.Status.QUEUED, NodeRun.Status.RUNNING]
            ).update(
                status=NodeRun.Status.FAILED,
                finished_at=now,
                error={"message": "Interrupted: the worker running this node was lost."},
            )
            transaction.on_commit(functools.partial(_announce_ended, pk))
        failed += 1
        log.warning("execution %s failed: worker lost %s times", pk, attempt)
    return failed


def _exhausted(now: Any) -> list[tuple[uuid.UUID, int]]:
    """`stale.order_by("lease_until").values_list("pk", "attempt")[:50]` of `fail_exhausted` as a
    plain statement: every claim sends it, and it nearly always finds nothing."""
    connection = connections[router.db_for_write(Execution)]
    pk, attempt, max_attempts, status, lease_until = (
        _column(name, connection) for name in ("pk", "attempt", "max_attempts", "status", "lease_until")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {pk}, {attempt} FROM {connection.ops.quote_name(Execution._meta.db_table)}"
            f" WHERE {lease_until} < %s AND {attempt} >= {max_attempts} AND {status} = %s"
            f" ORDER BY {lease_until} ASC LIMIT 50",
            [_prepared("lease_until", now, connection), _prepared("status", ES.RUNNING, connection)],
        )
        rows = cursor.fetchall()
    pk_field = Execution._meta.pk
    assert pk_field is not None
    # A UUID whatever the database gives (SQLite: its hex), as the ORM's values_list gives it.
    return [(pk_field.to_python(key), int(tries)) for key, tries in rows]


def _column(name: str, connection: BaseDatabaseWrapper, model: type[models.Model] = Execution) -> str:
    """`"table"."column"` of field `name` (`pk` for the primary key)."""
    return _quoted_column(model, name, connection.alias)


@functools.cache
def _quoted_column(model: type[models.Model], name: str, alias: str) -> str:
    connection = connections[alias]
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, models.Field)
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(str(field.column))}"


def _prepared(name: str, value: Any, connection: BaseDatabaseWrapper) -> Any:
    """`value` as the ORM sends it in a filter on Execution field `name`."""
    field = Execution._meta.pk if name == "pk" else Execution._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.get_db_prep_value(value, connection)


def _start_error_scenario(pk: Any, error: str) -> None:
    """The failed execution's error scenario, in the transaction that fails it (as the engine does)."""
    from scenarios.runtime.engine import create_execution

    execution = Execution.objects.filter(pk=pk).first()
    run = error_scenarios.error_run_for(execution, error) if execution is not None else None
    if run is not None:
        create_execution(run.scenario, Execution.Trigger.ERROR, run.input, parent=execution)


def _announce_ended(pk: Any) -> None:
    execution = Execution.objects.filter(pk=pk).first()
    if execution is None:
        return
    messages = [events.execution_event(execution)]
    messages += [
        events.node_event(pk, run) for run in execution.node_runs.filter(finished_at=execution.finished_at)
    ]
    events.publish_soon(Scenario.group_name_for(execution.scenario_id), messages)
    waiting.progressed_soon(pk)


def cancel(execution: Execution, by: str) -> bool:
    """End an execution that has not ended, as cancelled, saying by whom; False when it had ended.

    Its lease is cleared, so the worker running it is fenced out: its next write or heartbeat finds
    the lease gone and stops its nodes (in this process at once, see `executor.stop_job`). Node runs
    not started are skipped; running ones fail, as they were cut short.
    """
    now = timezone.now()
    reason = f"Cancelled by {by}."
    with transaction.atomic():
        stopped = leases.give_up(
            Execution.objects.filter(pk=execution.pk, status__in=[ES.QUEUED, ES.RUNNING, ES.WAITING]),
            status=ES.CANCELLED,
            started_at=Coalesce(
                models.F("started_at"), models.Value(now, output_field=models.DateTimeField())
            ),
            finished_at=now,
            error=reason,
        )
        if not stopped:
            return False
        runs = NodeRun.objects.filter(execution_id=execution.pk)
        runs.filter(status=NodeRun.Status.QUEUED).update(
            status=NodeRun.Status.SKIPPED, finished_at=now, error={"message": f"{reason} It did not run."}
        )
        runs.filter(status__in=[NodeRun.Status.RUNNING, NodeRun.Status.WAITING]).update(
            status=NodeRun.Status.FAILED, finished_at=now, error={"message": f"{reason} It was cut short."}
        )
        transaction.on_commit(functools.partial(_announce_ended, execution.pk))
        transaction.on_commit(functools.partial(executor.stop_job, Execution, execution.pk))
    log.info("execution %s cancelled by %s", execution.pk, by)
    return True


def sweep() -> None:
    fail_exhausted()
    try:
        scheduling.fire_due()
    except Exception:  # a schedule must not stop the housekeeping of executions
        log.exception("firing schedules failed; the next sweep tries again")


def job_source() -> JobSource:
    from scenarios.runtime.engine import run_execution

    return JobSource("executions", claim, run_execution, sweep, claim_woken)
