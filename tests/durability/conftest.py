"""Real worker processes for the durability tests: `manage.py executor` on this test database.

Every worker is killed when its test ends, whatever happened (and by the kernel if pytest itself
dies: PR_SET_PDEATHSIG). The executor of the pytest process, if a live server started one, is told
to serve nothing, so only the workers under test claim jobs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from scenarios.models import Execution, Scenario
from teams.models import Team, User
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
USES_REDIS = bool(settings.REDIS_URL)
USES_POSTGRES = connection.vendor == "postgresql"


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Workers:
    directory: Path
    env: dict[str, str]
    started: list[Worker] = field(default_factory=list)

    def start(self, ready: bool = True, **env: Any) -> Worker:
        name = f"worker{len(self.started) + 1}"
        log = self.directory / f"{name}.log"
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "executor"],
            cwd=ROOT,
            env={**self.env, **{k: str(v) for k, v in env.items()}},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        worker = Worker(name, proc, log)
        self.started.append(worker)
        if ready:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: Worker) -> None:
        def is_ready() -> bool:
            if " ready: " in worker.output():
                return True
            if not worker.alive():
                raise AssertionError(f"{worker.name} exited early:\n{worker.output()}")
            return False

        wait_until(is_ready, f"{worker.name} to start")

    def kill_all(self) -> None:
        for worker in self.started:
            if worker.alive():
                worker.proc.kill()
            worker.proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {w.name} (pid {w.pid}) ---\n{w.output()[-4000:]}" for w in self.started)


@pytest.fixture(autouse=True)
def _only_the_workers_under_test_claim(settings: Any) -> None:
    settings.EXECUTOR_SOURCES = []


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Workers]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "DJANGO_SETTINGS_MODULE", "EXECUTOR_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.durability.worker_settings",
        SCENERY_TEST_DATABASE_NAME=str(connection.settings_dict["NAME"]),
        SCENERY_CHANNEL_PREFIX=f"asgi-test-{os.getpid()}-",
        EXECUTOR_SOURCES="durability-jobs",
        PYTHONUNBUFFERED="1",
    )
    pool = Workers(tmp_path, env)
    try:
        yield pool
    finally:
        pool.kill_all()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(pool.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def scenario() -> Scenario:
    owner = User.objects.create_user(username="durable", password="x" * 20)
    return Scenario.objects.create(team=Team.bootstrap(owner, "Durable"), name="Durability")


@pytest.fixture
def make_job(scenario: Scenario) -> Callable[..., Execution]:
    def make(steps: int = 1, step_seconds: float = 0.0, max_attempts: int = 3, **options: Any) -> Execution:
        spec = {"steps": steps, "step_seconds": step_seconds, **options}
        return Execution.objects.create(
            scenario=scenario,
            trigger=Execution.Trigger.CLI,
            input={"durability": spec},
            max_attempts=max_attempts,
        )

    return make


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class WebServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def web_process(workers: Workers) -> Callable[..., WebServer]:
    """The web side of the production layout: a uvicorn process that queues executions but does not
    run them (EXECUTOR=worker); the workers started with `workers` do. Killed at test end."""

    def start(**env: Any) -> WebServer:
        port = free_port()
        log = workers.directory / f"web{port}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port)]
            + ["--lifespan", "on", "--no-access-log", "--log-level", "warning"],
            cwd=ROOT,
            env={**workers.env, "EXECUTOR": "worker", **{k: str(v) for k, v in env.items()}},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        workers.started.append(Worker(f"web:{port}", proc, log))

        def answers() -> bool:
            import socket

            if proc.poll() is not None:
                raise AssertionError(f"the web process exited:\n{log.read_text()}")
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_until(answers, "the web process to listen")
        return WebServer(f"http://127.0.0.1:{port}", proc, log)

    return start
