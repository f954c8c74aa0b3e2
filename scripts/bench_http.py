"""`make bench BENCH_ARGS="--only http"`: the cost of one HTTP Request node run against the loopback
stub (scripts/bench_stub.py), as the engine runs it (params cleaned, then executed): a POST with a
JSON body through the SSRF guard and the shared connection pool, the JSON answer parsed. Prints
p50/p99 wall time and this process's CPU time per run. No database, no credential.

Run alone: python -m scripts.bench_http [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

from scripts.bench import PY, free_port, wait_port


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(url: str, runs: int) -> tuple[list[float], float]:
    from nodes.base import NodeContext
    from nodes.forms import clean_for_run
    from nodes.registry import get_node_type

    node_type = get_node_type("http.request")
    params = {
        "method": "POST",
        "url": url,
        "body_kind": "json",
        "body_json": '{"model": "bench-model", "messages": [{"role": "user", "content": "Hi"}]}',
    }
    ctx = NodeContext(team_id=None, execution_id=None, node_number=2)
    for _ in range(20):  # warm up: the pool's connection, the resolver cache
        await node_type.execute(ctx, clean_for_run(node_type, params))
    times = []
    cpu = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        output = await node_type.execute(ctx, clean_for_run(node_type, params))
        times.append((time.perf_counter() - started) * 1000)
        assert isinstance(output, dict) and output["status"] == 200, output
    return times, (time.process_time() - cpu) * 1000 / runs


def run(runs: int = 500) -> str:
    port = free_port()
    stub = subprocess.Popen([PY, "-m", "scripts.bench_stub", str(port)])
    try:
        wait_port(port, stub, "stub")
        os.environ["OUTBOUND_ALLOWED_ORIGINS"] = f"http://127.0.0.1:{port}"
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        times, cpu_ms = asyncio.run(measure(f"http://127.0.0.1:{port}/v1/chat/completions", runs))
    finally:
        stub.terminate()
        stub.wait(timeout=10)
    return (
        f"HTTP Request node, one POST with a JSON body to the loopback stub, {runs} runs: "
        f"p50 {statistics.median(times):.2f} ms, p99 {percentile(times, 0.99):.2f} ms, "
        f"CPU {cpu_ms:.2f} ms per run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    print(run(args.runs))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
