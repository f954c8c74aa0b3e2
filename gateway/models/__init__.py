"""The gateway's models, split by domain."""

from __future__ import annotations

from gateway.models.access import GatewayConfig, GatewayKey
from gateway.models.assistants import Assistant, Message, TeamObject, Thread
from gateway.models.files import Chunk, File, FileContent, VectorStore, VectorStoreFile, VectorStoreFileBatch
from gateway.models.runs import Run, RunStep

__all__ = [
    "Assistant",
    "Chunk",
    "File",
    "FileContent",
    "GatewayConfig",
    "GatewayKey",
    "Message",
    "Run",
    "RunStep",
    "TeamObject",
    "Thread",
    "VectorStore",
    "VectorStoreFile",
    "VectorStoreFileBatch",
]
