"""The node catalog: a plain dict from type key to NodeType, filled when this module is imported."""

from __future__ import annotations

from typing import Any

from nodes.base import NodeType
from nodes.types import (
    assistant_runs,
    assistants,
    code,
    completions,
    data,
    files,
    flow,
    http,
    loops,
    manual,
    schedule,
    subscenario,
    threads,
    time,
    webhook,
)

NODE_TYPES: dict[str, NodeType] = {}


def register(*node_types: NodeType) -> None:
    for node_type in node_types:
        NODE_TYPES[node_type.key] = node_type


def get_node_type(key: str) -> NodeType:
    try:
        return NODE_TYPES[key]
    except KeyError:
        raise KeyError(f"Unknown node type {key!r}") from None


def catalog() -> list[dict[str, Any]]:
    """The palette: every type without its execute function, in catalog order."""
    return [node_type.catalog_entry() for node_type in NODE_TYPES.values()]


# Palette order: the webhook pair, then the seed's ChatGPT Assistant nodes, then flow control.
register(*webhook.TYPES, *completions.TYPES, *assistants.TYPES, *threads.TYPES, *files.TYPES)
register(*assistant_runs.TYPES)
register(*manual.TYPES, *flow.TYPES, *loops.TYPES)
register(*subscenario.TYPES)
register(*data.TYPES, *code.TYPES, *http.TYPES)
register(*time.TYPES, *schedule.TYPES)
