"""The node catalog: a plain dict from type key to NodeType."""

from __future__ import annotations

from nodes.base import NodeType

NODE_TYPES: dict[str, NodeType] = {}


def register(*node_types: NodeType) -> None:
    for node_type in node_types:
        NODE_TYPES[node_type.key] = node_type


def get_node_type(key: str) -> NodeType:
    try:
        return NODE_TYPES[key]
    except KeyError:
        raise KeyError(f"Unknown node type {key!r}") from None
