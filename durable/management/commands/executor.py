"""`manage.py executor`: a durable executor worker, a Channels worker on the channel layer.

It claims jobs from every registered job source (or those in EXECUTOR_SOURCES), renews their leases,
polls the database every EXECUTOR_POLL_SECONDS, and takes its wake-ups from the channel layer's
`durable.executor.wake_channel()` through Channels' `Worker` and a consumer (durable/worker.py); node
output goes back over the layer as live events. Start as many as you like, on as many machines as you
like; they share the work through the database.

SIGTERM or SIGINT: stop claiming, let running jobs finish for EXECUTOR_GRACE_SECONDS, release the
rest to other workers, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Any

import uvloop
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers, get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from durable import executor, worker

log = logging.getLogger("durable.worker")


class Command(BaseCommand):
    help = "Run a durable executor worker: claim executions from the database and run them."
    # A worker serves no URLs; the web processes run the checks. Starting fast matters on restarts.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=None, help="jobs run at once")
        parser.add_argument("--grace", type=float, default=None, help="seconds to finish jobs on SIGTERM")

    def handle(self, *args: Any, **options: Any) -> None:
        grace = options["grace"] if options["grace"] is not None else settings.EXECUTOR_GRACE_SECONDS
        if get_channel_layer() is None:
            raise CommandError("No channel layer is configured (CHANNEL_LAYERS): set REDIS_URL.")
        runner = executor.local_executor()  # so an in-process notify() wakes it too
        if options["concurrency"]:
            runner.concurrency = options["concurrency"]
        asyncio.run(serve(runner, grace), loop_factory=uvloop.new_event_loop)
        connections.close_all()


async def serve(runner: executor.Executor, grace: float) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # What is loaded by now lives as long as the process: out of the cyclic collector's full scans
    # (as the web process does at lifespan startup, config/asgi.py).
    gc.collect()
    gc.freeze()
    executor.ensure_started()  # this loop serves: sync code's sends come here
    runner.start()
    # The wake-up listener gets a layer instance of its own: it may replace it after a failure.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    listener = loop.create_task(worker.listen(layer, runner), name="wake-ups")
    recycler = loop.create_task(worker.recycle_connections(), name="database connections")
    sources = [s.name for s in executor.served_sources()]
    log.info(
        "worker %s ready: sources %s, concurrency %d, lease %ss, poll %ss",
        runner.owner,
        ", ".join(sources) or "none",
        runner.concurrency,
        runner.lease_seconds,
        runner.poll_seconds,
    )
    await stopping.wait()
    log.info("worker %s stopping: no new claims; %d job(s) running", runner.owner, runner.running_jobs)
    listener.cancel()
    recycler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    with contextlib.suppress(asyncio.CancelledError):
        await recycler
    await runner.stop(grace)
    await executor.close_connections()
    log.info("worker %s stopped", runner.owner)
