"""Vector store file batches: files added to a store together, chunked one after another.

A batch is stored in_progress with an in_progress entry per new file, then each file is chunked in
its own transaction, so a reader sees the counts move and a cancel (from any request) stops the
files whose turn has not come: they end cancelled, the chunked ones stay. The batch then ends
completed, or stays cancelled.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from gateway import search
from gateway.errors import invalid
from gateway.models import File, VectorStore, VectorStoreFile, VectorStoreFileBatch

Item = tuple[File, dict[str, Any] | None, dict[str, Any] | None]  # file, chunking strategy, attributes


def create(store: VectorStore, items: list[Item]) -> VectorStoreFileBatch:
    with transaction.atomic():
        batch = VectorStoreFileBatch.objects.create(team_id=store.team_id, vector_store=store)
        present = set(
            VectorStoreFile.objects.filter(vector_store=store, file__in=[f for f, _, _ in items]).values_list(
                "file_id", flat=True
            )
        )
        VectorStoreFile.objects.bulk_create(
            VectorStoreFile(
                vector_store=store,
                file=file,
                batch=batch,
                status=VectorStoreFile.Status.IN_PROGRESS,
                chunking_strategy=strategy,
                attributes=attributes,
            )
            for file, strategy, attributes in {f.id: (f, s, a) for f, s, a in items}.values()
            if file.id not in present
        )
    return batch


def process(batch: VectorStoreFileBatch) -> VectorStoreFileBatch:
    """Chunk the batch's waiting files one by one until none is left or the batch is cancelled."""
    for entry_id in list(
        batch.entries.filter(status=VectorStoreFile.Status.IN_PROGRESS).values_list("id", flat=True)
    ):
        with transaction.atomic():
            entry = (
                VectorStoreFile.objects.select_for_update()
                .select_related("file")
                .filter(pk=entry_id, status=VectorStoreFile.Status.IN_PROGRESS)
                .first()
            )
            if entry is not None:  # else cancelled meanwhile
                search.index_entry(entry)
    VectorStoreFileBatch.objects.filter(pk=batch.pk, status=VectorStoreFileBatch.Status.IN_PROGRESS).update(
        status=VectorStoreFileBatch.Status.COMPLETED
    )
    batch.refresh_from_db()
    return batch


def cancel(batch: VectorStoreFileBatch) -> VectorStoreFileBatch:
    with transaction.atomic():
        locked = VectorStoreFileBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != VectorStoreFileBatch.Status.IN_PROGRESS:
            raise invalid(f"Cannot cancel a vector store file batch with status '{locked.status}'.")
        locked.status = VectorStoreFileBatch.Status.CANCELLED
        locked.save(update_fields=["status"])
        locked.entries.filter(status=VectorStoreFile.Status.IN_PROGRESS).update(
            status=VectorStoreFile.Status.CANCELLED
        )
    return locked
