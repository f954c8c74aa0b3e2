"""Assistants: the full life cycle through the official client, lists, and OpenAI's 400s."""

from __future__ import annotations

import openai
import pytest

from tests.gateway.conftest import BETA
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)


def bad_request(response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_an_assistant_is_created_retrieved_modified_listed_and_deleted(client, raw):
    created = client.beta.assistants.create(
        model="scenery-echo",
        name="Math Tutor",
        description="Helps with sums",
        instructions="You are a personal math tutor.",
        tools=[{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}],
        metadata={"team": "math"},
        temperature=0.2,
    )
    assert created.id.startswith("asst_")
    body = raw.get(f"/assistants/{created.id}", headers=BETA).json()
    validate_response("AssistantObject", body)
    assert (
        body["name"] == "Math Tutor" and body["temperature"] == 0.2 and body["metadata"] == {"team": "math"}
    )
    assert isinstance(body["created_at"], int)

    updated = client.beta.assistants.update(created.id, name="Algebra Tutor", metadata={"team": "algebra"})
    assert updated.name == "Algebra Tutor"
    assert updated.instructions == "You are a personal math tutor."  # untouched fields stay
    assert updated.metadata == {"team": "algebra"}

    listing = raw.get("/assistants", headers=BETA).json()
    validate_response("ListAssistantsResponse", listing)
    assert [a["id"] for a in listing["data"]] == [created.id]

    deleted = raw.delete(f"/assistants/{created.id}", headers=BETA).json()
    validate_response("DeleteAssistantResponse", deleted)
    assert deleted == {"id": created.id, "object": "assistant.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(created.id)


def test_lists_page_with_limit_order_after_and_before(client):
    ids = [client.beta.assistants.create(model="scenery-echo", name=f"A{i}").id for i in range(5)]
    first = client.beta.assistants.list(limit=2, order="asc")
    assert [a.id for a in first.data] == ids[:2]
    assert first.has_more is True and first.first_id == ids[0] and first.last_id == ids[1]
    second = client.beta.assistants.list(limit=2, order="asc", after=ids[1])
    assert [a.id for a in second.data] == ids[2:4]
    last = client.beta.assistants.list(limit=2, order="asc", after=ids[3])
    assert [a.id for a in last.data] == ids[4:] and last.has_more is False
    newest_first = client.beta.assistants.list(order="desc")
    assert [a.id for a in newest_first.data] == list(reversed(ids))
    before = client.beta.assistants.list(limit=2, order="asc", before=ids[4])
    assert [a.id for a in before.data] == ids[2:4] and before.has_more is True
    # The SDK's auto-pagination walks every page.
    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc")] == ids


def test_bad_list_parameters_are_400(raw):
    assert bad_request(raw.get("/assistants?limit=0", headers=BETA))["param"] == "limit"
    assert bad_request(raw.get("/assistants?limit=abc", headers=BETA))["code"] == "invalid_type"
    error = bad_request(raw.get("/assistants?order=sideways", headers=BETA))
    assert error["param"] == "order" and "'asc' and 'desc'" in error["message"]
    assert bad_request(raw.get("/assistants?after=asst_nope", headers=BETA))["param"] == "after"


def test_unknown_fields_are_refused_naming_the_parameter(raw):
    error = bad_request(raw.post("/assistants", headers=BETA, json={"model": "m", "file_ids": ["file-1"]}))
    assert error == {
        "message": "Unknown parameter: 'file_ids'.",
        "type": "invalid_request_error",
        "param": "file_ids",
        "code": "unknown_parameter",
    }


def test_v1_tools_and_missing_or_wrong_fields_are_refused(raw):
    assert bad_request(raw.post("/assistants", headers=BETA, json={"name": "x"}))["message"] == (
        "Missing required parameter: 'model'."
    )
    v1 = bad_request(
        raw.post("/assistants", headers=BETA, json={"model": "m", "tools": [{"type": "retrieval"}]})
    )
    assert v1["param"].startswith("tools[0]")
    long_name = bad_request(raw.post("/assistants", headers=BETA, json={"model": "m", "name": "n" * 257}))
    assert long_name["param"] == "name" and long_name["code"] == "string_above_max_length"
    wrong_type = bad_request(raw.post("/assistants", headers=BETA, json={"model": "m", "temperature": "hot"}))
    assert wrong_type["param"] == "temperature"
    too_hot = bad_request(raw.post("/assistants", headers=BETA, json={"model": "m", "temperature": 3}))
    assert too_hot["param"] == "temperature"
    bad_function = {"model": "m", "tools": [{"type": "function", "function": {"name": "no spaces"}}]}
    assert bad_request(raw.post("/assistants", headers=BETA, json=bad_function))["param"] == (
        "tools[0].function.name"
    )
    not_json = raw.post("/assistants", headers={**BETA, "Content-Type": "application/json"}, content=b"{nope")
    assert "could not parse the JSON body" in bad_request(not_json)["message"]
    assert bad_request(raw.post("/assistants", headers=BETA, json=["model"]))["code"] == "invalid_type"


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(17)}, "metadata"),
        ({"k" * 65: "v"}, "metadata"),
        ({"k": "v" * 513}, "metadata.k"),
        ({"k": 5}, "metadata.k"),
    ],
)
def test_metadata_beyond_16_pairs_64_char_keys_or_512_char_values_is_refused(raw, metadata, param):
    error = bad_request(raw.post("/assistants", headers=BETA, json={"model": "m", "metadata": metadata}))
    assert error["param"] == param


def test_metadata_at_the_limits_is_accepted(client):
    metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    assert client.beta.assistants.create(model="scenery-echo", metadata=metadata).metadata == metadata


def test_modify_assistant_attaches_a_vector_store_and_checks_its_resources(client, raw):
    file = client.files.create(file=("notes.txt", b"The moon is made of rock."), purpose="assistants")
    store = client.vector_stores.create(file_ids=[file.id], name="Notes")
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[{"type": "file_search"}])
    updated = client.beta.assistants.update(
        assistant.id, tool_resources={"file_search": {"vector_store_ids": [store.id]}}
    )
    assert updated.tool_resources.file_search.vector_store_ids == [store.id]
    two = {"tool_resources": {"file_search": {"vector_store_ids": [store.id, store.id]}}}
    assert bad_request(raw.post(f"/assistants/{assistant.id}", headers=BETA, json=two))["code"] == (
        "array_above_max_length"
    )
    unknown = {"tool_resources": {"file_search": {"vector_store_ids": ["vs_nope"]}}}
    assert (
        "vs_nope"
        in bad_request(raw.post(f"/assistants/{assistant.id}", headers=BETA, json=unknown))["message"]
    )
    too_many_files = {"tool_resources": {"code_interpreter": {"file_ids": [file.id] * 21}}}
    error = bad_request(raw.post(f"/assistants/{assistant.id}", headers=BETA, json=too_many_files))
    assert error["param"] == "tool_resources.code_interpreter.file_ids"
    # Nothing was half-applied by the refused requests.
    assert client.beta.assistants.retrieve(assistant.id).tool_resources.file_search.vector_store_ids == [
        store.id
    ]


def test_create_assistant_with_the_vector_store_helper_makes_a_store(client):
    file = client.files.create(file=("notes.txt", b"Saturn has rings."), purpose="assistants")
    assistant = client.beta.assistants.create(
        model="scenery-echo",
        tools=[{"type": "file_search"}, {"type": "code_interpreter"}],
        tool_resources={
            "file_search": {"vector_stores": [{"file_ids": [file.id]}]},
            "code_interpreter": {"file_ids": [file.id]},
        },
    )
    (store_id,) = assistant.tool_resources.file_search.vector_store_ids
    assert store_id.startswith("vs_")
    assert client.vector_stores.retrieve(store_id).file_counts.completed == 1
    assert assistant.tool_resources.code_interpreter.file_ids == [file.id]
