"""The executor's Channels side: a consumer that turns wake-up messages into claims, and the Channels
`Worker` that feeds it from the channel layer (used by `manage.py executor`).

A wake-up names jobs just queued (`{"type": "executor.wake", "source", "pks"}`) or asks for a whole
claim round; it only says "look now". Losing one costs latency, never a job: the executor polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import BaseChannelLayer, channel_layers
from channels.routing import ChannelNameRouter
from channels.worker import Worker
from django.db import close_old_connections

from durable import executor

log = logging.getLogger(__name__)

# Reconnecting to Redis is cheap; come back quickly so wake-ups work again soon after a restart.
MAX_BACKOFF_SECONDS = 2.0


@dataclass
class Listening:
    """Whether listening failed since the last wake-up heard (then the next one is logged)."""

    failed: bool = False


class WakeUpConsumer:
    """The ASGI application Channels' `Worker` runs for `executor.wake_channel()`: each `executor.wake`
    message wakes the executor.

    A plain ASGI application, not an `AsyncConsumer`: a consumer closes the database connections
    before every message (as a request would), and each close makes the next statement check the
    connection first, a `SELECT 1` round trip per wake-up in every worker. This one touches no
    database; the worker recycles its connection on its own schedule (`recycle_connections`).
    """

    def __init__(self, runner: executor.Executor, listening: Listening) -> None:
        self.runner = runner
        self.listening = listening

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message.get("type") == "executor.wake":
                self.wake(message)

    def wake(self, message: dict[str, Any]) -> None:
        if self.listening.failed:
            self.listening.failed = False
            log.info("wake-ups heard again after the channel layer failed")
        source, pks = message.get("source"), message.get("pks")
        if not isinstance(source, str) or not isinstance(pks, list) or not pks:
            self.runner.wake()
            return
        for pk in pks:
            self.runner.wake(source, pk if isinstance(pk, str) else None)


# As often as a worker closes a connection that broke or outlived CONN_MAX_AGE.
RECYCLE_SECONDS = 10.0


async def recycle_connections(every: float = RECYCLE_SECONDS) -> None:
    """Close the executor's database connection now and then when it broke or is older than
    CONN_MAX_AGE, as Django does between requests (the next statement opens a new one)."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):
            await executor.db(close_old_connections)


def application(runner: executor.Executor, listening: Listening | None = None) -> ChannelNameRouter:
    return ChannelNameRouter({executor.wake_channel(): WakeUpConsumer(runner, listening or Listening())})


async def listen(layer: BaseChannelLayer, runner: executor.Executor) -> None:
    """Run a Channels worker that wakes `runner` from the wake-up channel, until cancelled. Survives the
    channel layer going away (Redis restarted): the worker's listener then fails, and a new one starts
    after a backoff on a layer of its own made afresh (channels_redis's Pub/Sub layer does not
    subscribe again a channel whose first subscription failed), while the executor's polling covers
    the gap."""
    listening = Listening()
    checker: asyncio.Task[None] | None = None
    worker: Worker | None = None
    failures = 0
    try:
        while True:
            worker = Worker(
                application=application(runner, listening),
                channels=[executor.wake_channel()],
                channel_layer=layer,
            )
            checker = asyncio.get_running_loop().create_task(
                worker.application_checker(), name="wake-up consumers"
            )
            try:
                await worker.handle()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                listening.failed = True
                if failures == 1:
                    log.warning("listening for wake-ups failed (%s); polling meanwhile, reconnecting", exc)
                await _stop(worker, checker)
                worker = checker = None
                with contextlib.suppress(Exception):
                    await layer.flush()  # this listener's connections: the layer is its own
                layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
                await asyncio.sleep(min(0.25 * 2 ** min(failures, 5), MAX_BACKOFF_SECONDS))
            else:
                failures = 0
    finally:
        if worker is not None and checker is not None:
            await _stop(worker, checker)


async def _stop(worker: Worker, checker: asyncio.Task[None]) -> None:
    checker.cancel()
    for details in list(worker.application_instances.values()):
        details["future"].cancel()
