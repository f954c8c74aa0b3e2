"""The inspector's custom controls: a model input with suggestions, key-value rows, JSON text areas."""

from __future__ import annotations

import json
from itertools import zip_longest
from typing import Any

from django import forms

from nodes.conditions import COMBINE, OPERATORS, TYPES
from nodes.expressions import as_text
from nodes.field_rows import TYPES as FIELD_TYPES
from nodes.field_rows import RowsInvalid, rows_of
from nodes.params import Invalid, pairs_of


def _getlist(data: Any, key: str) -> list[Any]:
    if hasattr(data, "getlist"):
        return list(data.getlist(key))
    value = data.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


class ModelInput(forms.TextInput):
    """Free text with the provider's models as suggestions (a datalist), so a model can be typed
    when the list cannot be loaded."""

    template_name = "nodes/widgets/model.html"

    def __init__(
        self, models: list[str] | None, error: str = "", attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(attrs)
        self.models = models
        self.error = error

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        widget["list_id"] = f"{widget['attrs'].get('id') or name}-models"
        widget["attrs"]["list"] = widget["list_id"]
        widget["attrs"].setdefault("autocomplete", "off")
        widget["models"] = self.models or []
        widget["models_error"] = self.error
        return context


class JsonTextarea(forms.Textarea):
    """Shows stored JSON (lists, objects) as text; what the user typed is shown as typed."""

    def __init__(self, attrs: dict[str, Any] | None = None, *, indent: int | None = None) -> None:
        super().__init__({"spellcheck": "false", "class": "field__code", **(attrs or {})})
        self.indent = indent

    def format_value(self, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False, indent=self.indent)


class PairsWidget(forms.Widget):
    """Key-value rows (`<name>-key` / `<name>-value` inputs) with add and remove buttons."""

    template_name = "nodes/widgets/pairs.html"

    def __init__(
        self, label: str, max_items: int | None, required: bool = False, attrs: dict[str, Any] | None = None
    ) -> None:
        super().__init__(attrs)
        self.label = label
        self.max_items = max_items
        self.required = required

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        keys, values = _getlist(data, f"{name}-key"), _getlist(data, f"{name}-value")
        if keys or values:
            return [[k, v] for k, v in zip_longest(keys, values, fillvalue="")]
        return data.get(name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}-key" not in data and f"{name}-value" not in data

    def format_value(self, value: Any) -> list[tuple[str, str]]:
        if value in (None, ""):
            return []
        try:
            pairs = pairs_of(value)
        except Invalid:
            return []
        return [(as_text(k), as_text(v)) for k, v in pairs]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        rows = list(widget["value"]) or [("", "")]
        widget["rows"] = [{"number": n, "key": k, "value": v} for n, (k, v) in enumerate(rows, start=1)]
        widget["label"] = self.label
        widget["max_items"] = self.max_items
        widget["required"] = self.required
        widget["id"] = widget["attrs"].get("id") or name
        return context

    def id_for_label(self, id_: str) -> str:
        # The group is named by its <legend>; each input has its own aria-label.
        return ""


class RowsWidget(forms.Widget):
    """A group of rows named by its <legend> (each control has its own aria-label), with add and
    remove buttons (the key-value rows' behaviour in node-form.js)."""

    def __init__(self, label: str, max_items: int | None, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.label = label
        self.max_items = max_items

    def group_context(self, widget: dict[str, Any], name: str) -> None:
        widget["label"] = self.label
        widget["max_items"] = self.max_items
        widget["id"] = widget["attrs"].get("id") or name

    def id_for_label(self, id_: str) -> str:
        return ""


class ConditionsWidget(RowsWidget):
    """Condition rows (`<name>-left`, `-op`, `-right`, `-type`) and their AND/OR (`<name>-combine`)."""

    template_name = "nodes/widgets/conditions.html"

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        columns = [_getlist(data, f"{name}-{part}") for part in ("left", "op", "right", "type")]
        if not any(columns) and f"{name}-combine" not in data:
            return data.get(name)
        rules = [
            {"left": left, "op": op, "right": right, "type": kind}
            for left, op, right, kind in zip_longest(*columns, fillvalue="")
        ]
        return {"combine": data.get(f"{name}-combine") or "and", "rules": rules}

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}-left" not in data and f"{name}-combine" not in data

    def format_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        if isinstance(value, list):
            value = {"combine": "and", "rules": value}
        if not isinstance(value, dict):
            return {"combine": "and", "rules": []}
        rules = [r for r in value.get("rules") or [] if isinstance(r, dict)]
        return {"combine": value.get("combine") or "and", "rules": rules}

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        shown = widget["value"]
        rules = shown["rules"] or [{"left": "", "op": "equals", "right": "", "type": "text"}]
        widget["rows"] = [
            {
                "number": n,
                "left": as_text(rule.get("left")),
                "op": as_text(rule.get("op") or "equals"),
                "right": as_text(rule.get("right")),
                "type": as_text(rule.get("type") or "text"),
            }
            for n, rule in enumerate(rules, start=1)
        ]
        widget["new_row"] = {"number": "", "left": "", "op": "equals", "right": "", "type": "text"}
        widget["combine"] = shown["combine"]
        widget["combine_choices"] = COMBINE
        widget["operators"] = OPERATORS
        widget["types"] = TYPES
        self.group_context(widget, name)
        return context


class FieldRowsWidget(RowsWidget):
    """Named, typed value rows (`<name>-name`, `-type`, `-value`)."""

    template_name = "nodes/widgets/field_rows.html"

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        columns = [_getlist(data, f"{name}-{part}") for part in ("name", "type", "value")]
        if not any(columns):
            return data.get(name)
        return [
            {"name": key, "type": kind or "text", "value": value}
            for key, kind, value in zip_longest(*columns, fillvalue="")
        ]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and f"{name}-name" not in data

    def format_value(self, value: Any) -> list[dict[str, Any]]:
        try:
            return rows_of(value) if value not in (None, "") else []
        except RowsInvalid:
            return []

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        rows = widget["value"] or [{"name": "", "type": "text", "value": ""}]
        widget["rows"] = [
            {
                "number": n,
                "name": as_text(row.get("name")),
                "type": as_text(row.get("type") or "text"),
                "value": as_text(row.get("value")),
            }
            for n, row in enumerate(rows, start=1)
        ]
        widget["new_row"] = {"number": "", "name": "", "type": "text", "value": ""}
        widget["types"] = FIELD_TYPES
        self.group_context(widget, name)
        return context
