"""The data picker's Functions section: every function, by group, with its signature and help."""

from __future__ import annotations

from django.urls import reverse

from nodes import expression_functions

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_data_picker_lists_every_function_by_group_with_what_it_inserts(cast, scenario):
    node = scenario.nodes.get(number=3)
    html = cast.client_for(cast.carol).get(reverse("scenarios:inspector", args=[scenario.pk, node.pk]), **HX)
    html = html.content.decode()
    assert "<summary>Functions</summary>" in html
    for group in ("Text", "Numbers", "Lists", "Dates", "JSON"):
        assert f'<h4 class="picker-functions__group">{group}</h4>' in html
    for entry in expression_functions.FUNCTIONS.values():
        assert f'data-expr="{{{{ {entry.name}() }}}}"' in html, entry.name
    assert "filter(list, path, value)" in html and "in_timezone(date, zone)" in html


def test_a_trigger_has_no_picker_and_so_no_functions(cast, scenario):
    node = scenario.nodes.get(number=1)
    html = cast.client_for(cast.carol).get(reverse("scenarios:inspector", args=[scenario.pk, node.pk]), **HX)
    assert "picker-functions" not in html.content.decode()
