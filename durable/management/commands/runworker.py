"""`manage.py runworker`: a durable executor process (replaces Channels' stock command).

It claims jobs from every registered job source (or those in EXECUTOR_SOURCES), renews their leases,
polls the database every EXECUTOR_POLL_SECONDS and wakes at once on a message to the channel layer's
`durable.executor.WAKE_CHANNEL`. Start as many as you like, on as many machines as you like; they
share the work through the database.

SIGTERM or SIGINT: stop claiming, let running jobs finish for EXECUTOR_GRACE_SECONDS, release the
rest to other workers, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from durable import executor

log = logging.getLogger("scenarios.worker")


class Command(BaseCommand):
    help = "Run a durable executor worker: claim executions from the database and run them."
    # A worker serves no URLs; the web processes run the checks. Starting fast matters on restarts.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--concurrency", type=int, default=None, help="jobs run at once")
        parser.add_argument("--grace", type=float, default=None, help="seconds to finish jobs on SIGTERM")
        parser.add_argument("channels", nargs="*", help="ignored (accepted for Channels compatibility)")

    def handle(self, *args: Any, **options: Any) -> None:
        grace = options["grace"] if options["grace"] is not None else settings.EXECUTOR_GRACE_SECONDS
        worker = executor.local_executor()  # so an in-process notify() wakes it too
        if options["concurrency"]:
            worker.concurrency = options["concurrency"]
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
            runner = asyncio.Runner()
        with runner:
            runner.run(serve(worker, grace))
        connections.close_all()


async def serve(worker: executor.Executor, grace: float) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    worker.start()
    listener = loop.create_task(executor.listen_for_wakeups(worker, stopping), name="wake-ups")
    sources = [s.name for s in executor.served_sources()]
    log.info(
        "worker %s ready: sources %s, concurrency %d, lease %ss, poll %ss",
        worker.owner,
        ", ".join(sources) or "none",
        worker.concurrency,
        worker.lease_seconds,
        worker.poll_seconds,
    )
    await stopping.wait()
    log.info("worker %s stopping: no new claims; %d job(s) running", worker.owner, worker.running_jobs)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    await worker.stop(grace)
    await executor.close_connections()
    log.info("worker %s stopped", worker.owner)
