"""The gateway's routes, mounted at /v1/ (config/urls.py). Paths follow OpenAI's API exactly."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from gateway.api import route, unknown_url
from gateway.views import assistants, files, inference, messages, runs, threads, vector_stores

app_name = "gateway"

T = "threads/<str:thread_id>"
VS = "vector_stores/<str:vector_store_id>"

urlpatterns: list[URLPattern | URLResolver] = [
    path("assistants", route(beta=True, GET=assistants.listing, POST=assistants.create), name="assistants"),
    path(
        "assistants/<str:assistant_id>",
        route(beta=True, GET=assistants.retrieve, POST=assistants.modify, DELETE=assistants.delete),
        name="assistant",
    ),
    path("threads", route(beta=True, POST=threads.create), name="threads"),
    path("threads/runs", route(beta=True, POST=threads.create_and_run), name="thread-and-run"),
    path(
        T, route(beta=True, GET=threads.retrieve, POST=threads.modify, DELETE=threads.delete), name="thread"
    ),
    path(f"{T}/messages", route(beta=True, GET=messages.listing, POST=messages.create), name="messages"),
    path(
        f"{T}/messages/<str:message_id>",
        route(beta=True, GET=messages.retrieve, POST=messages.modify, DELETE=messages.delete),
        name="message",
    ),
    path(f"{T}/runs", route(beta=True, GET=runs.listing, POST=runs.create), name="runs"),
    path(f"{T}/runs/<str:run_id>", route(beta=True, GET=runs.retrieve, POST=runs.modify), name="run"),
    path(f"{T}/runs/<str:run_id>/cancel", route(beta=True, POST=runs.cancel), name="run-cancel"),
    path(
        f"{T}/runs/<str:run_id>/submit_tool_outputs",
        route(beta=True, POST=runs.submit_tool_outputs),
        name="run-submit",
    ),
    path(f"{T}/runs/<str:run_id>/steps", route(beta=True, GET=runs.steps), name="run-steps"),
    path(f"{T}/runs/<str:run_id>/steps/<str:step_id>", route(beta=True, GET=runs.step), name="run-step"),
    path("files", route(GET=files.listing, POST=files.upload), name="files"),
    path("files/<str:file_id>", route(GET=files.retrieve, DELETE=files.delete), name="file"),
    path("files/<str:file_id>/content", route(GET=files.content), name="file-content"),
    path("vector_stores", route(GET=vector_stores.listing, POST=vector_stores.create), name="vector-stores"),
    path(
        "vector_stores/<str:vector_store_id>",
        route(GET=vector_stores.retrieve, POST=vector_stores.modify, DELETE=vector_stores.delete),
        name="vector-store",
    ),
    path(
        f"{VS}/files",
        route(GET=vector_stores.list_files, POST=vector_stores.add_file),
        name="vector-store-files",
    ),
    path(
        f"{VS}/files/<str:file_id>",
        route(
            GET=vector_stores.retrieve_file, POST=vector_stores.update_file, DELETE=vector_stores.remove_file
        ),
        name="vector-store-file",
    ),
    path(f"{VS}/file_batches", route(POST=vector_stores.create_batch), name="vector-store-file-batches"),
    path(
        f"{VS}/file_batches/<str:batch_id>",
        route(GET=vector_stores.retrieve_batch),
        name="vector-store-file-batch",
    ),
    path(
        f"{VS}/file_batches/<str:batch_id>/cancel",
        route(POST=vector_stores.cancel_batch),
        name="vector-store-file-batch-cancel",
    ),
    path(
        f"{VS}/file_batches/<str:batch_id>/files",
        route(GET=vector_stores.batch_files),
        name="vector-store-file-batch-files",
    ),
    path(f"{VS}/search", route(POST=vector_stores.search_store), name="vector-store-search"),
    path("chat/completions", route(POST=inference.chat_completions), name="chat-completions"),
    path("completions", route(POST=inference.completions), name="completions"),
    path("models", route(GET=inference.models), name="models"),
    path("models/<path:model_id>", route(GET=inference.model), name="model"),
    re_path(r"^(?P<path>.*)$", unknown_url, name="unknown"),
]
