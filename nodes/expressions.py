"""Expressions: references to earlier nodes' outputs, `{{$2.choices.0.message.content}}`.

Data only: a node number and a path of keys and list indexes. No code, no attribute access, no
filters. A template is resolved in a single pass and the values it produces are never scanned again,
so `{{$1.x}}` arriving inside a webhook body stays literal text.

Inside a Loop over items, `$item` (the current item) and `$index` (its position, from 0) are named
variables: a caller passes them with the outputs, under their names (`{"item": ..., "index": 3}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Anything between double braces is an expression and must be a valid reference. The inner part may
# not contain another "{{" or "}}", so "{{$1.a}} and {{$1.b}}" is two expressions, never one.
BRACES = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
SEGMENT = r"(?:\.[A-Za-z0-9_\-]+|\[\d+\]|\[\"(?:[^\"\\]|\\.)*\"\])"
VARIABLES = ("item", "index")
REFERENCE = re.compile(rf"\s*\$(\d+|{'|'.join(VARIABLES)})((?:{SEGMENT})*)\s*")
PATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")
MAX_TEXT_LENGTH = 1_000_000


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Reference:
    node: int | str  # a node number, or a variable's name ("item")
    path: tuple[str | int, ...]
    source: str

    def __str__(self) -> str:
        return self.source


def parse_reference(inner: str) -> Reference:
    match = REFERENCE.fullmatch(inner)
    if not match:
        raise ExpressionError(
            f"'{{{{{inner.strip()}}}}}' is not a valid expression: write a node number and a path, "
            "like {{$1.body.question}}."
        )
    path: list[str | int] = []
    for key, index, quoted in PATH_PART.findall(match.group(2)):
        if key:
            path.append(int(key) if key.isdigit() else key)
        elif index:
            path.append(int(index))
        else:
            path.append(json.loads(quoted))
    node = match.group(1)
    return Reference(
        node=int(node) if node.isdigit() else node, path=tuple(path), source="{{" + inner.strip() + "}}"
    )


def references(value: Any) -> list[Reference]:
    """Every reference in a parameter value (strings inside dicts and lists included)."""
    found: list[Reference] = []
    for text in _strings(value):
        for match in BRACES.finditer(text):
            found.append(parse_reference(match.group(1)))
    return found


def bare_references(text: str) -> list[Reference]:
    """References written without braces, separated by commas: "$3, $4.body.items" (a field naming
    outputs rather than inserting them, e.g. a Merge's inputs)."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                found.append(parse_reference(part))
            except ExpressionError:
                raise ExpressionError(
                    f"'{part[:60]}' is not a node reference; write $3 or $3.body.items."
                ) from None
    return found


def has_expression(value: Any) -> bool:
    return any("{{" in text for text in _strings(value))


def check(value: Any, upstream: Iterable[int], known: Iterable[int]) -> list[str]:
    """Save-time check: problems with the references in `value`, as messages naming them."""
    upstream_set, known_set = set(upstream), set(known)
    problems = []
    try:
        refs = references(value)
    except ExpressionError as exc:
        return [str(exc)]
    for ref in refs:
        if isinstance(ref.node, str):
            continue  # a variable: whether it is inside a loop is the graph's check (scenarios/loops.py)
        if ref.node not in known_set:
            problems.append(f"{ref.source} refers to node ${ref.node}, which does not exist.")
        elif ref.node not in upstream_set:
            problems.append(f"{ref.source} refers to node ${ref.node}, which is not upstream of this node.")
    return problems


def lookup(outputs: Mapping[Any, Any], ref: Reference) -> Any:
    if isinstance(ref.node, str) and ref.node not in outputs:
        raise ExpressionError(f"{ref.source}: ${ref.node} exists only inside a Loop over items.")
    if ref.node not in outputs:
        raise ExpressionError(
            f"{ref.source}: node ${ref.node} has no output here (it is not upstream or has not run)."
        )
    value = outputs[ref.node]
    walked = f"${ref.node}"
    for part in ref.path:
        if isinstance(value, Mapping) and str(part) in value:
            value = value[str(part)]
        elif isinstance(value, list) and isinstance(part, int) and -len(value) <= part < len(value):
            value = value[part]
        else:
            raise ExpressionError(f"{ref.source}: {walked} has no '{part}'.")
        walked += f".{part}"
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def resolve(value: Any, outputs: Mapping[Any, Any]) -> Any:
    """Resolve every expression in a parameter value, once.

    A string that is exactly one expression takes the referenced value with its JSON type; an
    expression inside other text is converted to text.
    """
    if isinstance(value, str):
        return _resolve_text(value, outputs)
    if isinstance(value, list):
        return [resolve(item, outputs) for item in value]
    if isinstance(value, dict):
        return {key: resolve(item, outputs) for key, item in value.items()}
    return value


def _resolve_text(text: str, outputs: Mapping[Any, Any]) -> Any:
    if "{{" not in text:
        return text
    whole = BRACES.fullmatch(text.strip())
    if whole:
        return lookup(outputs, parse_reference(whole.group(1)))
    # Built piece by piece so that the size cap stops it before an oversized text exists.
    # Every reference is parsed before any is looked up, so a syntax error is reported as such.
    matches = [(match, parse_reference(match.group(1))) for match in BRACES.finditer(text)]
    pieces: list[str] = []
    size = 0
    position = 0
    for match, ref in matches:
        for piece in (text[position : match.start()], as_text(lookup(outputs, ref))):
            size += len(piece)
            if size > MAX_TEXT_LENGTH:
                raise ExpressionError(
                    f"The text built from expressions is over {MAX_TEXT_LENGTH:,} characters."
                )
            pieces.append(piece)
        position = match.end()
    pieces.append(text[position:])
    if size + len(text) - position > MAX_TEXT_LENGTH:
        raise ExpressionError(f"The text built from expressions is over {MAX_TEXT_LENGTH:,} characters.")
    return "".join(pieces)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
