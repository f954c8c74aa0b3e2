"""The spec helper itself: it must catch what the real API would refuse, and accept real objects."""

from __future__ import annotations

import pytest

from tests.nodes import helpers
from tests.openapi_spec import SpecError, operation_path, schema, validate_request, validate_response


def test_a_valid_create_assistant_body_passes():
    validate_request("POST", "/assistants", {"model": "gpt-4o", "tools": [{"type": "file_search"}]})


def test_a_body_without_a_required_field_is_refused_naming_it():
    with pytest.raises(SpecError, match="'model' is a required property"):
        validate_request("POST", "/assistants", {"name": "x"})


def test_v1_fields_are_refused_because_v2_bodies_allow_no_extra_properties():
    with pytest.raises(SpecError, match="'file_ids' was unexpected"):
        validate_request("POST", "/assistants", {"model": "m", "file_ids": ["file-1"]})
    with pytest.raises(SpecError, match="tools"):
        validate_request("POST", "/assistants", {"model": "m", "tools": [{"type": "retrieval"}]})


def test_a_modify_run_body_takes_only_metadata():
    validate_request("POST", "/threads/{thread_id}/runs/{run_id}", {"metadata": {"k": "v"}})
    with pytest.raises(SpecError, match="'status' was unexpected"):
        validate_request("POST", "/threads/{thread_id}/runs/{run_id}", {"status": "cancelled"})


def test_limits_in_the_schema_are_enforced():
    with pytest.raises(SpecError, match="too long"):
        validate_request("POST", "/assistants", {"model": "m", "name": "x" * 257})


def test_openapi_nullable_is_understood():
    # CreateCompletionRequest's max_tokens is declared `nullable: true` in OpenAPI 3.0 style.
    validate_request(
        "POST", "/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi", "max_tokens": None}
    )
    assert "nullable" not in str(schema("CreateCompletionRequest"))


def test_an_operation_without_a_body_accepts_none_and_refuses_a_body():
    validate_request("DELETE", "/assistants/{assistant_id}", None)
    with pytest.raises(SpecError, match="takes no request body"):
        validate_request("DELETE", "/assistants/{assistant_id}", {"x": 1})


def test_a_wrong_response_is_refused_with_its_path():
    with pytest.raises(SpecError, match=r"\['object'\]"):
        validate_response("DeleteAssistantResponse", {"id": "asst_1", "object": "assistant", "deleted": True})


def test_unknown_names_are_errors_not_silent_passes():
    with pytest.raises(KeyError):
        validate_response("NoSuchSchema", {})
    with pytest.raises(KeyError):
        validate_request("POST", "/no/such/path", {})


def test_concrete_paths_map_to_their_templates():
    assert operation_path("/v1/threads/thread_1/runs/run_2?x=1") == "/threads/{thread_id}/runs/{run_id}"
    assert operation_path("/v1/threads/runs") == "/threads/runs"
    assert operation_path("/v1/files/file-1/content") == "/files/{file_id}/content"


@pytest.mark.parametrize(
    ("name", "sample"),
    [
        ("AssistantObject", helpers.assistant_object()),
        ("ThreadObject", helpers.thread_object()),
        ("MessageObject", helpers.message_object()),
        ("RunObject", helpers.run_object()),
        ("OpenAIFile", helpers.file_object()),
        ("VectorStoreObject", helpers.vector_store_object()),
        ("DeleteAssistantResponse", helpers.deleted("asst_abc123", "assistant.deleted")),
        ("DeleteThreadResponse", helpers.deleted("thread_abc123", "thread.deleted")),
    ],
)
def test_the_sample_provider_objects_used_by_these_tests_are_valid(name, sample):
    validate_response(name, sample)
