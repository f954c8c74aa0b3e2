"""A loopback stub of a Chat Completions provider for `make bench`: the cheapest honest HTTP/1.1
server we can write (asyncio + uvloop, keep-alive), answering every POST with a fixed
`chat.completion` (or, asked with `"stream": true`, STREAM_TOKENS chunks at once, so the time
between them is Scenery's), and GET /models with its one model, so the benchmark measures Scenery,
not the stub.

Run: python -m scripts.bench_stub PORT [DELAY_SECONDS]  (a delay before each completion's answer, as a
model takes: `make bench BENCH_ARGS=--scaling` uses it)
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Python, by most counts.", "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(ANSWER)).encode()
    + b"\r\n\r\n"
    + ANSWER
)


STREAM_TOKENS = 50


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return _framed(b"data: " + json.dumps(chunk).encode() + b"\n\n")


def _framed(event: bytes) -> bytes:
    """One piece of a chunked HTTP body."""
    return f"{len(event):x}\r\n".encode() + event + b"\r\n"


STREAM = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    + _chunk({"role": "assistant", "content": ""})
    + b"".join(_chunk({"content": f"token{i} "}) for i in range(STREAM_TOKENS))
    + _chunk({}, "stop")
    + _framed(b"data: [DONE]\n\n")
    + b"0\r\n\r\n"
)
MODELS = json.dumps(
    {"object": "list", "data": [{"id": "bench-model", "object": "model", "created": 0, "owned_by": "bench"}]}
).encode()
MODELS_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(MODELS)).encode()
    + b"\r\n\r\n"
    + MODELS
)


DELAY_SECONDS = float(sys.argv[2]) if __name__ == "__main__" and len(sys.argv) > 2 else 0.0


class Stub(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0
            for line in self.buffer[:head_end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            request, self.buffer = self.buffer[:end], self.buffer[end:]
            if request.startswith(b"GET"):
                self.transport.write(MODELS_RESPONSE)
            elif b'"stream":true' in request[head_end:].replace(b" ", b""):
                self.transport.write(STREAM)
            elif DELAY_SECONDS:  # as a model takes its time; the same delay keeps answers in order
                asyncio.get_running_loop().call_later(DELAY_SECONDS, self._answer)
            else:
                self.transport.write(RESPONSE)

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Stub, "127.0.0.1", port, backlog=1024)
    print(f"stub listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1])))
    except ImportError:  # pragma: no cover
        asyncio.run(main(int(sys.argv[1])))
