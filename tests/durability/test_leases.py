"""The lease primitives in one process: fencing, giving up, retrying a locked SQLite database, and
wake-ups that never fail the caller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from durable import executor, leases
from scenarios.models import Execution, NodeRun

pytestmark = pytest.mark.django_db


def claim(owner: str) -> leases.Lease:
    lease = leases.claim_one(Execution.objects.filter(status="queued"), owner, 30, status="running")
    assert lease is not None
    return lease


def expire(job: Execution) -> None:
    Execution.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_a_takeover_bumps_the_attempt_and_fences_out_the_first_owner(make_job):
    job = make_job()
    first = claim("first")
    expire(job)
    second = leases.claim_one(Execution.objects.filter(leases.expired()), "second", 30)
    assert second is not None and (first.attempt, second.attempt) == (1, 2)

    with pytest.raises(leases.LeaseLost):
        first.update(error="the zombie writes")
    assert not first.renew(30)
    second.update(error="the owner writes")
    job.refresh_from_db()
    assert (job.error, job.lease_owner) == ("the owner writes", "second")


def test_a_fenced_transaction_writes_nothing_once_the_lease_is_lost(make_job):
    job = make_job()
    lease = claim("first")
    with lease.atomic():
        NodeRun.objects.create(execution=job, node_number=1, node_kind="x", attempt=1)
    expire(job)
    assert leases.claim_one(Execution.objects.filter(leases.expired()), "second", 30) is not None

    with pytest.raises(leases.LeaseLost), lease.atomic():
        NodeRun.objects.create(execution=job, node_number=2, node_kind="x", attempt=1)
    assert list(NodeRun.objects.values_list("node_number", flat=True)) == [1]


def test_giving_up_an_exhausted_job_fences_out_its_last_worker(make_job):
    job = make_job(max_attempts=1)
    lease = claim("only")
    expire(job)
    stale = Execution.objects.filter(leases.expired(), leases.exhausted())
    assert leases.give_up(stale, status="failed", error="gave up") == 1
    assert (
        leases.claim_one(Execution.objects.filter(leases.expired()).exclude(leases.exhausted()), "x", 30)
        is None
    )

    with pytest.raises(leases.LeaseLost):
        lease.update(status="succeeded")
    job.refresh_from_db()
    assert (job.status, job.error, job.lease_owner) == ("failed", "gave up", "")


def test_a_locked_database_is_retried_and_other_errors_are_not():
    calls = []

    def locked_twice() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "claimed"

    assert leases.retry_locked(locked_twice) == "claimed" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise OperationalError("no such table: x")

    calls.clear()
    with pytest.raises(OperationalError, match="no such table"):
        leases.retry_locked(broken)
    assert len(calls) == 1


def test_a_wake_up_never_fails_the_request_when_redis_is_unreachable(settings, caplog):
    settings.EXECUTOR = "worker"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},
        }
    }
    executor.notify()
    assert "workers will find the job by polling" in caplog.text


@pytest.mark.parametrize(
    ("redis_url", "expected"), [("", "inprocess"), ("redis://127.0.0.1:6379/0", "worker")]
)
def test_with_redis_the_web_processes_leave_executions_to_the_workers(redis_url, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("EXECUTOR", "DJANGO_SETTINGS_MODULE")}
    env.update(REDIS_URL=redis_url, CREDENTIAL_KEYS="nKMEb8EqNDPVqjgPPhtjhQEmzSdKXjQhcBBKq5NVsDg=")
    found = subprocess.run(
        [sys.executable, "-c", "import config.settings as s; print(s.EXECUTOR)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == expected


def test_sites_on_different_redis_databases_get_channel_names_of_their_own():
    """Redis Pub/Sub channels are server-wide: without a prefix of its own (on its groups, its
    channels and its wake-up channel), a site on database 1 would hear the wake-ups of a site on
    database 2 of the same server."""
    import os
    import subprocess
    import sys

    def prefix(redis_url: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(REDIS_URL=redis_url, CREDENTIAL_KEYS="nKMEb8EqNDPVqjgPPhtjhQEmzSdKXjQhcBBKq5NVsDg=")
        code = (
            "import config.settings as s;"
            "print(s.CHANNEL_LAYERS['default']['CONFIG']['prefix'], s.EXECUTOR_WAKE_CHANNEL)"
        )
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    one, two = prefix("redis://127.0.0.1:6379/1"), prefix("redis://127.0.0.1:6379/2")
    assert one != two
    assert one.split()[1] != two.split()[1]  # the wake-up channels too
    assert prefix("redis://127.0.0.1:6379/1") == one
    assert prefix("redis://127.0.0.1:6379") == prefix("redis://127.0.0.1:6379/0")
