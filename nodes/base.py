"""What a node type is: data (app, title, kind, fields with defaults, limits and conditions, output
ports) plus one async execute function. The inspector form, its validation and the catalog all come
from this data.

Ports. A node type names its output ports in `outputs` (one, "main", by default); an edge joins one
of them to the next node. The execute function says which ports fired by what it returns:

- a plain value fires every port of the type except "error" (a one-port type: "main");
- `Routed(output, ("true",))` fires only the ports named (none at all ends the route quietly), so an
  IF is `outputs=("true", "false")` and an execute function that returns `Routed(value, (choice,))`.

A type whose `outputs` include "error" may have its failures routed: when that port is connected,
the node's error goes down it as data, `{"error": {"message": ...}}`, instead of failing the
execution (the node run is still recorded as failed, with "error" as the port it took).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from teams.models import Credential

FieldKind = Literal[
    "text",  # one line
    "id",  # one line holding a provider id (asst_…, thread_…); checked and URL-encoded in paths
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
    "references",  # node references without braces, "$3, $4.body.items" (checked like expressions)
    "conditions",  # condition rows combined with AND/OR (nodes/conditions.py), stored as JSON
    "code",  # source code: a monospace text area, kept exactly as typed
    "field_rows",  # named, typed values [{name, type, value}] (nodes/field_rows.py)
]
NodeKind = Literal["trigger", "action", "response"]

DEFAULT_PORT = "main"
ERROR_PORT = "error"
# The node setting that says what a failure does (nodes/node_settings.py); "error_port" adds the port.
ON_ERROR_PARAM = "settings_on_error"


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
    # Display only: an empty field stays folded away until the field named here has a value (a
    # Switch's next route appears once the previous one is named). It is validated as usual.
    after: str = ""
    # Whether the value may hold {{$n.path}} expressions.
    expressions: bool = True
    # Model fields: when left empty, the credential's default model is used (and pre-filled).
    credential_default: bool = False
    # Text whose value, when it is exactly one expression, keeps the JSON type (a response body).
    keeps_type: bool = False
    # Credential fields: the kinds of credential offered (teams.models.CredentialKind values).
    credential_kinds: tuple[str, ...] = ("openai",)
    # Key-value fields: why one pair (key, value) is refused, or None (a node type's own rule).
    item_check: Callable[[str, str], str | None] | None = None

    def shown(self, values: Mapping[str, Any]) -> bool:
        """Whether the field applies, given the other fields' values (its `show_if` conditions)."""
        for name, expected in self.show_if:
            value = values.get(name)
            if isinstance(expected, bool):
                value = as_bool(value)
            if value != expected:
                return False
        return True


def as_bool(value: Any) -> bool:
    """A toggle's value from a form, JSON or an expression ("on", "true", 1, True...)."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "on", "yes"}
    return bool(value)


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
    # Optional live progress, e.g. {"retrying": 1, "of": 3, "wait": 2.0, "reason": "HTTP 429"}.
    progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # Live text as a streaming node receives it (a model's tokens): `await ctx.tokens("Hel")`, only for
    # showing early (an SSE webhook caller, the editor's live run); the output stays the whole text.
    # None when nobody listens: the node then asks for one whole answer (cheaper than a stream).
    tokens: Callable[[str], Awaitable[None]] | None = None
    # Run another scenario of the team by name with an input and wait for its result (the Run
    # scenario node; scenarios/runtime/subscenarios.py). None outside a scenario's execution.
    call_scenario: Callable[[str, Any], Awaitable[dict[str, Any]]] | None = None


@dataclass(frozen=True)
class Routed:
    """An execute function's output together with the output ports it fired (see the module's doc)."""

    output: Any
    ports: tuple[str, ...]


@dataclass(frozen=True)
class Waiting:
    """An execute function's answer "pass `output` on, but not before `until`" (a Wait node).

    The engine records the node as waiting and, when nothing else runs, releases the execution
    until then: it holds no worker meanwhile and resumes on any executor (scenarios/runtime/engine.py).
    """

    output: Any
    until: datetime


ExecuteFn = Callable[[NodeContext, dict[str, Any]], Awaitable[dict[str, Any] | Routed | Waiting]]
# Cross-field rules over cleaned params: {field name: [messages]} (empty when fine).
CheckFn = Callable[[dict[str, Any]], dict[str, list[str]]]


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
    # Rules that span fields (e.g. file ids need a tool), run by the form and before execution.
    check: CheckFn | None = None
    # The named output ports, in the order the canvas draws them; "error" catches the node's failures.
    outputs: tuple[str, ...] = (DEFAULT_PORT,)
    # Per-node labels of some ports, from the node's params (a Switch's route names), for the canvas.
    port_labels: Callable[[dict[str, Any]], dict[str, str]] | None = None
    # The execute function reads upstream outputs itself (Code's $1, Edit fields' input), not only
    # through expressions: Run once then gives it every upstream node's latest output.
    reads_upstream: bool = False

    def labels_for(self, params: Any) -> dict[str, str]:
        """The canvas labels of this node's ports that differ from their names."""
        if self.port_labels is None or not isinstance(params, dict):
            return {}
        return self.port_labels(params)

    def outputs_for(self, params: Any) -> tuple[str, ...]:
        """This node's output ports: the type's, plus "error" when its settings (an action's "On
        error", nodes/node_settings.py) follow the error port."""
        if ERROR_PORT in self.outputs or self.kind != "action" or not isinstance(params, Mapping):
            return self.outputs
        return (*self.outputs, ERROR_PORT) if params.get(ON_ERROR_PARAM) == "error_port" else self.outputs

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def routes(self) -> tuple[str, ...]:
        """The ports a success can fire: every output but "error"."""
        return tuple(port for port in self.outputs if port != ERROR_PORT)

    @property
    def catches_errors(self) -> bool:
        return ERROR_PORT in self.outputs

    def ports_fired(self, result: Any) -> tuple[Any, tuple[str, ...]]:
        """An execute function's result as (output, ports fired); NodeError for a port not declared."""
        if not isinstance(result, Routed):
            return result, self.routes
        unknown = [port for port in result.ports if port not in self.routes]
        if unknown:
            raise NodeError(
                f"The node chose the output port '{unknown[0]}', which its type does not have "
                f"(its ports: {', '.join(self.routes)})."
            )
        return result.output, tuple(dict.fromkeys(result.ports))

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
            "outputs": list(self.outputs),
        }
