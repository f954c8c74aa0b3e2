"""/v1/files: upload (multipart), list, retrieve, content, delete. Bytes live in the database."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.utils import timezone

from gateway.api import Call, list_page, ok, owned
from gateway.errors import invalid
from gateway.models import File, FileContent
from gateway.validation import query_int, validate

FORM_FIELDS = {"purpose", "expires_after[anchor]", "expires_after[seconds]"}


def _form(call: Call) -> tuple[dict[str, Any], UploadedFile]:
    try:
        post, files = call.request.POST, call.request.FILES
    except (RequestDataTooBig, TooManyFieldsSent) as exc:
        raise invalid(f"The upload could not be read: {exc}") from None
    except MultiPartParserError as exc:  # e.g. a file name of thousands of characters
        raise invalid(f"The upload could not be read: {exc}", "file") from None
    for name in [*post.keys(), *files.keys()]:
        if name not in FORM_FIELDS and name != "file":
            raise invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
    upload = files.get("file")
    if upload is None:
        raise invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
    data: dict[str, Any] = {"file": "(binary)", "purpose": post.get("purpose")}
    if data["purpose"] is None:
        raise invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
    if "expires_after[anchor]" in post or "expires_after[seconds]" in post:
        seconds = query_int(post.get("expires_after[seconds]"), "expires_after.seconds", 0, 3600, 2592000)
        data["expires_after"] = {"anchor": post.get("expires_after[anchor]"), "seconds": seconds}
    validate("CreateFileRequest", data)
    return data, upload


def _store(team_id: Any, data: dict[str, Any], upload: UploadedFile) -> dict[str, Any]:
    limit = settings.GATEWAY_MAX_FILE_BYTES
    if upload.size is not None and upload.size > limit:
        raise invalid(
            f"File is too large: {upload.size:,} bytes; this server accepts files up to {limit:,} bytes "
            "(GATEWAY_MAX_FILE_BYTES).",
            "file",
        )
    name = (upload.name or "file").rsplit("/", 1)[-1][:512]
    content_type = upload.content_type or ""
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    blob = upload.read()
    now = timezone.now()
    expires = data.get("expires_after")
    with transaction.atomic():
        file = File.objects.create(
            team_id=team_id,
            filename=name,
            bytes=len(blob),
            purpose=data["purpose"],
            content_type=content_type,
            created_at=now,
            expires_at=now + timedelta(seconds=expires["seconds"]) if expires else None,
        )
        FileContent.objects.create(file=file, data=blob)
    return file.as_api()


def _list(team_id: Any, params: dict[str, str]) -> dict[str, Any]:
    rows = File.objects.filter(team_id=team_id)
    if params.get("purpose"):
        rows = rows.filter(purpose=params["purpose"])
    params = {k: v for k, v in params.items() if k != "before"}
    return list_page(rows, params, File.as_api, default_limit=10_000, max_limit=10_000, allow_before=False)


def _delete(team_id: Any, file_id: str) -> dict[str, Any]:
    owned(File, team_id, file_id, "file").delete()
    return {"id": file_id, "object": "file", "deleted": True}


def _content(team_id: Any, file_id: str) -> tuple[File, bytes]:
    file = owned(File, team_id, file_id, "file")
    if file.purpose == "assistants" and not settings.GATEWAY_ALLOW_ASSISTANTS_FILE_DOWNLOAD:
        raise invalid("Not allowed to download files of purpose: assistants")
    return file, bytes(FileContent.objects.get(file=file).data)


async def upload(call: Call) -> HttpResponseBase:
    data, file = await sync_to_async(_form)(call)
    return ok(await sync_to_async(_store)(call.team_id, data, file))


async def listing(call: Call) -> HttpResponseBase:
    return ok(await sync_to_async(_list)(call.team_id, call.request.GET.dict()))


async def retrieve(call: Call, file_id: str) -> HttpResponseBase:
    file = await sync_to_async(owned)(File, call.team_id, file_id, "file")
    return ok(file.as_api())


async def delete(call: Call, file_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_delete)(call.team_id, file_id))


async def content(call: Call, file_id: str) -> HttpResponseBase:
    file, blob = await sync_to_async(_content)(call.team_id, file_id)
    response = HttpResponse(blob, content_type=file.content_type)
    ascii_name = file.filename.encode("ascii", "replace").decode().replace('"', "'")
    response["Content-Disposition"] = f'attachment; filename="{ascii_name}"'
    return response
