"""Scenario-level forms of the editor: naming a scenario and the sample input of a manual run."""

from __future__ import annotations

from typing import Any

from django import forms

from nodes import json_limits
from scenarios.models import Scenario

MAX_SAMPLE_INPUT_BYTES = 1024 * 1024


class ScenarioNameForm(forms.ModelForm):
    class Meta:
        model = Scenario
        fields = ["name"]
        labels = {"name": "Scenario name"}
        error_messages = {"name": {"required": "Give the scenario a name."}}


class SampleInputForm(forms.Form):
    """The input a manual run starts with: what the webhook trigger would have received."""

    sample_input = forms.CharField(
        label="Sample input (JSON)",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "mono"}),
        required=False,
    )

    def clean_sample_input(self) -> dict[str, Any]:
        text: str = self.cleaned_data["sample_input"].strip()
        if not text:
            return {}
        if len(text.encode()) > MAX_SAMPLE_INPUT_BYTES:
            raise forms.ValidationError("The sample input is over 1 MB.")
        try:
            value = json_limits.loads(text, "sample input")
        except json_limits.BadData as exc:
            raise forms.ValidationError(str(exc)) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                'The sample input must be a JSON object, like {"method": "POST", "body": {...}}.'
            )
        return value


class ScenarioSettingsForm(forms.ModelForm):
    """A scenario's settings: the error scenario, chosen among the team's other scenarios only."""

    class Meta:
        model = Scenario
        fields = ["error_scenario"]
        labels = {"error_scenario": "Error scenario"}
        help_texts = {
            "error_scenario": "Runs when an execution of this scenario fails, with the execution's id, "
            "the failed node, the error and the input: read them as {{$1.body.error}} and so on."
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["error_scenario"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Scenario.objects.for_team(self.instance.team).exclude(pk=self.instance.pk)
        field.empty_label = "None"
