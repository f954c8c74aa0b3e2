"""Re-encrypt every credential secret under the first key of CREDENTIAL_KEYS.

Run after putting a new key first; once it reports no credential needing re-entry, the old keys can
be removed from CREDENTIAL_KEYS.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from teams import crypto
from teams.models import Credential


class Command(BaseCommand):
    help = "Re-encrypt all credential secrets under the first key of CREDENTIAL_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        unreadable: list[Credential] = []
        stored = (
            Credential.objects.exclude(secret_encrypted="")
            .select_related("team")
            .order_by("team__name", "name")
        )
        for credential in stored.iterator():
            try:
                token = crypto.rotate(credential.secret_encrypted)
            except crypto.SecretUnreadable:
                unreadable.append(credential)
                continue
            # update() rather than save(): the row's other fields and updated_at stay as they were.
            Credential.objects.filter(pk=credential.pk).update(secret_encrypted=token)
            rotated += 1
        self.stdout.write(
            f"Re-encrypted {rotated} credential{'s' if rotated != 1 else ''} under the first key."
        )
        if unreadable:
            self.stdout.write("These cannot be decrypted with any configured key; enter their secrets again:")
            for credential in unreadable:
                self.stdout.write(f"  {credential.team.name} / {credential.name} ({credential.id})")
            count = len(unreadable)
            raise CommandError(f"{count} credential{' needs' if count == 1 else 's need'} re-entry.")
