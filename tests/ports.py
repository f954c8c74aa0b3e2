"""A node type with two output ports, registered for a test: no real type of the catalog has several
yet, and the editor and canvas must handle them as data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from nodes.base import Field, NodeContext, NodeType, Routed, as_bool
from nodes.registry import NODE_TYPES

BRANCH = "test.branch"


async def _branch(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    port = "true" if as_bool(params.get("when")) else "false"
    return Routed({"when": params.get("when")}, (port,))


@contextlib.contextmanager
def branch_type() -> Iterator[NodeType]:
    """`test.branch` ("Branch"): fires "true" or "false" as its `when` says."""
    node_type = NodeType(
        key=BRANCH,
        app="Test",
        title="Branch",
        description="Takes the true or the false route.",
        kind="action",
        fields=(Field("when", "When", kind="toggle"),),
        execute=_branch,
        outputs=("true", "false"),
    )
    NODE_TYPES[BRANCH] = node_type
    try:
        yield node_type
    finally:
        NODE_TYPES.pop(BRANCH, None)
