"""A loopback OpenAI-compatible stub provider for tests, started by the tests themselves.

It records every request (method, path, headers, JSON body) and answers from per-route handlers
that a test may replace. Default answers: /models, /chat/completions (echoes the last user message),
/completions (echoes the prompt). Use `stub.script(path, [(status, body, headers), ...])` to queue
exact answers (for 429/500/invalid JSON tests), `stub.delay` to make it slow, and `stub.hold()` to
keep every answer back until the test lets it go (a test orders against that, not against a delay).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


def chat_completion(text: str, model: str = "stub-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


@dataclass
class StubProvider:
    requests: list[Recorded] = field(default_factory=list)
    scripted: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))
    handlers: dict[str, Callable[[Recorded], Answer]] = field(default_factory=dict)
    models: list[str] = field(default_factory=lambda: ["stub-model", "stub-model-large"])
    delay: float = 0.0
    held: threading.Event | None = None
    base_url: str = ""
    _server: ThreadingHTTPServer | None = None

    def hold(self) -> threading.Event:
        """Answer nothing until the returned event is set (the fixture sets it at the test's end)."""
        self.held = threading.Event()
        return self.held

    def script(self, path: str, answers: list[Answer]) -> None:
        self.scripted[path].extend(answers)

    def last(self, path: str | None = None) -> Recorded:
        matching = [r for r in self.requests if path is None or r.path.split("?")[0] == path]
        assert matching, f"the stub received no request for {path}"
        return matching[-1]

    def answer(self, rec: Recorded) -> Answer:
        route = rec.path.split("?")[0]
        if self.scripted.get(route):
            return self.scripted[route].popleft()
        if route in self.handlers:
            return self.handlers[route](rec)
        if route == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "stub"} for m in self.models]
            return 200, {"object": "list", "data": data}, {}
        if route == "/v1/chat/completions" and rec.method == "POST":
            messages = (rec.body or {}).get("messages") or [{}]
            content = messages[-1].get("content")
            return 200, chat_completion(f"echo: {content}", (rec.body or {}).get("model", "stub-model")), {}
        if route == "/v1/completions" and rec.method == "POST":
            prompt = (rec.body or {}).get("prompt")
            return (
                200,
                {
                    "id": "cmpl-stub1",
                    "object": "text_completion",
                    "created": 1_700_000_000,
                    "model": (rec.body or {}).get("model"),
                    "choices": [
                        {"text": f" echo: {prompt}", "index": 0, "logprobs": None, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
                },
                {},
            )
        return (
            404,
            {
                "error": {
                    "message": f"stub has no route {rec.method} {route}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
            {},
        )

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                rec = Recorded(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw
                )
                stub.requests.append(rec)
                if stub.held is not None:
                    stub.held.wait()
                if stub.delay:
                    time.sleep(stub.delay)
                status, payload, headers = stub.answer(rec)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_port}/v1"
        # A short poll interval: shutdown() waits for it, once per test using the stub.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        if self.held is not None:
            self.held.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def stub_provider() -> Iterator[StubProvider]:
    stub = StubProvider()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
