"""Claiming rows with a lease, renewing it, and fencing writes by attempt.

The database is the queue: a row is claimable when it is waiting, or when it is running under a lease
that has expired (its worker died). Claiming bumps `attempt`; every later write of the job names that
attempt and owner, so a zombie worker whose lease was taken over writes nothing.

PostgreSQL claims with `FOR UPDATE SKIP LOCKED`. SQLite has no row locks, but our settings open every
transaction with `BEGIN IMMEDIATE`, so claims from several processes are serialised by the write lock;
a claim that still finds the database locked after the busy timeout is retried.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import OperationalError, connection, connections, models, router, transaction
from django.db.models import F
from django.utils import timezone

from durable import plain_sql
from durable.models import Leased

__all__ = ["Lease", "LeaseLost", "Rows", "claim_one", "exhausted", "expired", "give_up", "retry_locked"]

LOCKED_RETRIES = 5

log = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another worker took the job over; this one must stop writing."""


@dataclass(frozen=True)
class Lease:
    model: type[Leased]
    pk: Any
    attempt: int
    owner: str
    # What the job source read in the same database call as the claim (or the creation), for its run:
    # running the job then need not read it again.
    loaded: Any = field(default=None, compare=False, repr=False)

    def fenced(self) -> models.QuerySet[Any]:
        """The job's row, only while this lease still holds it."""
        return self.model._default_manager.filter(**self.fence)

    @property
    def fence(self) -> dict[str, Any]:
        """The equality filter of `fenced()`, for a plain statement."""
        return {"pk": self.pk, "attempt": self.attempt, "lease_owner": self.owner}

    def update(self, inserting: Sequence[models.Model] = (), **fields: Any) -> None:
        """Write the job's row, and insert the new rows `inserting` with it, or raise LeaseLost (having
        written nothing) if the lease was taken over."""
        # Every commit of a job sends this statement: it is built without the ORM's compiler.
        if inserting:
            written = plain_sql.update_then_insert(self.model, self.fence, fields, inserting)
        else:
            written = bool(plain_sql.update(self.model, self.fence, fields))
        if not written:
            raise LeaseLost(f"{self.model.__name__} {self.pk}: lease of attempt {self.attempt} lost")

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """A transaction that commits only while this lease holds the row.

        Writes to other tables (a node run, an output) made inside it are fenced too: the job's row is
        locked first (`FOR UPDATE` on PostgreSQL, the database write lock on SQLite), so no takeover can
        slip in between the check and the commit. Raises LeaseLost, writing nothing, otherwise.
        """
        with transaction.atomic():
            rows = self.fenced()
            if connection.features.has_select_for_update:
                rows = rows.select_for_update()
            if not list(rows.values_list("pk", flat=True)[:1]):
                raise LeaseLost(f"{self.model.__name__} {self.pk}: lease of attempt {self.attempt} lost")
            yield

    def renew(self, seconds: float) -> bool:
        # Every running job's heartbeat: a plain statement too.
        renewed = timezone.now() + timedelta(seconds=seconds)
        return bool(plain_sql.update(self.model, self.fence, {"lease_until": renewed}))

    def release(self) -> None:
        """Give the job back at once (graceful shutdown): another worker may take it now."""
        self.fenced().update(lease_until=timezone.now() - timedelta(seconds=1))


def retry_locked[T](fn: Callable[[], T], retries: int = LOCKED_RETRIES) -> T:
    """Run `fn`, retrying SQLite's "database is locked" (several processes writing one file)."""
    for attempt in range(retries):
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == retries - 1:
                raise
            time.sleep(0.05 * (attempt + 1) + random.random() * 0.05)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Rows:
    """The rows of `model` a plain SQL condition `where` selects, for a claim sent on every request
    (compiling its filter cost more CPU than the database takes to run it, docs/performance.md).
    `where` names columns as `"table"."column"`; `params` are prepared as the ORM prepares them
    (`get_db_prep_value`)."""

    model: type[Leased]
    where: str
    params: Sequence[Any]


def claim_one(
    candidates: models.QuerySet[Any] | Rows,
    owner: str,
    lease_seconds: float,
    order_by: str = "created_at",
    **set_fields: Any,
) -> Lease | None:
    """Claim the oldest row of `candidates` for `owner`, setting `set_fields` on it."""
    return retry_locked(lambda: _claim_one(candidates, owner, lease_seconds, order_by, set_fields))


def _claim_one(
    candidates: models.QuerySet[Any] | Rows,
    owner: str,
    lease_seconds: float,
    order_by: str,
    set_fields: dict[str, Any],
) -> Lease | None:
    model = candidates.model
    now = timezone.now()
    with transaction.atomic():
        if isinstance(candidates, Rows):
            row = _first(candidates, order_by)
        else:
            rows = candidates.order_by(order_by)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            row = rows.values("pk", "attempt", "lease_owner", "lease_until").first()
        if row is None:
            return None
        attempt = row["attempt"] + 1
        # The attempt in the WHERE clause makes this a compare-and-set even without row locks.
        updated = plain_sql.update(
            model,
            {"pk": row["pk"], "attempt": row["attempt"]},
            {
                "attempt": attempt,
                "lease_owner": owner,
                "lease_until": now + timedelta(seconds=lease_seconds),
                **set_fields,
            },
        )
        if not updated:
            return None
    if row["lease_owner"]:
        log_takeover(now, model, row["pk"], row["lease_owner"], row["lease_until"], owner, attempt)
    return Lease(model=model, pk=row["pk"], attempt=attempt, owner=owner)


def log_takeover(
    now: Any, model: type[models.Model], pk: Any, was_owner: str, was_until: Any, owner: str, attempt: int
) -> None:
    """An operator's trace of a lost (or stopped) worker: whose job moved where, and when."""
    log.warning(
        "takeover at %s: %s %s from %s (lease ended %s) to %s, attempt %d",
        now.isoformat(),
        model.__name__,
        pk,
        was_owner,
        was_until.isoformat() if was_until else "never",
        owner,
        attempt,
    )


def _first(candidates: Rows, order_by: str) -> dict[str, Any] | None:
    """The first of `candidates` by `order_by` (a field, `-` for descending) no other claim holds,
    as `values("pk", "attempt", "lease_owner", "lease_until").first()` gives it from a queryset."""
    model = candidates.model
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    order = model._meta.get_field(order_by.removeprefix("-"))
    assert isinstance(order, models.Field)
    columns = ", ".join(f"{table}.{quote(str(field.column))}" for field in _claim_fields(model))
    statement = (
        f"SELECT {columns} FROM {table} WHERE {candidates.where} "
        f"ORDER BY {table}.{quote(str(order.column))} {'DESC' if order_by.startswith('-') else 'ASC'} LIMIT 1"
    )
    if connection.features.has_select_for_update_skip_locked:
        statement += " FOR UPDATE SKIP LOCKED"
    # raw(): its rows are converted as the ORM converts them (a UUID, an aware lease_until on SQLite).
    for found in model._default_manager.raw(statement, candidates.params):
        return {
            "pk": found.pk,
            "attempt": found.attempt,
            "lease_owner": found.lease_owner,
            "lease_until": found.lease_until,
        }
    return None


def _claim_fields(model: type[Leased]) -> list[models.Field[Any, Any]]:
    pk = model._meta.pk
    assert pk is not None
    fields = [model._meta.get_field(name) for name in ("attempt", "lease_owner", "lease_until")]
    return [pk, *(field for field in fields if isinstance(field, models.Field))]


def expired(now: Any | None = None) -> models.Q:
    """Rows whose lease has run out (their worker is gone or stuck)."""
    return models.Q(lease_until__lt=now or timezone.now())


def exhausted(max_attempts: int | None = None) -> models.Q:
    """Rows that have used every attempt they are allowed (by default their own `max_attempts`)."""
    return models.Q(attempt__gte=F("max_attempts") if max_attempts is None else max_attempts)


def give_up(stale: models.QuerySet[Any], **fields: Any) -> int:
    """Mark rows that will not be retried (e.g. `status="failed", error=reason`).

    Clearing the owner fences out the last worker too, should it still be alive somewhere.
    """
    return retry_locked(lambda: stale.update(lease_owner="", lease_until=None, **fields))
