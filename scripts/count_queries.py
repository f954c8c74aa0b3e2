"""Statements per webhook execution on the embedded default: `python -m scripts.count_queries [CALLS]`.

Serves CALLS calls (default 50) of Trigger on Webhook → an action node → Webhook response through the
project's ASGI application (lifespan started: the in-process executor runs them) on a fresh SQLite
file, and counts every SQL statement any connection of the process sends, by kind. Each call is
answered before the next starts, so the count per call is the count per execution. The action node
is the engine tests' `test.echo` (no network): like Send Message, it is committed on its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

directory = tempfile.mkdtemp(prefix="scenery-count-")
os.environ.update(
    DATABASE_URL=f"sqlite:///{directory}/count.sqlite3",
    REDIS_URL="",
    EXECUTOR="inprocess",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="config.settings",
)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

os.environ.setdefault("CREDENTIAL_KEYS", Fernet.generate_key().decode())

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402

STATEMENTS: Counter[str] = Counter()


def _count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    STATEMENTS[sql.split(None, 1)[0].upper()] += 1
    return execute(sql, params, many, context)


def _counted(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.execute_wrappers.append(_count)


connection_created.connect(_counted)


def scenario_token() -> str:
    from nodes.registry import NODE_TYPES
    from teams.models import Team, User
    from tests.engine.conftest import TEST_TYPES, build

    for node_type in TEST_TYPES:
        NODE_TYPES[node_type.key] = node_type
    owner = User.objects.create_user(username="counter", password="x" * 20)
    scenario = build(
        Team.bootstrap(owner, "Counting"),
        {
            1: ("webhook.trigger", {}),
            2: ("test.echo", {"q": "{{$1.body.q}}"}),
            3: ("webhook.response", {"status": 200, "body": "{{$2.params.q}}"}),
        },
        [(1, 2), (2, 3)],
    )
    scenario.active = True
    scenario.save()
    return scenario.webhook_token


async def call(application: Any, token: str, n: int) -> int:
    body = json.dumps({"q": f"call {n}"}).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/hooks/{token}",
        "raw_path": f"/hooks/{token}".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application(scope, receive, send)
    return int(sent[0]["status"])


async def main(calls: int, token: str) -> None:
    from config.asgi import application

    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await lifespan.put({"type": "lifespan.startup"})
    server = asyncio.create_task(application({"type": "lifespan"}, lifespan.get, lifespan_send))
    await started.wait()
    await call(application, token, -1)  # warm-up: connections opened, caches filled
    STATEMENTS.clear()
    cpu = time.process_time()
    statuses = Counter([await call(application, token, n) for n in range(calls)])
    cpu = time.process_time() - cpu
    await asyncio.sleep(0.5)  # let the executions' last commits land
    counted = dict(STATEMENTS)
    await lifespan.put({"type": "lifespan.shutdown"})
    await server
    total = sum(counted.values())
    print(f"{calls} calls, answers {dict(statuses)}")
    print(f"statements per execution: {total / calls:.1f}; process CPU per call {cpu / calls * 1000:.2f} ms")
    for kind, count in sorted(counted.items(), key=lambda item: -item[1]):
        print(f"  {kind:<10} {count / calls:.1f}")


if __name__ == "__main__":
    call_command("migrate", verbosity=0)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50, scenario_token()))
