"""`make bench`: Scenery's performance figures on this machine, printed as a table.

For each configuration — the embedded default (SQLite, in-memory channel layer, the executor inside
the web process) and PostgreSQL + Redis with N `manage.py executor` workers — it starts the app with
uvicorn, a loopback stub provider (scripts/bench_stub.py) and wrk, and measures:

- the demo scenario (Trigger on Webhook → Send Message → Webhook response, every execution and node
  run persisted) at 1, 8 and 32 concurrent clients: requests/s, p50 and p99 latency;
- engine overhead per node: a 100-node chain with no network, from the stored timestamps;
- time from a node finishing to its event reaching a WebSocket client (p50/p99);
- streamed answers: time to first token and per-token time, straight from the stub, through the
  gateway's chat completions and as a run's message deltas (over Redis from a worker when scaled);
- the editor with a 200-node scenario: server render time, browser load time (headless Chromium);
- fairness: team B's webhook latency (p50/p99) alone and while team A's webhook is flooded;
- flow control (scripts/bench_flow.py): engine overhead per item of a 1,000-item loop through a
  compute-only node, and per run of a 10-way Switch (`--only loop` measures just these).

Only loopback addresses; every phase is bounded in time. Options: --duration, --only, --workers,
--web-processes (scaled only), --only http (just one HTTP Request node run, p50/p99), --profile (py-spy on the web process during the 8-client run), --no-calibration
(skips the plain-Django probe run first, which says how busy the machine is; see bench_calibrate.py),
--interleaved ROUNDS (both layouts at once, loaded in turn: the scaled layout's CPU per request
against the embedded default's, measured side by side), --against REV (with --interleaved: the
scaled layout of commit REV too, an A/B run; --against-workers N gives it N workers), --scaling
(requests/s of the scaled layout with 1, 2 and 3 workers when the stub takes --model-seconds to
answer, as a model does: a worker's slots then limit throughput, not the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts import bench_code, bench_probes

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG_URL = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15")
LOAD = """wrk.method = "POST"
wrk.body = '{"question": "What is the most popular programming language?"}'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {timeout}s")


def machine_speed_ms() -> float:
    """A fixed pure-Python loop: lets a reader compare runs on a loaded or a quiet machine."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return (time.perf_counter() - started) * 1000


@dataclass
class Config:
    name: str
    env: dict[str, str]
    workers: int = 0
    web_processes: int = 1
    database: str = ""
    root: Path = ROOT  # the checkout it runs from (--against: another commit's)


@dataclass
class Result:
    config: str
    load: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Stack:
    """The processes of one configuration; all of them are stopped on exit, whatever happens."""

    def __init__(self, config: Config, workdir: Path, exits: ExitStack) -> None:
        self.config = config
        self.workdir = workdir
        self.exits = exits
        self.env = {**os.environ, **config.env}
        self.procs: list[subprocess.Popen[bytes]] = []
        exits.callback(self.stop)

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, cwd=self.config.root, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        return proc

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [PY, *args], cwd=self.config.root, env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_seconds(roots: list[int]) -> float:
    """CPU time used so far by these processes and their descendants (from /proc)."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    wanted = set(roots)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in wanted} - wanted
        wanted |= more
        grew = bool(more)
    return sum(ticks.get(pid, 0) for pid in wanted) / os.sysconf("SC_CLK_TCK")


def _parts(app: list[int], servers: list[int]) -> dict[str, list[int]]:
    """The scaled layout's processes by role: the web process, the workers, PostgreSQL, Redis."""
    names = {pid: _comm(pid) for pid in servers}
    return {
        "web": app[:1],
        "workers": app[1:],
        "PostgreSQL": [pid for pid in servers if names[pid] == "postgres"],
        "Redis": [pid for pid in servers if names[pid] == "redis-server"],
    }


def _comm(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def server_pids() -> list[int]:
    """PostgreSQL's and Redis's processes on this machine (what the scaled layout adds)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name in ("postgres", "redis-server"):
                found.append(int(entry.name))
    return found


def wrk(url: str, clients: int, seconds: float, script: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        print(f"wrk gave no figures at {clients} clients:\n{out}", file=sys.stderr)
    done = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "clients": clients,
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": ms("50"),
        "p99": ms("99"),
        "requests": int(done.group(1)) if done else 0,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def start_profilers(
    stack: Stack, stub: subprocess.Popen[bytes], workdir: Path, seconds: float
) -> list[tuple[str, subprocess.Popen[bytes], Path]]:
    """py-spy (GIL-holding samples) on the web process and each worker for `seconds`."""
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (not a project dependency)")
    started = []
    for n, proc in enumerate(p for p in stack.procs if p is not stub):
        name = "the web process" if n == 0 else f"worker {n}"
        path = workdir / f"profile-{n}.txt"
        args = [spy, "record", "-p", str(proc.pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw"]
        args += ["-o", str(path), "--gil", "--subprocesses"]
        started.append(
            (name, subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), path)
        )
    return started


def calibrate(args: argparse.Namespace, exits: ExitStack) -> str:
    """The plain-Django probe of performance-anchors.md (scripts/bench_calibrate.py) at 8 clients."""
    workdir = Path(tempfile.mkdtemp(prefix="scenery-bench-calibrate-"))
    exits.callback(shutil.rmtree, workdir, True)
    stack = Stack(Config("calibration", {}), workdir, exits)
    stub_port, probe_port = free_port(), free_port()
    stub = stack.spawn("stub", [PY, "-m", "scripts.bench_stub", str(stub_port)])
    wait_port(stub_port, stub, "the stub provider")
    stack.env["PROBE_DB"] = str(workdir / "probe.sqlite3")
    stack.env["PROBE_PROVIDER"] = f"http://127.0.0.1:{stub_port}/v1/chat/completions"
    probe = stack.spawn(
        "probe",
        [PY, "-m", "uvicorn", "scripts.bench_calibrate:application", "--port", str(probe_port)]
        + ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
    )
    wait_port(probe_port, probe, "the calibration probe")
    script = workdir / "post.lua"
    script.write_text(LOAD)
    url = f"http://127.0.0.1:{probe_port}/hook"
    wrk(url, 8, args.warmup, script)
    row = wrk(url, 8, args.duration, script)
    stack.stop()
    return (
        f"calibration: plain Django (JSON, one httpx call, two SQLite inserts; scripts/bench_calibrate.py) "
        f"at 8 clients: {row['rps']:.0f} req/s, p99 {row['p99']:.0f} ms, {row['non_2xx']} errors.\n"
        "  performance-anchors.md measured 273 req/s, p99 44 ms on the day n8n stock did 32 req/s: "
        "above 273 the machine is faster now than then."
    )


@dataclass
class Launched:
    """A configuration serving the demo scenario, checked and ready for load."""

    stack: Stack
    stub: subprocess.Popen[bytes]
    web: subprocess.Popen[bytes]
    web_args: list[str]
    info: dict[str, Any]
    base: str
    hook: str
    stub_port: int
    script: Path


def launch(config: Config, exits: ExitStack, stub_delay: float = 0.0) -> Launched:
    workdir = Path(tempfile.mkdtemp(prefix=f"scenery-bench-{config.name.split()[0]}-"))
    exits.callback(shutil.rmtree, workdir, True)
    stack = Stack(config, workdir, exits)
    # The throughput rows load one webhook: its door (WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK) is open for
    # them; `fairness` at the end runs with the shipped one.
    stack.env["WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK"] = "0"
    stack.manage("manage.py", "migrate", "--noinput", "-v", "0")
    stub_port, web_port = free_port(), free_port()
    stub = stack.spawn("stub", [PY, "-m", "scripts.bench_stub", str(stub_port), str(stub_delay)])
    wait_port(stub_port, stub, "the stub provider")
    # The SSRF guard refuses loopback unless told: allow exactly the stub.
    stack.env["OUTBOUND_ALLOWED_ORIGINS"] = f"http://127.0.0.1:{stub_port}"
    info = json.loads(stack.manage("-m", "scripts.bench_setup", "setup", f"http://127.0.0.1:{stub_port}/v1"))
    web_args = [
        PY,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(web_port),
    ]
    web_args += ["--http", "httptools", "--lifespan", "on"]
    web_args += ["--no-access-log"]
    web_args += ["--log-level", "warning", "--workers", str(config.web_processes)]
    web = stack.spawn("web", web_args)
    for n in range(config.workers):
        stack.spawn(f"worker{n + 1}", [PY, "manage.py", "executor"])
    wait_port(web_port, web, "the web server")
    base = f"http://127.0.0.1:{web_port}"
    script = workdir / "post.lua"
    script.write_text(LOAD)
    hook = f"{base}/hooks/{info['ask']['token']}"

    import httpx

    check = httpx.post(hook, json={"question": "Ready?"}, timeout=30)
    # Over a shared channel layer a Send Message node streams (a page elsewhere may listen, see
    # events.heard), and the stub streams other text than its whole answer.
    streamed = "".join(f"token{i} " for i in range(50)).strip()
    if check.status_code != 200 or check.text.strip() not in ("Python, by most counts.", streamed):
        raise SystemExit(
            f"the demo scenario does not answer as expected: {check.status_code} {check.text[:300]}"
        )
    return Launched(stack, stub, web, web_args, info, base, hook, stub_port, script)


def run_config(config: Config, args: argparse.Namespace, exits: ExitStack) -> Result:
    launched = launch(config, exits)
    stack, stub, web, web_args, info = (
        launched.stack,
        launched.stub,
        launched.web,
        launched.web_args,
        launched.info,
    )
    base, hook, stub_port, script = launched.base, launched.hook, launched.stub_port, launched.script
    result = Result(config.name)
    wrk(hook, 8, args.warmup, script)
    before = json.loads(stack.manage("-m", "scripts.bench_setup", "count"))
    for clients in (1, 8, 32):
        profilers = (
            start_profilers(stack, stub, stack.workdir, args.duration)
            if args.profile and clients == 8
            else []
        )
        app = [p.pid for p in stack.procs if p is not stub]
        servers = server_pids() if config.workers else []
        parts = _parts(app, servers) if config.workers and clients == 8 else {}
        before_parts = {name: cpu_seconds(pids) for name, pids in parts.items()}
        spent, served = cpu_seconds(app), cpu_seconds(servers)
        row = wrk(hook, clients, args.duration, script)
        spent, served = cpu_seconds(app) - spent, cpu_seconds(servers) - served
        if parts and row["requests"]:
            result.notes.append(
                "CPU ms/req by process at 8 clients: "
                + ", ".join(
                    f"{name} {(cpu_seconds(pids) - before_parts[name]) * 1000 / row['requests']:.2f}"
                    for name, pids in parts.items()
                )
            )
        row["cpu_ms"] = spent * 1000 / row["requests"] if row["requests"] else float("nan")
        row["all_cpu_ms"] = (spent + served) * 1000 / row["requests"] if row["requests"] else float("nan")
        result.load.append(row)
        for name, profiler, path in profilers:
            profiler.wait(timeout=60)
            from scripts.profile_summary import summarise

            result.notes.append(f"profile of {name} at 8 clients:\n" + summarise(str(path), 60))
    time.sleep(1)  # let the last executions finish writing
    after = json.loads(stack.manage("-m", "scripts.bench_setup", "count"))
    answered = sum(r["requests"] - r["non_2xx"] for r in result.load)
    stored = after["executions"].get("succeeded", 0) - before["executions"].get("succeeded", 0)
    runs = after["node_runs"] - before["node_runs"]
    result.notes.append(
        f"persisted: {stored} succeeded executions and {runs} node runs for {answered} answered requests"
    )
    if args.load_only:
        return result

    durations = json.loads(
        stack.manage("-m", "scripts.bench_setup", "chain-run", info["chain"]["id"], str(args.chain_runs))
    )
    per_node = [d / 100 * 1e6 for d in durations]
    result.notes.append(
        f"engine overhead per node (100-node chain, no network, every node run stored; {len(per_node)} runs "
        f"one after the other): p50 {bench_probes.percentile(per_node, 50):.0f} µs, "
        f"p99 {bench_probes.percentile(per_node, 99):.0f} µs"
    )
    latencies = bench_probes.event_latency(base, info, args.event_runs)
    result.notes.append(
        f"node finished → WebSocket client ({len(latencies)} events): "
        f"p50 {bench_probes.percentile(latencies, 50):.1f} ms, p99 {bench_probes.percentile(latencies, 99):.1f} ms"
    )
    stream = bench_probes.streaming(base, f"http://127.0.0.1:{stub_port}/v1", info, args.stream_runs)
    result.notes.append(
        "streamed answers (50 tokens sent at once by the stub; first token, then ms per token after it, p50): "
        + "; ".join(
            f"{name} {bench_probes.percentile(stream[f'{name} first'], 50):.1f} ms, "
            f"{bench_probes.percentile(stream[f'{name} per token'], 50):.3f} ms/token"
            for name in ("provider", "chat", "run", "webhook sse")
        )
    )
    server = bench_probes.editor_server_ms(base, info)
    note = (
        f"editor, 200-node scenario: server render p50 {bench_probes.percentile(server, 50):.0f} ms "
        f"(p99 {bench_probes.percentile(server, 99):.0f} ms)"
    )
    if Path("/usr/bin/chromium").exists() and not args.no_browser:
        try:
            browser = bench_probes.editor_browser_ms(base, info)
            note += (
                f"; browser: load event {browser['load_ms']:.0f} ms, first node {browser['first_node_ms']:.0f} ms,"
                f" all {browser['nodes']} nodes drawn {browser['all_nodes_ms']:.0f} ms"
            )
        except Exception as exc:  # the figure is missing, the rest stands
            note += f"; browser: not measured ({type(exc).__name__}: {str(exc)[:120]})"
    else:
        note += "; browser: not measured (--no-browser, or no /usr/bin/chromium)"
    result.notes.append(note)
    # Fairness with the shipped door (or the caller's WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK): the web
    # processes again, without the bench's override.
    web.send_signal(signal.SIGTERM)
    web.wait(timeout=30)
    stack.env.pop("WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK")
    if "WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK" in os.environ:
        stack.env["WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK"] = os.environ["WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK"]
    web = stack.spawn("web-door", web_args)
    wait_port(int(base.rsplit(":", 1)[1]), web, "the web server (default door)")
    result.notes.append(fairness(hook, f"{base}/hooks/{info['other']['token']}", script, args.warmup + 2))
    return result


def interleaved(args: argparse.Namespace, exits: ExitStack) -> None:
    """Both layouts serving at once, loaded in turn at 8 clients for `rounds` rounds: each round's
    req/s, p99 and CPU ms per request (the scaled layout's with PostgreSQL's and Redis's processes),
    then the median CPU ratio. On a shared machine whose speed drifts, the ratio in one run is the figure.

    With `--against REV`, the scaled layout of commit REV serves too (from a worktree, with a database
    and a Redis database of its own): an A/B run. A change of a few per cent hides in the rounds'
    spread; it shows in the shares of one stack's processes, measured at the same moment (all
    processes' CPU, and PostgreSQL's, over the web process's)."""
    chosen = configs(argparse.Namespace(**{**vars(args), "only": None}), exits)
    if args.against:
        chosen.append(against(args.against, chosen[1], args.against_workers or chosen[1].workers, exits))
    launched = [launch(config, exits) for config in chosen]
    for one in launched:
        wrk(one.hook, 8, args.warmup, one.script)
    costs: dict[str, list[float]] = {config.name: [] for config in chosen}
    shares: dict[str, list[tuple[float, float]]] = {config.name: [] for config in chosen[1:]}
    for n in range(1, args.interleaved + 1):
        for config, one in zip(chosen, launched, strict=True):
            app = [p.pid for p in one.stack.procs if p is not one.stub]
            servers = server_pids() if config.workers else []
            parts = _parts(app, servers) if config.workers else {"web": app}
            before = {name: cpu_seconds(pids) for name, pids in parts.items()}
            row = wrk(one.hook, 8, args.duration, one.script)
            spent = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
            per_request = sum(spent.values()) * 1000 / max(row["requests"], 1)
            costs[config.name].append(per_request)
            if config.workers and spent["web"] > 0:
                shares[config.name].append(
                    (sum(spent.values()) / spent["web"], spent.get("PostgreSQL", 0.0) / spent["web"])
                )
            by_part = ", ".join(
                f"{name} {seconds * 1000 / max(row['requests'], 1):.2f}" for name, seconds in spent.items()
            )
            print(
                f"round {n} {config.name}: {row['rps']:.0f} req/s, p99 {row['p99']:.0f} ms, "
                f"{row['non_2xx']} errors, CPU {per_request:.2f} ms/req ({by_part})",
                flush=True,
            )
    embedded = median(costs[chosen[0].name])
    for config in chosen[1:]:
        ratios = [s / e for e, s in zip(costs[chosen[0].name], costs[config.name], strict=True)]
        every, database = (
            median([a for a, _ in shares[config.name]]),
            median([b for _, b in shares[config.name]]),
        )
        print(
            f"median CPU ms/req: {chosen[0].name} {embedded:.2f}, {config.name} {median(costs[config.name]):.2f}: "
            f"ratio {median(costs[config.name]) / embedded:.2f} (rounds {', '.join(f'{r:.2f}' for r in ratios)}); "
            f"all processes {every:.2f} and PostgreSQL {database:.2f} times the web process's CPU"
        )


SCALING_WORKERS = (1, 2, 3)


def scaling(args: argparse.Namespace) -> None:
    """Throughput as workers are added, when executions wait on the model as real ones do: the
    PostgreSQL + Redis layout with 1, 2 and 3 workers in turn, the stub answering each completion
    after `--model-seconds`, loaded by as many clients as all the workers together have slots
    (EXECUTOR_CONCURRENCY each). A worker's slots, not the cores, limit each row, so each worker
    added should add as many answers per second, at the same CPU per request."""
    slots = int(os.environ.get("EXECUTOR_CONCURRENCY", "32"))
    clients = slots * max(SCALING_WORKERS)
    print(
        f"model answers after {args.model_seconds:g} s; {clients} clients; {slots} slots per worker; "
        f"{args.duration:g} s per row",
        flush=True,
    )
    for workers in SCALING_WORKERS:
        with ExitStack() as stack_exits:  # one layout at a time, its database dropped after it
            chosen = argparse.Namespace(**{**vars(args), "only": "scaled", "workers": workers})
            one = launch(configs(chosen, stack_exits)[0], stack_exits, stub_delay=args.model_seconds)
            wrk(one.hook, clients, args.warmup + args.model_seconds * 2, one.script)
            parts = _parts([p.pid for p in one.stack.procs if p is not one.stub], server_pids())
            before = {name: cpu_seconds(pids) for name, pids in parts.items()}
            row = wrk(one.hook, clients, args.duration, one.script)
            spent = {name: cpu_seconds(pids) - before[name] for name, pids in parts.items()}
            done = max(row["requests"], 1)
            by_part = ", ".join(f"{name} {seconds * 1000 / done:.2f}" for name, seconds in spent.items())
            print(
                f"{workers} worker{'s' if workers > 1 else ''}: {row['rps']:.1f} req/s "
                f"(at most {workers * slots / args.model_seconds:.0f}), p50 {row['p50']:.0f} ms, "
                f"p99 {row['p99']:.0f} ms, {row['non_2xx']} errors, "
                f"CPU {sum(spent.values()) * 1000 / done:.2f} ms/req ({by_part})",
                flush=True,
            )


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def against(rev: str, scaled: Config, workers: int, exits: ExitStack) -> Config:
    """The scaled layout of commit `rev` with `workers` workers, from a git worktree removed at exit."""
    tree = Path(tempfile.mkdtemp(prefix="scenery-bench-against-")) / "tree"
    exits.callback(shutil.rmtree, tree.parent, True)  # last: after git has let the worktree go
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, check=True)
    exits.callback(subprocess.run, ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    database = f"scenery_bench_{os.getpid()}_against"
    _postgres(f"CREATE DATABASE {database}")
    exits.callback(_postgres, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    # A Redis database of its own: a stack's workers must not hear the other's wake-ups.
    redis = REDIS.rsplit("/", 1)[0] + "/14"
    env = {**scaled.env, "DATABASE_URL": f"{PG_URL}/{database}", "REDIS_URL": redis}
    name = f"PostgreSQL + Redis ({scaled.web_processes} web, {workers} workers) at {rev}"
    return Config(name, env, workers, scaled.web_processes, root=tree)


def fairness(flooded: str, other: str, script: Path, seconds: float) -> str:
    """Team B's webhook, one call after another, alone and while wrk floods team A's webhook with
    64 clients (WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK turns A's excess into 429s at the door)."""
    door = os.environ.get("WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK") or "as shipped"
    alone, _ = bench_probes.sequential_ms(other, seconds)
    flood: dict[str, Any] = {}
    flooding = threading.Thread(target=lambda: flood.update(wrk(flooded, 64, seconds + 1, script)))
    flooding.start()
    time.sleep(0.5)  # the flood is on
    during, failed = bench_probes.sequential_ms(other, seconds)
    flooding.join()
    p = bench_probes.percentile
    return (
        f"fairness: team B's webhook alone p50 {p(alone, 50):.1f} ms, p99 {p(alone, 99):.1f} ms; during team A's "
        f"flood (wrk, 64 clients, {flood.get('rps', 0):.0f} req/s, {flood.get('non_2xx', 0)} of "
        f"{flood.get('requests', 0)} refused) p50 {p(during, 50):.1f} ms, p99 {p(during, 99):.1f} ms, "
        f"max {max(during, default=float('nan')):.0f} ms over {len(during)} calls, {failed} not 200; "
        f"WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK {door}"
    )


def configs(args: argparse.Namespace, exits: ExitStack) -> list[Config]:
    keys = subprocess.run(
        [PY, "-c", "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    common = {"CREDENTIAL_KEYS": keys, "SECRET_KEY": "bench-" * 8, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    chosen = []
    if args.only in (None, "embedded"):
        path = Path(tempfile.mkdtemp(prefix="scenery-bench-db-")) / "bench.sqlite3"
        exits.callback(shutil.rmtree, path.parent, True)
        chosen.append(
            Config(
                "embedded (SQLite, one web process)",
                {**common, "DATABASE_URL": f"sqlite:///{path}", "REDIS_URL": ""},
            )
        )
    if args.only in (None, "scaled"):
        name = f"scenery_bench_{os.getpid()}"
        _postgres(f"CREATE DATABASE {name}")
        exits.callback(_postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        chosen.append(
            Config(
                f"PostgreSQL + Redis ({args.web_processes or 1} web{' executing' if args.executor == 'inprocess' else ''}, "
                f"{args.workers} workers)",
                {
                    **common,
                    "DATABASE_URL": f"{PG_URL}/{name}",
                    "REDIS_URL": REDIS,
                    "EXECUTOR": args.executor,
                    # A server process that exits takes its CPU time out of the sum: no reconnects mid-run.
                    "CONN_MAX_AGE": "3600",
                },
                workers=args.workers,
                web_processes=args.web_processes or 1,
            )
        )
    return chosen


def _postgres(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def node_costs() -> str:
    """One node run of the data nodes (scripts/bench_http.py), in a process of its own."""
    done = subprocess.run([PY, "-m", "scripts.bench_http"], capture_output=True, text=True, timeout=300)
    return (
        done.stdout.strip().splitlines()[-1]
        if done.returncode == 0
        else f"HTTP Request: failed\n{done.stderr}"
    )


def flow_figures() -> str:
    """The loop and Switch figures of scripts/bench_flow.py, in a process of their own (own database)."""
    done = subprocess.run(
        [PY, "-m", "scripts.bench_flow"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else f"flow figures failed: {done.stderr[-2000:]}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per load level")
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--only", choices=["embedded", "scaled", "code", "http", "loop"])
    parser.add_argument("--workers", type=int, default=2, help="executor workers (scaled)")
    parser.add_argument(
        "--web-processes",
        type=int,
        help="web processes of the scaled configuration (default 1; the embedded one has one)",
    )
    parser.add_argument(
        "--executor",
        choices=["worker", "inprocess"],
        default="worker",
        help="scaled: web processes only queue (worker) or also run what they receive (inprocess)",
    )
    parser.add_argument("--chain-runs", type=int, default=10)
    parser.add_argument("--event-runs", type=int, default=40)
    parser.add_argument("--stream-runs", type=int, default=10, help="streamed answers per kind")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the web and worker processes at 8 clients"
    )
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--load-only", action="store_true", help="the load table only, no probes after it")
    parser.add_argument("--no-calibration", action="store_true", help="skip the plain-Django probe")
    parser.add_argument(
        "--interleaved",
        type=int,
        metavar="ROUNDS",
        help="both layouts at once, loaded in turn at 8 clients: CPU per request and its ratio only",
    )
    parser.add_argument(
        "--against",
        metavar="REV",
        help="with --interleaved: the scaled layout of commit REV serves and is loaded too (an A/B run)",
    )
    parser.add_argument("--against-workers", type=int, help="workers of the --against layout")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="throughput of the scaled layout with 1, 2 and 3 workers when the model takes its time",
    )
    parser.add_argument(
        "--model-seconds", type=float, default=1.0, help="with --scaling: how long the stub takes to answer"
    )
    args = parser.parse_args()
    if args.scaling:
        scaling(args)
        return
    if args.interleaved:
        print(f"machine speed: a 3M-iteration Python loop took {machine_speed_ms():.0f} ms (lower is faster)")
        with ExitStack() as exits:
            interleaved(args, exits)
        print(f"machine speed after: {machine_speed_ms():.0f} ms, load average {os.getloadavg()[0]:.1f}")
        return
    if args.only in ("code", "http", "loop"):
        print({"code": bench_code.report, "http": node_costs, "loop": flow_figures}[args.only]())
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package `wrk`; `make bench` installs it)")

    speed = machine_speed_ms()
    print(f"Scenery benchmark, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; ")
    print(f"machine speed: a 3M-iteration Python loop took {speed:.0f} ms (lower is faster)\n")
    results = []
    with ExitStack() as exits:
        calibration = "" if args.no_calibration else calibrate(args, exits)
        for config in configs(args, exits):
            print(f"== {config.name} ...", flush=True)
            results.append(run_config(config, args, exits))
    print()
    print("Demo scenario: Trigger on Webhook → Send Message (loopback stub) → Webhook response; wrk, POST.")
    print("CPU ms/req: CPU time of the web and worker processes per answered request (all cores);")
    print("with servers: the same plus PostgreSQL's and Redis's processes (the scaled layout).")
    print(
        f"{'configuration':<44} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'CPU ms/req':>10} {'with servers':>12}"
    )
    for result in results:
        for row in result.load:
            errors = row["non_2xx"] + (1 if row["socket_errors"] else 0)
            print(
                f"{result.config:<44} {row['clients']:>7} {row['rps']:>8.1f} {row['p50']:>8.1f} "
                f"{row['p99']:>8.1f} {errors:>7} {row['cpu_ms']:>10.1f} {row['all_cpu_ms']:>12.1f}"
            )
    for result in results:
        print(f"\n{result.config}:")
        for note in result.notes:
            print("  " + note.replace("\n", "\n  "))
    print("\n" + node_costs())
    print("\nFlow control (one process, SQLite, no network):\n" + flow_figures())
    if calibration:
        print("\n" + calibration)
    print("\n" + bench_code.report())
    print(f"\nmachine speed after: {machine_speed_ms():.0f} ms, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
