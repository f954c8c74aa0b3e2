"""The durable executor: claims jobs from the database and runs them, renewing their leases.

Job sources (scenario executions, gateway runs) register here. A channel-layer message or an in-process
call only *wakes* the executor; it also polls every EXECUTOR_POLL_SECONDS, so a lost wake-up costs
time, never a job. In the embedded default the executor lives inside the web process; with Redis it
runs in `manage.py executor` processes (durable/worker.py), as many as wanted, on any machine.

Every database call goes through `db`, which throws away a connection that failed (PostgreSQL
restarted, network cut) so the next call reconnects; the claim loop backs off and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone

from durable.leases import Lease
from durable.per_turn import PerTurn

# The public face other layers use (the scenarios runtime, the gateway); the rest is the executor's own.
__all__ = [
    "Executor",
    "JobSource",
    "close_connections",
    "db",
    "ensure_started",
    "local_executor",
    "notify",
    "register",
    "served_sources",
    "shutdown",
    "soon",
    "stop_job",
    "wake_channel",
]

log = logging.getLogger(__name__)


def wake_channel() -> str:
    """The channel wake-ups go to: the site's own (EXECUTOR_WAKE_CHANNEL), so sites sharing a Redis
    server do not wake each other's workers."""
    return str(getattr(settings, "EXECUTOR_WAKE_CHANNEL", "scenery-executor"))


WAKE_MESSAGE = {"type": "executor.wake"}
MAX_BACKOFF_SECONDS = 10.0
SWEEP_SECONDS = 10.0


@dataclass(frozen=True)
class JobSource:
    """Where jobs come from and how one is run.

    `claim(owner, lease_seconds, began)` runs in a thread and returns a Lease or None; it must also
    fail the rows whose attempts are exhausted (see `leases.exhausted` and `leases.give_up`). It may
    leave out the jobs queued since `began` (when the claim round began): their wake-ups are on the
    way, and a round that chased them would never end under steady load. `run(lease)` does
    the job, writing only through the lease (`Lease.update`, `Lease.atomic`). `sweep()` is periodic
    housekeeping (e.g. expiring runs that wait too long), run in a thread. `claim_woken(owner,
    lease_seconds, pks)`, when given, claims those of the rows wake-ups named that still wait (a
    list of leases, oldest first): a cheap claim for the common case of new jobs and an executor with
    room for them, instead of a whole round.
    A claim may leave in `Lease.loaded` what it read for `run`, so that the run need not read it again.
    """

    name: str
    claim: Callable[[str, float, datetime], Lease | None]
    run: Callable[[Lease], Awaitable[None]]
    sweep: Callable[[], None] | None = None
    claim_woken: Callable[[str, float, list[Any]], list[Lease]] | None = None


SOURCES: dict[str, JobSource] = {}


def register(source: JobSource) -> None:
    SOURCES[source.name] = source


def served_sources() -> list[JobSource]:
    """The registered sources this process serves: all, or those named in EXECUTOR_SOURCES.

    Read on every round, so a test (or an operator's dedicated worker) can narrow it at run time.
    """
    names = getattr(settings, "EXECUTOR_SOURCES", None)
    sources = list(SOURCES.values())
    return sources if names is None else [s for s in sources if s.name in names]


def _call_db[T](fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except Exception:
        # A broken connection would fail every later call in this thread; drop it so the next
        # call opens a fresh one (Django closes only connections that saw errors or are too old).
        close_old_connections()
        raise


_call_in_db_thread = sync_to_async(_call_db, thread_sensitive=True)


async def db[T](fn: Callable[..., T], *args: Any) -> T:
    """Run a database function from async code, as Django's own async paths do: asgiref's
    thread-sensitive `sync_to_async`, so a process keeps one connection (one SQLite writer), and code
    under `async_to_sync` (a management command, a test holding a transaction) runs it in its own
    thread."""
    return await _call_in_db_thread(fn, *args)


# The event loop of this process's server (or worker): what sync code wants done asynchronously
# (a live event, a wake-up) goes there, without waiting for it.
_serving_loop: asyncio.AbstractEventLoop | None = None


def soon(make: Callable[[], Coroutine[Any, Any, Any]]) -> None:
    """Run the coroutine `make()` returns: without waiting, on the running loop or, from sync code
    (an on_commit hook in the database thread), on the server's loop; outside any server (a command,
    a test) to completion with asgiref's `async_to_sync`."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        loop.create_task(make())
        return
    serving = _serving_loop
    if serving is not None and serving.is_running():
        asyncio.run_coroutine_threadsafe(make(), serving)
        return

    async def complete() -> None:
        await make()

    async_to_sync(complete)()


async def close_connections() -> None:
    """Close the database thread's connections (at shutdown, so a database can be dropped)."""
    await _call_in_db_thread(connections.close_all)


@dataclass
class Executor:
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    concurrency: int = field(default_factory=lambda: settings.EXECUTOR_CONCURRENCY)
    lease_seconds: float = field(default_factory=lambda: settings.EXECUTOR_LEASE_SECONDS)
    poll_seconds: float = field(default_factory=lambda: settings.EXECUTOR_POLL_SECONDS)
    _running: dict[asyncio.Task[None], Lease] = field(default_factory=dict)
    _wake: asyncio.Event | None = None
    # What the wake-ups since the last round asked for: rows they named, or a whole round.
    _named: list[tuple[str, str]] = field(default_factory=list)
    _whole_round: bool = True
    _loop: asyncio.AbstractEventLoop | None = None
    _context: contextvars.Context = field(default_factory=contextvars.copy_context)
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start serving on the running event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            # Jobs run in the context the executor started in, whoever hands them over: a handover
            # from a database thread must not carry that thread's context (asgiref marks it busy).
            self._context = contextvars.copy_context()
            self._wake = asyncio.Event()
            self._stopping = False
            self._task = self._loop.create_task(self.serve(), name=f"executor {self.owner}")

    @property
    def running_jobs(self) -> int:
        return len(self._running)

    def wake(self, source: str | None = None, pk: Any = None) -> None:
        """Ask for a claim round now, or only for row `pk` of `source` when it names one (a job
        just queued). Safe from any thread."""
        if self._loop is None or self._wake is None or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._woken(source, pk)
        else:
            self._loop.call_soon_threadsafe(self._woken, source, pk)

    def _woken(self, source: str | None, pk: Any) -> None:
        assert self._wake is not None
        named = SOURCES.get(source or "")
        if named is not None and named.claim_woken is not None and pk is not None:
            self._named.append((named.name, str(pk)))
        else:
            self._whole_round = True
        self._wake.set()

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let running jobs finish within `grace`, then release the rest."""
        if grace is None:
            grace = settings.EXECUTOR_GRACE_SECONDS
        self._stopping = True
        self.wake()
        if self._running:
            log.info("executor %s: waiting up to %ss for %d job(s)", self.owner, grace, len(self._running))
            await asyncio.wait(list(self._running), timeout=grace)
        unfinished = dict(self._running)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(list(unfinished), timeout=5)
        for lease in unfinished.values():
            try:
                await db(lease.release)
                log.info("executor %s: released %s %s", self.owner, lease.model.__name__, lease.pk)
            except Exception:  # the lease then simply expires; another worker takes the job later
                log.exception("executor %s: could not release %s", self.owner, lease.pk)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the loop ------------------------------------------------------------------------------
    async def serve(self) -> None:
        assert self._wake is not None
        log.info(
            "executor %s serving %s", self.owner, ", ".join(s.name for s in served_sources()) or "nothing"
        )
        swept = -SWEEP_SECONDS
        last_round = -self.poll_seconds
        failures = 0
        while not self._stopping:
            self._wake.clear()
            named, self._named = self._named, []
            whole, self._whole_round = self._whole_round, False
            # The whole round also takes over expired leases: it runs at least every poll interval,
            # however many wake-ups naming new rows arrive meanwhile (a dead worker's jobs must not
            # wait for a lull).
            whole = whole or time.monotonic() - last_round >= self.poll_seconds
            try:
                if whole:
                    last_round = time.monotonic()
                    await self.claim_round()
                else:
                    await self.claim_named(named)
                if time.monotonic() - swept >= SWEEP_SECONDS:
                    await self.sweep()
                    swept = time.monotonic()
                failures = 0
            except Exception as exc:  # the loop must survive a database outage; it retries
                failures += 1
                self._whole_round = True
                if failures == 1:
                    log.exception("executor %s: claim round failed", self.owner)
                else:
                    log.warning("executor %s: claim round failed again (%s)", self.owner, exc)
            wait = max(0.0, last_round + self.poll_seconds - time.monotonic())
            if failures:
                wait = min(self.poll_seconds * 2 ** min(failures, 8), MAX_BACKOFF_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def claim_round(self) -> int:
        """Claim from every source until each has nothing more (or the executor is full)."""
        claimed = 0
        sources = served_sources()
        began = timezone.now()
        while sources and not self._stopping and len(self._running) < self.concurrency:
            busy = []
            for source in sources:
                if self._stopping or len(self._running) >= self.concurrency:
                    break
                lease = await db(source.claim, self.owner, self.lease_seconds, began)
                if lease is not None:
                    self._launch(source, lease)
                    claimed += 1
                    busy.append(source)  # it may have more; an empty one is not asked again
            sources = busy
        return claimed

    async def claim_named(self, named: list[tuple[str, str]]) -> int:
        """Claim the rows wake-ups named, while there is room: one call (one statement) per source
        for all the rows named since the last claim, so wake-ups that arrive while a claim is on its
        way share the next one. Rows another executor took cost nothing more; those left over when
        full wait for the round a freed slot starts (see `_finished`), which is fair between teams."""
        claimed = 0
        served = {s.name: s for s in served_sources()}
        by_source: dict[str, dict[str, None]] = {}
        for name, pk in named:
            by_source.setdefault(name, {})[pk] = None
        for name, keys in by_source.items():
            source = served.get(name)
            if source is None or source.claim_woken is None:
                continue
            pending = list(keys)
            while pending:
                room = self.concurrency - len(self._running)
                if self._stopping or room <= 0:
                    return claimed
                batch, pending = pending[:room], pending[room:]
                for lease in await db(source.claim_woken, self.owner, self.lease_seconds, batch):
                    self._launch(source, lease)
                    claimed += 1
        return claimed

    def has_room(self) -> bool:
        """Whether this executor serves and could run one more job now (from any thread)."""
        serving = self._task is not None and not self._task.done() and not self._stopping
        return serving and len(self._running) < self.concurrency

    def hand_over(self, source_name: str, lease: Lease) -> None:
        """Run a job created already leased to this executor (from any thread), with the same
        heartbeat and shutdown handling as a claimed one (`lease.loaded`: what its creation loaded).
        Should the executor have stopped meanwhile, the lease is given back at once for any executor
        to claim."""
        if self._loop is None or self._loop.is_closed():
            return  # nothing serves here any more: the lease runs out and another executor claims it
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._take(source_name, lease)
        else:
            self._loop.call_soon_threadsafe(self._take, source_name, lease, context=self._context.copy())

    def _take(self, source_name: str, lease: Lease) -> None:
        if self._stopping or self._task is None or self._task.done():
            asyncio.get_running_loop().create_task(self._give_back(lease))
            return
        self._launch(SOURCES[source_name], lease)

    async def _give_back(self, lease: Lease) -> None:
        await db(lease.release)
        notify()

    def stop_job(self, model: type[Any], pk: Any) -> bool:
        """Cancel this process's task for that row, if it runs one (from any thread)."""
        for task, lease in list(self._running.items()):
            if lease.model is model and str(lease.pk) == str(pk):
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(task.cancel)
                return True
        return False

    async def sweep(self) -> None:
        for source in served_sources():
            if source.sweep is not None:
                await db(source.sweep)

    def _launch(self, source: JobSource, lease: Lease) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(source, lease), name=f"{source.name} {lease.pk}", context=self._context.copy()
        )
        self._running[task] = lease
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        was_full = len(self._running) >= self.concurrency
        self._running.pop(task, None)
        if was_full or self._stopping:
            self.wake()  # a slot is free: jobs may be waiting for it

    async def _run(self, source: JobSource, lease: Lease) -> None:
        job = asyncio.current_task()
        assert job is not None
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(lease, job))
        try:
            await source.run(lease)
        except asyncio.CancelledError:
            log.warning("%s %s (attempt %s) stopped", source.name, lease.pk, lease.attempt)
        except Exception:
            # Typically the database went away mid-job. Give the job back now rather than when the
            # lease runs out; the next attempt resumes after its last committed step.
            log.exception("%s %s (attempt %s) crashed; releasing it", source.name, lease.pk, lease.attempt)
            heartbeat.cancel()
            with contextlib.suppress(Exception):
                await db(close_old_connections)  # a connection the job broke
                await db(lease.release)
        finally:
            heartbeat.cancel()

    async def _heartbeat(self, lease: Lease, job: asyncio.Task[None]) -> None:
        """Renew the lease while the job runs; a lost lease stops the job (it was taken over).

        It runs on the event loop, not in a thread of its own: a job that blocks the loop stops its
        heartbeat too, and a stuck worker must not look alive.
        """
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                held = await db(lease.renew, self.lease_seconds)
            except Exception as exc:
                log.warning("heartbeat of %s failed (%s); will retry", lease.pk, exc)
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


async def shutdown() -> None:
    """At process exit: stop this process's executor (finish or release its jobs), close the
    database thread's connections."""
    try:
        if _local is not None:
            await _local.stop()
    finally:
        await close_connections()


def stop_job(model: type[Any], pk: Any) -> bool:
    """Stop the job on that row now if this process runs it (it was cancelled); a job elsewhere
    stops at its next write or heartbeat, when it finds its lease gone."""
    return _local is not None and _local.stop_job(model, pk)


def ensure_started() -> None:
    """Serve from the running loop: start this process's executor on it when this process executes
    jobs, and send there what sync code wants sent (see `soon`)."""
    global _serving_loop
    _serving_loop = asyncio.get_running_loop()
    if settings.EXECUTOR == "inprocess":
        local_executor().start()


def notify(source: str | None = None, pk: Any = None) -> None:
    """Wake an executor after a job row was committed: to claim row `pk` of `source` when given
    (a job just queued), else for a whole claim round. Losing this message only costs latency.

    It never raises: a full channel or an unreachable Redis must not fail the request that queued
    the job; the workers' polling picks it up. Each worker listening hears it (the Pub/Sub layer
    delivers a channel's message to every subscriber); a worker with room claims the named row in
    one conditional statement, the first wins and the others' claims change nothing.

    The wake-ups a process asks for in one turn of its event loop go out as one message
    (`{"type": "executor.wake", "source": …, "pks": […]}`): under load, one publish and one delivery
    to each worker carry several jobs.
    """
    if settings.EXECUTOR == "inprocess":
        local_executor().wake(source, pk)
        return
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    named = (source, str(pk)) if source is not None and pk is not None else None
    soon(lambda: _wake_ups.post((layer, named)))


async def _send_wake_ups(batch: list[tuple[Any, tuple[str, str] | None]]) -> None:
    """One message per source naming its rows, and one asking for a whole round if any did."""
    layer = batch[0][0]
    named: dict[str, list[str]] = {}
    for _, row in batch:
        if row is not None:
            named.setdefault(row[0], []).append(row[1])
    messages = [{**WAKE_MESSAGE, "source": source, "pks": pks} for source, pks in named.items()]
    if any(row is None for _, row in batch):
        messages.append(dict(WAKE_MESSAGE))
    for message in messages:
        try:
            await layer.send(wake_channel(), message)
        except Exception as exc:
            log.warning("executor wake-up not sent (%s); workers will find the job by polling", exc)


_wake_ups: PerTurn[tuple[Any, tuple[str, str] | None]] = PerTurn(_send_wake_ups)
