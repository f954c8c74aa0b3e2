"""Settings every action node has besides its own fields: retries on failure and what a failure does.

They are stored in the node's params under reserved names (`settings_…`, so no node type's field can
collide with them), edited in the inspector's "Settings" section built by the same form builder
(nodes/forms.py), and read by the runtime (scenarios/runtime/running.py retries, the engine routes).
An execute function never sees them: the run's cleaning keeps only the type's own fields.

On error:
- "stop" (the default): the node fails and so does the execution;
- "continue": the node run is recorded as failed, and its error, `{"error": {"message": ...}}`, goes
  on down its usual routes as its output;
- "error_port": the node gets an `error` output port and the error goes down it as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nodes.base import ON_ERROR_PARAM, Field, NodeType

RETRIES = "settings_retries"
RETRY_WAIT = "settings_retry_wait"
BACKOFF = "settings_backoff"
ON_ERROR = ON_ERROR_PARAM

MAX_RETRIES = 5
MAX_RETRY_WAIT = 300.0  # seconds between two tries, before backoff
MAX_WAIT = 900.0  # seconds: the longest single wait, whatever the backoff makes of it

OnError = Literal["stop", "continue", "error_port"]
ON_ERROR_CHOICES: tuple[tuple[str, str], ...] = (
    ("stop", "Stop the execution"),
    ("continue", "Continue with the error as output"),
    ("error_port", "Follow the node's “error” port"),
)

FIELDS: tuple[Field, ...] = (
    Field(
        RETRIES,
        "Retries on failure",
        kind="number",
        default=0,
        min_value=0,
        max_value=MAX_RETRIES,
        expressions=False,
        help=f"How many times to try again when the node fails (0 to {MAX_RETRIES}).",
    ),
    Field(
        RETRY_WAIT,
        "Wait between tries (seconds)",
        kind="number",
        default=1,
        min_value=0,
        max_value=MAX_RETRY_WAIT,
        expressions=False,
    ),
    Field(
        BACKOFF,
        "Backoff",
        kind="select",
        default="fixed",
        choices=(
            ("fixed", "Fixed: the same wait each time"),
            ("exponential", "Exponential: double each time"),
        ),
        expressions=False,
    ),
    Field(
        ON_ERROR,
        "On error",
        kind="select",
        default="stop",
        choices=ON_ERROR_CHOICES,
        expressions=False,
        help="What happens when the node still fails after its retries.",
    ),
)
NAMES = frozenset(f.name for f in FIELDS)


def fields_for(node_type: NodeType) -> tuple[Field, ...]:
    """The settings `node_type` offers: actions only (a trigger or a response only computes)."""
    return FIELDS if node_type.kind == "action" else ()


@dataclass(frozen=True)
class NodeSettings:
    retries: int = 0
    retry_wait: float = 1.0
    backoff: str = "fixed"
    on_error: OnError = "stop"

    def wait_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        wait = self.retry_wait * (2 ** (retry - 1) if self.backoff == "exponential" else 1)
        return min(wait, MAX_WAIT)


DEFAULT = NodeSettings()


def settings_of(node_type: NodeType | None, params: Any) -> NodeSettings:
    """A node's settings from its stored params; values out of bounds are brought within them (the
    form refuses them, but an import or an old row may hold anything)."""
    if node_type is None or not fields_for(node_type) or not isinstance(params, Mapping):
        return DEFAULT
    on_error = params.get(ON_ERROR)
    return NodeSettings(
        retries=int(_number(params.get(RETRIES), 0, 0, MAX_RETRIES)),
        retry_wait=_number(params.get(RETRY_WAIT), 1.0, 0, MAX_RETRY_WAIT),
        backoff="exponential" if params.get(BACKOFF) == "exponential" else "fixed",
        on_error=on_error if on_error in ("continue", "error_port") else "stop",
    )


def _number(value: Any, default: float, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if number != number:  # NaN
        return default
    return max(low, min(high, number))
