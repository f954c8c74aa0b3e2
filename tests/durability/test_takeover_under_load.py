"""A dead worker's jobs are taken over while the system stays busy (issue 16, item 9).

A worker that is killed and not replaced leaves its job leased until the lease runs out. Only a
worker's whole claim round takes over expired leases; a wake-up naming a new job claims just that
job. So a surviving worker that keeps getting wake-ups must still run its whole round every poll
interval, or the dead worker's job waits for a lull. Real worker processes, woken over Redis.
"""

from __future__ import annotations

import signal
import time

import pytest

from durable import executor
from scenarios.models import Execution
from tests.durability.conftest import USES_REDIS
from tests.durability.test_redis_workers import use_layer
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not USES_REDIS, reason="needs REDIS_URL: wake-ups must reach the surviving worker from this process"
    ),
]

LEASE = 2
POLL = 1
LOAD_INTERVAL = 0.1  # a named wake-up ten times per poll interval
GIVE_UP = 90  # only guards against hanging: the takeover is waited for, not timed


def test_a_killed_worker_s_job_is_taken_over_while_wake_ups_keep_arriving(workers, make_job, settings):
    use_layer(settings, settings.REDIS_URL)
    timing = {"EXECUTOR_LEASE_SECONDS": LEASE, "EXECUTOR_POLL_SECONDS": POLL}
    victim_worker = workers.start(**timing)
    stranded = make_job(steps=1, step_seconds=3600)
    executor.notify()
    wait_until(
        lambda: stranded.node_runs.filter(status="running").exists(), "the first worker to start the job"
    )
    stranded.refresh_from_db()
    lost_owner = stranded.lease_owner
    assert str(victim_worker.pid) in lost_owner and stranded.attempt == 1

    survivor = workers.start(**timing)
    victim_worker.signal(signal.SIGKILL)
    victim_worker.proc.wait(timeout=10)
    killed_at = time.monotonic()

    load: list[Execution] = []
    while True:
        stranded.refresh_from_db()
        if stranded.attempt == 2:
            break
        assert time.monotonic() - killed_at < GIVE_UP, "the stranded job was never taken over under load"
        job = make_job()
        load.append(job)
        executor.notify(executor_source(), job.pk)  # names the new job: the survivor claims just that one
        time.sleep(LOAD_INTERVAL)

    # The survivor took it over, on attempt 2, while wake-ups naming new jobs kept arriving (the
    # loop above sends them until it sees the takeover; without a whole round every poll interval
    # it would send them until it gives up).
    assert stranded.lease_owner != lost_owner and str(survivor.pid) in stranded.lease_owner
    assert load
    wait_until(lambda: _succeeded(load) == len(load), "every job of the load to finish")

    log = survivor.output()
    takeover = next(line for line in log.splitlines() if "takeover at " in line)
    assert f"Execution {stranded.pk} from {lost_owner}" in takeover
    assert takeover.endswith("attempt 2") and str(survivor.pid) in takeover
    assert survivor.alive()


def executor_source() -> str:
    from tests.durability import jobs

    return jobs.SOURCE


def _succeeded(jobs: list[Execution]) -> int:
    return Execution.objects.filter(pk__in=[j.pk for j in jobs], status="succeeded").count()
