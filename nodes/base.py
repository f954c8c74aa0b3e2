"""What a node type is: data (app, title, kind, fields with defaults, limits and conditions) plus one
async execute function. The inspector form, its validation and the catalog all come from this data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from teams.models import Credential

FieldKind = Literal[
    "text",  # one line
    "long_text",  # a textarea
    "number",
    "toggle",  # boolean
    "select",  # static choices, or live choices loaded from the provider (live_choices)
    "json",  # any JSON value, validated
    "functions",  # JSON list in the seed's function format, checked
    "file_ids",  # JSON list of file id strings
    "metadata",  # key-value pairs (<= 16, key <= 64, value <= 512)
    "key_values",  # free key-value pairs (headers)
    "credential",  # the node's credential (Node.credential, not params)
    "webhook_url",  # read-only: the scenario's webhook URL
]
NodeKind = Literal["trigger", "action", "response"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # the seed's label; also the control's accessible name
    kind: FieldKind = "text"
    required: bool = False
    default: Any = None
    help: str = ""
    placeholder: str = ""
    max_length: int | None = None
    max_items: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    # "models": choices loaded live from the credential's provider (GET /models), free entry allowed.
    live_choices: str | None = None
    # Shown (and validated) only when every named field has the given value, e.g. (("new_message", True),).
    show_if: tuple[tuple[str, Any], ...] = ()
    # Whether the value may hold {{$n.path}} expressions.
    expressions: bool = True


@dataclass
class NodeContext:
    """What an execute function may use. It never sees other teams' data or raw settings."""

    team_id: Any
    execution_id: Any
    node_number: int
    credential: Credential | None = None
    # The execution's input (for a trigger: the webhook request as {method, headers, query, body}).
    trigger_input: dict[str, Any] = field(default_factory=dict)
    # Outputs of upstream nodes by number.
    upstream: dict[int, Any] = field(default_factory=dict)
    # Secrets to redact from anything recorded (filled by the engine).
    secrets: list[str] = field(default_factory=list)


ExecuteFn = Callable[[NodeContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class NodeError(Exception):
    """A node failed in a way the user can act on. `details` is shown beside the message."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, **self.details}


@dataclass(frozen=True)
class NodeType:
    key: str
    app: str
    title: str
    description: str
    kind: NodeKind
    fields: tuple[Field, ...]
    execute: ExecuteFn
    color: str = "#10a37f"
    icon: str = "openai"

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def uses_credential(self) -> bool:
        return any(f.kind == "credential" for f in self.fields)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields if f.default is not None and f.kind != "credential"}

    def catalog_entry(self) -> dict[str, Any]:
        """The palette's view of this type (no execute)."""
        return {
            "key": self.key,
            "app": self.app,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "color": self.color,
            "icon": self.icon,
        }
