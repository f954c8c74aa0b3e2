"""The inspector form as HTML: labels, order, the credential picker, the model input, rows, escaping."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from nodes import node_settings
from nodes.base import NodeError
from nodes.forms import clean_for_run, credential_from_form, params_from_form
from nodes.registry import NODE_TYPES, get_node_type
from teams.models import Credential
from tests.nodes.helpers import error_texts, form_for


class Controls(HTMLParser):
    """Labels (by `for`), controls (by id), legends, and every element's attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: dict[str, str] = {}
        self.controls: dict[str, dict[str, str | None]] = {}
        self.legends: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self._label_for: str | None = None
        self._legend = False
        self._text: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "label":
            self._label_for, self._text = attributes.get("for"), []
        elif tag == "legend":
            self._legend, self._text = True, []
        elif tag == "span" and attributes.get("aria-hidden") == "true":
            self._hidden_depth += 1
        if tag in ("input", "select", "textarea") and attributes.get("id"):
            self.controls[attributes["id"]] = attributes

    def handle_endtag(self, tag):
        if tag == "span" and self._hidden_depth:
            self._hidden_depth -= 1
        elif tag == "label" and self._label_for is not None:
            self.labels[self._label_for] = "".join(self._text).strip()
            self._label_for = None
        elif tag == "legend":
            self.legends.append("".join(self._text).strip())
            self._legend = False

    def handle_data(self, data):
        if (self._label_for is not None or self._legend) and not self._hidden_depth:
            self._text.append(data)


def parse(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("key", sorted(NODE_TYPES))
def test_every_control_is_named_by_its_seed_label(cast, key):
    node_type = get_node_type(key)
    page = parse(form_for(key, team=cast.team, webhook_url="http://x/hooks/t").render())
    names = set(page.labels.values()) | set(page.legends)
    # The type's own fields and the settings section every action has.
    assert names == {f.label for f in node_type.fields + node_settings.fields_for(node_type)}
    for control_id, label in page.labels.items():
        assert control_id in page.controls, f"<label for={control_id}> ({label}) names no control"


@pytest.mark.parametrize("key", sorted(NODE_TYPES))
def test_no_inline_handlers_and_no_unescaped_markup_in_any_form(cast, key):
    html = form_for(key, team=cast.team).render()
    assert "onclick" not in html and "hx-on" not in html and "javascript:" not in html


def test_templates_never_mark_user_data_safe():
    root = Path(__file__).resolve().parents[2] / "nodes" / "templates"
    for template in root.rglob("*.html"):
        assert "|safe" not in template.read_text() and "autoescape off" not in template.read_text()


def test_required_fields_come_first_and_are_marked(cast):
    html = form_for("openai.create_run", team=cast.team).render()
    order = [
        attrs["name"]
        for tag, attrs in parse(html).elements
        if tag in ("input", "select", "textarea") and attrs.get("name")
    ]
    assert order[:3] == ["credential", "thread_id", "assistant_id"]
    assert html.index('class="node-form__section">Optional') > html.index('name="assistant_id"')
    assert (
        'Thread ID</label><span class="field__required" aria-hidden="true" title="required"> *</span>' in html
    )
    assert 'System instructions</label><span class="field__required"' not in html


def test_hidden_conditional_fields_are_rendered_hidden_with_their_condition(cast):
    html = form_for("openai.create_thread", team=cast.team).render()
    assert (
        'data-field="content" data-show-if="{&quot;new_message&quot;: true}" data-expressions hidden>' in html
    )
    shown = form_for("openai.create_thread", {"new_message": "on"}, team=cast.team).render()
    assert 'data-field="content" data-show-if="{&quot;new_message&quot;: true}" data-expressions>' in shown


# -- the credential picker ---------------------------------------------------------------------------


def test_the_picker_offers_only_the_teams_credentials(cast, credential):
    foreign = Credential.objects.create(team=cast.other_team, name="Mallory's key")
    html = form_for("openai.send_message", team=cast.team).render()
    assert f'value="{credential.pk}"' in html
    assert str(foreign.pk) not in html and "Mallory" not in html


def test_another_teams_credential_is_not_a_valid_choice(cast):
    foreign = Credential.objects.create(team=cast.other_team, name="Mallory's key")
    form = form_for("openai.send_message", {"credential": str(foreign.pk), "message": "hi"}, team=cast.team)
    assert "not one of the available choices" in error_texts(form, "credential")
    garbage = form_for("openai.send_message", {"credential": "not-a-uuid", "message": "hi"}, team=cast.team)
    assert "not one of the available choices" in error_texts(garbage, "credential")


def test_the_chosen_credential_is_returned_separately_from_the_params(cast, credential):
    form = form_for(
        "openai.send_message", {"credential": str(credential.pk), "message": "hi"}, team=cast.team
    )
    assert form.is_valid(), form.errors
    assert credential_from_form(form) == credential
    assert "credential" not in params_from_form(form)


def test_add_new_fetches_the_inline_credential_form(cast):
    html = form_for("openai.send_message", team=cast.team).render()
    assert 'hx-get="/teams/credentials/new/?inline=1&amp;select=id_credential"' in html
    assert 'hx-target="#id_credential-new"' in html and 'id="id_credential-new"' in html


def test_the_form_still_renders_when_the_credential_endpoint_does_not_exist(cast, settings):
    settings.ROOT_URLCONF = "tests.nodes.urls_without_teams"
    html = form_for("openai.send_message", team=cast.team).render()
    assert 'name="credential"' in html and "Add new" not in html


def test_a_credential_name_is_escaped(cast):
    Credential.objects.create(team=cast.team, name="<script>alert(1)</script>")
    html = form_for("openai.send_message", team=cast.team).render()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- the model input ---------------------------------------------------------------------------------


def test_the_model_input_suggests_the_providers_models(cast):
    html = form_for("openai.send_message", team=cast.team, models=["gpt-4o", "gpt-4o-mini"]).render()
    assert 'list="id_model-models"' in html
    assert (
        '<datalist id="id_model-models"><option value="gpt-4o"></option><option value="gpt-4o-mini"></option></datalist>'
        in html
    )


def test_when_the_list_cannot_load_the_reason_is_shown_and_a_model_can_be_typed(cast, credential):
    html = form_for(
        "openai.send_message", team=cast.team, models=None, models_error="Could not load the model list."
    ).render()
    assert "Could not load the model list." in html
    form = form_for(
        "openai.send_message",
        {"credential": str(credential.pk), "message": "hi", "model": "my-local-model"},
        team=cast.team,
        models=None,
    )
    assert form.is_valid(), form.errors
    assert params_from_form(form)["model"] == "my-local-model"


def test_a_model_with_spaces_is_refused(cast, credential):
    form = form_for(
        "openai.send_message",
        {"credential": str(credential.pk), "message": "hi", "model": "gpt 4"},
        team=cast.team,
    )
    assert "is not a valid model ID" in error_texts(form, "model")


# -- errors keep what the user typed ------------------------------------------------------------------


def test_an_invalid_form_shows_the_errors_at_the_fields_and_keeps_the_input(cast, credential):
    data = {
        "credential": str(credential.pk),
        "name": '"><script>x</script>' + "n" * 300,
        "functions": '[{"type": "function", "function": {"name": "bad name"}}]',
        "metadata-key": ["a", "a"],
        "metadata-value": ["1", "2"],
    }
    form = form_for("openai.create_assistant", data, team=cast.team)
    assert not form.is_valid()
    html = form.render()
    assert "&quot;&gt;&lt;script&gt;x&lt;/script&gt;nnn" in html and "<script>x" not in html
    assert "the name &quot;bad name&quot; is not valid" in html
    assert html.count('name="metadata-key" value="a"') == 2
    assert 'id="id_name_error"' in html and 'aria-invalid="true"' in html


# -- metadata rows -------------------------------------------------------------------------------------


def test_stored_metadata_is_rendered_as_rows_with_their_limit(cast):
    html = form_for(
        "openai.modify_run", initial={"metadata": {"stage": "2", "owner": "ops"}}, team=cast.team
    ).render()
    assert 'data-max="16"' in html
    assert '<input type="text" name="metadata-key" value="stage" aria-label="Metadata key 1"' in html
    assert '<input type="text" name="metadata-value" value="ops" aria-label="Metadata value 2"' in html
    assert "<legend" in html and "Metadata</legend>" in html


def test_the_add_button_is_disabled_at_16_rows(cast):
    full = {f"k{n}": "v" for n in range(16)}
    html = form_for("openai.modify_run", initial={"metadata": full}, team=cast.team).render()
    assert "data-pairs-add disabled" in html


def test_metadata_may_be_posted_as_json_too(cast, credential):
    form = form_for(
        "openai.modify_run",
        {
            "credential": str(credential.pk),
            "thread_id": "t",
            "run_id": "r",
            "metadata": json.dumps({"a": "1"}),
        },
        team=cast.team,
    )
    assert form.is_valid(), form.errors
    assert params_from_form(form)["metadata"] == {"a": "1"}


# -- stored params round-trip ----------------------------------------------------------------------------


def test_stored_params_render_back_into_the_form_and_validate_unchanged(cast, credential):
    stored = {
        "model": "gpt-4o",
        "name": "Helper",
        "file_ids": ["file-a"],
        "code_interpreter": True,
        "retrieval": False,
        "functions": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "metadata": {"k": "v"},
    }
    html = form_for(
        "openai.create_assistant", initial={**stored, "credential": credential}, team=cast.team
    ).render()
    assert (
        "[&quot;file-a&quot;]" in html
        and 'name="code_interpreter" aria-describedby="id_code_interpreter_helptext" id="id_code_interpreter" checked'
        in html
    )
    data = {
        "credential": str(credential.pk),
        "model": "gpt-4o",
        "name": "Helper",
        "file_ids": json.dumps(stored["file_ids"]),
        "code_interpreter": "on",
        "functions": json.dumps(stored["functions"]),
        "metadata-key": ["k"],
        "metadata-value": ["v"],
    }
    form = form_for("openai.create_assistant", data, team=cast.team)
    assert form.is_valid(), form.errors
    assert params_from_form(form) == stored


# -- the run-time check ------------------------------------------------------------------------------------


def test_clean_for_run_checks_values_produced_by_expressions():
    resolved = {"thread_id": "thread_1", "content": "Hi", "file_ids": [f"file-{n}" for n in range(11)]}
    with pytest.raises(NodeError) as caught:
        clean_for_run(get_node_type("openai.create_message"), resolved)
    assert caught.value.details["fields"] == {"file_ids": ["At most 10 files (this has 11)."]}
    assert "File IDs list: At most 10 files" in caught.value.message


def test_clean_for_run_is_idempotent():
    node_type = get_node_type("openai.create_assistant")
    once = clean_for_run(
        node_type, {"model": "m", "file_ids": '["file-a"]', "retrieval": "true", "metadata": {"n": 1}}
    )
    assert once == {
        "model": "m",
        "file_ids": ["file-a"],
        "retrieval": True,
        "code_interpreter": False,
        "metadata": {"n": "1"},
    }
    assert clean_for_run(node_type, once) == once


def test_data_that_looks_like_an_expression_is_not_treated_as_one_at_run_time():
    cleaned = clean_for_run(get_node_type("openai.send_message"), {"message": "{{$9.nothing}}"})
    assert cleaned == {"message": "{{$9.nothing}}"}


# -- the script ------------------------------------------------------------------------------------------------


def test_the_script_is_a_static_file_without_eval():
    path = finders.find("nodes/node-form.js")
    assert path is not None
    source = Path(path).read_text()
    assert "eval(" not in source and "innerHTML" not in source and "new Function" not in source
