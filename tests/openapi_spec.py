"""Validate requests and responses against OpenAI's official OpenAPI spec (a shared test helper).

    from tests.openapi_spec import validate_request, validate_response

    validate_request("POST", "/assistants", body)           # the operation's requestBody schema
    validate_response("AssistantObject", payload)          # a components/schemas entry by name
    validate_response("RunObject", payload)

Both raise `SpecError` (an AssertionError, so pytest shows it as a failed assertion) listing every
violation with its JSON path, and return None when the body is valid.

How the spec is read:
- `shared/openai-openapi/openapi.yaml` (3 MB) is parsed once with libyaml's CSafeLoader, rewritten for
  JSON Schema (see below) and cached as a pickle under /tmp, keyed by the file's path, size and
  mtime, so later test processes load it in milliseconds.
- Schemas are validated with jsonschema's Draft 2020-12 validator. `$ref`s ("#/components/...")
  resolve against the whole document through a `referencing` registry.
- OpenAPI 3.0's `nullable: true` (still used in ~100 places of this 3.1 file) is turned into a
  JSON-Schema-style null alternative: `type: [T, "null"]` (and `null` added to an `enum`) or, when
  the schema has no `type`, `anyOf: [schema, {type: null}]`.
- `discriminator`, `x-oai*`, `example` and `format` are annotations for JSON Schema and are not
  enforced (so the spec's dangling discriminator mapping for chat messages does no harm).

Paths are spec paths, relative to the server URL: "/assistants", not "/v1/assistants". Use
`operation_path("/v1/threads/thread_1/runs")` to map a concrete request path back to its template.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(os.environ.get("OPENAI_OPENAPI_PATH", "/work/shared/openai-openapi/openapi.yaml"))
BASE_URI = "urn:openai-openapi"
CACHE_VERSION = 1


class SpecError(AssertionError):
    """A body does not conform to the spec; the message lists every violation."""


# -- loading ------------------------------------------------------------------------------------


def _cache_file(path: Path) -> Path:
    stat = path.stat()
    where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    key = f"{where}-{stat.st_size}-{stat.st_mtime_ns}-v{CACHE_VERSION}"
    return Path(tempfile.gettempdir()) / f"scenery-openapi-{key}.pickle"


@cache
def spec() -> dict[str, Any]:
    """The parsed spec with `nullable` rewritten (cached on disk by mtime, in memory per process)."""
    cached = _cache_file(SPEC_PATH)
    if cached.exists():
        try:
            with cached.open("rb") as fh:
                return pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError):
            pass  # a torn or stale cache: rebuild it below
    with SPEC_PATH.open("rb") as fh:
        document = yaml.load(fh, Loader=yaml.CSafeLoader)
    document = _rewrite_nullable(document)
    # Several test processes may build it at once: write aside, then rename atomically.
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=cached.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(document, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cached)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
    return document


def _rewrite_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_nullable(value) for key, value in node.items()}
    if rewritten.pop("nullable", False) is not True:
        return rewritten
    if "type" in rewritten:
        types = rewritten["type"] if isinstance(rewritten["type"], list) else [rewritten["type"]]
        rewritten["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in rewritten and None not in rewritten["enum"]:
            rewritten["enum"] = [*rewritten["enum"], None]
        return rewritten
    return {"anyOf": [rewritten, {"type": "null"}]}


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(spec(), default_specification=DRAFT202012)
    return Registry().with_resource(BASE_URI, resource)


@cache
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"{BASE_URI}#{pointer}"}, registry=_registry())


def _check(pointer: str, body: Any, what: str) -> None:
    errors = sorted(_validator(pointer).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{what} does not conform to the OpenAI spec ({pointer}):"]
        for error in errors[:20]:
            where = "".join(f"[{p!r}]" for p in error.absolute_path) or "(root)"
            lines.append(f"  at {where}: {_short(error)}")
        raise SpecError("\n".join(lines))


def _short(error: Any) -> str:
    message = _describe(error)
    if error.context:  # oneOf/anyOf: what each branch found wrong
        branches = []
        for branch in error.context[:6]:
            where = "".join(f"[{p!r}]" for p in branch.relative_path)
            branches.append(f"{_describe(branch)}{' at ' + where if where else ''}")
        message += " — branches: " + "; ".join(branches)
    return message[:900]


def _describe(error: Any) -> str:
    """The validator's message with a long instance shortened (a 256,001-character string...)."""
    text = str(error.message)
    shown = repr(error.instance)
    if len(shown) > 80:
        text = text.replace(shown, shown[:60] + "…")
    return text


# -- public API ---------------------------------------------------------------------------------


def schema(name: str) -> dict[str, Any]:
    """A components/schemas entry (after the nullable rewrite), for inspection."""
    schemas = spec()["components"]["schemas"]
    if name not in schemas:
        raise KeyError(f"The spec has no schema {name!r}")
    return copy.deepcopy(schemas[name])


def operation(method: str, path_template: str) -> dict[str, Any]:
    paths = spec()["paths"]
    if path_template not in paths:
        raise KeyError(f"The spec has no path {path_template!r}")
    op = paths[path_template].get(method.lower())
    if op is None:
        raise KeyError(f"The spec has no {method.upper()} {path_template}")
    return op


def validate_request(method: str, path_template: str, body: Any) -> None:
    """Validate a JSON request body against the operation's requestBody schema.

    `body=None` means "no body": accepted only when the operation has no requestBody or does not
    require one. An operation without a requestBody accepts only no body (or an empty object).
    """
    op = operation(method, path_template)
    request_body = op.get("requestBody")
    if request_body is None:
        if body not in (None, {}):
            raise SpecError(f"{method.upper()} {path_template} takes no request body, got {body!r:.200}")
        return
    if body is None:
        if request_body.get("required"):
            raise SpecError(f"{method.upper()} {path_template} requires a request body")
        return
    content = request_body.get("content", {})
    if "application/json" not in content:
        raise SpecError(f"{method.upper()} {path_template} takes {sorted(content)}, not JSON")
    ref = content["application/json"]["schema"].get("$ref")
    if ref:
        pointer = ref[1:]
    else:
        pointer = (
            f"/paths/{_escape(path_template)}/{method.lower()}/requestBody/content/application~1json/schema"
        )
    _check(pointer, body, f"The {method.upper()} {path_template} request body")


def validate_response(schema_name: str, body: Any) -> None:
    """Validate a response body against a components/schemas entry, e.g. "AssistantObject"."""
    if schema_name not in spec()["components"]["schemas"]:
        raise KeyError(f"The spec has no schema {schema_name!r}")
    _check(f"/components/schemas/{_escape(schema_name)}", body, f"The {schema_name} body")


def validate_operation_response(method: str, path_template: str, body: Any, status: str = "200") -> None:
    """Validate a response body against what the operation declares for `status`."""
    op = operation(method, path_template)
    response = op.get("responses", {}).get(status)
    if response is None:
        raise KeyError(f"{method.upper()} {path_template} declares no {status} response")
    content = response.get("content", {})
    if "application/json" not in content:
        raise KeyError(f"{method.upper()} {path_template} {status} is not JSON ({sorted(content)})")
    pointer = (
        f"/paths/{_escape(path_template)}/{method.lower()}/responses/{status}"
        "/content/application~1json/schema"
    )
    _check(pointer, body, f"The {method.upper()} {path_template} {status} response")


def operation_path(path: str) -> str:
    """The spec's path template matching a concrete request path ("/v1/threads/t_1" -> "/threads/{thread_id}")."""
    path = path.split("?", 1)[0]
    if path.startswith("/v1/"):
        path = path[3:]
    # Literal segments win over parameters: "/threads/runs" before "/threads/{thread_id}".
    for template in sorted(spec()["paths"], key=lambda t: t.count("{")):
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise KeyError(f"No spec path matches {path!r}")


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")
