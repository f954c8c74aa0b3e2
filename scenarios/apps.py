from __future__ import annotations

from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"
    verbose_name = "Scenarios and executions"

    def ready(self) -> None:
        from scenarios import executor, jobs

        executor.register(jobs.job_source())
