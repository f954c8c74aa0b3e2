from __future__ import annotations

from django.apps import AppConfig


class GatewayAppConfig(AppConfig):
    name = "gateway"
    verbose_name = "OpenAI-compatible gateway"

    def ready(self) -> None:
        from durable import executor
        from gateway.runner import SOURCE

        executor.register(SOURCE)
