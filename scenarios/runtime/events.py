"""Live events of a scenario, sent to its channel group (`Scenario.group_name`) after each commit.

The database is the truth; these messages are best-effort live updates (a channel layer may drop
them), so a page that (re)connects first receives the persisted state. Events never carry secrets:
node params, outputs and errors are redacted before they are stored, and events are built from the
stored values.

Shapes (what the WebSocket consumer sends to the browser, one JSON object per frame):

    {"type": "state", "execution": EXECUTION | null, "nodes": [NODE, ...]}
        sent first on connect: the latest execution of the scenario and its node runs (the latest
        attempt of each node).
    {"type": "execution", "seq": n, "execution": EXECUTION}
        the execution was queued, started (running) or finished (succeeded / failed / cancelled).
    {"type": "node", "seq": n, "execution_id": "...", "node": NODE}
        a node run changed: queued, running, succeeded, failed or skipped. While it runs, a node
        may also report progress: the same event with status "running" and NODE["progress"], e.g.
        {"retrying": 1, "of": 3, "wait": 2.0, "reason": "The provider is limiting requests (HTTP 429)"}.
    {"type": "tokens", "seq": n, "execution_id": "...", "node": n, "text": "..."}
        a running node's new text as the model makes it (scenarios/runtime/tokens.py), batched per 50 ms,
        sent before the node's own next event; never stored (the node's output holds the whole text).

    EXECUTION = {"id", "scenario_id", "status", "trigger", "created_at", "started_at", "finished_at",
                 "duration_ms", "error"}          (ids are strings, times ISO 8601 or null)
    NODE = NodeRun.as_event() = {"node" (the node number), "kind", "status", "attempt", "params",
                 "output", "error", "started_at", "finished_at", "duration_ms"}

`seq` increases with every event a process sends and follows the clock across processes: within
one execution, a frame with a lower `seq` than one already applied for the same node is stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

from scenarios.runtime import presence

if TYPE_CHECKING:
    from scenarios.models import Execution, NodeRun

log = logging.getLogger(__name__)

# The group_send message type, {"type": MESSAGE_TYPE, "events": [...]}; the consumer's handler is
# `scenario_event`, which sends each event as a frame of its own.
MESSAGE_TYPE = "scenario.event"

_seq_lock = threading.Lock()
_last_seq = 0


def next_seq() -> int:
    """Increasing per process, and at least the current time in microseconds (ordered across takeovers)."""
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, time.time_ns() // 1000)
        return _last_seq


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def execution_dict(execution: Execution) -> dict[str, Any]:
    return {
        "id": str(execution.id),
        "scenario_id": str(execution.scenario_id),
        "status": execution.status,
        "trigger": execution.trigger,
        "created_at": _iso(execution.created_at),
        "started_at": _iso(execution.started_at),
        "finished_at": _iso(execution.finished_at),
        "duration_ms": execution.duration_ms,
        "error": execution.error,
    }


def execution_event(execution: Execution) -> dict[str, Any]:
    return {"type": "execution", "seq": next_seq(), "execution": execution_dict(execution)}


def node_event(execution_id: Any, node_run: NodeRun) -> dict[str, Any]:
    return {"type": "node", "seq": next_seq(), "execution_id": str(execution_id), "node": node_run.as_event()}


def state_event(execution: Execution | None, node_runs: Iterable[NodeRun]) -> dict[str, Any]:
    latest: dict[int, NodeRun] = {}
    for run in node_runs:
        if run.node_number not in latest or run.attempt > latest[run.node_number].attempt:
            latest[run.node_number] = run
    return {
        "type": "state",
        "execution": execution_dict(execution) if execution is not None else None,
        "nodes": [latest[n].as_event() for n in sorted(latest)],
    }


def has_members(group: str) -> bool:
    """Whether `group` may have members: always with a shared channel layer (they are elsewhere);
    with the in-memory layer only while one listens in this process."""
    layer = get_channel_layer()
    if layer is None:
        return False
    if isinstance(layer, InMemoryChannelLayer):
        return bool(layer.groups.get(group))
    return True


async def heard(group: str) -> bool:
    """Whether events sent to a scenario's `group` may reach a page, so that they are worth building
    and sending: with a shared channel layer, while a page marks the scenario watched
    (scenarios/runtime/presence.py)."""
    layer = get_channel_layer()
    if layer is None or isinstance(layer, InMemoryChannelLayer):
        return has_members(group)
    return await presence.watched(group)


async def publish(group: str, events: Iterable[dict[str, Any]]) -> None:
    """Send events to a scenario's group, in one message (a commit's events travel together: one
    round trip to Redis, not one per node), unless no page watches it. Never raises: a lost live
    update costs nothing durable."""
    layer = get_channel_layer()
    batch = list(events)
    if layer is None or not batch or not await heard(group):
        return
    try:
        await layer.group_send(group, {"type": MESSAGE_TYPE, "events": batch})
    except Exception:
        log.warning("live events to %s dropped", group, exc_info=True)


def publish_soon(group: str, events: list[dict[str, Any]]) -> None:
    """Publish from sync code (e.g. a `transaction.on_commit` hook), in or outside an event loop."""
    from durable.executor import soon

    soon(lambda: publish(group, events))
