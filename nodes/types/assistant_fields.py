"""Fields the ChatGPT Assistant nodes share (labels are the seed's), and the helpers that turn their
values into Assistants v2 wire format: tools, tool resources and message attachments."""

from __future__ import annotations

from typing import Any

from nodes.base import Field, NodeContext
from nodes.transport.http import ProviderClient, ProviderError

APP = "ChatGPT Assistant"
MAX_MESSAGE_FILES = 10  # v1's cap per message; v2 sets none, the seed keeps 10
MAX_CODE_INTERPRETER_FILES = 20
MAX_ASSISTANT_TOOLS = 128
MAX_RUN_TOOLS = 20
METADATA_PAIRS = 16

CREDENTIAL = Field(
    "credential",
    "API Key",
    kind="credential",
    required=True,
    help="The credential (API key and base URL) this node calls the provider with.",
)


def model_field(label: str = "Model ID", *, required: bool = False, from_credential: bool = True) -> Field:
    return Field(
        "model",
        label,
        kind="select",
        live_choices="models",
        required=required,
        credential_default=from_credential,
        help="A model of the provider; the list comes from the credential. You can also type one.",
    )


FILE_IDS = Field(
    "file_ids",
    "File IDs list",
    kind="file_ids",
    placeholder='["file-abc","file-def"]',
    help="Files the assistant's tools can use. Code interpreter takes up to 20; Retrieval puts them "
    "in a vector store.",
)
MESSAGE_FILE_IDS = Field(
    "file_ids",
    "File IDs list",
    kind="file_ids",
    max_items=MAX_MESSAGE_FILES,
    placeholder='["file-abc","file-def"]',
    help=f"Files attached to the message, at most {MAX_MESSAGE_FILES}.",
)
FILE_TOOLS = Field(
    "file_tools",
    "Attached files are for",
    kind="select",
    choices=(("file_search", "File search"), ("code_interpreter", "Code interpreter"), ("both", "Both")),
    default="file_search",
    expressions=False,
    help="Which tools can use the attached files.",
)
METADATA = Field(
    "metadata",
    "Metadata",
    kind="metadata",
    max_items=METADATA_PAIRS,
    help="Up to 16 key-value pairs; keys up to 64 characters, values up to 512.",
)
ASSISTANT_NAME = Field("name", "Assistant name", max_length=256)
DESCRIPTION = Field("description", "Description", kind="long_text", max_length=512)
INSTRUCTIONS = Field("instructions", "System instructions", kind="long_text", max_length=256_000)
CODE_INTERPRETER = Field(
    "code_interpreter",
    "Code interpreter",
    kind="toggle",
    default=False,
    expressions=False,
    help="Lets the assistant write and run Python code.",
)
RETRIEVAL = Field(
    "retrieval",
    "Retrieval",
    kind="toggle",
    default=False,
    expressions=False,
    help="File search over the given files (v2's file_search tool).",
)
FUNCTIONS = Field(
    "functions",
    "Function",
    kind="functions",
    placeholder='[{"type": "function", "function": {"name": "function_name", "parameters": {}, '
    '"description": "function_description"}}]',
    help="Functions the assistant may call, as a JSON list in this format.",
)
THREAD_ID = Field("thread_id", "Thread ID", kind="id", required=True, placeholder="thread_abc123")
ASSISTANT_ID = Field("assistant_id", "Assistant ID", kind="id", required=True, placeholder="asst_abc123")
RUN_ID = Field("run_id", "Run ID", kind="id", required=True, placeholder="run_abc123")
FILE_ID = Field("file_id", "File ID", kind="id", required=True, placeholder="file-abc123")
MESSAGE_CONTENT = Field("content", "Message content", kind="long_text", required=True, max_length=256_000)
ENTITY_ROLE = Field(
    "role",
    "Entity role",
    kind="select",
    choices=(("user", "User"), ("assistant", "Assistant")),
    default="user",
    expressions=False,
    help="Who the message is from.",
)
TOOL_FIELDS = (CODE_INTERPRETER, RETRIEVAL, FUNCTIONS)


def client_for(ctx: NodeContext) -> ProviderClient:
    return ProviderClient(ctx.credential, progress=ctx.progress)


def tools_from(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed's three tool settings as a v2 `tools` list (Retrieval is v2's file_search)."""
    tools: list[dict[str, Any]] = []
    if params.get("code_interpreter"):
        tools.append({"type": "code_interpreter"})
    if params.get("retrieval"):
        tools.append({"type": "file_search"})
    tools.extend(params.get("functions") or [])
    return tools


def check_tools(params: dict[str, Any], *, limit: int) -> dict[str, list[str]]:
    count = len(tools_from(params))
    if count > limit:
        return {"functions": [f"At most {limit} tools in all (this has {count})."]}
    return {}


def check_assistant(params: dict[str, Any]) -> dict[str, list[str]]:
    """File IDs need a tool to go to; Code interpreter takes at most 20 files."""
    errors = check_tools(params, limit=MAX_ASSISTANT_TOOLS)
    files = params.get("file_ids") or []
    if files and not (params.get("code_interpreter") or params.get("retrieval")):
        errors["file_ids"] = ["Files need a tool: turn on Code interpreter or Retrieval (or both)."]
    elif params.get("code_interpreter") and len(files) > MAX_CODE_INTERPRETER_FILES:
        errors["file_ids"] = [
            f"Code interpreter takes at most {MAX_CODE_INTERPRETER_FILES} files (this has {len(files)})."
        ]
    return errors


def check_run(params: dict[str, Any]) -> dict[str, list[str]]:
    return check_tools(params, limit=MAX_RUN_TOOLS)


def attachments(params: dict[str, Any]) -> list[dict[str, Any]]:
    """File IDs of a message as v2 attachments, each available to the chosen tools."""
    which = params.get("file_tools") or "file_search"
    kinds = ["code_interpreter", "file_search"] if which == "both" else [which]
    return [
        {"file_id": file_id, "tools": [{"type": k} for k in kinds]} for file_id in params.get("file_ids", [])
    ]


def message_body(params: dict[str, Any]) -> dict[str, Any]:
    """A CreateMessageRequest from Message content, Entity role, File IDs list and Metadata."""
    body: dict[str, Any] = {"role": params.get("role") or "user", "content": params["content"]}
    if params.get("file_ids"):
        body["attachments"] = attachments(params)
    if params.get("metadata"):
        body["metadata"] = params["metadata"]
    return body


def expect_object(payload: Any, what: str) -> dict[str, Any]:
    """The provider's JSON object, or a clear error when it answered something else."""
    if not isinstance(payload, dict):
        raise ProviderError(
            f"The provider answered {what} with {type(payload).__name__} data, not an object."
        )
    return payload
