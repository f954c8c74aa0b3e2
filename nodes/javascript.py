"""Running a user's JavaScript with no I/O at all: QuickJS (the `quickjs-ng` binding from PyPI).

Why QuickJS. The engine is a small C library embedded in this process; a fresh runtime is made for
each run and dropped after it, so nothing a run does (prototype tricks included) outlives it. Only
the ECMAScript built-ins exist: no `require`, no `std`/`os` modules, no module loader for
`import()`, no `fetch`, no timers, no `process`. Memory, stack and time are limited by the engine
itself (`set_memory_limit`, `set_max_stack_size`, `set_time_limit`). mini-racer (V8) isolates as
well but is a 30+ MB native build tracking V8's release cadence; QuickJS is one wheel for every
Python 3.10+ and its limits fail as ordinary JavaScript exceptions. See docs/code-node.md.

The time limit. QuickJS's interrupt handler measures the process's CPU time (C `clock()`), so under
load (other runs, the web server's own work) a run is stopped sooner, never later; each engine call
also restarts it, so the whole run (its promise jobs included) is bounded here by this thread's own
CPU time as well.

Runs happen on a small pool of threads so the event loop never blocks; each runtime is made, used
and freed on one thread (the binding does not allow sharing one between threads).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import quickjs

from nodes.json_limits import BadData, loads

TIME_LIMIT = 2.0  # seconds of CPU
MEMORY_LIMIT = 64 * 1024 * 1024
STACK_LIMIT = 1024 * 1024
MAX_SOURCE = 100_000
MAX_OUTPUT = 1_000_000  # characters of the returned JSON
MAX_LOG_LINES = 200
MAX_LOG_LINE = 2_000
WORKERS = 2
# QuickJS's stack limit must fit well inside the real thread stack (glibc's default is 8 MB; musl's
# 128 KB would overflow before the engine's guard fires).
THREAD_STACK = 8 * 1024 * 1024

LINE = re.compile(r"<input>:(\d+)")

# Runs after the inputs are set and before the user's code: console capture and the result's
# serialisation use functions taken now, so code that replaces JSON.stringify or a prototype
# method cannot change how its result is read.
PRELUDE = """
(function () {
  const stringify = JSON.stringify, parse = JSON.parse, push = Array.prototype.push.call.bind(Array.prototype.push);
  const join = Array.prototype.join.call.bind(Array.prototype.join);
  const input = parse(globalThis.__scenery_input);
  delete globalThis.__scenery_input;
  const toText = String, logs = [], maxLines = input.maxLines, maxLine = input.maxLine;
  let dropped = 0;
  const show = (value) => {
    if (typeof value === "string") return value;
    try { const text = stringify(value); return text === undefined ? toText(value) : text; }
    catch (e) { try { return toText(value); } catch (e2) { return "[value]"; } }
  };
  const log = (level) => (...args) => {
    if (logs.length >= maxLines) { dropped++; return; }
    let text = "";
    for (let i = 0; i < args.length; i++) text += (i ? " " : "") + show(args[i]);
    push(logs, level + (text.length > maxLine ? text.slice(0, maxLine) + "…" : text));
  };
  for (const key of Object.keys(input.nodes)) globalThis["$" + key] = input.nodes[key];
  globalThis.$input = input.last;
  globalThis.console = Object.freeze({ log: log(""), info: log(""), debug: log(""), warn: log("warn: "), error: log("error: ") });
  const state = { done: false, result: undefined, error: undefined };
  // Read-only and permanent, so the code cannot replace how its result is taken.
  const fixed = (name, value) => Object.defineProperty(globalThis, name, { value, writable: false, configurable: false, enumerable: false });
  fixed("__scenery_settle", (promise) => promise.then(
    (value) => {
      if (value === undefined) { state.result = "null"; }
      else {
        try { state.result = stringify(value); }
        catch (e) { state.error = "The returned value is not JSON: " + toText(e && e.message || e); }
        if (state.result === undefined && state.error === undefined)
          state.error = "The returned value is a " + typeof value + ", not JSON data.";
      }
      state.done = true;
    },
    (e) => {
      let text;
      try { text = e instanceof Error ? toText(e.name) + ": " + toText(e.message) + "\\n" + toText(e.stack) : "Uncaught " + show(e); }
      catch (e2) { text = "Uncaught exception"; }
      state.error = text; state.done = true;
    }));
  // Only strings go through stringify here: a primitive has no toJSON the code could have planted.
  const text = (value) => value === undefined ? "null" : stringify(toText(value));
  // Joined, not concatenated: the binding cannot read back a long concatenated (rope) string.
  fixed("__scenery_state", () => {
    const parts = ['{"done":', state.done ? "true" : "false", ',"result":', text(state.result),
      ',"error":', text(state.error), ',"dropped":', toText(dropped | 0), ',"logs":['];
    for (let i = 0; i < logs.length; i++) { push(parts, i ? "," : ""); push(parts, text(logs[i])); }
    push(parts, "]}");
    return join(parts, "");
  });
})();
"""


class ScriptError(Exception):
    """The code failed; `message` says how (with its line when known), `logs` what it printed."""

    def __init__(self, message: str, *, line: int | None = None, logs: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.logs = logs or []


@dataclass
class Outcome:
    result: Any
    logs: list[str] = field(default_factory=list)


def _thread_pool() -> ThreadPoolExecutor:
    # threading.stack_size applies to threads started after it, so the workers are started now.
    previous = threading.stack_size(THREAD_STACK)
    try:
        pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="scenery-js")
        ready = threading.Barrier(WORKERS + 1)
        for _ in range(WORKERS):
            pool.submit(ready.wait)
        ready.wait()
    finally:
        threading.stack_size(previous)
    return pool


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _thread_pool()
        return _pool


async def run(source: str, nodes: dict[int, Any]) -> Outcome:
    """Run `source` as the body of an async function that sees `$1`, `$2`… (the outputs in `nodes`)
    and `$input` (the highest-numbered one); its return value is the result. ScriptError otherwise."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_get_pool(), run_blocking, source, nodes)


def run_blocking(source: str, nodes: dict[int, Any]) -> Outcome:
    if len(source) > MAX_SOURCE:
        raise ScriptError(f"The code is {len(source):,} characters long, over the limit of {MAX_SOURCE:,}.")
    if _storable(source) != source:
        raise ScriptError("The code contains a NUL character or an unpaired surrogate; remove it.")
    payload = json.dumps(
        {
            "nodes": {str(n): value for n, value in nodes.items()},
            "last": nodes[max(nodes)] if nodes else None,
            "maxLines": MAX_LOG_LINES,
            "maxLine": MAX_LOG_LINE,
        }
    )
    context = quickjs.Context()
    context.set_memory_limit(MEMORY_LIMIT)
    context.set_max_stack_size(STACK_LIMIT)
    context.set_time_limit(TIME_LIMIT)
    started = time.thread_time()
    try:
        context.set("__scenery_input", payload)
        context.eval(PRELUDE)
        # The body starts on the first line of this text, so the engine's line numbers are the user's.
        context.eval(f"__scenery_settle((async () => {{{source}\n}})());")
        while context.execute_pending_job():
            if time.thread_time() - started > TIME_LIMIT:
                raise ScriptError(f"The code ran for more than {TIME_LIMIT:g} s of CPU time and was stopped.")
        state = json.loads(context.eval("__scenery_state()"))
    except quickjs.StackOverflow:
        raise ScriptError(
            "The code recursed too deeply (the stack limit is "
            f"{STACK_LIMIT // 1024:,} KB): Maximum call stack size exceeded."
        ) from None
    except quickjs.JSException as exc:
        failure = _engine_error(str(exc))
        failure.logs = _logs_so_far(context)
        raise failure from None
    finally:
        del context
    logs = [_storable(line) for line in state["logs"]]
    if state["dropped"]:
        logs.append(f"… {state['dropped']:,} more console lines were left out (at most {MAX_LOG_LINES}).")
    if not state["done"]:
        raise ScriptError(
            "The code's returned promise never settled (there are no timers or I/O to wait for).", logs=logs
        )
    if state["error"] is not None:
        failure = _engine_error(str(state["error"]))
        failure.logs = logs
        raise failure
    text = state["result"] if state["result"] is not None else "null"
    if len(text) > MAX_OUTPUT:
        raise ScriptError(
            f"The returned value is {len(text):,} characters of JSON, over the limit of {MAX_OUTPUT:,}.",
            logs=logs,
        )
    try:
        return Outcome(loads(text, "returned value"), logs)
    except BadData as exc:
        raise ScriptError(str(exc), logs=logs) from None


def _logs_so_far(context: quickjs.Context) -> list[str]:
    """What the code printed before the engine stopped it, when the runtime can still say."""
    try:
        return [_storable(line) for line in json.loads(context.eval("__scenery_state()"))["logs"]]
    except Exception:  # out of memory, or stopped before the prelude ran: nothing to show
        return []


def _storable(text: str) -> str:
    """Text every database stores as it is: NUL written out, an unpaired surrogate replaced."""
    return text.replace("\x00", "\\u0000").encode("utf-8", "replace").decode("utf-8")


def _engine_error(text: str) -> ScriptError:
    text = _storable(text)
    first = _first_line(text)
    if len(first) > MAX_LOG_LINE:
        first = first[:MAX_LOG_LINE] + "…"
    if "interrupted" in first:
        return ScriptError(f"The code ran for more than {TIME_LIMIT:g} s of CPU time and was stopped.")
    if "out of memory" in first:
        return ScriptError(
            f"The code used more than {MEMORY_LIMIT // (1024 * 1024)} MB of memory and was stopped."
        )
    if "stack" in first.lower() and "exceeded" in first.lower():
        return ScriptError(f"The code recursed too deeply (the stack limit is {STACK_LIMIT // 1024:,} KB).")
    line = _line(text)
    return ScriptError(first + _at(line), line=line)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "The code failed."


def _line(text: str) -> int | None:
    match = LINE.search(text)
    return int(match.group(1)) if match else None


def _at(line: int | None) -> str:
    return f" (line {line})" if line is not None else ""
