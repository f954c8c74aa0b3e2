"""The full-text index over file chunks, in each database's own engine.

SQLite: an FTS5 table over gateway_chunk (external content), kept in step by triggers.
PostgreSQL: a generated tsvector column with a GIN index.
"""

from __future__ import annotations

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE gateway_chunk_fts USING fts5("
    "content, content='gateway_chunk', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER gateway_chunk_fts_insert AFTER INSERT ON gateway_chunk BEGIN "
    "INSERT INTO gateway_chunk_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER gateway_chunk_fts_delete AFTER DELETE ON gateway_chunk BEGIN "
    "INSERT INTO gateway_chunk_fts(gateway_chunk_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER gateway_chunk_fts_update AFTER UPDATE ON gateway_chunk BEGIN "
    "INSERT INTO gateway_chunk_fts(gateway_chunk_fts, rowid, content) VALUES ('delete', old.id, old.content); "
    "INSERT INTO gateway_chunk_fts(rowid, content) VALUES (new.id, new.content); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS gateway_chunk_fts_update",
    "DROP TRIGGER IF EXISTS gateway_chunk_fts_delete",
    "DROP TRIGGER IF EXISTS gateway_chunk_fts_insert",
    "DROP TABLE IF EXISTS gateway_chunk_fts",
]
POSTGRES_FORWARD = [
    "ALTER TABLE gateway_chunk ADD COLUMN search tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED",
    "CREATE INDEX gateway_chunk_search ON gateway_chunk USING GIN (search)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS gateway_chunk_search",
    "ALTER TABLE gateway_chunk DROP COLUMN IF EXISTS search",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def operation(apps, schema_editor):  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [("gateway", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
