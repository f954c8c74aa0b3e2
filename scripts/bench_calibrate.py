"""The calibration probe of `make bench`: plain Django, not Scenery, doing the least a persisted webhook
execution does — parse the JSON body, make one httpx call to the stub provider, write two rows to
SQLite (WAL) through `sync_to_async` — on one uvicorn process.

`../shared/reference/performance-anchors.md` measured such a probe at 273 req/s (p99 44 ms) at 8
clients on the day n8n was measured on this machine kind. Measuring it again next to Scenery says how
busy the machine is now, so Scenery's figures can be compared with n8n's fairly.

Run: uvicorn scripts.bench_calibrate:application (environment: PROBE_DB, PROBE_PROVIDER)
"""

from __future__ import annotations

import json
import os
from typing import Any

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-calibration-probe",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("PROBE_DB", ":memory:")}
    },
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    USE_TZ=True,
)
django.setup()

import httpx  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

PROVIDER = os.environ.get("PROBE_PROVIDER", "http://127.0.0.1:9/v1/chat/completions")
_client: httpx.AsyncClient | None = None


def _prepare() -> None:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, kind TEXT, data TEXT)")


def _insert(kind: str, data: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO probe (kind, data) VALUES (%s, %s)", [kind, json.dumps(data)])


@csrf_exempt
async def hook(request: HttpRequest) -> JsonResponse:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=30)
    body = json.loads(request.body)
    await sync_to_async(_insert)("execution", body)
    reply = (
        await _client.post(PROVIDER, json={"model": "m", "messages": [{"role": "user", "content": "q"}]})
    ).json()
    await sync_to_async(_insert)("node_run", reply)
    return JsonResponse({"answer": reply["choices"][0]["message"]["content"]})


urlpatterns = [path("hook", hook)]
_prepare()
application = get_asgi_application()
