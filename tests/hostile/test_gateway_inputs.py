"""The gateway under hostile input from anyone who signed up for a key: work without bounds, numbers
JSON cannot carry, text no database stores, malformed chat bodies, and a key's requests piling up
(issue 16, items 3, 6 and 7; items 43, 46 and 47 of the map). Every refusal is OpenAI's envelope."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from gateway.models import Assistant
from tests.gateway.conftest import (
    BETA,
    base_url,
    client,
    executor_running,
    key,
    other_client,
    other_key,
    provider,
    raw,
)
from tests.stub_provider import chat_completion
from tests.waiting import wait_until

__all__ = ["base_url", "client", "executor_running", "key", "other_client", "other_key", "provider", "raw"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # the SDK's Assistants API, on purpose
]

MODEL = "scenery-echo"
HELLO = [{"role": "user", "content": "Hello"}]


def refused(response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


# -- 43. unbounded gateway work -------------------------------------------------------------------------


def test_a_prompt_list_longer_than_the_limit_is_refused_before_any_work(raw, settings):
    prompts = ["x"] * (settings.GATEWAY_MAX_LIST_ITEMS + 1)
    error = refused(raw.post("/completions", json={"model": MODEL, "prompt": prompts}))
    assert error["param"] == "prompt" and error["code"] == "array_above_max_length"


@pytest.mark.parametrize("name", ["messages", "tools", "stop"])
def test_other_lists_longer_than_the_limit_are_refused_naming_them(raw, settings, name):
    many = settings.GATEWAY_MAX_LIST_ITEMS + 1
    body = {"model": MODEL, "messages": HELLO}
    body[name] = {"messages": HELLO * many, "tools": [{"type": "function"}] * many, "stop": ["."] * many}[
        name
    ]
    error = refused(raw.post("/chat/completions", json=body))
    assert error["param"] == name and error["code"] == "array_above_max_length"


def test_prompts_times_n_over_the_cap_is_refused(raw, settings):
    prompts = ["a", "b"]
    n = settings.GATEWAY_MAX_CHOICES // 2 + 1
    error = refused(raw.post("/completions", json={"model": MODEL, "prompt": prompts, "n": n}))
    assert error["param"] == "prompt" and f"at most {settings.GATEWAY_MAX_CHOICES}" in error["message"]


def test_a_body_over_the_size_limit_gets_413_in_openais_envelope(raw, settings):
    text = "x" * (settings.GATEWAY_MAX_BODY_BYTES + 1)
    error = refused(
        raw.post("/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": text}]}),
        413,
    )
    assert "larger than this server accepts" in error["message"]


def test_a_key_with_all_its_requests_in_flight_gets_429_and_other_keys_do_not(
    client, other_client, provider, stub_provider, settings
):
    settings.GATEWAY_MAX_CONCURRENT_PER_KEY = 2
    release = threading.Event()

    def held(_):
        release.wait(timeout=60)
        return 200, chat_completion("held"), {}

    stub_provider.handlers["/v1/chat/completions"] = held
    ask = lambda: client.chat.completions.create(model="stub-model", messages=HELLO)  # noqa: E731
    with ThreadPoolExecutor(2) as pool:
        try:
            first = [pool.submit(ask) for _ in range(2)]
            wait_until(lambda: len(stub_provider.requests) == 2, "two requests at the provider")
            with pytest.raises(openai.RateLimitError) as raised:
                ask()
            assert raised.value.code == "rate_limit_exceeded"
            assert raised.value.response.headers["retry-after"] == "1"
            assert other_client.chat.completions.create(model=MODEL, messages=HELLO).choices
        finally:
            release.set()
        assert [f.result().choices[0].message.content for f in first] == ["held", "held"]
    assert ask().choices[0].message.content == "held"


# -- 46. numbers and text no JSON answer or database holds ----------------------------------------------


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_nan_temperature_is_refused_and_no_assistant_is_stored(raw, literal):
    body = f'{{"model": "{MODEL}", "temperature": {literal}}}'.encode()
    error = refused(
        raw.post("/assistants", content=body, headers={**BETA, "Content-Type": "application/json"})
    )
    assert "could not parse the JSON body" in error["message"] and "not a JSON number" in error["message"]
    assert not Assistant.objects.exists()


def test_a_temperature_of_1e400_is_refused_naming_it(raw):
    body = f'{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "Hi"}}], "temperature": 1e400}}'
    error = refused(raw.post("/chat/completions", content=body, headers={"Content-Type": "application/json"}))
    assert error["param"] == "temperature" and "not a JSON number" in error["message"]


def test_nan_in_function_parameters_is_refused_naming_it(raw):
    body = (
        f'{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "Hi"}}], "tools": [{{"type": '
        '"function", "function": {"name": "f", "parameters": {"type": "object", "minimum": NaN}}}]}'
    )
    error = refused(raw.post("/chat/completions", content=body, headers={"Content-Type": "application/json"}))
    assert "not a JSON number" in error["message"]


def test_a_lone_surrogate_in_a_name_is_refused_naming_it(raw):
    body = f'{{"model": "{MODEL}", "name": "Bad \\ud800 name"}}'
    error = refused(
        raw.post("/assistants", content=body, headers={**BETA, "Content-Type": "application/json"})
    )
    assert error["param"] == "name" and "unpaired surrogate" in error["message"]
    assert not Assistant.objects.exists()


def test_an_integer_beyond_64_bits_is_refused_naming_it(raw):
    body = {"model": MODEL, "messages": HELLO, "max_completion_tokens": 10**30}
    error = refused(raw.post("/chat/completions", json=body))
    assert error["param"] == "max_completion_tokens" and "out of range" in error["message"]


# -- 47. chat bodies against the official spec -------------------------------------------------------------


TOOL_ANSWER = {"role": "tool", "content": "42"}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": ["Hello"]}, "messages[0]"),
        ({"messages": [{"content": "Hello"}]}, "messages[0].role"),
        ({"messages": [{"role": "wizard", "content": "Hello"}]}, "messages[0].role"),
        ({"messages": [*HELLO, TOOL_ANSWER]}, "messages[1].tool_call_id"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"stream_options": "include_usage"}, "stream_options"),
        ({"temperature": 5}, "temperature"),
        ({"n": 0}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"max_tokens": "ten"}, "max_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
    ],
)
def test_a_chat_body_the_spec_refuses_is_a_400_naming_the_parameter(raw, change, param):
    error = refused(raw.post("/chat/completions", json={"model": MODEL, "messages": HELLO, **change}))
    assert error["param"] == param and error["type"] == "invalid_request_error"


def test_the_official_client_gets_a_bad_request_naming_the_parameter(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "Hi"}])
    assert raised.value.param == "messages[0].role"
    assert "Supported values are" in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=HELLO, temperature=5)
    assert raised.value.param == "temperature"
    assert client.chat.completions.create(model=MODEL, messages=HELLO, temperature=0.5, n=1).choices


def test_an_upload_with_a_file_name_of_thousands_of_characters_is_a_400_naming_the_file(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.files.create(file=("a" * 1100 + ".jsonl", b'{"a": 1}\n'), purpose="assistants")
    assert raised.value.param == "file" and "could not be read" in raised.value.message
