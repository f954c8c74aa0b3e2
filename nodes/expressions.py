"""Expressions: references to earlier nodes' outputs, `{{$2.choices.0.message.content}}`.

Data only: a node number and a path of keys and list indexes, optionally passed through the
functions of `nodes/expression_functions.py` (`{{ upper(trim($1.body.name)) }}`), with literals and
a default (`{{ $1.body.name ?? "friend" }}`). No code, no attribute access, no operators beyond `??`.
A template is resolved in a single pass and the values it produces are never scanned again, so
`{{$1.x}}` arriving inside a webhook body stays literal text.

Inside a Loop over items, `$item` (the current item) and `$index` (its position, from 0) are named
variables: a caller passes them with the outputs, under their names (`{"item": ..., "index": 3}`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nodes import expression_functions

# Anything between double braces is an expression and must be a valid reference. The inner part may
# not contain another "{{" or "}}", so "{{$1.a}} and {{$1.b}}" is two expressions, never one.
BRACES = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
SEGMENT = r"(?:\.[A-Za-z0-9_\-]+|\[\d+\]|\[\"(?:[^\"\\]|\\.)*\"\])"
VARIABLES = ("item", "index")
REFERENCE = re.compile(rf"\s*\$(\d+|{'|'.join(VARIABLES)})((?:{SEGMENT})*)\s*")
PATH_PART = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\[(\"(?:[^\"\\]|\\.)*\")\]")
MAX_TEXT_LENGTH = 1_000_000
# The tokens of an expression with functions. A reference token is handed to parse_reference whole.
TOKEN = re.compile(
    rf"""\s*(?:(?P<ref>\$[A-Za-z0-9_]+(?:{SEGMENT})*)|(?P<text>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"|(?P<number>-?\d{1,30}(?:\.\d{1,30})?(?![\w.]))|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\?\?|[(),]))"
)
MAX_DEPTH = 20


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


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expression, ...]


@dataclass(frozen=True)
class Default:
    """`left ?? right`: right when left is nothing or a reference that finds nothing."""

    left: Expression
    right: Expression


Expression = Reference | Literal | Call | Default


@dataclass(frozen=True)
class Parsed:
    """What is between one pair of braces."""

    tree: Expression
    source: str


def parse_expression(inner: str) -> Parsed:
    if REFERENCE.fullmatch(inner):
        return Parsed(parse_reference(inner), "{{" + inner.strip() + "}}")
    tokens: list[tuple[str, str]] = []
    position = 0
    while inner[position:].strip():
        match = TOKEN.match(inner, position)
        if not match or match.end() == position:
            parse_reference(inner)  # raises the usual message
        assert match is not None
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    try:
        tree, rest = _parse_default(tokens, 0, 0)
        if rest != len(tokens):
            raise ExpressionError(f"unexpected '{tokens[rest][1]}'")
    except ExpressionError as exc:
        raise ExpressionError(f"'{{{{{inner.strip()}}}}}' is not a valid expression: {exc}.") from None
    return Parsed(tree, "{{" + inner.strip() + "}}")


def _parse_default(tokens: list[tuple[str, str]], at: int, depth: int) -> tuple[Expression, int]:
    left, at = _parse_term(tokens, at, depth)
    if at < len(tokens) and tokens[at] == ("op", "??"):
        # Right to left, so that in `a ?? b ?? c` each missing reference falls through to the next.
        right, at = _parse_default(tokens, at + 1, depth + 1)
        return Default(left, right), at
    return left, at


def _parse_term(tokens: list[tuple[str, str]], at: int, depth: int) -> tuple[Expression, int]:
    if depth > MAX_DEPTH:
        raise ExpressionError(f"functions nested more than {MAX_DEPTH} deep")
    if at >= len(tokens):
        raise ExpressionError("it ends too early")
    kind, text = tokens[at]
    if kind == "ref":
        return parse_reference(text), at + 1
    if kind == "text":
        return Literal(_unquote(text)), at + 1
    if kind == "number":
        return Literal(float(text) if "." in text else int(text)), at + 1
    if kind == "name" and text in ("true", "false", "null"):
        return Literal({"true": True, "false": False, "null": None}[text]), at + 1
    if kind == "name" and at + 1 < len(tokens) and tokens[at + 1] == ("op", "("):
        if text not in expression_functions.FUNCTIONS:
            raise ExpressionError(f"there is no function '{text}' (the data picker lists them)")
        args: list[Expression] = []
        at += 2
        while at < len(tokens) and tokens[at] != ("op", ")"):
            if args:
                if tokens[at] != ("op", ","):
                    raise ExpressionError(
                        f"expected ',' or ')' after an argument of {text}, got '{tokens[at][1]}'"
                    )
                at += 1
            arg, at = _parse_default(tokens, at, depth + 1)
            args.append(arg)
        if at >= len(tokens):
            raise ExpressionError(f"{text}( is not closed")
        problem = expression_functions.arity_problem(text, len(args))
        if problem:
            raise ExpressionError(problem)
        return Call(text, tuple(args)), at + 1
    if (kind, text) == ("op", "("):
        inside, at = _parse_default(tokens, at + 1, depth + 1)
        if at >= len(tokens) or tokens[at] != ("op", ")"):
            raise ExpressionError("a '(' is not closed")
        return inside, at + 1
    raise ExpressionError(
        f"unexpected '{text}' (write a node reference, a function call, text in quotes or a number)"
    )


def _unquote(token: str) -> str:
    out: list[str] = []
    chars = iter(token[1:-1])
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(following, following))
        else:
            out.append(char)
    return "".join(out)


def _tree_references(tree: Expression) -> Iterable[Reference]:
    if isinstance(tree, Reference):
        yield tree
    elif isinstance(tree, Call):
        for arg in tree.args:
            yield from _tree_references(arg)
    elif isinstance(tree, Default):
        yield from _tree_references(tree.left)
        yield from _tree_references(tree.right)


def evaluate(parsed: Parsed, outputs: Mapping[int, Any]) -> Any:
    return _evaluate(parsed.tree, outputs, parsed.source)


def _evaluate(tree: Expression, outputs: Mapping[int, Any], source: str) -> Any:
    if isinstance(tree, Reference):
        return lookup(outputs, tree)
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Default):
        try:
            left = _evaluate(tree.left, outputs, source)
        except ExpressionError:
            if not isinstance(tree.left, Reference):
                raise
            left = None
        return _evaluate(tree.right, outputs, source) if left is None else left
    args = [_evaluate(arg, outputs, source) for arg in tree.args]
    try:
        return expression_functions.call(tree.name, args)
    except expression_functions.FunctionError as exc:
        raise ExpressionError(f"{source}: {exc}") from None


def references(value: Any) -> list[Reference]:
    """Every reference in a parameter value (strings inside dicts and lists included)."""
    found: list[Reference] = []
    for text in _strings(value):
        for match in BRACES.finditer(text):
            found.extend(_tree_references(parse_expression(match.group(1)).tree))
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
    for text in _strings(value):
        for match in BRACES.finditer(text):
            parsed = parse_expression(match.group(1))
            problems.extend(_constant_problems(parsed.tree, parsed.source))
    return problems


def _constant_problems(tree: Expression, source: str) -> list[str]:
    """Calls given only literals are made now, so that `upper(1)` is refused when it is saved."""
    if not isinstance(tree, Call | Default):
        return []
    if not any(True for _ in _tree_references(tree)):
        try:
            _evaluate(tree, {}, source)
        except ExpressionError as exc:
            return [str(exc)]
        return []
    children = tree.args if isinstance(tree, Call) else (tree.left, tree.right)
    return [problem for child in children for problem in _constant_problems(child, source)]


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
        return evaluate(parse_expression(whole.group(1)), outputs)
    # Built piece by piece so that the size cap stops it before an oversized text exists.
    # Every reference is parsed before any is looked up, so a syntax error is reported as such.
    matches = [(match, parse_expression(match.group(1))) for match in BRACES.finditer(text)]
    pieces: list[str] = []
    size = 0
    position = 0
    for match, ref in matches:
        for piece in (text[position : match.start()], as_text(evaluate(ref, outputs))):
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
