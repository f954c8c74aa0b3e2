"""Credential names compared by their comparison form (teams/names.py), unique per team.

Look-alike names saved before this migration ("Café" twice, once with a combining accent) would break
the new constraint: the oldest keeps its name, each later one gets " (2)", " (3)", ... appended, so
that every name stays visible and distinct. Nodes link credentials by id, not by name.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from teams.names import name_key

NAME_MAX = 100


def fill_name_keys(apps: Any, schema_editor: Any) -> None:
    Credential = apps.get_model("teams", "Credential")
    taken: set[tuple[Any, str]] = set()
    for credential in Credential.objects.order_by("team_id", "created_at", "id"):
        name, n = credential.name, 1
        while (credential.team_id, name_key(name)) in taken:
            n += 1
            suffix = f" ({n})"
            name = credential.name[: NAME_MAX - len(suffix)] + suffix
        key = name_key(name)
        taken.add((credential.team_id, key))
        Credential.objects.filter(pk=credential.pk).update(name=name, name_key=key)


class Migration(migrations.Migration):
    dependencies = [
        ("teams", "0002_invitation"),
    ]

    operations = [
        migrations.AddField(
            model_name="credential",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="credential", name="unique_credential_name"),
        migrations.AddConstraint(
            model_name="credential",
            constraint=models.UniqueConstraint(
                fields=("team", "name_key"), name="unique_credential_name_key"
            ),
        ),
    ]
