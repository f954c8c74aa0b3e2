"""Workers woken over Redis (channels_redis): wake-ups are only hints. Meaningful only when the suite
runs with REDIS_URL; the embedded default has no channel layer that crosses processes."""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from durable import executor
from scenarios.models import Execution
from tests.durability.conftest import USES_REDIS
from tests.durability.lossy import HalfDeafRedisChannelLayer
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not USES_REDIS, reason="needs REDIS_URL: the in-memory channel layer does not cross processes"
    ),
]

SLOW_POLL = 3600  # beyond any wait's hang guard: a job that runs at all was started by a wake-up


def use_layer(settings, url: str, backend: str = "") -> None:
    settings.EXECUTOR = "worker"
    default: dict[str, Any] = django_settings.CHANNEL_LAYERS["default"]
    backend = backend or default["BACKEND"]
    config = copy.deepcopy(default["CONFIG"])
    config["hosts"][0]["address"] = url
    config["prefix"] = f"asgi-test-{os.getpid()}-"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": backend, "CONFIG": config}}


def done(jobs: list[Execution]) -> int:
    return Execution.objects.filter(pk__in=[j.pk for j in jobs], status="succeeded").count()


def test_a_wake_up_over_redis_starts_a_job_long_before_the_next_poll(workers, make_job, settings):
    use_layer(settings, settings.REDIS_URL)
    workers.start(EXECUTOR_POLL_SECONDS=SLOW_POLL)
    time.sleep(0.5)  # the first claim round (at start) is over
    job = make_job()
    executor.notify()
    wait_until(lambda: done([job]), "the woken worker to run the job")


def test_a_channel_layer_dropping_half_its_messages_still_completes_every_job(workers, make_job, settings):
    use_layer(settings, settings.REDIS_URL, "tests.durability.lossy.HalfDeafRedisChannelLayer")
    HalfDeafRedisChannelLayer.sent = HalfDeafRedisChannelLayer.dropped = 0
    workers.start(EXECUTOR_POLL_SECONDS=1)
    workers.start(EXECUTOR_POLL_SECONDS=1)
    jobs = []
    for _ in range(20):
        jobs.append(make_job(step_seconds=0.05))
        executor.notify()

    wait_until(lambda: done(jobs) == len(jobs), "every job to finish")
    # Every other wake-up message was lost (wake-ups asked for in one turn of a loop share a message,
    # so there may be fewer messages than calls).
    sent, dropped = HalfDeafRedisChannelLayer.sent, HalfDeafRedisChannelLayer.dropped
    assert dropped >= 1 and sent - dropped in (0, 1)


@pytest.fixture
def private_redis(tmp_path: Path):
    """A Redis server of this test's own, so restarting it disturbs nobody else."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", str(tmp_path)]

    class Server:
        # The site's database number: a worker's wake-up channel is named after it, as this
        # process's is (settings.EXECUTOR_WAKE_CHANNEL).
        url = f"redis://127.0.0.1:{port}{urlsplit(django_settings.REDIS_URL).path or '/0'}"
        proc: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

            def answers() -> bool:
                with socket.socket() as probe:
                    return probe.connect_ex(("127.0.0.1", port)) == 0

            wait_until(answers, "redis to start")

        def stop(self) -> None:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)

    server = Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_redis_restart_delays_jobs_but_loses_none(workers, make_job, settings, private_redis):
    use_layer(settings, private_redis.url)
    # No poll to fall back on: what runs after the restart was started by a wake-up the worker,
    # subscribed before Redis went away, heard on its connection made again.
    worker = workers.start(REDIS_URL=private_redis.url, EXECUTOR_POLL_SECONDS=SLOW_POLL)
    time.sleep(0.5)  # the first claim round (at start) is over

    private_redis.stop()
    during = [make_job() for _ in range(3)]
    executor.notify()  # Redis is down: the wake-up is lost, and the caller must not notice

    private_redis.start()

    def woken() -> bool:
        executor.notify()  # until the worker, reconnected, hears one
        return done(during) == 3

    wait_until(woken, "a wake-up after the restart to run the jobs queued while Redis was down", every=0.2)
    after = [make_job() for _ in range(3)]
    executor.notify()
    wait_until(lambda: done(after) == 3, "the jobs after the restart")
    assert worker.alive()
    assert Execution.objects.exclude(status="succeeded").count() == 0


def test_a_worker_started_while_redis_is_down_hears_wake_ups_once_it_is_up(
    workers, make_job, settings, private_redis
):
    use_layer(settings, private_redis.url)
    private_redis.stop()
    worker = workers.start(REDIS_URL=private_redis.url, EXECUTOR_POLL_SECONDS=SLOW_POLL)
    wait_until(lambda: "listening for wake-ups failed" in worker.output(), "the first subscription to fail")
    private_redis.start()
    job = make_job()

    def woken() -> bool:
        executor.notify()
        return done([job]) == 1

    wait_until(woken, "a wake-up to reach the worker once Redis is up", every=0.2)
    assert "wake-ups heard again" in worker.output()


def test_an_idle_receive_over_redis_waits_quietly_past_the_servers_block_time():
    """An idle receive waits as long as its caller wants: no "Timeout reading" from the Redis client
    after its default 5 s, which would fail every idle consumer (a WebSocket, a wake-up listener)."""
    layer = get_channel_layer()

    async def idle() -> None:
        await asyncio.wait_for(layer.receive(f"idle-{os.getpid()}"), timeout=7)

    with pytest.raises(TimeoutError):  # ours, after 7 s: not redis' "Timeout reading"
        asyncio.run(idle())
