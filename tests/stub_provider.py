"""A loopback OpenAI-compatible stub provider for tests, started by the tests themselves.

It records every request (method, path, headers, JSON body) and answers from per-route handlers
that a test may replace. Default answers: /models, /chat/completions (echoes the last user message),
/completions (echoes the prompt). Use `stub.script(path, [(status, body, headers), ...])` to queue
exact answers (for 429/500/invalid JSON tests), `stub.delay` to make it slow, and `stub.hold()` to
keep every answer back until the test lets it go (a test orders against that, not against a delay).

A request with `"stream": true` gets its answer as server-sent events, one word per chunk, one
every `stub.token_seconds` (0.05 in the slow streaming mode). With `stub.stream_hold` set to an Event, the
stub sends the first word and then waits for that Event before the rest, so a test can see what
reached the client before the provider finished (`stub.finished` is set after the last word).
"""

from __future__ import annotations

import json
import re
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
    token_seconds: float = 0.0
    stream_hold: threading.Event | None = None
    finished: threading.Event = field(default_factory=threading.Event)
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

    def slow_streaming(self) -> threading.Event:
        """One token every 50 ms, held after the first until the returned Event is set."""
        self.token_seconds = 0.05
        self.stream_hold = threading.Event()
        return self.stream_hold

    def stream_chunks(self, rec: Recorded, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The answer as the chunks a streaming provider sends: one word each, usage last if asked."""
        base: dict[str, Any] = {key: payload[key] for key in ("id", "created", "model") if key in payload}
        text_completion = payload.get("object") == "text_completion"
        base["object"] = "text_completion" if text_completion else "chat.completion.chunk"
        chunks: list[dict[str, Any]] = []
        for choice in payload.get("choices") or []:
            index = choice.get("index", 0)
            if not text_completion:
                opening = {"delta": {"role": "assistant", "content": ""}}
                chunks.append({**base, "choices": [{"index": index, "finish_reason": None, **opening}]})
            text = choice.get("text") if text_completion else (choice.get("message") or {}).get("content")
            words = re.findall(r"\S+\s*|\s+", text or "")
            for word in words:
                part: dict[str, Any] = {"text": word} if text_completion else {"delta": {"content": word}}
                chunks.append({**base, "choices": [{"index": index, "finish_reason": None, **part}]})
            for position, call in enumerate(
                ([] if text_completion else (choice.get("message") or {}).get("tool_calls")) or []
            ):
                calls = {"delta": {"tool_calls": [{"index": position, **call}]}}
                chunks.append({**base, "choices": [{"index": index, "finish_reason": None, **calls}]})
            end: dict[str, Any] = {"text": ""} if text_completion else {"delta": {}}
            chunks.append(
                {**base, "choices": [{"index": index, "finish_reason": choice.get("finish_reason"), **end}]}
            )
        if ((rec.body or {}).get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": payload.get("usage")})
        return chunks

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
                if status == 200 and isinstance(payload, dict) and (rec.body or {}).get("stream"):
                    self._stream(stub.stream_chunks(rec, payload))
                    return
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, chunks: list[dict[str, Any]]) -> None:
                first_word = 1 if chunks and chunks[0]["object"] == "chat.completion.chunk" else 0
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [
                    b"data: [DONE]\n\n"
                ]
                for number, event in enumerate(events):
                    if number and stub.token_seconds:
                        time.sleep(stub.token_seconds)
                    if number == first_word + 1 and stub.stream_hold is not None:
                        stub.stream_hold.wait(timeout=30)
                    self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                stub.finished.set()

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


def running_stub() -> Iterator[StubProvider]:
    """A started stub, stopped when the generator closes (a fixture's body; a test may want two)."""
    stub = StubProvider()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


@pytest.fixture
def stub_provider() -> Iterator[StubProvider]:
    yield from running_stub()
