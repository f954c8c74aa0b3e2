"""The cost of one Code node run (`make bench`, or `python -m scripts.bench --only code`): the node's
execute function from the event loop — a fresh QuickJS runtime with its limits, the upstream output
passed in, a small script with console.log, the result read back — p50/p99 over many runs."""

from __future__ import annotations

import asyncio
import statistics
import time

from nodes.base import NodeContext
from nodes.types.code import run_code

SCRIPT = """const items = $1.body.items;
console.log("items:", items.length);
return { total: items.reduce((sum, item) => sum + item.price * item.quantity, 0), names: items.map(i => i.name) };"""
UPSTREAM = {
    1: {
        "body": {"items": [{"name": f"item {n}", "price": n * 1.5, "quantity": n % 4 + 1} for n in range(50)]}
    }
}


async def _timings(runs: int) -> list[float]:
    ctx = NodeContext(team_id=None, execution_id=None, node_number=2, upstream=UPSTREAM)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        await run_code(ctx, {"code": SCRIPT})
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def report(runs: int = 500) -> str:
    asyncio.run(_timings(20))  # warm-up: the thread pool, imports
    timings = sorted(asyncio.run(_timings(runs)))
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    return (
        f"Code node: one run (fresh QuickJS runtime, 50-item input, console.log, JSON result), {runs} runs: "
        f"p50 {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms."
    )


if __name__ == "__main__":
    print(report())
