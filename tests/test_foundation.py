from __future__ import annotations

import pytest

from nodes import expressions
from scenarios import graph
from teams import crypto


def test_a_credential_secret_is_encrypted_at_rest_and_reads_back(credential):
    assert "sk-test-secret" not in credential.secret_encrypted
    assert credential.get_secret() == "sk-test-secret-abcd1234"
    assert credential.masked == "•••• 1234"


def test_a_whole_field_expression_keeps_the_json_type():
    outputs = {1: {"body": {"n": 3, "items": [1, 2]}}}
    assert expressions.resolve("{{$1.body.n}}", outputs) == 3
    assert expressions.resolve("{{ $1.body.items }}", outputs) == [1, 2]


def test_an_expression_inside_text_becomes_text():
    outputs = {1: {"body": {"n": 3, "items": [1, 2]}}}
    assert expressions.resolve("n={{$1.body.n}} items={{$1.body.items}}", outputs) == "n=3 items=[1,2]"


def test_a_value_produced_by_an_expression_is_never_evaluated_again():
    outputs = {1: {"body": {"question": "{{$1.body.secret}}", "secret": "hidden"}}}
    assert expressions.resolve("Q: {{$1.body.question}}", outputs) == "Q: {{$1.body.secret}}"


@pytest.mark.parametrize(
    "text", ["{{ ''.__class__ }}", "{{$1.__class__()}}", "{{7*7}}", "{{ cycler.__init__ }}"]
)
def test_anything_but_a_reference_is_refused(text):
    with pytest.raises(expressions.ExpressionError, match="not a valid expression"):
        expressions.resolve(text, {1: {}})


def test_a_missing_path_is_an_error_naming_it():
    with pytest.raises(expressions.ExpressionError, match=r"\$1.body has no 'question'"):
        expressions.resolve("{{$1.body.question}}", {1: {"body": {}}})


def test_save_time_check_names_unknown_and_non_upstream_nodes():
    problems = expressions.check("{{$7.x}} {{$3.y}}", upstream={1}, known={1, 2, 3})
    assert problems == [
        "{{$7.x}} refers to node $7, which does not exist.",
        "{{$3.y}} refers to node $3, which is not upstream of this node.",
    ]


def test_a_cycle_is_refused_naming_its_nodes():
    with pytest.raises(graph.CycleError, match=r"\$2, \$3"):
        graph.topological_order([1, 2, 3], [(1, 2), (2, 3), (3, 2)])


def test_ancestors_are_the_transitive_upstream():
    assert graph.ancestors(4, [(1, 2), (2, 4), (3, 5)]) == {1, 2}


def test_an_unreadable_secret_needs_reentry(credential, settings):
    from cryptography.fernet import Fernet

    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_keys()
    try:
        assert credential.needs_reentry
    finally:
        crypto.reset_keys()
