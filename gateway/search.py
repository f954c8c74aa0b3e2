"""File search: text files cut into overlapping chunks, found again with the database's own full-text
search (SQLite FTS5 with bm25, PostgreSQL tsvector with ts_rank). No embeddings, no network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection

from gateway.models import Chunk, File, FileContent, VectorStoreFile
from gateway.models.files import chunk_sizes

MAX_QUERY_TERMS = 32


class NotSearchable(Exception):
    """The file is not text this server can index."""


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    file_id: str
    filename: str
    content: str
    score: float


def split_text(text: str, size: int, overlap: int) -> list[str]:
    """Windows of `size` words, each starting `size - overlap` words after the previous one."""
    words = text.split()
    if not words:
        return []
    step = max(1, size - overlap)
    chunks = []
    for start in range(0, len(words), step):
        chunks.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            break
    return chunks


def file_text(file: File) -> str:
    data = bytes(FileContent.objects.get(file=file).data)
    not_text = NotSearchable(
        f"{file.filename} is not a UTF-8 text file; this server searches text files only."
    )
    # NUL marks binary data, and PostgreSQL text (the chunks) cannot hold it.
    if b"\x00" in data:
        raise not_text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_text from None


def index_entry(entry: VectorStoreFile, strategy: dict[str, Any] | None = None) -> None:
    """Chunk the entry's file into the index and mark it completed, or failed with the reason."""
    size, overlap = chunk_sizes(strategy if strategy is not None else entry.chunking_strategy)
    try:
        text = file_text(entry.file)
    except NotSearchable as exc:
        entry.status = VectorStoreFile.Status.FAILED
        entry.last_error = {"code": "unsupported_file", "message": str(exc)}
        entry.save(update_fields=["status", "last_error"])
        return
    Chunk.objects.bulk_create(
        Chunk(entry=entry, file_id=entry.file_id, index=i, content=piece)
        for i, piece in enumerate(split_text(text, size, overlap))
    )
    entry.status = VectorStoreFile.Status.COMPLETED
    entry.save(update_fields=["status"])


def query_terms(query: str) -> list[str]:
    seen: list[str] = []
    for term in re.findall(r"\w+", query.lower()):
        if term not in seen:
            seen.append(term)
    return seen[:MAX_QUERY_TERMS]


def search(
    vector_store_ids: list[str],
    query: str,
    limit: int,
    threshold: float = 0.0,
    filters: dict[str, Any] | None = None,
) -> list[Hit]:
    """The `limit` chunks of the stores' files most relevant to `query`, best first; with `filters`,
    only in files whose attributes match them."""
    terms = query_terms(query)
    if not terms or not vector_store_ids:
        return []
    rows = VectorStoreFile.objects.filter(
        vector_store_id__in=vector_store_ids, status=VectorStoreFile.Status.COMPLETED
    ).values_list("id", "attributes")
    entries = [
        pk for pk, attributes in rows if filters is None or attributes_match(filters, attributes or {})
    ]
    if not entries:
        return []
    ranked = _ranked(entries, terms, limit)
    chunks = Chunk.objects.select_related("file").in_bulk([chunk_id for chunk_id, _ in ranked])
    hits = []
    for chunk_id, score in ranked:
        chunk = chunks.get(chunk_id)
        if chunk is not None and score >= threshold:
            hits.append(Hit(chunk.id, chunk.file_id, chunk.file.filename, chunk.content, round(score, 6)))
    return hits


def attributes_match(condition: dict[str, Any], attributes: dict[str, Any]) -> bool:
    """OpenAI's attribute filters: a comparison (eq, ne, gt, gte, lt, lte, in, nin) of one key, or
    `and`/`or` of filters. An ordering comparison between a number and anything else is false."""
    kind = condition["type"]
    if kind in ("and", "or"):
        results = (attributes_match(part, attributes) for part in condition["filters"])
        return all(results) if kind == "and" else any(results)
    have, want = attributes.get(condition["key"]), condition["value"]
    if kind == "eq":
        return bool(have == want)
    if kind == "ne":
        return bool(have != want)
    if kind in ("in", "nin"):
        return (have in want) == (kind == "in")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (have, want)):
        return False
    return {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[kind]


def _ranked(entry_ids: list[int], terms: list[str], limit: int) -> list[tuple[int, float]]:
    """(chunk id, score in 0..1) pairs, best first."""
    marks = ", ".join(["%s"] * len(entry_ids))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # bm25() is lower for better matches (negative); r / (1 + r) maps it into 0..1.
            cursor.execute(
                "SELECT c.id, -bm25(gateway_chunk_fts) AS r FROM gateway_chunk_fts "
                "JOIN gateway_chunk c ON c.id = gateway_chunk_fts.rowid "
                f"WHERE gateway_chunk_fts MATCH %s AND c.entry_id IN ({marks}) ORDER BY r DESC LIMIT %s",
                [" OR ".join(f'"{t}"' for t in terms), *entry_ids, limit],
            )
            return [(row[0], row[1] / (1 + row[1]) if row[1] > 0 else 0.0) for row in cursor.fetchall()]
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.id, ts_rank(c.search, q) AS r FROM gateway_chunk c, to_tsquery('english', %s) q "
                f"WHERE c.search @@ q AND c.entry_id IN ({marks}) ORDER BY r DESC, c.id LIMIT %s",
                [" | ".join(terms), *entry_ids, limit],
            )
            return [(row[0], min(1.0, float(row[1]))) for row in cursor.fetchall()]
    raise NotImplementedError(f"file search needs SQLite or PostgreSQL, not {connection.vendor}")
