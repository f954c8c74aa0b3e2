"""The hot writes' plain UPDATE stores exactly what the ORM's `update()` stores (JSON, NULL, dates,
UUIDs), changes only the rows its filter names, and counts them (a lease's fence depends on it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from durable import plain_update
from scenarios.models import Execution, NodeRun

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
    assert plain_update.update(NodeRun, {"pk": by_plain.pk}, VALUES) == 1
    fields = ["status", "params", "output", "error", "ports", "finished_at"]
    assert NodeRun.objects.values(*fields).get(pk=by_plain.pk) == NodeRun.objects.values(*fields).get(
        pk=by_orm.pk
    )


def test_a_plain_update_changes_only_the_rows_its_filter_names_and_counts_them(make_job):
    job, other = make_job(), make_job()
    Execution.objects.filter(pk__in=[job.pk, other.pk]).update(attempt=1, lease_owner="me")
    renewed = timezone.now() + timedelta(seconds=30)
    assert (
        plain_update.update(
            Execution, {"pk": job.pk, "attempt": 2, "lease_owner": "me"}, {"lease_until": renewed}
        )
        == 0
    )
    assert (
        plain_update.update(
            Execution, {"pk": job.pk, "attempt": 1, "lease_owner": "me"}, {"lease_until": renewed}
        )
        == 1
    )
    assert Execution.objects.get(pk=job.pk).lease_until == renewed
    assert Execution.objects.get(pk=other.pk).lease_until is None


def test_an_expression_is_left_to_the_orm(make_job):
    job = make_job()
    assert plain_update.update(Execution, {"pk": job.pk}, {"attempt": F("attempt") + 3}) == 1
    assert Execution.objects.get(pk=job.pk).attempt == 3
