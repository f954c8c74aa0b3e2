"""Durable execution with real `manage.py executor` processes, on whichever database the suite runs
(SQLite by default, PostgreSQL with DATABASE_URL): kill -9, zombies, SIGTERM, exhausted attempts,
concurrent claims and lost wake-ups."""

from __future__ import annotations

import signal
import time

import pytest

from scenarios.models import Execution, NodeRun
from tests.durability.conftest import USES_POSTGRES
from tests.durability.jobs import GAVE_UP
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def runs_of(job: Execution) -> list[tuple[int, int, str, int]]:
    """(step, attempt, status, pid) of every step run of a job, in order."""
    return [
        (r.node_number, r.attempt, r.status, r.params["pid"])
        for r in NodeRun.objects.filter(execution=job).order_by("node_number", "attempt")
    ]


def status_of(job: Execution) -> str:
    job.refresh_from_db()
    return job.status


def test_a_worker_killed_mid_step_is_replaced_and_completed_steps_are_not_run_again(workers, make_job):
    first = workers.start(EXECUTOR_LEASE_SECONDS=2)
    job = make_job(steps=4, step_seconds=0.6)
    # Step 1 is in flight on the first worker: step 0 is committed, step 1 is not.
    wait_until(lambda: NodeRun.objects.filter(execution=job, node_number=1).exists(), "step 1 to start")
    first.signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    second = workers.start(EXECUTOR_LEASE_SECONDS=2)

    wait_until(lambda: status_of(job) == Execution.Status.SUCCEEDED, "the second worker to finish")
    runs = runs_of(job)
    assert runs == [
        (0, 1, "succeeded", first.pid),
        (1, 1, "failed", first.pid),  # in flight when killed: marked interrupted by the next attempt
        (1, 2, "succeeded", second.pid),
        (2, 2, "succeeded", second.pid),
        (3, 2, "succeeded", second.pid),
    ]
    assert job.attempt == 2 and job.response == {"pid": second.pid, "attempt": 2}
    interrupted = NodeRun.objects.get(execution=job, node_number=1, attempt=1)
    assert "interrupted" in (interrupted.error or {})["message"]


def test_two_workers_never_claim_the_same_job(workers, make_job):
    for _ in range(3):
        workers.start(EXECUTOR_CONCURRENCY=4)
    jobs = [make_job(steps=1, step_seconds=0.2) for _ in range(40)]

    wait_until(
        lambda: Execution.objects.filter(status=Execution.Status.SUCCEEDED).count() == len(jobs),
        "every job to finish",
    )
    assert set(Execution.objects.values_list("attempt", flat=True)) == {1}
    assert NodeRun.objects.count() == len(jobs)
    pids = set(NodeRun.objects.values_list("params__pid", flat=True))
    assert len(pids) >= 2, "the work was not shared"


def test_a_zombie_worker_cannot_write_after_its_job_was_taken_over(workers, make_job):
    zombie = workers.start(EXECUTOR_LEASE_SECONDS=1.5)
    job = make_job(steps=3, step_seconds=1.0)
    wait_until(lambda: NodeRun.objects.filter(execution=job, node_number=1).exists(), "step 1 to start")
    zombie.signal(signal.SIGSTOP)  # frozen: a long GC pause, a partitioned host
    try:
        rescuer = workers.start(EXECUTOR_LEASE_SECONDS=1.5)
        wait_until(lambda: status_of(job) == Execution.Status.SUCCEEDED, "the rescuer to finish")
    finally:
        zombie.signal(signal.SIGCONT)
    before = runs_of(job)
    # The zombie wakes up mid-step and tries to carry on; give it time to try.
    wait_until(lambda: "lost" in zombie.output() or "taken over" in zombie.output(), "the zombie to notice")
    time.sleep(1.0)

    assert runs_of(job) == before
    assert [r for r in before if r[3] == zombie.pid] == [
        (0, 1, "succeeded", zombie.pid),
        (1, 1, "failed", zombie.pid),
    ]
    job.refresh_from_db()
    assert (job.status, job.attempt, job.response["pid"]) == ("succeeded", 2, rescuer.pid)


def test_a_job_that_kills_every_worker_fails_visibly_once_its_attempts_are_used(workers, make_job):
    job = make_job(steps=2, max_attempts=2, kill_at=0)
    for attempt in (1, 2):
        worker = workers.start(ready=False, EXECUTOR_LEASE_SECONDS=1)
        assert worker.proc.wait(timeout=60) == -signal.SIGKILL
        job.refresh_from_db()
        assert (job.status, job.attempt) == ("running", attempt)
    workers.start(EXECUTOR_LEASE_SECONDS=1)

    wait_until(lambda: status_of(job) == Execution.Status.FAILED, "the job to be failed")
    assert job.error == GAVE_UP
    assert job.attempt == 2 and job.finished_at is not None and job.lease_owner == ""
    assert [r[:2] for r in runs_of(job)] == [(0, 1), (0, 2)]


def test_sigterm_releases_a_long_job_to_another_worker_at_once(workers, make_job):
    # An hour's lease, far beyond any wait here: only the release lets the second worker take it.
    leaving = workers.start(EXECUTOR_LEASE_SECONDS=3600, EXECUTOR_GRACE_SECONDS=0.5)
    job = make_job(steps=3, step_seconds=1.5)
    wait_until(lambda: NodeRun.objects.filter(execution=job).exists(), "the job to start")
    leaving.signal(signal.SIGTERM)
    assert leaving.proc.wait(timeout=15) == 0
    assert "released" in leaving.output()
    job.refresh_from_db()
    assert job.status == "running" and job.lease_until is not None

    staying = workers.start(EXECUTOR_LEASE_SECONDS=3600)
    wait_until(lambda: status_of(job) == Execution.Status.SUCCEEDED, "the job to finish elsewhere")
    assert job.response["pid"] == staying.pid


def test_sigterm_lets_a_short_job_finish_within_the_grace_period(workers, make_job):
    leaving = workers.start(EXECUTOR_GRACE_SECONDS=20)
    job = make_job(steps=1, step_seconds=2.0)
    wait_until(lambda: NodeRun.objects.filter(execution=job).exists(), "the job to start")
    leaving.signal(signal.SIGTERM)
    # The signal is handled when the worker gets to it: only once it says it has stopped claiming
    # (and waits for its job) is a new job one that arrives while it is stopping.
    wait_until(
        lambda: "waiting up to" in leaving.output() or not leaving.alive(), "the worker to stop claiming"
    )
    extra = make_job(steps=1)  # arrives while the worker is stopping: it must not be claimed

    assert leaving.proc.wait(timeout=30) == 0
    job.refresh_from_db()
    assert (job.status, job.response["pid"]) == ("succeeded", leaving.pid)
    assert status_of(extra) == Execution.Status.QUEUED


def test_a_worker_that_never_hears_a_wake_up_still_runs_every_job_by_polling(workers, make_job):
    workers.start(EXECUTOR_POLL_SECONDS=0.3)
    jobs = [make_job() for _ in range(5)]  # created behind its back: nobody sends a wake-up

    wait_until(
        lambda: Execution.objects.filter(pk__in=[j.pk for j in jobs], status="succeeded").count() == 5,
        "polling to find every job",
    )


@pytest.mark.skipif(not USES_POSTGRES, reason="cuts PostgreSQL connections; SQLite has none to cut")
def test_a_database_outage_mid_job_delays_it_but_leaves_nothing_stuck_running(workers, make_job):
    import psycopg
    from django.db import connection

    worker = workers.start(EXECUTOR_LEASE_SECONDS=3, EXECUTOR_POLL_SECONDS=0.3)
    job = make_job(steps=6, step_seconds=0.4)
    wait_until(lambda: NodeRun.objects.filter(execution=job, node_number=1).exists(), "step 1 to start")
    db = connection.settings_dict
    admin = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    admin.autocommit = True
    with admin:
        # What a PostgreSQL restart looks like to a worker: its connections die, new ones are
        # refused for a while, then the server is back.
        admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS false')
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = 'scenery-test-worker'",
                [db["NAME"]],
            )
            time.sleep(3)
        finally:
            admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS true')
    assert "failed" in worker.output()

    wait_until(lambda: status_of(job) == Execution.Status.SUCCEEDED, "the job to finish after the outage")
    later = make_job()
    wait_until(lambda: status_of(later) == Execution.Status.SUCCEEDED, "the worker to go on claiming")
    assert worker.alive()
    assert not NodeRun.objects.filter(status="running").exists()
    assert job.attempt <= job.max_attempts
    # Every step succeeded once; a step cut in flight shows as interrupted, never as running.
    assert sorted(r[0] for r in runs_of(job) if r[2] == "succeeded") == [0, 1, 2, 3, 4, 5]
