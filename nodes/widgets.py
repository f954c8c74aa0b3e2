"""The inspector's custom controls: a model input with suggestions, key-value rows, JSON text areas."""

from __future__ import annotations

import json
from itertools import zip_longest
from typing import Any

from django import forms

from nodes.expressions import as_text
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
