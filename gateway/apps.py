from __future__ import annotations

from django.apps import AppConfig


class GatewayAppConfig(AppConfig):
    name = "gateway"
    verbose_name = "OpenAI-compatible gateway"

    def ready(self) -> None:
        from gateway.runner import SOURCE
        from scenarios import executor

        executor.register(SOURCE)
