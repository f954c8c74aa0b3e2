"""Tool resources: the files given to code interpreter and the (single) vector store given to file
search, on assistants, threads, runs and message attachments. All checks are per team."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from gateway import search
from gateway.errors import invalid
from gateway.models import File, Thread, VectorStore, VectorStoreFile

MAX_CODE_INTERPRETER_FILES = 20
MAX_VECTOR_STORES = 1


def team_files(team_id: Any, file_ids: list[str], param: str) -> list[File]:
    found = File.objects.filter(team_id=team_id, pk__in=file_ids).in_bulk()
    for index, file_id in enumerate(file_ids):
        if file_id not in found:
            raise invalid(f"No such File object: {file_id}", f"{param}[{index}]")
    return [found[file_id] for file_id in dict.fromkeys(file_ids)]


def check_chunking(strategy: dict[str, Any] | None, param: str = "chunking_strategy") -> None:
    """A static strategy's overlap is at most half its chunk size (OpenAI's rule, stated in prose)."""
    if not strategy or strategy.get("type") != "static":
        return
    static = strategy.get("static") or {}
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    if not isinstance(size, int) or not isinstance(overlap, int):
        return  # the spec's schema has already refused these
    where = f"{param}.static.chunk_overlap_tokens"
    if overlap < 0:
        raise invalid(f"Invalid '{where}': it must be 0 or more, but got {overlap}.", where, "invalid_value")
    if overlap > size // 2:
        raise invalid(
            f"Invalid '{where}': {overlap} is more than half of max_chunk_size_tokens ({size}); the overlap "
            f"may be at most {size // 2} tokens.",
            where,
            "invalid_value",
        )


def create_vector_store(
    team_id: Any,
    *,
    file_ids: list[str] | None = None,
    name: str = "",
    description: str = "",
    metadata: dict[str, str] | None = None,
    expires_after: dict[str, Any] | None = None,
    chunking_strategy: dict[str, Any] | None = None,
    param: str = "file_ids",
    chunking_param: str = "chunking_strategy",
) -> VectorStore:
    check_chunking(chunking_strategy, chunking_param)
    files = team_files(team_id, file_ids or [], param)
    now = timezone.now()
    with transaction.atomic():
        store = VectorStore.objects.create(
            team_id=team_id,
            name=name or "",
            description=description or "",
            metadata=metadata or {},
            expires_after=expires_after,
            expires_at=now + timedelta(days=expires_after["days"]) if expires_after else None,
            last_active_at=now,
        )
        add_files(store, files, chunking_strategy)
    return store


def add_files(store: VectorStore, files: list[File], strategy: dict[str, Any] | None = None) -> None:
    for file in files:
        add_file(store, file, strategy)


def add_file(
    store: VectorStore,
    file: File,
    strategy: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
) -> VectorStoreFile:
    """The file in the store, chunked now if it was not there yet."""
    entry, created = VectorStoreFile.objects.get_or_create(
        vector_store=store,
        file=file,
        defaults={
            "status": VectorStoreFile.Status.IN_PROGRESS,
            "chunking_strategy": strategy,
            "attributes": attributes,
        },
    )
    if created:
        search.index_entry(entry)
    return entry


def _vector_store_ids(team_id: Any, ids: list[str], param: str) -> list[str]:
    known = set(VectorStore.objects.filter(team_id=team_id, pk__in=ids).values_list("pk", flat=True))
    for index, store_id in enumerate(ids):
        if store_id not in known:
            raise invalid(f"No vector store found with id '{store_id}'.", f"{param}[{index}]")
    return list(dict.fromkeys(ids))


def resolve(team_id: Any, resources: dict[str, Any] | None, param: str = "tool_resources") -> dict[str, Any]:
    """Check a request's tool_resources and return them in stored form (creating helper vector stores)."""
    if not resources:
        return {}
    out: dict[str, Any] = {}
    code = resources.get("code_interpreter")
    if code is not None:
        file_ids = list(code.get("file_ids") or [])
        if len(file_ids) > MAX_CODE_INTERPRETER_FILES:
            raise invalid(
                f"Invalid '{param}.code_interpreter.file_ids': array too long. Expected an array with maximum "
                f"length {MAX_CODE_INTERPRETER_FILES}, but got an array with length {len(file_ids)} instead.",
                f"{param}.code_interpreter.file_ids",
                "array_above_max_length",
            )
        out["code_interpreter"] = {
            "file_ids": [f.id for f in team_files(team_id, file_ids, f"{param}.code_interpreter.file_ids")]
        }
    found = resources.get("file_search")
    if found is not None:
        store_ids = list(found.get("vector_store_ids") or [])
        helpers = list(found.get("vector_stores") or [])
        if store_ids and helpers:
            raise invalid(
                f"Invalid '{param}.file_search': give either 'vector_store_ids' or 'vector_stores', not both.",
                f"{param}.file_search",
            )
        if len(store_ids) + len(helpers) > MAX_VECTOR_STORES:
            raise invalid(
                f"Invalid '{param}.file_search': at most {MAX_VECTOR_STORES} vector store can be attached.",
                f"{param}.file_search",
                "array_above_max_length",
            )
        store_ids = _vector_store_ids(team_id, store_ids, f"{param}.file_search.vector_store_ids")
        for index, helper in enumerate(helpers):
            store = create_vector_store(
                team_id,
                file_ids=helper.get("file_ids") or [],
                metadata=helper.get("metadata"),
                chunking_strategy=helper.get("chunking_strategy"),
                param=f"{param}.file_search.vector_stores[{index}].file_ids",
                chunking_param=f"{param}.file_search.vector_stores[{index}].chunking_strategy",
            )
            store_ids.append(store.id)
        out["file_search"] = {"vector_store_ids": store_ids}
    return out


def update(team_id: Any, current: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any]:
    """An update's tool_resources: each tool named replaces that tool's lists; the others stay."""
    if given is None:
        return {}
    return {**(current or {}), **resolve(team_id, given)}


def attach(thread: Thread, attachments: list[dict[str, Any]] | None, param: str) -> list[dict[str, Any]]:
    """Add a message's attached files to its thread's tools; return the attachments as stored.

    File-search files go into the thread's vector store (made on first use); code-interpreter files into
    the thread's code-interpreter files (at most 20).
    """
    if not attachments:
        return []
    by_id = File.objects.filter(team_id=thread.team_id, pk__in=[a["file_id"] for a in attachments]).in_bulk()
    for index, attachment in enumerate(attachments):
        if attachment["file_id"] not in by_id:
            raise invalid(f"No such File object: {attachment['file_id']}", f"{param}[{index}].file_id")
    resources = dict(thread.tool_resources or {})
    for attachment in attachments:
        kinds = {tool.get("type") for tool in attachment.get("tools") or []}
        file = by_id[attachment["file_id"]]
        if "file_search" in kinds:
            store_ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
            store = VectorStore.objects.filter(team_id=thread.team_id, pk__in=store_ids).first()
            if store is None:
                store = create_vector_store(thread.team_id, name=f"{thread.id} attachments")
                resources["file_search"] = {"vector_store_ids": [store.id]}
            add_files(store, [file])
        if "code_interpreter" in kinds:
            current = (resources.get("code_interpreter") or {}).get("file_ids") or []
            if file.id not in current:
                if len(current) >= MAX_CODE_INTERPRETER_FILES:
                    raise invalid(
                        f"The thread already has {MAX_CODE_INTERPRETER_FILES} code interpreter files, the most "
                        "allowed.",
                        param,
                        "array_above_max_length",
                    )
                resources["code_interpreter"] = {"file_ids": [*current, file.id]}
    if resources != thread.tool_resources:
        thread.tool_resources = resources
        thread.save(update_fields=["tool_resources"])
    return [{"file_id": a["file_id"], "tools": a.get("tools") or []} for a in attachments]


def vector_store_ids(*resource_sets: dict[str, Any] | None) -> list[str]:
    """Every vector store named in these tool_resources, once each."""
    found: list[str] = []
    for resources in resource_sets:
        for store_id in ((resources or {}).get("file_search") or {}).get("vector_store_ids") or []:
            if store_id not in found:
                found.append(store_id)
    return found
