"""Template helpers of the editor: JSON shown as a collapsible tree, and as data-picker expressions."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from nodes import expression_functions
from nodes.registry import NODE_TYPES

register = template.Library()

PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")
MAX_DEPTH = 12
MAX_ITEMS = 200
MAX_PREVIEW = 200


def path_segment(key: str | int) -> str:
    """The expression segment that reaches `key`: `.id`, `.0`, or `["a key"]`."""
    if isinstance(key, int) or PLAIN_KEY.fullmatch(key):
        return f".{key}"
    return "[" + json.dumps(key, ensure_ascii=False) + "]"


def _scalar(value: Any) -> tuple[str, str]:
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), "bool"
    if isinstance(value, int | float):
        return json.dumps(value), "number"
    text = str(value)
    if len(text) > MAX_PREVIEW:
        text = text[:MAX_PREVIEW] + "…"
    return json.dumps(text, ensure_ascii=False), "string"


def _pick_button(expr: str, label: str) -> SafeString:
    return format_html(
        '<button type="button" class="pick" draggable="true" data-expr="{}" title="Insert {} (or drag it onto a field)">{}</button>',
        expr,
        expr,
        label,
    )


def _tree(value: Any, key: str | int | None, expr: str | None, depth: int) -> SafeString:
    name = "" if key is None else (f"[{key}]" if isinstance(key, int) else str(key))
    if isinstance(value, dict | list) and value and depth < MAX_DEPTH:
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        shown = items[:MAX_ITEMS]
        children = format_html_join(
            "",
            "<li>{}</li>",
            ((_tree(v, k, None if expr is None else expr + path_segment(k), depth + 1),) for k, v in shown),
        )
        more = (
            format_html('<li class="json-more">… {} more</li>', len(items) - len(shown))
            if len(items) > len(shown)
            else ""
        )
        brackets = "{…}" if isinstance(value, dict) else f"[{len(value)}]"
        opened = mark_safe(" open") if depth < 2 else ""
        if expr is None:
            return format_html(
                '<details class="json-node"{}><summary><span class="json-key">{}</span> <span class="json-type">{}</span></summary><ul>{}{}</ul></details>',
                opened,
                name,
                brackets,
                children,
                more,
            )
        # A button may not sit inside the <summary> that toggles the branch (nested controls are
        # unreachable for screen readers): it floats just before it, on the same line.
        return format_html(
            '<div class="json-branch">{}<details class="json-node"{}><summary aria-label="{} {} {}"><span class="json-type">{}</span></summary><ul>{}{}</ul></details></div>',
            _pick_button("{{" + expr + "}}", name or expr),
            opened,
            name or expr,
            "object" if isinstance(value, dict) else "list",
            brackets,  # the visible text is part of the name (WCAG 2.5.3)
            brackets,
            children,
            more,
        )
    if isinstance(value, dict | list):
        text, kind = ("{}" if isinstance(value, dict) else "[]"), "empty"
    else:
        text, kind = _scalar(value)
    label = (
        _pick_button("{{" + expr + "}}", name or expr)
        if expr is not None
        else format_html('<span class="json-key">{}</span>', name)
    )
    separator = ": " if name or expr is not None else ""
    return format_html(
        '<span class="json-leaf">{}{}<span class="json-value json-{}">{}</span></span>',
        label,
        separator,
        kind,
        text,
    )


@register.simple_tag
def json_tree(value: Any) -> SafeString:
    """A collapsible, read-only tree of a JSON value."""
    return format_html('<div class="json-tree">{}</div>', _tree(value, None, None, 0))


@register.simple_tag
def picker_tree(value: Any, number: int) -> SafeString:
    """The output of node `number` as a tree whose entries insert their expression, e.g. {{$2.id}}."""
    return format_html('<div class="json-tree picker-tree">{}</div>', _tree(value, None, f"${number}", 0))


@register.simple_tag
def function_groups() -> dict[str, list[expression_functions.Function]]:
    """The functions expressions may call, by group, for the data picker's Functions section."""
    return expression_functions.GROUPS


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now", or "5 minutes ago"."""
    if moment is None:
        return ""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment).split(',')[0]} ago"


@register.filter
def node_title(run: Any) -> str:
    """A node run's title: the node's own label, else its type's title."""
    if getattr(run, "label", ""):
        return str(run.label)
    node_type = NODE_TYPES.get(getattr(run, "node_kind", ""))
    return node_type.title if node_type else str(getattr(run, "node_kind", ""))


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


# Keys of a node's error already said in its message, in words (clean_params names each field there).
SAID_IN_MESSAGE = {"message", "fields"}


@register.filter
def error_details(error: Any) -> list[tuple[str, str]]:
    """A node error's details beside its message, each as readable text (never a Python repr)."""
    if not isinstance(error, dict):
        return []
    return [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for key, value in error.items()
        if key not in SAID_IN_MESSAGE and value is not None
    ]
