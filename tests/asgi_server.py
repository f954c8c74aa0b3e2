"""A real ASGI server (uvicorn, the project's own application) on a loopback port, for tests that go
over a socket: webhooks end to end, the gateway with the official `openai` client, WebSockets.

It runs in a background thread of the test process for the whole session, and the in-process executor
lives in that thread's event loop. The executor runs only during the tests that ask for the server
(`live_executor` below): other tests create executions and run them by hand, and a background
executor left over from an earlier test would take their work. Tests using the server need database
access that other threads can see: mark them `@pytest.mark.django_db(transaction=True)`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from tests.waiting import wait_until


@dataclass
class LiveASGIServer:
    host: str
    port: int
    loop: asyncio.AbstractEventLoop | None = None

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

    live = LiveASGIServer("127.0.0.1", port)

    async def main() -> None:
        live.loop = asyncio.get_running_loop()
        await server.serve()

    def serve() -> None:
        with django_db_blocker.unblock():  # type: ignore[attr-defined]
            asyncio.run(main())

    thread = threading.Thread(target=serve, name="asgi-test-server", daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the test ASGI server to start")
    if not server.started:
        raise RuntimeError("the test ASGI server stopped before it started")
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(autouse=True)
def live_executor(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start the in-process executor for tests that use the live server; stop it after every test."""
    from durable import executor

    if "asgi_server" in request.fixturenames:
        live: LiveASGIServer = request.getfixturevalue("asgi_server")
        assert live.loop is not None
        asyncio.run_coroutine_threadsafe(_start(), live.loop).result(timeout=10)
    yield
    local = executor._local
    loop = local._loop if local is not None else None
    if local is None or loop is None or loop.is_closed() or not loop.is_running():
        return
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    if loop is not current:
        asyncio.run_coroutine_threadsafe(local.stop(grace=5), loop).result(timeout=30)
        # A cancelled job's last statement may still be running in the database thread: let it end
        # (and close its connection) before the test database is flushed under it.
        asyncio.run_coroutine_threadsafe(executor.close_connections(), loop).result(timeout=30)


async def _start() -> None:
    from durable import executor

    executor.ensure_started()
