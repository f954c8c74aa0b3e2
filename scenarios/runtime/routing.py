from __future__ import annotations

from typing import Any

from django.urls import path

from scenarios.runtime.consumers import ScenarioConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/scenarios/<uuid:scenario_id>/", ScenarioConsumer.as_asgi()),
]
