"""The catalog is data: every seed node, with the seed's labels, apps and kinds."""

from __future__ import annotations

import pytest

from nodes.registry import NODE_TYPES, catalog, get_node_type

ASSISTANT_OPTIONAL = [
    "File IDs list",
    "Metadata",
    "Assistant name",
    "Description",
    "System instructions",
    "Code interpreter",
    "Retrieval",
    "Function",
]
SEED_LABELS = {
    "webhook.trigger": ["Webhook URL", "Test data"],  # test data: issue 17
    "webhook.response": [
        "Status code",
        "Headers",
        "Body",
        "Redirect the caller",
        "Answer as",
    ],  # + issue 16 item 5, issue 14
    "openai.create_assistant": ["API Key", "Model ID", *ASSISTANT_OPTIONAL],
    "openai.modify_assistant": ["API Key", "Assistant ID", "Model ID", *ASSISTANT_OPTIONAL],
    "openai.delete_assistant": ["API Key", "Assistant ID"],
    "openai.create_thread": [
        "API Key",
        "New message",
        "Message content",
        "File IDs list",
        "Attached files are for",
        "Metadata",
        "Entity role",
    ],
    "openai.create_message": [
        "API Key",
        "Thread ID",
        "Message content",
        "File IDs list",
        "Attached files are for",
        "Metadata",
        "Entity role",
    ],
    "openai.create_run": [
        "API Key",
        "Thread ID",
        "Assistant ID",
        "Metadata",
        "System instructions",
        "Model ID",
        "Code interpreter",
        "Retrieval",
        "Function",
    ],
    "openai.modify_run": ["API Key", "Thread ID", "Run ID", "Metadata"],
    "openai.delete_thread": ["API Key", "Thread ID"],
    "openai.download_file": ["API Key", "File ID"],
    "openai.send_message": ["API Key", "Message", "GPT Version"],
    "openai.instruct": ["API Key", "Message"],
}


# Issue 12: flow control.
FLOW_NODES = {
    "manual.trigger",
    "flow.if",
    "flow.switch",
    "flow.filter",
    "flow.merge",
    "flow.loop",
    "flow.aggregate",
    "flow.run_scenario",
}
# Time: the Wait node and the Schedule trigger (issue 12).
TIME_NODES = {"flow.wait", "schedule.trigger"}
# Issue 13: data and integration nodes, and an assistant that answers.
DATA_NODES = {"data.set", "data.code", "http.request"}
ANSWER_NODES = {
    "openai.ask_assistant",
    "openai.wait_for_run",
    "openai.retrieve_run",
    "openai.list_messages",
    "openai.submit_tool_outputs",
}


def test_importing_the_registry_fills_the_catalog_with_the_13_seed_nodes_flow_control_time_data_and_answers():
    assert set(NODE_TYPES) == set(SEED_LABELS) | FLOW_NODES | TIME_NODES | DATA_NODES | ANSWER_NODES


@pytest.mark.parametrize("key", sorted(SEED_LABELS))
def test_each_node_has_the_seeds_labels_in_the_seeds_order(key):
    assert [f.label for f in get_node_type(key).fields] == SEED_LABELS[key]


@pytest.mark.parametrize("key", [k for k in SEED_LABELS if k.startswith("openai.")])
def test_every_openai_node_uses_a_required_credential_called_api_key(key):
    node_type = get_node_type(key)
    assert node_type.app == "ChatGPT Assistant"
    assert node_type.kind == "action"
    credential = node_type.field("credential")
    assert (credential.kind, credential.label, credential.required) == ("credential", "API Key", True)


def test_the_webhook_nodes_are_the_trigger_and_the_response():
    assert (get_node_type("webhook.trigger").app, get_node_type("webhook.trigger").kind) == (
        "Webhook",
        "trigger",
    )
    assert (get_node_type("webhook.response").app, get_node_type("webhook.response").kind) == (
        "Webhook",
        "response",
    )


def test_no_model_list_is_hard_coded():
    for node_type in NODE_TYPES.values():
        for field in node_type.fields:
            if field.name == "model":
                assert field.live_choices == "models" and field.choices == ()


def test_the_seeds_limits_are_on_the_fields():
    create = get_node_type("openai.create_assistant")
    assert create.field("name").max_length == 256
    assert create.field("description").max_length == 512
    assert create.field("instructions").max_length == 256_000
    assert create.field("metadata").max_items == 16
    assert get_node_type("openai.create_message").field("file_ids").max_items == 10


def test_create_threads_message_fields_depend_on_new_message():
    fields = get_node_type("openai.create_thread").fields
    conditional = [f.label for f in fields if f.show_if == (("new_message", True),)]
    assert conditional == [
        "Message content",
        "File IDs list",
        "Attached files are for",
        "Metadata",
        "Entity role",
    ]


def test_the_palette_entries_have_no_execute_function():
    entries = catalog()
    assert [e["key"] for e in entries][:2] == ["webhook.trigger", "webhook.response"]
    assert all("execute" not in e and e["title"] and e["description"] for e in entries)


def test_an_unknown_type_is_a_clear_key_error():
    with pytest.raises(KeyError, match="Unknown node type 'openai.nope'"):
        get_node_type("openai.nope")
