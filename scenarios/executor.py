"""The durable executor: claims jobs from the database and runs them, renewing their leases.

Job sources (scenario executions, gateway runs) register here. A channel-layer message or an in-process
call only *wakes* the executor; it also polls every EXECUTOR_POLL_SECONDS, so a lost wake-up costs
time, never a job. In the embedded default the executor lives inside the web process; with Redis it
runs in `manage.py runworker` processes, as many as wanted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from scenarios.leases import Lease

log = logging.getLogger(__name__)

WAKE_CHANNEL = "scenery-executor"


@dataclass(frozen=True)
class JobSource:
    """Where jobs come from and how one is run.

    `claim(owner, lease_seconds)` runs in a thread and returns a Lease or None; it must also fail the
    rows whose attempts are exhausted. `run(lease)` does the job, writing only through the lease.
    `sweep()` is periodic housekeeping (e.g. expiring runs that wait too long), run in a thread.
    """

    name: str
    claim: Callable[[str, float], Lease | None]
    run: Callable[[Lease], Awaitable[None]]
    sweep: Callable[[], None] | None = None


SOURCES: dict[str, JobSource] = {}


def register(source: JobSource) -> None:
    SOURCES[source.name] = source


@dataclass
class Executor:
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    concurrency: int = field(default_factory=lambda: settings.EXECUTOR_CONCURRENCY)
    lease_seconds: float = field(default_factory=lambda: settings.EXECUTOR_LEASE_SECONDS)
    poll_seconds: float = field(default_factory=lambda: settings.EXECUTOR_POLL_SECONDS)
    _running: dict[asyncio.Task[None], Lease] = field(default_factory=dict)
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start serving on the running event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            self._stopping = False
            self._task = self._loop.create_task(self.serve(), name=f"executor {self.owner}")

    def wake(self) -> None:
        """Ask for a claim round now. Safe from any thread."""
        if self._loop is None or self._wake is None or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let running jobs finish within `grace`, then release the rest."""
        self._stopping = True
        self.wake()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        for task, lease in list(self._running.items()):
            task.cancel()
            await sync_to_async(lease.release)()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the loop ------------------------------------------------------------------------------
    async def serve(self) -> None:
        assert self._wake is not None
        log.info("executor %s serving %s", self.owner, ", ".join(SOURCES) or "nothing")
        sweep_every = max(1, int(10 / max(self.poll_seconds, 0.1)))
        rounds = 0
        while not self._stopping:
            self._wake.clear()
            try:
                await self.claim_round()
                if rounds % sweep_every == 0:
                    await self.sweep()
            except Exception:  # the loop must survive a database hiccup; it retries next round
                log.exception("executor %s: claim round failed", self.owner)
                await sync_to_async(close_old_connections)()
            rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def claim_round(self) -> int:
        claimed = 0
        progress = True
        while progress and not self._stopping and len(self._running) < self.concurrency:
            progress = False
            for source in list(SOURCES.values()):
                if len(self._running) >= self.concurrency:
                    break
                lease = await sync_to_async(source.claim)(self.owner, self.lease_seconds)
                if lease is not None:
                    self._launch(source, lease)
                    claimed += 1
                    progress = True
        return claimed

    async def sweep(self) -> None:
        for source in list(SOURCES.values()):
            if source.sweep is not None:
                await sync_to_async(source.sweep)()

    def _launch(self, source: JobSource, lease: Lease) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(source, lease), name=f"{source.name} {lease.pk}"
        )
        self._running[task] = lease
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self.wake()  # a slot is free

    async def _run(self, source: JobSource, lease: Lease) -> None:
        job = asyncio.current_task()
        assert job is not None
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(lease, job))
        try:
            await source.run(lease)
        except asyncio.CancelledError:
            log.warning("%s %s (attempt %s) stopped", source.name, lease.pk, lease.attempt)
        except Exception:
            log.exception("%s %s (attempt %s) crashed", source.name, lease.pk, lease.attempt)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, lease: Lease, job: asyncio.Task[None]) -> None:
        """Renew the lease while the job runs; a lost lease stops the job (it was taken over)."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                held = await sync_to_async(lease.renew)(self.lease_seconds)
            except Exception:
                log.exception("heartbeat of %s failed; will retry", lease.pk)
                continue
            if not held:
                log.warning("lease of %s attempt %s was taken over; stopping", lease.pk, lease.attempt)
                job.cancel()
                return


_local: Executor | None = None


def local_executor() -> Executor:
    """The executor of this process (created on first use)."""
    global _local
    if _local is None:
        _local = Executor()
    return _local


def ensure_started() -> None:
    """Start this process's executor on the running loop when this process executes jobs."""
    if settings.EXECUTOR == "inprocess":
        local_executor().start()


def notify() -> None:
    """Wake an executor after a job row was committed. Losing this message only costs latency."""
    if settings.EXECUTOR == "inprocess":
        local_executor().wake()
        return
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.send)(WAKE_CHANNEL, {"type": "executor.wake"})
    else:
        asyncio.get_running_loop().create_task(layer.send(WAKE_CHANNEL, {"type": "executor.wake"}))
