"""A real ASGI server (uvicorn, the project's own application) on a loopback port, for tests that go
over a socket: webhooks end to end, the gateway with the official `openai` client, WebSockets.

It runs in a background thread of the test process for the whole session, so the in-process executor
lives in that thread's event loop. Tests using it need database access that other threads can see:
mark them `@pytest.mark.django_db(transaction=True)`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn


@dataclass
class LiveASGIServer:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def asgi_server(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[LiveASGIServer]:
    from config.asgi import application

    port = _free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    server = uvicorn.Server(config)

    def serve() -> None:
        with django_db_blocker.unblock():  # type: ignore[attr-defined]
            asyncio.run(server.serve())

    thread = threading.Thread(target=serve, name="asgi-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test ASGI server did not start")
        time.sleep(0.05)
    try:
        yield LiveASGIServer("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
