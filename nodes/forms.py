"""The one form builder: a node type's fields become the Django form that validates and renders the
inspector. Also what the editor stores (`params_from_form`) and the re-check after expressions were
resolved (`clean_for_run`).

    form = build_form(node_type, data=request.POST, team=team, upstream={1, 2}, known={1, 2, 3},
                      models=models_or_None, models_error=message)
    if form.is_valid():
        node.params = params_from_form(form)
        node.credential = credential_from_form(form)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.forms import BoundField

from nodes import conditions, expressions, node_settings
from nodes.base import Field, NodeType, as_bool
from nodes.params import Invalid, clean_params, clean_value, is_empty, stored_value
from nodes.widgets import ConditionsWidget, FieldRowsWidget, JsonTextarea, ModelInput, PairsWidget
from teams.models import Credential, Team

REQUIRED = "This field is required."


class ValueField(forms.Field):
    """A node field: `{{…}}` values get their references checked, everything else its kind's rules."""

    def __init__(self, spec: Field, *, upstream: Iterable[int], known: Iterable[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.upstream = set(upstream)
        self.known = set(known)

    def clean(self, value: Any) -> Any:
        if is_empty(value):
            if self.required:
                raise forms.ValidationError(REQUIRED, code="required")
            return None
        # References written without braces (a Merge's inputs, "exists" conditions) name nodes too.
        problems = expressions.check(
            " ".join(ref.source for ref in self._bare_references(value)), self.upstream, self.known
        )
        if problems:
            raise forms.ValidationError(_unbraced(problems), code="reference")
        if expressions.has_expression(value):
            if not self.spec.expressions:
                raise forms.ValidationError(f"{self.spec.label} cannot hold expressions.", code="expression")
            problems = expressions.check(value, self.upstream, self.known)
            if problems:
                raise forms.ValidationError(problems, code="reference")
        try:
            return clean_value(self.spec, value, saving=True)
        except Invalid as exc:
            raise forms.ValidationError(exc.messages, code="invalid") from None

    def _bare_references(self, value: Any) -> list[expressions.Reference]:
        if self.spec.kind == "conditions":
            return conditions.bare_references(value)
        if self.spec.kind != "references":
            return []
        try:
            return expressions.bare_references(str(value))
        except expressions.ExpressionError as exc:
            raise forms.ValidationError(str(exc), code="reference") from None


def _filled(value: Any) -> bool:
    """Whether a field holds something typed (a condition builder: a condition with a value)."""
    if isinstance(value, dict) and "rules" in value:
        rules = value.get("rules") or []
        return any(
            isinstance(r, dict) and not (is_empty(r.get("left")) and is_empty(r.get("right"))) for r in rules
        )
    return not is_empty(value)


def _unbraced(problems: list[str]) -> list[str]:
    """Problems with references written without braces, said as written."""
    return [problem.replace("{{", "", 1).replace("}}", "", 1) for problem in problems]


class CredentialField(forms.ModelChoiceField):
    """The team's credentials only; another team's id is "not a valid choice"."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.host})"


@dataclass
class Row:
    """One field of the inspector as the template renders it."""

    spec: Field
    bound: BoundField
    shown: bool
    value: Any = None
    after_value: Any = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def is_pairs(self) -> bool:
        return self.spec.kind in ("metadata", "key_values", "conditions", "field_rows")

    @property
    def takes_expressions(self) -> bool:
        return self.spec.expressions and self.spec.kind not in ("toggle", "credential", "webhook_url")

    @property
    def folded(self) -> bool:
        """Empty and waiting for the field it comes after (Field.after) to be filled in."""
        if not self.spec.after or self.errors:
            return False
        return not _filled(self.value) and not _filled(self.after_value)

    @property
    def show_if_json(self) -> str:
        return json.dumps(dict(self.spec.show_if))

    @property
    def errors(self) -> Any:
        return self.bound.errors


class NodeForm(forms.Form):
    template_name = "nodes/node_form.html"
    # Hidden conditional fields may be required; the server decides, the browser must not block.
    use_required_attribute = False

    def __init__(
        self,
        node_type: NodeType,
        *,
        data: Any = None,
        initial: dict[str, Any] | None = None,
        team: Team | None = None,
        upstream: Iterable[int] = (),
        known: Iterable[int] = (),
        models: Sequence[str] | None = None,
        models_error: str = "",
        webhook_url: str = "",
        prefix: str | None = None,
    ) -> None:
        self.node_type = node_type
        self.team = team
        initial = {**node_type.defaults(), **(initial or {})}
        if isinstance(initial.get("credential"), Credential):
            initial["credential"] = initial["credential"].pk
        if webhook_url:
            initial["webhook_url"] = webhook_url
        super().__init__(data=data, initial=initial, prefix=prefix)
        upstream, known = set(upstream), set(known)
        credentials = Credential.objects.for_team(team) if team is not None else Credential.objects.none()
        # The type's own fields, then the settings every action has (retries, on error).
        self.specs = node_type.fields + node_settings.fields_for(node_type)
        for spec in self.specs:
            self.fields[spec.name] = _form_field(spec, upstream, known, credentials, models, models_error)
        if not self.is_bound:
            self._prefill_model(credentials)

    def _prefill_model(self, credentials: Any) -> None:
        credential_id = self.initial.get("credential")
        for spec in self.node_type.fields:
            if spec.credential_default and is_empty(self.initial.get(spec.name)) and credential_id:
                credential = credentials.filter(pk=credential_id).first()
                if credential is not None and credential.default_model:
                    self.initial[spec.name] = credential.default_model

    # -- validation ------------------------------------------------------------------------------

    def raw_values(self) -> dict[str, Any]:
        """What the form holds now (submitted data, else initial), for deciding what is shown."""
        if self.is_bound:
            return {name: self[name].data for name in self.fields}
        return {name: self.get_initial_for_field(field, name) for name, field in self.fields.items()}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.raw_values()
        for spec in self.node_type.fields:
            if spec.show_if and not spec.shown(raw):
                # Hidden: not validated, but what the user typed is kept for when it shows again.
                self.errors.pop(spec.name, None)
                value = raw.get(spec.name)
                data[spec.name] = None if is_empty(value) else stored_value(spec, value)
        credential = data.get("credential")
        for spec in self.node_type.fields:
            needs_default = spec.required and spec.credential_default and spec.shown(raw)
            if not needs_default or spec.name in self.errors or not is_empty(data.get(spec.name)):
                continue
            if credential is not None and credential.default_model:
                data[spec.name] = credential.default_model
            else:
                self.add_error(spec.name, f"{REQUIRED} Choose a model (the credential has no default model).")
        if self.node_type.check is not None:
            settled = {
                spec.name: data.get(spec.name)
                for spec in self.node_type.fields
                if spec.shown(raw)
                and spec.name not in self.errors
                and not is_empty(data.get(spec.name))
                and not expressions.has_expression(data.get(spec.name))
            }
            for name, messages in self.node_type.check(settled).items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, messages)
        return data

    # -- rendering -------------------------------------------------------------------------------

    def rows(self) -> list[Row]:
        raw = self.raw_values()
        return [
            Row(spec, self[spec.name], spec.shown(raw), raw.get(spec.name), raw.get(spec.after))
            for spec in self.node_type.fields
        ]

    def required_rows(self) -> list[Row]:
        """Required fields first (conditional ones stay beside the toggle that shows them)."""
        return [row for row in self.rows() if row.spec.required and not row.spec.show_if]

    def optional_rows(self) -> list[Row]:
        return [row for row in self.rows() if not (row.spec.required and not row.spec.show_if)]

    def settings_rows(self) -> list[Row]:
        """The node settings (nodes/node_settings.py), shown folded in their own section."""
        raw = self.raw_values()
        extra = self.specs[len(self.node_type.fields) :]
        return [Row(spec, self[spec.name], True, raw.get(spec.name)) for spec in extra]

    def settings_open(self) -> bool:
        """Whether the Settings section starts unfolded: a setting differs from its default, or is wrong."""
        return any(
            row.errors or (not is_empty(row.value) and str(row.value).strip() != str(row.spec.default))
            for row in self.settings_rows()
        )


def _form_field(
    spec: Field,
    upstream: set[int],
    known: set[int],
    credentials: Any,
    models: Sequence[str] | None,
    models_error: str,
) -> forms.Field:
    common: dict[str, Any] = {"label": spec.label, "help_text": spec.help}
    if spec.kind == "credential":
        return CredentialField(
            queryset=credentials.of_kinds(spec.credential_kinds),
            required=spec.required,
            empty_label="Choose an API key…" if spec.required else "None",
            error_messages={
                "invalid_choice": "Select a valid choice. That choice is not one of the available choices."
            },
            **common,
        )
    if spec.kind == "webhook_url":
        return forms.CharField(
            required=False, disabled=True, widget=forms.TextInput(attrs={"readonly": True}), **common
        )
    if spec.kind == "toggle":
        return forms.BooleanField(required=False, **common)
    attrs: dict[str, Any] = {"placeholder": spec.placeholder} if spec.placeholder else {}
    if spec.required:
        attrs["aria-required"] = "true"
    widget: forms.Widget
    if spec.kind == "select" and spec.live_choices:
        widget = ModelInput(list(models) if models is not None else None, models_error, attrs)
    elif spec.kind == "select":
        widget = forms.Select(attrs=attrs, choices=spec.choices)
    elif spec.kind in ("metadata", "key_values"):
        widget = PairsWidget(spec.label, spec.max_items, spec.required)
    elif spec.kind == "conditions":
        widget = ConditionsWidget(spec.label, spec.max_items)
    elif spec.kind == "field_rows":
        widget = FieldRowsWidget(spec.label, spec.max_items)
    elif spec.kind == "code":
        code_attrs = {"spellcheck": "false", "autocapitalize": "off", "autocomplete": "off", "wrap": "off"}
        widget = forms.Textarea(attrs={**attrs, **code_attrs, "rows": 14})
    elif spec.kind in ("json", "functions", "file_ids"):
        rows = 6 if spec.kind == "functions" else 2
        widget = JsonTextarea({**attrs, "rows": rows}, indent=2 if spec.kind == "functions" else None)
    elif spec.kind == "long_text":
        rows = 8 if (spec.max_length or 0) > 10_000 or spec.name in ("message", "body") else 3
        widget = forms.Textarea(attrs={**attrs, "rows": rows})
    elif spec.kind == "number":
        widget = forms.TextInput(attrs={**attrs, "inputmode": "numeric"})
    else:
        widget = forms.TextInput(attrs=attrs)
    # A model field that falls back to the credential's default is checked in NodeForm.clean.
    required = spec.required and not spec.credential_default
    return ValueField(spec, upstream=upstream, known=known, required=required, widget=widget, **common)


# -- public API -----------------------------------------------------------------------------------


def build_form(
    node_type: NodeType,
    *,
    data: Any = None,
    initial: dict[str, Any] | None = None,
    team: Team | None = None,
    upstream: Iterable[int] = (),
    known: Iterable[int] = (),
    models: Sequence[str] | None = None,
    models_error: str = "",
    webhook_url: str = "",
    prefix: str | None = None,
) -> NodeForm:
    """The inspector form of `node_type`.

    `initial`: the node's stored params plus "credential" (an id or a Credential). `team`: whose
    credentials the picker offers. `upstream` / `known`: node numbers upstream of this node / in
    the scenario, for checking `{{$n…}}` references. `models`: the credential's model list (None when
    it could not be loaded; say why in `models_error`). `webhook_url`: shown by the trigger.
    """
    return NodeForm(
        node_type,
        data=data,
        initial=initial,
        team=team,
        upstream=upstream,
        known=known,
        models=models,
        models_error=models_error,
        webhook_url=webhook_url,
        prefix=prefix,
    )


def params_from_form(form: NodeForm) -> dict[str, Any]:
    """What to store in Node.params (the credential goes to Node.credential, see credential_from_form).

    Empty optional fields are left out; toggles are always stored; hidden conditional fields keep
    their values. Call after `form.is_valid()`.
    """
    params: dict[str, Any] = {}
    for spec in form.specs:
        if spec.kind in ("credential", "webhook_url"):
            continue
        value = form.cleaned_data.get(spec.name)
        if spec.kind == "toggle":
            params[spec.name] = as_bool(value)
        elif not is_empty(value):
            params[spec.name] = value
    return params


def credential_from_form(form: NodeForm) -> Credential | None:
    credential = form.cleaned_data.get("credential")
    return credential if isinstance(credential, Credential) else None


def clean_for_run(node_type: NodeType, resolved_params: dict[str, Any]) -> dict[str, Any]:
    """Re-check params after expressions were resolved (types, limits, cross-field rules).

    Returns what execute receives; raises NodeError(message, fields={name: [messages]}). The
    execute functions also run it, so calling it first only gives the errors earlier.
    """
    return clean_params(node_type.fields, resolved_params, node_type.check)
