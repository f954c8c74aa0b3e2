from __future__ import annotations

from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "teams"
    verbose_name = "Teams and credentials"

    def ready(self) -> None:
        from teams import crypto

        # Build the key set now: a malformed CREDENTIAL_KEYS stops start-up with a clear message
        # instead of failing later, on the first credential saved or used.
        crypto.check_keys()
