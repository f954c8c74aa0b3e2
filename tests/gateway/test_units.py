"""The gateway's small parts on their own: OpenAI's error wording, the offline model, chunks, citations."""

from __future__ import annotations

import json

import pytest

from gateway import offline
from gateway.conversation import citations
from gateway.errors import GatewayError
from gateway.search import Hit, query_terms, split_text
from gateway.validation import validate


def refusal(schema: str, body: object) -> dict:
    with pytest.raises(GatewayError) as raised:
        validate(schema, body)
    assert raised.value.status == 400
    return raised.value.body()["error"]


def test_validation_names_the_offending_parameter_in_openai_words():
    assert refusal("CreateMessageRequest", {"role": "user"}) == {
        "message": "Missing required parameter: 'content'.",
        "type": "invalid_request_error",
        "param": "content",
        "code": "missing_required_parameter",
    }
    nested = refusal("CreateThreadRequest", {"messages": [{"role": "user", "content": "x", "file_ids": []}]})
    assert nested["param"] == "messages[0].file_ids" and nested["code"] == "unknown_parameter"
    typed = refusal("CreateAssistantRequest", {"model": 5})
    assert typed["param"] == "model"
    limit = refusal("CreateRunRequest", {"assistant_id": "a", "max_completion_tokens": 10})
    assert limit["param"] == "max_completion_tokens"
    assert "Expected a value >= 256" in limit["message"]


def test_validation_accepts_what_the_sdk_sends_including_nulls():
    body = {
        "assistant_id": "asst_1",
        "stream": False,
        "tool_choice": None,
        "truncation_strategy": None,
        "model": None,
    }
    assert validate("CreateRunRequest", body) is body
    assert validate("CreateThreadRequest", None) == {}


def test_metadata_limits_apply_inside_nested_messages_too():
    error = refusal(
        "CreateThreadRequest", {"messages": [{"role": "user", "content": "x", "metadata": {"k": "v" * 513}}]}
    )
    assert error["param"] == "messages[0].metadata.k"


def test_the_offline_model_is_deterministic_and_counts_tokens():
    body = {"model": "scenery-echo", "messages": [{"role": "user", "content": "Same question?"}]}
    first, second = offline.chat(body), offline.chat(body)
    assert first["choices"] == second["choices"] and first["usage"] == second["usage"]
    assert offline.count_tokens("Hello, world!") == 4


def test_the_offline_model_fills_function_arguments_from_the_schema():
    function = {
        "name": "book",
        "parameters": {
            "type": "object",
            "properties": {
                "seats": {"type": "integer"},
                "price": {"type": "number"},
                "window": {"type": "boolean"},
                "note": {"type": ["string", "null"]},
                "tags": {"type": "array"},
            },
        },
    }
    args = offline.arguments_for(function, "book 2 seats for 19.5, yes window")
    assert args == {
        "seats": 2,
        "price": 19.5,
        "window": True,
        "note": "book 2 seats for 19.5, yes window",
        "tags": [],
    }
    json.dumps(args)


def test_forced_tool_choice_calls_that_function():
    tools = [{"type": "function", "function": {"name": f}} for f in ("first", "second")]
    body = {
        "model": "scenery-echo",
        "messages": [{"role": "user", "content": "nothing special"}],
        "tools": tools,
        "tool_choice": {"type": "function", "function": {"name": "second"}},
    }
    assert offline.chat(body)["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "second"
    body["tool_choice"] = "none"
    assert "tool_calls" not in offline.chat(body)["choices"][0]["message"]


def test_text_is_cut_into_overlapping_windows():
    words = " ".join(str(i) for i in range(10))
    assert split_text(words, 4, 2) == ["0 1 2 3", "2 3 4 5", "4 5 6 7", "6 7 8 9"]
    assert split_text("", 4, 2) == []
    assert split_text("a b", 800, 400) == ["a b"]


def test_query_terms_are_plain_words_so_no_search_syntax_gets_through():
    assert query_terms('Who said "NEAR(a b)" OR *? -x') == ["who", "said", "near", "a", "b", "or", "x"]


def test_citation_markers_become_file_citations_with_exact_positions():
    hits = [Hit(1, "file-a", "a.txt", "...", 0.9), Hit(2, "file-b", "b.txt", "...", 0.5)]
    text = "See 【2†source】 and [1], not [7] nor x[1]."
    found = citations(text, hits)
    assert [(c["file_citation"]["file_id"], c["text"]) for c in found] == [
        ("file-b", "【2†source】"),
        ("file-a", "[1]"),
    ]
    for c in found:
        assert text[c["start_index"] : c["end_index"]] == c["text"]
