"""Uploaded files (content kept in the database so every machine serves it), vector stores, and the
text chunks that file search looks through."""

from __future__ import annotations

from typing import Any

from django.db import models

from gateway import ids
from gateway.models.assistants import TeamObject


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
        completed = [e for e in entries if e.status == VectorStoreFile.Status.COMPLETED]
        failed = [e for e in entries if e.status == VectorStoreFile.Status.FAILED]
        data: dict[str, Any] = {
            "id": self.id,
            "object": "vector_store",
            "created_at": ids.unix(self.created_at),
            "name": self.name,
            "usage_bytes": sum(e.file.bytes for e in completed),
            "file_counts": {
                "in_progress": 0,
                "completed": len(completed),
                "failed": len(failed),
                "cancelled": 0,
                "total": len(entries),
            },
            "status": "completed",
            "expires_at": ids.unix(self.expires_at),
            "last_active_at": ids.unix(self.last_active_at or self.created_at),
            "metadata": self.metadata,
        }
        if self.expires_after is not None:  # an object when present, never null, in the spec
            data["expires_after"] = self.expires_after
        return data


class VectorStoreFile(models.Model):
    class Status(models.TextChoices):
        COMPLETED = "completed"
        FAILED = "failed"

    vector_store = models.ForeignKey(VectorStore, on_delete=models.CASCADE, related_name="entries")
    file = models.ForeignKey(File, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    last_error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
