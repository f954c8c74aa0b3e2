"""Code: a little JavaScript over the upstream outputs, run with no I/O at all (nodes/javascript.py).

The code is the body of an async function. It reads earlier nodes' outputs as `$1`, `$2`… (the
numbers expressions use: `{{$1.body.question}}` is `$1.body.question` here) and `$input`, the
output of the highest-numbered upstream node; what it returns (JSON data) is the node's `result`,
and what it prints with `console.log` is the node's `console`. JavaScript only: Python would need a
sandbox as strong (WebAssembly), which Scenery does not ship.
"""

from __future__ import annotations

from typing import Any

from nodes import javascript
from nodes.base import Field, NodeContext, NodeError, NodeType

EXAMPLE = """// JavaScript. $1, $2… are earlier nodes' outputs; $input is the one just before.
const question = $1.body.question ?? "";
console.log("words:", question.split(" ").length);
return { question, shouted: question.toUpperCase() };"""

CODE = Field(
    "code",
    "JavaScript code",
    kind="code",
    required=True,
    default=EXAMPLE,
    expressions=False,
    max_length=javascript.MAX_SOURCE,
    help="JavaScript only (no Python). The body of an async function: read earlier outputs as $1, "
    "$2… ($1.body.question) or $input, and return JSON data. console.log lines are kept in the "
    f"output. No network, files, timers or modules; each run may use {javascript.TIME_LIMIT:g} s of "
    f"CPU and {javascript.MEMORY_LIMIT // (1024 * 1024)} MB of memory.",
)


async def run_code(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    try:
        outcome = await javascript.run(params["code"], ctx.upstream)
    except javascript.ScriptError as exc:
        message = f"JavaScript code: {exc.message}"
        details: dict[str, Any] = {"fields": {"code": [exc.message]}, "console": exc.logs}
        if exc.line is not None:
            details["line"] = exc.line
        raise NodeError(message, **details) from None
    return {"result": outcome.result, "console": outcome.logs}


CODE_NODE = NodeType(
    key="data.code",
    app="Data",
    title="Code",
    description="Runs a little JavaScript (no I/O) over earlier outputs and returns JSON.",
    kind="action",
    fields=(CODE,),
    execute=run_code,
    color="#7c3aed",
    icon="code",
    reads_upstream=True,
)

TYPES = (CODE_NODE,)
