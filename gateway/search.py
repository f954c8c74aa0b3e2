"""File search: text files cut into overlapping chunks, found again with the database's own full-text
search (SQLite FTS5 with bm25, PostgreSQL tsvector with ts_rank). No embeddings, no network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import connection

from gateway.models import Chunk, File, FileContent, VectorStoreFile

# OpenAI's `auto` strategy: 800-token chunks overlapping by 400. A word stands in for a token here.
AUTO_CHUNK_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400
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


def chunk_sizes(strategy: dict[str, Any] | None) -> tuple[int, int]:
    if strategy and strategy.get("type") == "static":
        static = strategy.get("static") or {}
        return int(static.get("max_chunk_size_tokens", AUTO_CHUNK_TOKENS)), int(
            static.get("chunk_overlap_tokens", AUTO_OVERLAP_TOKENS)
        )
    return AUTO_CHUNK_TOKENS, AUTO_OVERLAP_TOKENS


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
    """Chunk the entry's file into the index, or mark the entry failed with the reason."""
    size, overlap = chunk_sizes(strategy)
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


def query_terms(query: str) -> list[str]:
    seen: list[str] = []
    for term in re.findall(r"\w+", query.lower()):
        if term not in seen:
            seen.append(term)
    return seen[:MAX_QUERY_TERMS]


def search(vector_store_ids: list[str], query: str, limit: int, threshold: float = 0.0) -> list[Hit]:
    """The `limit` chunks of the stores' files most relevant to `query`, best first."""
    terms = query_terms(query)
    if not terms or not vector_store_ids:
        return []
    entries = list(
        VectorStoreFile.objects.filter(
            vector_store_id__in=vector_store_ids, status=VectorStoreFile.Status.COMPLETED
        ).values_list("id", flat=True)
    )
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
