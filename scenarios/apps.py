from __future__ import annotations

from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"
    verbose_name = "Scenarios and executions"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from durable import executor
        from scenarios.runtime import consumers, jobs
        from teams.models import Membership

        executor.register(jobs.job_source())
        # A removed member's live sockets close at once, not at the next periodic re-check.
        for signal in (post_save, post_delete):
            signal.connect(consumers.on_membership_change, sender=Membership, dispatch_uid="scenario-sockets")
