"""Download File: the file's parameters (GET /files/{id}) and its content (GET /files/{id}/content)."""

from __future__ import annotations

import base64
from typing import Any

from nodes.base import NodeContext
from nodes.params import define
from nodes.transport.guard import path_segment
from nodes.types.assistant_fields import APP, CREDENTIAL, FILE_ID, client_for, expect_object


def content_fields(data: bytes) -> dict[str, str]:
    """Text when the bytes are UTF-8 (and storable: no NUL), else base64; the encoding is named."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        return {"content": text, "encoding": "utf-8"}
    return {"content": base64.b64encode(data).decode("ascii"), "encoding": "base64"}


async def download_file(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    client = client_for(ctx)
    path = f"/files/{path_segment(params['file_id'])}"
    info = expect_object(await client.request("GET", path), "Download File")
    data = await client.request("GET", f"{path}/content", expect="bytes")
    return {**info, **content_fields(data)}


DOWNLOAD_FILE = define(
    key="openai.download_file",
    app=APP,
    title="Download File",
    description="Downloads a file: its parameters and its content.",
    kind="action",
    fields=(CREDENTIAL, FILE_ID),
    run=download_file,
)

TYPES = (DOWNLOAD_FILE,)
