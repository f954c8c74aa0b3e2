"""Migration 0003 gives credentials their look-alike key; look-alike names saved before it stay, made
distinct, instead of breaking the migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from teams.names import name_key

BEFORE = [("teams", "0002_invitation")]
AFTER = [("teams", "0003_credential_name_key")]


@pytest.mark.django_db(transaction=True)
def test_look_alike_credentials_saved_before_the_key_get_numbered_names_the_oldest_keeps_its_own():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        Team, Credential = old.get_model("teams", "Team"), old.get_model("teams", "Credential")
        team, other = Team.objects.create(name="Ours"), Team.objects.create(name="Theirs")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [
            (team, "Caf\u00e9"),
            (team, "Cafe\u0301"),
            (team, "CAF\u00c9"),
            (team, "N" * 100),
            (team, "n" * 100),
            (other, "Caf\u00e9"),
        ]
        for minute, (owner, name) in enumerate(rows):
            credential = Credential.objects.create(team=owner, name=name)
            Credential.objects.filter(pk=credential.pk).update(created_at=start + timedelta(minutes=minute))

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps.get_model("teams", "Credential")
        ours = list(
            new.objects.filter(team_id=team.pk).order_by("created_at").values_list("name", "name_key")
        )
        assert [name for name, _ in ours] == [
            "Caf\u00e9",
            "Cafe\u0301 (2)",
            "CAF\u00c9 (3)",
            "N" * 100,
            "n" * 96 + " (2)",
        ]
        assert all(key == name_key(name) for name, key in ours)
        assert list(new.objects.filter(team_id=other.pk).values_list("name", flat=True)) == ["Caf\u00e9"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
