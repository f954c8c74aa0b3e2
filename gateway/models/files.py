"""Uploaded files (content kept in the database so every machine serves it), vector stores, and the
text chunks that file search looks through."""

from __future__ import annotations

from typing import Any

from django.db import models

from gateway import ids
from gateway.models.assistants import TeamObject

# OpenAI's `auto` strategy: 800-token chunks overlapping by 400. A word stands in for a token here.
AUTO_CHUNK_TOKENS = 800
AUTO_OVERLAP_TOKENS = 400


def chunk_sizes(strategy: dict[str, Any] | None) -> tuple[int, int]:
    """(chunk size, overlap) of a chunking strategy as requests give it."""
    if strategy and strategy.get("type") == "static":
        static = strategy.get("static") or {}
        return int(static.get("max_chunk_size_tokens", AUTO_CHUNK_TOKENS)), int(
            static.get("chunk_overlap_tokens", AUTO_OVERLAP_TOKENS)
        )
    return AUTO_CHUNK_TOKENS, AUTO_OVERLAP_TOKENS


class File(TeamObject):
    id = models.CharField(primary_key=True, max_length=64, default=ids.new_file_id)
    filename = models.CharField(max_length=512)
    bytes = models.PositiveBigIntegerField()
    purpose = models.CharField(max_length=32)
    content_type = models.CharField(max_length=200, default="application/octet-stream")
    expires_at = models.DateTimeField(null=True, blank=True)

    def as_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": ids.unix(self.created_at),
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if self.expires_at is not None:  # the spec's field is an integer when present, never null
            data["expires_at"] = ids.unix(self.expires_at)
        return data


class FileContent(models.Model):
    """A file's bytes, apart from its row so that lists never load them."""

    file = models.OneToOneField(File, primary_key=True, on_delete=models.CASCADE, related_name="stored")
    data = models.BinaryField()


class VectorStore(TeamObject):
    id = models.CharField(primary_key=True, max_length=64, default=ids.new_vector_store_id)
    name = models.CharField(max_length=256, blank=True, default="")
    description = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict)
    expires_after = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    files = models.ManyToManyField(File, through="VectorStoreFile", related_name="vector_stores")

    def as_api(self) -> dict[str, Any]:
        entries = list(self.entries.select_related("file"))
        counts = file_counts(entries)
        data: dict[str, Any] = {
            "id": self.id,
            "object": "vector_store",
            "created_at": ids.unix(self.created_at),
            "name": self.name,
            "usage_bytes": sum(e.usage_bytes for e in entries),
            "file_counts": counts,
            "status": "in_progress" if counts["in_progress"] else "completed",
            "expires_at": ids.unix(self.expires_at),
            "last_active_at": ids.unix(self.last_active_at or self.created_at),
            "metadata": self.metadata,
        }
        if self.expires_after is not None:  # an object when present, never null, in the spec
            data["expires_after"] = self.expires_after
        return data


def file_counts(entries: list[VectorStoreFile]) -> dict[str, int]:
    counts = dict.fromkeys(Processing.values, 0)
    for entry in entries:
        counts[entry.status] += 1
    return {**counts, "total": len(entries)}


class Processing(models.TextChoices):
    """The status of a file in a vector store, and of a batch of them."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class VectorStoreFileBatch(TeamObject):
    """Files added to a vector store together; its status follows theirs (or says it was cancelled)."""

    Status = Processing

    id = models.CharField(primary_key=True, max_length=64, default=ids.new_file_batch_id)
    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="batches")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "vector_store.files_batch",
            "created_at": ids.unix(self.created_at),
            "vector_store_id": self.vector_store_id,
            "status": self.status,
            "file_counts": file_counts(list(self.entries.all())),
        }


class VectorStoreFile(models.Model):
    """A file in a vector store: in_progress while it is being chunked, then completed or failed (or
    cancelled with its batch before its turn came). Its API id is the file's id."""

    Status = Processing

    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="entries")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(
        VectorStoreFileBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="entries"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    last_error = models.JSONField(null=True, blank=True)
    chunking_strategy = models.JSONField(null=True, blank=True)
    attributes = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def usage_bytes(self) -> int:
        return self.file.bytes if self.status == self.Status.COMPLETED else 0

    def as_api(self) -> dict[str, Any]:
        size, overlap = chunk_sizes(self.chunking_strategy)
        return {
            "id": self.file_id,
            "object": "vector_store.file",
            "usage_bytes": self.usage_bytes,
            "created_at": ids.unix(self.created_at),
            "vector_store_id": self.vector_store_id,
            "status": self.status,
            "last_error": self.last_error,
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
            },
            "attributes": self.attributes or {},
        }

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vector_store", "file"], name="unique_vector_store_file")
        ]


class Chunk(models.Model):
    """A passage of a file in a vector store, indexed by the database's full-text search
    (gateway/search.py; the index itself is created by migration 0002 for each database)."""

    entry = models.ForeignKey(VectorStoreFile, on_delete=models.CASCADE, related_name="chunks")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="+")
    index = models.PositiveIntegerField()
    content = models.TextField()

    class Meta:
        ordering = ["entry", "index"]
