"""ASGI entry point: HTTP (with static files), WebSockets, and the executor's lifespan.

In the embedded default the durable executor runs inside this process: it starts with the ASGI
lifespan (uvicorn) or, for servers without lifespan (daphne), on the first request.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from durable import executor  # noqa: E402
from scenarios.runtime import waiting, webhooks  # noqa: E402
from scenarios.runtime.routing import websocket_urlpatterns  # noqa: E402

# Made once, now, before any thread asks: Channels makes a layer on first use without a lock, and
# two threads asking at once could each make an in-memory layer of their own, so that a group
# joined on one would never hear what is sent on the other.
get_channel_layer()

router = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # What is loaded by now (Django, the apps, the node catalog) lives as long as the
                # process: keep it out of the cyclic collector's full scans, a latency spike each.
                gc.collect()
                gc.freeze()
                executor.ensure_started()
                waiting.serve_from_this_loop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await waiting.stop_listening()
                await executor.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return
    executor.ensure_started()
    if scope["type"] == "http" and scope["path"].startswith(webhooks.PREFIX):
        # Webhooks are the hot path: served without Django's request handling (see webhooks.app).
        await webhooks.app(scope, receive, send)
        return
    await router(scope, receive, send)
