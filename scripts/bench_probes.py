"""Measurements of `make bench` beyond raw throughput: live-event latency to a WebSocket client and
the editor's render time (server and browser). Each returns plain figures; scripts/bench.py prints.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import httpx


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def _event_latencies(base: str, info: dict[str, Any], runs: int) -> list[float]:
    import websockets

    host = base.split("://", 1)[1]
    cookie = f"{info['session_cookie']}={info['session']}"
    url = f"ws://{host}/ws/scenarios/{info['ask']['id']}/"
    latencies: list[float] = []
    async with (
        websockets.connect(url, additional_headers={"Cookie": cookie}, origin=base) as socket,  # type: ignore[arg-type]
        httpx.AsyncClient(timeout=30) as client,
    ):
        await socket.recv()  # the persisted state comes first
        for _ in range(runs):
            await client.post(f"{base}/hooks/{info['ask']['token']}", json={"question": "latency?"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=2))
                except TimeoutError:
                    break
                received = time.time()
                node = frame.get("node") if frame.get("type") == "node" else None
                if node and node.get("status") == "succeeded" and node.get("finished_at"):
                    finished = datetime.fromisoformat(node["finished_at"]).timestamp()
                    latencies.append((received - finished) * 1000)
                if frame.get("type") == "execution" and frame["execution"]["status"] in (
                    "succeeded",
                    "failed",
                ):
                    break
    return latencies


def event_latency(base: str, info: dict[str, Any], runs: int = 40) -> list[float]:
    """Milliseconds from a node run's `finished_at` (stamped by the engine) to its event arriving at
    a WebSocket client of the scenario, over `runs` executions of the demo scenario."""
    return asyncio.run(_event_latencies(base, info, runs))


def editor_server_ms(base: str, info: dict[str, Any], times: int = 10) -> list[float]:
    cookies = {info["session_cookie"]: info["session"]}
    url = f"{base}/scenarios/{info['big']['id']}/"
    spent = []
    with httpx.Client(cookies=cookies, timeout=30) as client:
        client.get(url).raise_for_status()  # warm
        for _ in range(times):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            spent.append((time.perf_counter() - started) * 1000)
    return spent


def editor_browser_ms(base: str, info: dict[str, Any], chromium: str = "/usr/bin/chromium") -> dict[str, Any]:
    """Time to the page's load event and to the canvas showing its nodes, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    url = f"{base}/scenarios/{info['big']['id']}/"
    host = base.split("://", 1)[1].split(":")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            context.add_cookies(
                [{"name": info["session_cookie"], "value": info["session"], "domain": host, "path": "/"}]
            )
            page = context.new_page()
            page.goto(url)  # warm the caches once, as a returning user
            started = time.perf_counter()
            page.goto(url, wait_until="load")
            loaded = (time.perf_counter() - started) * 1000
            page.wait_for_selector("#canvas g.x6-node", timeout=30_000)
            first = (time.perf_counter() - started) * 1000
            page.wait_for_function(
                "document.querySelectorAll('#canvas g.x6-node').length >= 200", timeout=30_000
            )
            shown = (time.perf_counter() - started) * 1000
            nodes = page.evaluate("document.querySelectorAll('#canvas g.x6-node').length")
        finally:
            browser.close()
    return {"load_ms": loaded, "first_node_ms": first, "all_nodes_ms": shown, "nodes": nodes}


def _sse_times(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> list[float]:
    """Seconds from sending the request to each token's event (a chat chunk with content, a
    thread.message.delta, or an SSE webhook's token event)."""
    started = time.perf_counter()
    times = []
    lines = []
    with client.stream("POST", url, json=body, headers=headers) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data: {") and any(
                f'"{key}": "t' in line for key in ("content", "value", "text")
            ):
                times.append(time.perf_counter() - started)
    if not times:
        raise SystemExit(f"no tokens streamed from {url} (HTTP {response.status_code}): {lines[-6:]}")
    return times


def streaming(base: str, stub_url: str, info: dict[str, Any], runs: int = 10) -> dict[str, list[float]]:
    """Time to first token and time per token (ms) of streamed answers: straight from the stub, through
    the gateway's /v1/chat/completions, as a run's thread.message.delta events, and as the token events
    of a webhook answered as server-sent events (Trigger → Send Message → Webhook response)."""
    key = {"Authorization": f"Bearer {info['gateway_key']}"}
    beta = {**key, "OpenAI-Beta": "assistants=v2"}
    chat = {"model": "bench-model", "messages": [{"role": "user", "content": "stream"}], "stream": True}
    figures: dict[str, list[float]] = {}
    with httpx.Client(timeout=60) as client:
        assistant = client.post(f"{base}/v1/assistants", json={"model": "bench-model"}, headers=beta).json()

        def run_url() -> str:
            thread = client.post(
                f"{base}/v1/threads", json={"messages": [{"role": "user", "content": "stream"}]}, headers=beta
            ).json()
            return f"{base}/v1/threads/{thread['id']}/runs"

        probes = {
            "provider": lambda: _sse_times(client, f"{stub_url}/chat/completions", chat, {}),
            "chat": lambda: _sse_times(client, f"{base}/v1/chat/completions", chat, key),
            "run": lambda: _sse_times(
                client, run_url(), {"assistant_id": assistant["id"], "stream": True}, beta
            ),
            "webhook sse": lambda: _sse_times(
                client, f"{base}/hooks/{info['ask_sse']['token']}", {"question": "stream"}, {}
            ),
        }
        for name, probe in probes.items():
            probe()  # warm-up
            first, per_token = [], []
            for _ in range(runs):
                times = probe()
                first.append(times[0] * 1000)
                per_token.append((times[-1] - times[0]) * 1000 / max(1, len(times) - 1))
            figures[f"{name} first"], figures[f"{name} per token"] = first, per_token
    return figures


def sequential_ms(url: str, seconds: float) -> tuple[list[float], int]:
    """Milliseconds of each call to a webhook, one after the other for `seconds`, and how many did
    not answer 200."""
    latencies: list[float] = []
    failed = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            response = client.post(url, json={"question": "Am I held up?"})
            latencies.append((time.perf_counter() - began) * 1000)
            failed += response.status_code != 200
    return latencies, failed
