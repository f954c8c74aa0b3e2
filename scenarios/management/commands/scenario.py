"""`manage.py scenario export|import|run`: scenarios as JSON files, and runs from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from durable.leases import Lease
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.portable import ImportProblem, Unexportable, export_scenario, import_scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution, run_execution
from scenarios.snapshot import Plan, title_of
from teams.models import Team, User


class Command(BaseCommand):
    help = "Export a scenario as JSON (no secrets), import one into a team, or run one and print each node's output."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser(
            "export", help="Print (or write) a scenario as JSON. Credentials go by name only."
        )
        export.add_argument("scenario", help="the scenario's UUID")
        export.add_argument("-o", "--output", help="write to this file instead of standard output")
        load = actions.add_parser("import", help="Create a scenario in a team from an exported JSON file.")
        load.add_argument("file", help="the JSON file ('-' for standard input)")
        load.add_argument("--team", required=True, help="the team's UUID")
        load.add_argument("--user", help="username recorded as the scenario's creator")
        run = actions.add_parser(
            "run", help="Run a scenario now and print each node's output as it completes."
        )
        run.add_argument("scenario", help="the scenario's UUID")
        run.add_argument(
            "--input",
            default="{}",
            help='JSON given to the trigger as the request body, e.g. \'{"question": "Hi"}\' for {{$1.body.question}}',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "export":
            self.export(options["scenario"], options.get("output"))
        elif action == "import":
            self.load(options["file"], options["team"], options.get("user"))
        else:
            self.run(options["scenario"], options["input"])

    # -- export / import ---------------------------------------------------------------------------
    def export(self, scenario_id: str, output: str | None) -> None:
        try:
            data = export_scenario(_scenario(scenario_id))
        except Unexportable as exc:
            raise CommandError(str(exc)) from None
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text)
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")

    def load(self, path: str, team_id: str, username: str | None) -> None:
        try:
            team = Team.objects.get(pk=team_id)
        except (Team.DoesNotExist, ValidationError, ValueError) as exc:
            raise CommandError(f"No team with id {team_id}.") from exc
        user = None
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named {username}.")
        try:
            if path == "-":
                data = json.load(sys.stdin)
            else:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
        except (ValueError, RecursionError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        notes: list[str] = []
        try:
            scenario = import_scenario(data, team, user, notes)
        except ImportProblem as exc:
            raise CommandError("The scenario cannot be imported:\n- " + "\n- ".join(exc.problems)) from exc
        self.stdout.write(f'Imported "{scenario.name}" into {team.name}: {scenario.id}')
        for note in notes:
            self.stdout.write(f"  note: {note}")

    # -- run ---------------------------------------------------------------------------------------
    def run(self, scenario_id: str, raw_input: str) -> None:
        try:
            body = json.loads(raw_input)
        except ValueError as exc:
            raise CommandError(f"--input is not valid JSON: {exc}") from exc
        scenario = _scenario(scenario_id)
        request = {"method": "POST", "headers": {}, "query": {}, "body": body}
        execution = create_execution(scenario, Execution.Trigger.CLI, request)
        self.stdout.write(f'Execution {execution.id} of "{scenario.name}"')
        execution = asyncio.run(self.run_and_print(execution))
        if execution.status == Execution.Status.WAITING and execution.wake_at is not None:
            # A Wait released it: the command does not hold it (nor a terminal) until then.
            self.stdout.write(
                f"Execution waits until {execution.wake_at.isoformat()}: a running executor (make run, "
                "or manage.py executor) resumes it then; see it in the scenario's history."
            )
            return
        duration = f" in {execution.duration_ms} ms" if execution.duration_ms is not None else ""
        if execution.status != Execution.Status.SUCCEEDED:
            raise CommandError(f"Execution {execution.status}{duration}: {execution.error}")
        self.stdout.write(self.style.SUCCESS(f"Execution succeeded{duration}."))

    async def run_and_print(self, execution: Execution) -> Execution:
        """Run the execution here (unless a worker got it first) and print node runs as they end."""
        owner = f"cli:{socket.gethostname()}:{os.getpid()}"
        seconds = settings.EXECUTOR_LEASE_SECONDS
        lease = await sync_to_async(jobs.claim)(owner, seconds, pk=execution.pk)
        runner = asyncio.get_running_loop().create_task(_run_held(lease, seconds)) if lease else None
        plan = Plan.of(execution.snapshot)
        shown: set[tuple[int, int]] = set()
        try:
            while True:
                current, runs = await sync_to_async(_progress)(execution.pk)
                for run in runs:
                    if (run.node_number, run.attempt) not in shown:
                        shown.add((run.node_number, run.attempt))
                        self.show(plan, run)
                released = current.status == Execution.Status.WAITING and (runner is None or runner.done())
                if current.is_terminal or released:
                    return current
                if runner is not None and runner.done():
                    runner.result()  # re-raise a crash of the run here
                await asyncio.sleep(0.1)
        finally:
            if runner is not None:
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
            await sync_to_async(connections.close_all)()  # the worker thread's connection ends with the loop

    def show(self, plan: Plan, run: NodeRun) -> None:
        spec = plan.nodes.get(run.node_number, {"number": run.node_number, "kind": run.node_kind})
        took = f" ({run.duration_ms} ms)" if run.duration_ms is not None else ""
        self.stdout.write(f"{title_of(spec)}: {run.status}{took}")
        if run.status == NodeRun.Status.SUCCEEDED:
            self.stdout.write(json.dumps(run.output, indent=2, ensure_ascii=False))
        elif run.error:
            self.stdout.write(f"  {run.error.get('message', '')}")


async def _run_held(lease: Lease, seconds: float) -> None:
    """Run the execution, renewing its lease meanwhile (a long node must not look abandoned)."""

    async def heartbeat() -> None:
        while await asyncio.sleep(seconds / 3, True) and await sync_to_async(lease.renew)(seconds):
            pass

    beating = asyncio.get_running_loop().create_task(heartbeat())
    try:
        await run_execution(lease)
    finally:
        beating.cancel()


def _progress(execution_id: Any) -> tuple[Execution, list[NodeRun]]:
    execution = Execution.objects.get(pk=execution_id)
    finished = execution.node_runs.filter(finished_at__isnull=False).order_by("finished_at", "node_number")
    return execution, list(finished)


def _scenario(scenario_id: str) -> Scenario:
    try:
        return Scenario.objects.get(pk=scenario_id)
    except (Scenario.DoesNotExist, ValidationError, ValueError) as exc:
        raise CommandError(f"No scenario with id {scenario_id}.") from exc
