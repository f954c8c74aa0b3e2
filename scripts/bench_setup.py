"""Create what `make bench` measures in the database the environment points at, and print it as
JSON: a user with a session, a credential pointing at the loopback stub provider, the demo scenario
(Trigger on Webhook → Send Message → Webhook response), a 100-node chain with no network, and a
200-node scenario for the editor. `count` prints how many executions and node runs are stored.

Run: python -m scripts.bench_setup setup STUB_BASE_URL | count | chain-run SCENARIO_ID RUNS
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def setup(stub_url: str) -> dict[str, Any]:
    _django()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from scenarios.models import Edge, Node, Scenario
    from teams.models import Credential, Team, User

    user = User.objects.create_user(username="bench", email="bench@example.com", password="bench-" * 4)
    team = Team.bootstrap(user, "Bench")
    credential = Credential(team=team, name="Stub", base_url=stub_url, default_model="bench-model")
    credential.set_secret("sk-bench-not-a-secret")
    credential.save()

    def scenario(
        name: str, kinds: list[tuple[str, dict[str, Any], Credential | None]], owner: Team = team
    ) -> Scenario:
        made = Scenario.objects.create(team=owner, name=name, created_by=user)
        nodes = Node.objects.bulk_create(
            Node(
                scenario=made,
                number=i + 1,
                kind=kind,
                params=params,
                credential=cred,
                position_x=80 + 260 * (i % 10),
                position_y=80 + 160 * (i // 10),
            )
            for i, (kind, params, cred) in enumerate(kinds)
        )
        Edge.objects.bulk_create(
            Edge(scenario=made, source=a, target=b) for a, b in zip(nodes, nodes[1:], strict=False)
        )
        return made

    def asking(cred: Credential) -> list[tuple[str, dict[str, Any], Credential | None]]:
        return [
            ("webhook.trigger", {}, None),
            ("openai.send_message", {"message": "{{$1.body.question}}", "model": "bench-model"}, cred),
            ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}, None),
        ]

    ask = scenario("Ask (bench)", asking(credential))
    ask_sse = scenario(
        "Ask, answered as events (bench)",
        [
            ("webhook.trigger", {}, None),
            ("openai.send_message", {"message": "{{$1.body.question}}", "model": "bench-model"}, credential),
            ("webhook.response", {"status": 200, "body": "{{$2.reply}}", "answer_as": "sse"}, None),
        ],
    )
    chain = scenario(
        "Chain of 100 (bench)",
        [("webhook.trigger", {}, None)] + [("webhook.response", {"body": "{{$1.body}}"}, None)] * 99,
    )
    big = scenario(
        "200 nodes (bench)",
        [("webhook.trigger", {}, None)]
        + [("openai.send_message", {"message": "{{$1.body.question}}"}, credential)] * 198
        + [("webhook.response", {"body": "done"}, None)],
    )
    from gateway.models import GatewayConfig, GatewayKey

    GatewayConfig.objects.create(team=team, provider=credential, default_model="bench-model")
    _, gateway_key = GatewayKey.issue(team, "Bench")
    # Team B: the same scenario in another team, timed while team A's webhook is flooded.
    team_b = Team.bootstrap(user, "Bench B")
    credential_b = Credential(team=team_b, name="Stub", base_url=stub_url, default_model="bench-model")
    credential_b.set_secret("sk-bench-not-a-secret")
    credential_b.save()
    other = scenario("Ask (bench, team B)", asking(credential_b), team_b)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {
        "ask": {"id": str(ask.id), "token": ask.webhook_token},
        "ask_sse": {"id": str(ask_sse.id), "token": ask_sse.webhook_token},
        "chain": {"id": str(chain.id), "token": chain.webhook_token},
        "other": {"id": str(other.id), "token": other.webhook_token},
        "big": {"id": str(big.id)},
        "session": session.session_key,
        "gateway_key": gateway_key,
        "session_cookie": settings.SESSION_COOKIE_NAME,
    }


def count() -> dict[str, Any]:
    _django()
    from django.db.models import Count

    from scenarios.models import Execution, NodeRun

    by_status = dict(Execution.objects.values_list("status").annotate(n=Count("id")))
    return {"executions": by_status, "node_runs": NodeRun.objects.count()}


def chain_run(scenario_id: str, runs: int) -> list[float]:
    """Run the chain `runs` times through the engine in this process, one after the other (no HTTP,
    no network; every node run persisted): the wall seconds of each run."""
    _django()
    from asgiref.sync import async_to_sync

    from scenarios.models import Execution, Scenario
    from scenarios.runtime import jobs
    from scenarios.runtime.engine import create_execution, run_execution

    scenario = Scenario.objects.get(pk=scenario_id)
    owner = f"bench:{os.getpid()}"
    seconds = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        execution = create_execution(scenario, Execution.Trigger.CLI, {"body": {"n": 1}})
        lease = jobs.claim(owner, 60, pk=execution.pk)
        if lease is None:  # a dedicated worker was woken and claimed it first: it runs there
            while not Execution.objects.filter(pk=execution.pk, status__in=Execution.TERMINAL).exists():
                time.sleep(0.001)
        else:
            async_to_sync(run_execution)(lease)
        seconds.append(time.perf_counter() - started)
        if Execution.objects.get(pk=execution.pk).status != "succeeded":
            raise SystemExit("the chain did not succeed")
    return seconds[1:]  # the first warms the caches


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "setup":
        print(json.dumps(setup(sys.argv[2])))
    elif command == "count":
        print(json.dumps(count()))
    elif command == "chain-run":
        print(json.dumps(chain_run(sys.argv[2], int(sys.argv[3]))))
    else:
        raise SystemExit(f"unknown command {command}")
