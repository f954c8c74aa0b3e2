"""Request bodies checked against OpenAI's own request schemas, answered in OpenAI's words.

The schemas come from the official spec (gateway/spec/requests.json, see gateway/spec_extract.py).
The rules the spec states only in prose (metadata sizes, attachment caps) are checked here too.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from gateway.errors import invalid

SPEC_FILE = Path(__file__).resolve().parent / "spec" / "requests.json"
METADATA_MAX_PAIRS = 16
METADATA_MAX_KEY = 64
METADATA_MAX_VALUE = 512

_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a decimal",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


@cache
def _components() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return data["components"]


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": _components()}
    return Draft202012Validator(schema)


def param_path(path: Any) -> str:
    """`messages[0].content` from a jsonschema path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _quote_list(values: list[Any]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _message(error: ValidationError) -> tuple[str, str, str]:
    """(message, param, code) in the wording OpenAI's API uses."""
    param = param_path(error.absolute_path)
    kind, bound, value = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        name = ".".join(p for p in (param, extra[0] if extra else "") if p)
        return f"Unknown parameter: '{name}'.", name, "unknown_parameter"
    if kind == "required":
        missing = next((r for r in bound if r not in value), bound[0])
        name = ".".join(p for p in (param, missing) if p)
        return f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
    if kind == "type":
        wanted = bound if isinstance(bound, list) else [bound]
        expected = " or ".join(_JSON_TYPES.get(str(t), str(t)) for t in wanted if t != "null")
        return (
            f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
            param,
            "invalid_type",
        )
    if kind == "maxLength":
        return (
            f"Invalid '{param}': string too long. Expected a string with maximum length {bound}, "
            f"but got a string with length {len(value)} instead.",
            param,
            "string_above_max_length",
        )
    if kind == "minLength":
        return (
            f"Invalid '{param}': string too short. Expected a string with minimum length {bound}, "
            f"but got a string with length {len(value)} instead.",
            param,
            "string_below_min_length",
        )
    if kind == "maxItems":
        return (
            f"Invalid '{param}': array too long. Expected an array with maximum length {bound}, "
            f"but got an array with length {len(value)} instead.",
            param,
            "array_above_max_length",
        )
    if kind == "minItems":
        return (
            f"Invalid '{param}': empty array. Expected an array with minimum length {bound}, "
            f"but got an array with length {len(value)} instead.",
            param,
            "empty_array" if bound == 1 else "array_below_min_length",
        )
    if kind in ("maximum", "minimum"):
        number = "integer" if isinstance(value, int) else "decimal"
        side, sign = ("above", "<=") if kind == "maximum" else ("below", ">=")
        return (
            f"Invalid '{param}': {number} {side} {kind} value. Expected a value {sign} {bound}, "
            f"but got {value} instead.",
            param,
            f"{number}_{side}_{kind[:3]}_value",
        )
    if kind in ("enum", "const"):
        allowed = bound if kind == "enum" else [bound]
        return (
            f"Invalid value: '{value}'. Supported values are: {_quote_list([v for v in allowed if v is not None])}.",
            param,
            "invalid_value",
        )
    return f"Invalid value for '{param or 'body'}': {error.message}", param, "invalid_value"


def _explained(error: ValidationError) -> tuple[str, str, str]:
    """`_message`, looking inside a oneOf/anyOf for the member the caller meant: the one its
    discriminator (`role`, `type`) names, or the types the members allow."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return _message(error)
    param, value = param_path(error.absolute_path), error.instance
    chosen = (error.schema.get("discriminator") or {}).get("propertyName")
    if chosen:
        if not isinstance(value, dict):
            return (
                f"Invalid type for '{param}': expected an object, but got {type_name(value)} instead.",
                param,
                "invalid_type",
            )
        name = f"{param}.{chosen}" if param else chosen
        if value.get(chosen) is None:
            return f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
        members = [_member_values(member, chosen) for member in error.schema[error.validator]]
        for index, allowed in enumerate(members):
            if value[chosen] in allowed:
                inner = [e for e in error.context if e.relative_schema_path[0] == index]
                return _explained(best_match(inner)) if inner else _message(error)
        supported = [v for allowed in members for v in allowed]
        return (
            f"Invalid value: '{value[chosen]}'. Supported values are: {_quote_list(supported)}.",
            name,
            "invalid_value",
        )
    wanted = [e.validator_value for e in error.context if e.validator == "type" and not e.relative_path]
    if len(wanted) == len(error.schema[error.validator]):
        names = [t for w in wanted for t in (w if isinstance(w, list) else [w]) if t != "null"]
        expected = " or ".join(dict.fromkeys(_JSON_TYPES.get(str(t), str(t)) for t in names))
        return (
            f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
            param,
            "invalid_type",
        )
    return _message(error)


def _member_values(member: dict[str, Any], name: str) -> list[Any]:
    """The values a oneOf member allows for its discriminator `name`."""
    ref = member.get("$ref", "")
    schema = _components()["schemas"].get(ref.rsplit("/", 1)[-1], member) if ref else member
    prop = (schema.get("properties") or {}).get(name) or {}
    return list(prop.get("enum") or ([prop["const"]] if "const" in prop else []))


def validate(schema_name: str, body: Any) -> dict[str, Any]:
    """Check `body` against the spec's `schema_name`; raise a 400 GatewayError on the first problem."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid(
            f"Invalid type for body: expected an object, but got {type_name(body)} instead.",
            None,
            "invalid_type",
        )
    check_no_nul(body)
    errors = list(_validator(schema_name).iter_errors(body))
    if errors:
        message, param, code = _explained(best_match(errors))
        raise invalid(message, param or None, code)
    for path in sorted(metadata_paths(schema_name)):
        for param, metadata in _metadata_fields(body, path):
            check_metadata(metadata, param)
    return body


def check_no_nul(value: Any) -> None:
    """Refuse NUL (\\u0000) in any text, keys included: PostgreSQL text cannot store it (a query or a
    save holding one fails), so both databases refuse it here. Iterative: any depth json.loads took."""
    pending: list[tuple[tuple[Any, ...], Any]] = [((), value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                _refuse_nul(path)
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in str(key):
                    _refuse_nul((*path, key))
                pending.append(((*path, key), child))
        elif isinstance(item, list):
            pending.extend(((*path, i), child) for i, child in enumerate(item))


def _refuse_nul(path: tuple[Any, ...]) -> NoReturn:
    where = param_path(path).replace("\x00", "\\u0000")
    raise invalid(
        f"Invalid value for '{where}': text cannot contain a NUL character (\\u0000).", where, "invalid_value"
    )


MetadataPath = tuple[str, ...]  # property names, "*" for any item of an array


@cache
def metadata_paths(schema_name: str) -> frozenset[MetadataPath]:
    """Where the request schema puts a `Metadata` object (its own, its messages', its vector
    stores'...), read from the spec: a property merely *named* metadata elsewhere, such as one in a
    function's parameters, is somebody's data, not request metadata."""
    schemas = _components()["schemas"]
    found: set[MetadataPath] = set()
    pending: list[tuple[Any, MetadataPath, frozenset[str]]] = [(schemas[schema_name], (), frozenset())]
    while pending:
        node, path, followed = pending.pop()
        if not isinstance(node, dict):
            continue
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name == "Metadata":
                found.add(path)
            elif name not in followed:  # a schema that refers to itself is walked once
                pending.append((schemas[name], path, followed | {name}))
            continue
        for combinator in ("anyOf", "oneOf", "allOf"):
            pending.extend((member, path, followed) for member in node.get(combinator) or [])
        for key, child in (node.get("properties") or {}).items():
            pending.append((child, (*path, key), followed))
        if isinstance(node.get("items"), dict):
            pending.append((node["items"], (*path, "*"), followed))
    return frozenset(found)


def _metadata_fields(body: Any, path: MetadataPath, prefix: str = "") -> list[tuple[str, Any]]:
    """The values at `path` in `body`, with their parameter names."""
    if not path:
        return [(prefix, body)]
    head, rest = path[0], path[1:]
    if head == "*":
        items = body if isinstance(body, list) else []
        return [hit for i, item in enumerate(items) for hit in _metadata_fields(item, rest, f"{prefix}[{i}]")]
    if not isinstance(body, dict) or head not in body:
        return []
    return _metadata_fields(body[head], rest, f"{prefix}.{head}" if prefix else head)


def check_metadata(metadata: Any, param: str = "metadata") -> None:
    """The limits the spec states only in prose: 16 pairs, keys <= 64 and values <= 512 characters."""
    if metadata is None:
        return
    if not isinstance(metadata, dict):
        raise invalid(
            f"Invalid type for '{param}': expected an object, but got {type_name(metadata)} instead.",
            param,
            "invalid_type",
        )
    if len(metadata) > METADATA_MAX_PAIRS:
        raise invalid(
            f"Invalid '{param}': too many properties. Expected an object with at most {METADATA_MAX_PAIRS} "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param,
            "object_above_max_properties",
        )
    for key, value in metadata.items():
        if len(key) > METADATA_MAX_KEY:
            raise invalid(
                f"Invalid '{param}': key too long. Expected a key with maximum length {METADATA_MAX_KEY}, "
                f"but got a key with length {len(key)} instead.",
                param,
                "string_above_max_length",
            )
        if not isinstance(value, str):
            raise invalid(
                f"Invalid type for '{param}.{key}': expected a string, but got {type_name(value)} instead.",
                f"{param}.{key}",
                "invalid_type",
            )
        if len(value) > METADATA_MAX_VALUE:
            raise invalid(
                f"Invalid '{param}.{key}': string too long. Expected a string with maximum length "
                f"{METADATA_MAX_VALUE}, but got a string with length {len(value)} instead.",
                f"{param}.{key}",
                "string_above_max_length",
            )


def check_attachments(attachments: Any, param: str) -> None:
    """At most GATEWAY_MAX_MESSAGE_ATTACHMENTS files per message (v1's cap; the v2 spec states none)."""
    cap = settings.GATEWAY_MAX_MESSAGE_ATTACHMENTS
    if attachments and len(attachments) > cap:
        raise invalid(
            f"Invalid '{param}': array too long. Expected an array with maximum length {cap}, "
            f"but got an array with length {len(attachments)} instead.",
            param,
            "array_above_max_length",
        )


def query_int(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid(
            f"Invalid type for '{name}': expected an integer, but got a string instead.", name, "invalid_type"
        ) from None
    if not low <= number <= high:
        raise invalid(
            f"Invalid '{name}': integer out of range. Expected a value between {low} and {high}, "
            f"but got {number} instead.",
            name,
            "integer_out_of_range",
        )
    return number


FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def check_tools(tools: Any, param: str = "tools") -> None:
    """Function names as OpenAI requires them (the spec says so only in prose), and parameters that
    are a valid JSON Schema (a model cannot be asked to fill in a broken one)."""
    for index, tool in enumerate(tools or []):
        if tool.get("type") != "function":
            continue
        name = tool["function"]["name"]
        if len(name) > 64:
            raise invalid(
                f"Invalid '{param}[{index}].function.name': string too long. Expected a string with maximum "
                f"length 64, but got a string with length {len(name)} instead.",
                f"{param}[{index}].function.name",
                "string_above_max_length",
            )
        if not FUNCTION_NAME.match(name):
            raise invalid(
                f"Invalid '{param}[{index}].function.name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"{param}[{index}].function.name",
                "invalid_value",
            )
        check_function_parameters(tool["function"].get("parameters"), name, f"{param}[{index}].function")


def check_function_parameters(parameters: Any, name: str, param: str) -> None:
    if parameters is None:
        return
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        raise invalid(
            f"Invalid schema for function '{name}': parameters{where}: {exc.message}.",
            f"{param}.parameters",
            "invalid_function_parameters",
        ) from None
