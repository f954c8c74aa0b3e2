"""The test job source's app, installed only in the workers the durability tests start."""

from __future__ import annotations

from django.apps import AppConfig


class DurabilityJobsConfig(AppConfig):
    name = "tests.durability"
    label = "durability_jobs"

    def ready(self) -> None:
        from durable import executor
        from tests.durability import jobs

        executor.register(executor.JobSource(jobs.SOURCE, jobs.claim, jobs.run, claim_woken=jobs.claim_woken))
