"""The embedded default as `make run` serves it: uvicorn with two web processes on one SQLite file.
Webhooks answered by either process are all stored, and a page's WebSocket, connected to one of
them, sees the executions both run (the sibling channel layer, the lock-file SQLite backend)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from websockets.sync.client import connect

from scenarios.models import Execution
from tests.engine.conftest import build

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        bool(settings.REDIS_URL) or connection.vendor != "sqlite",
        reason="sibling web processes are the embedded default's (SQLite, no Redis)",
    ),
]
CALLS = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_web_processes(tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.durability.worker_settings",
        "SCENERY_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
        "EXECUTOR": "inprocess",
    }
    log = (tmp_path / "web.log").open("wb")
    args = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port), "--workers", "2"]
    args += ["--loop", "config.serving:balanced_loop"]  # as `make run`
    proc = subprocess.Popen(
        [*args, "--lifespan", "on", "--log-level", "warning"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/hooks/unknown", timeout=2)
            break
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.1)
    time.sleep(2)  # both processes up, and each has found the other (they look every second)
    yield base
    proc.terminate()
    proc.wait(20)


def _session_cookie(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def test_two_web_processes_answer_store_and_stream_every_execution(two_web_processes, cast):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {"status": 200, "body": "{{$1.body.n}}"})},
        [(1, 2)],
    )
    heard: list[str] = []
    url = two_web_processes.replace("http", "ws", 1) + f"/ws/scenarios/{scenario.pk}/"
    headers = {"Cookie": _session_cookie(cast.alice), "Origin": "http://127.0.0.1"}
    with connect(url, additional_headers=headers, open_timeout=10) as page:
        assert json.loads(page.recv(timeout=10))["type"] == "state"
        time.sleep(1.5)  # the page's process tells its sibling it has a member in the group

        def listen() -> None:
            try:
                while True:
                    heard.append(str(page.recv(timeout=10)))
            except Exception:
                return

        listener = threading.Thread(target=listen)
        listener.start()
        hook = f"{two_web_processes}/hooks/{scenario.webhook_token}"
        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda n: client.post(hook, json={"n": n}), range(CALLS)))
        assert [(a.status_code, a.text) for a in answers] == [(200, str(n)) for n in range(CALLS)]
        executions = list(Execution.objects.filter(scenario=scenario))
        assert len(executions) == CALLS and {e.status for e in executions} == {Execution.Status.SUCCEEDED}
        owners = {e.lease_owner for e in executions}
        deadline = time.monotonic() + 10
        while not all(str(e.id) in "".join(heard) for e in executions) and time.monotonic() < deadline:
            time.sleep(0.1)
        page.close()
        listener.join(15)
    assert len(owners) == 2, owners  # both processes ran some
    missing = [str(e.id) for e in executions if str(e.id) not in "".join(heard)]
    assert missing == []
