"""Claiming rows with a lease, renewing it, and fencing writes by attempt.

The database is the queue: a row is claimable when it is waiting, or when it is running under a lease
that has expired (its worker died). Claiming bumps `attempt`; every later write of the job names that
attempt and owner, so a zombie worker whose lease was taken over writes nothing.

PostgreSQL claims with `FOR UPDATE SKIP LOCKED`. SQLite has no row locks, but our settings open every
transaction with `BEGIN IMMEDIATE`, so claims from several processes are serialised by the write lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from scenarios.models import Leased


class LeaseLost(Exception):
    """Another worker took the job over; this one must stop writing."""


@dataclass(frozen=True)
class Lease:
    model: type[Leased]
    pk: Any
    attempt: int
    owner: str

    def fenced(self) -> models.QuerySet[Any]:
        """The job's row, only while this lease still holds it."""
        return self.model._default_manager.filter(pk=self.pk, attempt=self.attempt, lease_owner=self.owner)

    def update(self, **fields: Any) -> None:
        """Write the job's row, or raise LeaseLost if the lease was taken over."""
        if not self.fenced().update(**fields):
            raise LeaseLost(f"{self.model.__name__} {self.pk}: lease of attempt {self.attempt} lost")

    def renew(self, seconds: float) -> bool:
        return bool(self.fenced().update(lease_until=timezone.now() + timedelta(seconds=seconds)))

    def release(self) -> None:
        """Give the job back at once (graceful shutdown): another worker may take it now."""
        self.fenced().update(lease_until=timezone.now() - timedelta(seconds=1))


def claim_one(
    candidates: models.QuerySet[Any],
    owner: str,
    lease_seconds: float,
    order_by: str = "created_at",
    **set_fields: Any,
) -> Lease | None:
    """Claim the oldest row of `candidates` for `owner`, setting `set_fields` on it."""
    model = candidates.model
    now = timezone.now()
    with transaction.atomic():
        rows = candidates.order_by(order_by)
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        row = rows.values("pk", "attempt").first()
        if row is None:
            return None
        attempt = row["attempt"] + 1
        updated = model._default_manager.filter(pk=row["pk"], attempt=row["attempt"]).update(
            attempt=attempt,
            lease_owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds),
            **set_fields,
        )
        if not updated:
            return None
    return Lease(model=model, pk=row["pk"], attempt=attempt, owner=owner)


def expired(now: Any | None = None) -> models.Q:
    """Rows whose lease has run out (their worker is gone or stuck)."""
    return models.Q(lease_until__lt=now or timezone.now())
