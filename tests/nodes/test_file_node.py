"""Download File: the file's parameters and its content, text or base64."""

from __future__ import annotations

import base64

import pytest

from nodes.base import NodeError
from tests.nodes.helpers import error_texts, file_object, form_for, openai_error, run_node, sent
from tests.openapi_spec import validate_response


def test_download_file_requires_a_file_id(cast, credential):
    form = form_for("openai.download_file", {"credential": str(credential.pk)}, team=cast.team)
    assert "This field is required." in error_texts(form, "file_id")


async def test_download_file_outputs_the_files_parameters_and_its_text(stub_provider, stub_credential):
    stub_provider.script("/v1/files/file-abc123", [(200, file_object(), {})])
    stub_provider.script(
        "/v1/files/file-abc123/content", [(200, "héllo wörld".encode(), {"Content-Type": "text/plain"})]
    )
    output = await run_node("openai.download_file", {"file_id": "file-abc123"}, stub_credential)
    assert [r.path for r in stub_provider.requests] == [
        "/v1/files/file-abc123",
        "/v1/files/file-abc123/content",
    ]
    sent(stub_provider, "GET", "/v1/files/file-abc123")
    content = sent(stub_provider, "GET", "/v1/files/file-abc123/content")
    assert "openai-beta" not in content.headers
    assert output == {**file_object(), "content": "héllo wörld", "encoding": "utf-8"}
    validate_response("OpenAIFile", {k: v for k, v in output.items() if k not in ("content", "encoding")})


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", b"text with a NUL\x00 inside"])
async def test_binary_content_is_base64_and_says_so(stub_provider, stub_credential, data):
    stub_provider.script("/v1/files/file-bin", [(200, file_object(id="file-bin"), {})])
    stub_provider.script(
        "/v1/files/file-bin/content", [(200, data, {"Content-Type": "application/octet-stream"})]
    )
    output = await run_node("openai.download_file", {"file_id": "file-bin"}, stub_credential)
    assert output["encoding"] == "base64"
    assert base64.b64decode(output["content"]) == data


async def test_an_unknown_file_is_a_clear_error(stub_provider, stub_credential):
    stub_provider.script("/v1/files/file-nope", [(404, openai_error("No such File object: file-nope"), {})])
    with pytest.raises(NodeError, match="HTTP 404.*No such File object: file-nope"):
        await run_node("openai.download_file", {"file_id": "file-nope"}, stub_credential)
