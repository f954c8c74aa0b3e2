"""Every seed node in one scenario, run through its webhook against the built-in gateway."""

from __future__ import annotations

import httpx
import pytest

from gateway.models import File, FileContent
from scenarios.models import Execution, NodeRun
from teams.models import Credential
from tests.engine.conftest import build
from tests.waiting import wait_for_end

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_seed_node_runs_in_a_scenario_against_the_gateway(
    cast, asgi_server, base_url, key, executor_running
):
    gateway = Credential(team=cast.team, name="Gateway", base_url=base_url, default_model="scenery-echo")
    gateway.set_secret(key)
    gateway.save()
    notes = File.objects.create(team=cast.team, filename="notes.txt", bytes=23, purpose="assistants")
    FileContent.objects.create(file=notes, data=b"The vault code is 4711.")
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.create_assistant", {"model": "scenery-echo", "name": "{{$1.body.name}}"}, gateway),
            3: ("openai.create_thread", {"new_message": True, "content": "{{$1.body.question}}"}, gateway),
            4: (
                "openai.create_message",
                {"thread_id": "{{$3.id}}", "content": "Again: {{$1.body.question}}"},
                gateway,
            ),
            5: ("openai.create_run", {"thread_id": "{{$3.id}}", "assistant_id": "{{$2.id}}"}, gateway),
            6: (
                "openai.modify_run",
                {"thread_id": "{{$3.id}}", "run_id": "{{$5.id}}", "metadata": {"seen": "yes"}},
                gateway,
            ),
            7: ("openai.send_message", {"message": "{{$1.body.question}}", "model": "scenery-echo"}, gateway),
            8: ("openai.instruct", {"message": "{{$1.body.question}}"}, gateway),
            9: ("openai.download_file", {"file_id": "{{$1.body.file_id}}"}, gateway),
            10: ("openai.modify_assistant", {"assistant_id": "{{$2.id}}", "name": "Renamed"}, gateway),
            11: (
                "webhook.response",
                {"body": "{{$7.reply}} | {{$8.text}} | {{$9.content}} | {{$6.metadata.seen}} | {{$10.name}}"},
            ),
            12: ("openai.delete_thread", {"thread_id": "{{$3.id}}"}, gateway),
            13: ("openai.delete_assistant", {"assistant_id": "{{$2.id}}"}, gateway),
        },
        [(1, 2), (1, 3), (3, 4), (2, 5), (4, 5), (5, 6), (1, 7), (1, 8), (1, 9), (2, 10)]
        + [(6, 11), (7, 11), (8, 11), (9, 11), (10, 11), (11, 12), (11, 13)],
    )

    answer = httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}",
        json={"question": "What is the vault code?", "name": "Helper", "file_id": notes.id},
        timeout=60,
    )

    assert answer.status_code == 200, answer.text
    reply, text, content, seen, renamed = (part.strip() for part in answer.text.split("|"))
    assert "What is the vault code?" in reply and "What is the vault code?" in text
    assert content == "The vault code is 4711."
    assert (seen, renamed) == ("yes", "Renamed")
    execution = wait_for_end(Execution.objects.get(scenario=scenario).pk)
    runs = {run.node_number: run for run in execution.node_runs.all()}
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert {n: r.status for n, r in runs.items()} == dict.fromkeys(range(1, 14), NodeRun.Status.SUCCEEDED)
    deleted_thread, deleted_assistant = runs[12].output or {}, runs[13].output or {}
    assert deleted_thread["deleted"] is True and deleted_assistant["object"] == "assistant.deleted"
    assert key not in str([(r.params, r.output) for r in runs.values()])
