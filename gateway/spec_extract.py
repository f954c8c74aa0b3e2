"""Extract the request schemas the gateway validates from OpenAI's official OpenAPI file.

Run once when the spec copy changes:
    .venv/bin/python -m gateway.spec_extract /path/to/openapi.yaml

It writes `gateway/spec/requests.json`: the named request schemas and every component they refer to,
with OpenAPI 3.0's `nullable: true` (which the 3.1 file still uses in places) rewritten as JSON Schema
so that `null` is accepted where the spec means it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

REQUESTS = (
    "CreateAssistantRequest",
    "ModifyAssistantRequest",
    "CreateThreadRequest",
    "ModifyThreadRequest",
    "CreateMessageRequest",
    "ModifyMessageRequest",
    "CreateRunRequest",
    "ModifyRunRequest",
    "SubmitToolOutputsRunRequest",
    "CreateThreadAndRunRequest",
    "CreateVectorStoreRequest",
    "UpdateVectorStoreRequest",
    "CreateFileRequest",
    "CreateChatCompletionRequest",
    "CreateCompletionRequest",
    "CreateVectorStoreFileRequest",
    "CreateVectorStoreFileBatchRequest",
    "UpdateVectorStoreFileAttributesRequest",
    "VectorStoreSearchRequest",
)
OUTPUT = Path(__file__).resolve().parent / "spec" / "requests.json"
# Keys that only document; dropping them keeps the file small.
DROPPED = {"description", "example", "examples", "x-oaiTypeLabel", "x-oaiMeta", "x-stainless-const", "title"}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items() if k not in DROPPED}
    if isinstance(node.get("properties"), dict):  # property names are data, never dropped
        out["properties"] = {k: _clean(v) for k, v in node["properties"].items()}
    # `allOf: [{$ref}, {nullable: true}]` is the spec's way of saying "this, or null".
    nullable_member = {"anyOf": [{}, {"type": "null"}]}
    if nullable_member in out.get("allOf", []):
        rest = [m for m in out["allOf"] if m != nullable_member]
        inner = {k: v for k, v in out.items() if k != "allOf"}
        if len(rest) == 1 and not inner:
            return {"anyOf": [rest[0], {"type": "null"}]}
        return {"anyOf": [{**inner, "allOf": rest}, {"type": "null"}]}
    if out.pop("nullable", False):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _recursive_to_ref(node: Any, name: str) -> Any:
    """`$recursiveRef: "#"` (2019-09; Draft 2020-12 ignores it) as a plain `$ref` to the schema itself."""
    if isinstance(node, list):
        return [_recursive_to_ref(v, name) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("$recursiveRef") == "#":
        return {"$ref": f"#/components/schemas/{name}"}
    return {k: _recursive_to_ref(v, name) for k, v in node.items() if k != "$recursiveAnchor"}


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]
    wanted: set[str] = set()
    todo = list(REQUESTS)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo.extend(_refs(schemas[name]) - wanted)
    cleaned = {name: _recursive_to_ref(_clean(schemas[name]), name) for name in sorted(wanted)}
    return {"components": {"schemas": cleaned}}


def main(argv: list[str]) -> None:
    spec = yaml.load(Path(argv[1]).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data = extract(spec)
    data["source"] = "openai/openai-openapi openapi.yaml (MIT), request schemas only"
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
    print(f"wrote {len(data['components']['schemas'])} schemas to {OUTPUT}")


if __name__ == "__main__":
    main(sys.argv)
