"""`manage.py scenario export|import|run` and `manage.py demo`."""

from __future__ import annotations

import io
import json
import re

import httpx
import pytest
from django.core.management import CommandError, call_command

from scenarios.models import Execution, Node, Scenario
from scenarios.portable import FORMAT, ImportProblem, export_scenario, import_scenario
from scenarios.snapshot import snapshot_of
from teams.models import Credential, Membership, Team, User
from tests.engine.conftest import build, runs_of

SECRET = "sk-test-secret-abcd1234"


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def exported_scenario(cast, credential):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.send_message", {"message": "{{$1.body.question}}", "model": "m"}, credential),
            3: ("webhook.response", {"body": "{{$2.reply}}", "headers": {"X-Key": f"pasted {SECRET}"}}),
        },
        [(1, 2), (2, 3)],
        name="Ask",
    )
    scenario.nodes.filter(number=2).update(label="Ask the model", position_x=300.5, position_y=-20)
    return scenario


def test_an_export_names_credentials_and_carries_no_secret(exported_scenario, tmp_path):
    path = tmp_path / "ask.json"
    _command("scenario", "export", str(exported_scenario.id), "-o", str(path))
    text = path.read_text()
    data = json.loads(text)
    assert data["format"] == FORMAT and data["name"] == "Ask"
    assert data["nodes"][1]["credential"] == "Stub provider"
    assert data["nodes"][1]["position"] == {"x": 300.5, "y": -20}
    assert data["nodes"][2]["params"]["headers"] == {"X-Key": "pasted ••••"}
    assert data["edges"] == [[1, 2], [2, 3]]
    assert SECRET not in text and "sk-" not in text
    assert exported_scenario.webhook_token not in text
    assert _command("scenario", "export", str(exported_scenario.id)) == text


def test_an_import_round_trips_the_graph_into_a_team(cast, exported_scenario, tmp_path):
    path = tmp_path / "ask.json"
    path.write_text(json.dumps(export_scenario(exported_scenario)))
    out = _command("scenario", "import", str(path), "--team", str(cast.team.id), "--user", "bob")
    copy = Scenario.objects.exclude(pk=exported_scenario.pk).get()
    assert f'Imported "Ask" into {cast.team.name}: {copy.id}' in out
    assert copy.team == cast.team and copy.created_by == cast.bob
    assert copy.webhook_token != exported_scenario.webhook_token
    original, imported = snapshot_of(exported_scenario), snapshot_of(copy)
    for node in original["nodes"]:
        if node["number"] == 3:
            node["params"]["headers"] = {"X-Key": "pasted ••••"}
    assert imported == original  # the same credential (by name), params, edges
    assert copy.nodes.get(number=2).label == "Ask the model"


def test_an_import_finds_the_teams_credential_whose_name_looks_the_same(cast, exported_scenario):
    data = export_scenario(exported_scenario)
    data["nodes"][1]["credential"] = "  STUB   Provider "
    notes: list[str] = []
    copy = import_scenario(data, cast.team, cast.alice, notes)
    assert copy.nodes.get(number=2).credential == exported_scenario.nodes.get(number=2).credential
    assert not [note for note in notes if "no credential" in note]


def test_importing_into_a_team_without_the_credential_says_so(cast, exported_scenario):
    notes: list[str] = []
    copy = import_scenario(export_scenario(exported_scenario), cast.other_team, cast.mallory, notes)
    assert copy.nodes.get(number=2).credential is None
    assert notes == ["$2: this team has no credential named 'Stub provider'; choose one before running it."]
    assert not Credential.objects.filter(team=cast.other_team).exists()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(format="n8n"), 'its "format" is not "scenery.scenario"'),
        (lambda d: d.update(version=7), "Unsupported export version 7"),
        (lambda d: d["nodes"][1].update(number=1), "Node number 1 is used more than once."),
        (lambda d: d["nodes"][0].update(kind="evil.exec"), "Node 1: unknown node type 'evil.exec'."),
        (lambda d: d["nodes"][0].update(params="not a dict"), 'Node 1: "params" must be an object.'),
        (lambda d: d["edges"].append([3, 9]), "Edge 3 (3 → 9) connects a node that is not in the file."),
        (lambda d: d["edges"].append([3, 2]), "These nodes form a cycle: $2, $3."),
        (
            lambda d: d["edges"].append([2, 3, "maybe"]),
            "Edge 3 (2 → 3) leaves from port 'maybe', which node 2 (openai.send_message) does not have "
            "(its ports: main).",
        ),
        (lambda d: d["edges"].append([2, 3, "main"]), "Edge 3 (2 → 3) is listed twice."),
        (lambda d: d.update(name=""), '"name" must be text of 1 to 200 characters.'),
    ],
)
def test_an_invalid_file_is_refused_with_the_reason_and_creates_nothing(
    cast, exported_scenario, change, problem
):
    data = export_scenario(exported_scenario)
    change(data)
    with pytest.raises(ImportProblem) as caught:
        import_scenario(data, cast.team, cast.alice)
    assert any(problem in message for message in caught.value.problems), caught.value.problems
    assert Scenario.objects.count() == 1


# An export written before edges had ports, exactly as that Scenery wrote it.
EXPORT_BEFORE_PORTS = """{
  "format": "scenery.scenario", "version": 1, "name": "Echo", "description": "",
  "nodes": [
    {"number": 1, "kind": "webhook.trigger", "label": "", "position": {"x": 0, "y": 0}, "params": {},
     "credential": null},
    {"number": 2, "kind": "webhook.response", "label": "Answer", "position": {"x": 300, "y": 0},
     "params": {"status": 200, "body": "{{$1.body}}"}, "credential": null}
  ],
  "edges": [[1, 2]]
}"""


def test_an_export_made_before_ports_imports_unchanged(cast, tmp_path):
    path = tmp_path / "old.json"
    path.write_text(EXPORT_BEFORE_PORTS)
    _command("scenario", "import", str(path), "--team", str(cast.team.id))

    imported = Scenario.objects.get(name="Echo")
    assert list(imported.edges.values_list("source__number", "target__number", "source_port")) == [
        (1, 2, "main")
    ]
    assert snapshot_of(imported)["edges"] == [[1, 2]]
    assert export_scenario(imported)["edges"] == [[1, 2]]


@pytest.mark.usefixtures("test_nodes")
def test_an_export_carries_the_ports_of_its_edges_and_an_import_keeps_them(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.if", {}), 3: ("test.echo", {}), 4: ("test.echo", {})},
        [(1, 2), (2, 3, "true"), (2, 4, "false"), (3, 4)],
    )
    data = export_scenario(scenario)
    assert data["edges"] == [[1, 2], [2, 3, "true"], [2, 4, "false"], [3, 4]]

    copy = import_scenario(json.loads(json.dumps(data)), cast.team, cast.alice)
    assert snapshot_of(copy)["edges"] == snapshot_of(scenario)["edges"]


@pytest.mark.usefixtures("test_nodes")
def test_an_import_takes_one_edge_per_port_between_the_same_nodes(cast):
    scenario = build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.if", {}), 3: ("test.echo", {})},
        [(1, 2), (2, 3, "true")],
    )
    data = export_scenario(scenario)
    data["edges"] += [[2, 3, "false"], [2, 3, "false"]]
    with pytest.raises(ImportProblem) as caught:
        import_scenario(data, cast.team, cast.alice)
    assert caught.value.problems == ["Edge 4 (2 → 3, from port 'false') is listed twice."]


def test_the_import_command_lists_the_problems(cast, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        '{"format": "scenery.scenario", "version": 1, "name": "x", "nodes": [{"number": 0}], "edges": [[1]]}'
    )
    with pytest.raises(CommandError) as caught:
        _command("scenario", "import", str(path), "--team", str(cast.team.id))
    message = str(caught.value)
    assert 'Node 1: "number" must be a whole number from 1 to 2147483647.' in message
    assert "Edge 1 must be a [source, target] pair of node numbers, or [source, target, port]." in message
    path.write_text("{not json")
    with pytest.raises(CommandError, match="is not valid JSON"):
        _command("scenario", "import", str(path), "--team", str(cast.team.id))
    with pytest.raises(CommandError, match="No team with id nope"):
        _command("scenario", "import", str(path), "--team", "nope")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_nodes", "no_background_executor")
def test_the_run_command_prints_each_nodes_output_as_it_completes(cast):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.question}}"}), 3: ("test.fail", {})},
        [(1, 2), (1, 3)],
    )
    out = io.StringIO()
    with pytest.raises(
        CommandError, match=r"Execution failed in \d+ ms: \$3 Fail failed: The thing refused."
    ):
        call_command("scenario", "run", str(scenario.id), "--input", '{"question": "hi"}', stdout=out)
    printed = out.getvalue()
    assert "$1 Trigger on Webhook: succeeded" in printed
    assert '"question": "hi"' in printed
    assert re.search(r'\$2 Echo: succeeded \(\d+ ms\)\n\{\n[^$]*"q": "hi"', printed)
    assert "$3 Fail: failed" in printed and "  The thing refused." in printed
    execution = Execution.objects.get()
    assert execution.trigger == Execution.Trigger.CLI and execution.status == Execution.Status.FAILED


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_nodes", "no_background_executor")
def test_the_run_command_succeeds_and_refuses_bad_input(cast):
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body}}"})}, [(1, 2)]
    )
    assert "Execution succeeded in" in _command("scenario", "run", str(scenario.id), "--input", "[1, 2]")
    with pytest.raises(CommandError, match="--input is not valid JSON"):
        _command("scenario", "run", str(scenario.id), "--input", "{oops")
    with pytest.raises(CommandError, match="No scenario with id"):
        _command("scenario", "run", "00000000-0000-0000-0000-000000000000")


# -- the demo --------------------------------------------------------------------------------------
def _demo(port: int = 8123) -> str:
    return _command("demo", "--host", "127.0.0.1", "--port", str(port))


def _printed(out: str, label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", out)
    assert match, out
    return match.group(1)


def test_the_demo_command_is_idempotent_and_prints_how_to_use_it(db):
    first, second = _demo(), _demo()
    user = User.objects.get(username="demo")
    team = Team.objects.get(name="Demo team")
    scenario = Scenario.objects.get(name="Ask ChatGPT")
    assert Membership.objects.filter(user=user).count() == 1 and Scenario.objects.count() == 2
    assert scenario.nodes.count() == 3 and scenario.edges.count() == 2
    assert _printed(first, "Password") != _printed(second, "Password")
    assert user.check_password(_printed(second, "Password"))
    webhook = f"http://127.0.0.1:8123/hooks/{scenario.webhook_token}"
    assert _printed(second, "Webhook URL") == webhook
    assert f"curl -X POST {webhook} -H 'Content-Type: application/json' -d '{{\"question\": " in second
    assert _printed(second, "Log in") == "http://127.0.0.1:8123/login/"
    assert _printed(second, "Username") == "demo"
    credential = Credential.objects.get(team=team, name="Scenery gateway (demo)")
    assert credential.base_url == "http://127.0.0.1:8123/v1"
    assert credential.get_secret() == _printed(second, "Gateway key")
    params = {n.number: (n.kind, n.params) for n in scenario.nodes.all()}
    assert params == {
        1: ("webhook.trigger", {"sample": {"question": "What can Scenery do?"}}),
        2: ("openai.send_message", {"message": "{{$1.body.question}}", "model": "scenery-echo"}),
        3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}),
    }


def test_the_demo_keeps_the_users_edits(db):
    _demo()
    Node.objects.filter(number=3).update(params={"body": "changed"})
    _demo()
    assert [node.params for node in Node.objects.filter(number=3)] == [{"body": "changed"}] * 2


@pytest.mark.django_db(transaction=True)
def test_the_demo_scenario_answers_a_question_through_the_built_in_gateway(asgi_server):
    out = _demo(asgi_server.port)
    webhook = _printed(out, "Webhook URL")
    response = httpx.post(webhook, json={"question": "What can Scenery do?"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.text.strip()
    execution = Execution.objects.get(scenario__name="Ask ChatGPT")
    assert execution.status == Execution.Status.SUCCEEDED
    assert runs_of(execution)[2].output["reply"] == response.text
