"""Running one node: resolve its expressions, validate its parameters, call its execute function, and
make what gets recorded safe to store and show (secrets redacted, JSON only, no NUL characters).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from durable import plain_sql
from nodes import expressions, node_settings
from nodes.base import NodeContext, NodeError, NodeType, Waiting
from nodes.forms import clean_for_run
from scenarios.storable import MIN_REDACTED_LENGTH, Unstorable, safe, safe_text
from teams import crypto
from teams.models import Credential

log = logging.getLogger(__name__)

MAX_ERROR_TEXT = 2000


@dataclass
class Credentials:
    """The team's credentials a run uses, by id, with their plaintext secrets for redaction."""

    by_id: dict[str, Credential] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    secrets: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, team_id: Any, ids: set[str], read: Sequence[Credential] | None = None) -> Credentials:
        """Load (in sync code) the credentials with `ids` that belong to the team; others are absent.
        `read`: credentials of the team read already (a claim reads its scenario's), of which those
        in `ids` are taken as they are; the rest of `ids` are read."""
        found = cls()
        if not ids:
            return found
        taken = [credential for credential in read or () if str(credential.pk) in ids]
        missing = ids - {str(credential.pk) for credential in taken}
        for credential in taken + (_team_credentials(team_id, missing) if missing else []):
            key = str(credential.pk)
            found.by_id[key] = credential
            try:
                secret = credential.get_secret()
            except crypto.SecretUnreadable:
                found.unreadable.add(key)
                continue
            if len(secret) >= MIN_REDACTED_LENGTH:
                found.secrets.append(secret)
        return found


def _team_credentials(team_id: Any, ids: set[str]) -> list[Credential]:
    """`Credential.objects.filter(team_id=team_id, pk__in=ids)` as a plain statement: every execution
    that uses a credential starts with it, and compiling the filter cost three times what running it
    does (docs/performance.md)."""
    return plain_sql.select(Credential, {"team": team_id, "pk__in": sorted(ids)})


@dataclass
class Outcome:
    """What a node run produced, ready to store."""

    number: int
    succeeded: bool
    params: dict[str, Any]
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: datetime = field(default_factory=timezone.now)
    finished_at: datetime = field(default_factory=timezone.now)
    # The output ports a success fired (nodes/base.py); the engine decides where a failure goes.
    ports: tuple[str, ...] = ()
    # A success that goes on only at this time (a Wait node): the engine holds its output until then.
    wait_until: datetime | None = None
    tries: int = 1


# Called before a retry with (the try about to be made, 1-based; seconds until it; why the last failed).
BeforeRetry = Callable[[int, float, str], Awaitable[None]]


async def run_node_with_retries(
    spec: dict[str, Any],
    node_type: NodeType | None,
    *,
    tries: int = 0,
    before_retry: BeforeRetry | None = None,
    **kwargs: Any,
) -> Outcome:
    """`run_node`, tried again on failure as the node's settings say (nodes/node_settings.py).

    `tries`: the tries an earlier attempt of the execution already started (its worker was lost).
    The interrupted try is made again without counting a new one, so a takeover never makes more
    than the settings allow. `before_retry` must record the new count durably before the wait: a
    worker lost during the wait is then followed by exactly the retry it was waiting for.
    """
    settings = node_settings.settings_of(node_type, spec.get("params"))
    current = max(tries, 1)
    while True:
        outcome = await run_node(spec, node_type, **kwargs)
        outcome.tries = current
        if outcome.succeeded or current > settings.retries:
            if not outcome.succeeded and current > 1 and outcome.error is not None:
                outcome.error = {**outcome.error, "tries": current}
            return outcome
        wait = settings.wait_before(current)
        reason = str((outcome.error or {}).get("message", "it failed"))
        if before_retry is not None:
            await before_retry(current + 1, wait, reason)
        await asyncio.sleep(wait)
        current += 1


def retry_text(retry: int, retries: int, wait: float) -> str:
    """What the live run shows while a node waits to try again: "retry 2 of 3 in 4 s"."""
    return f"retry {retry} of {retries} in {wait:g} s"


async def run_node(
    spec: dict[str, Any],
    node_type: NodeType | None,
    *,
    upstream: dict[int, Any],
    trigger_input: dict[str, Any],
    credentials: Credentials,
    team_id: Any,
    execution_id: Any,
    progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    tokens: Callable[[str], Awaitable[None]] | None = None,
    variables: dict[str, Any] | None = None,
    call_scenario: Callable[[str, Any], Awaitable[dict[str, Any]]] | None = None,
) -> Outcome:
    """Run one node of a snapshot with the outputs of its upstream nodes. Never raises for node faults."""
    number = int(spec["number"])
    secrets = credentials.secrets
    started = timezone.now()
    params: Any = spec.get("params") or {}
    try:
        if node_type is None:
            raise NodeError(f"Unknown node type '{spec['kind']}': it is not in this Scenery's catalog.")
        try:
            # `variables`: $item and $index inside a loop (nodes/expressions.py).
            params = expressions.resolve(params, {**upstream, **variables} if variables else upstream)
        except expressions.ExpressionError as exc:
            raise NodeError(str(exc)) from exc
        params = clean_for_run(node_type, params)  # the one cleaning: execute gets them as they are
        credential = _credential_for(spec, node_type, credentials)
        ctx = NodeContext(
            team_id=team_id,
            execution_id=execution_id,
            node_number=number,
            credential=credential,
            trigger_input=trigger_input,
            upstream=upstream,
            secrets=list(secrets),
            progress=progress,
            tokens=tokens,
            call_scenario=call_scenario,
        )
        result = await node_type.execute(ctx, params)
        wait_until = result.until if isinstance(result, Waiting) else None
        output, ports = node_type.ports_fired(result.output if isinstance(result, Waiting) else result)
        stored = safe(output, secrets)
    except NodeError as exc:
        error = exc.as_dict()
    except Unstorable as exc:
        error = {"message": f"The node returned data that cannot be stored: {exc}."}
    except Exception as exc:
        # The traceback is for operators, and redacted too: the exception may quote the key.
        details = safe_text("".join(traceback.format_exception(exc)), secrets)
        log.error(
            "node $%s (%s) of execution %s raised:\n%s", number, spec.get("kind"), execution_id, details
        )
        error = {"message": f"The node failed unexpectedly: {type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT]}
    else:
        return Outcome(
            number,
            True,
            _safe_params(params, secrets),
            stored,
            None,
            started,
            timezone.now(),
            ports,
            wait_until,
        )
    return Outcome(
        number,
        False,
        _safe_params(params, secrets),
        None,
        _safe_error(error, secrets),
        started,
        timezone.now(),
    )


def _credential_for(spec: dict[str, Any], node_type: NodeType, credentials: Credentials) -> Credential | None:
    credential_id = spec.get("credential_id")
    if not node_type.uses_credential:
        return None
    if not credential_id:
        if not any(f.required for f in node_type.fields if f.kind == "credential"):
            return None  # an optional credential (HTTP Request without authentication)
        raise NodeError("This node needs a credential: choose one in its settings.")
    credential = credentials.by_id.get(str(credential_id))
    if credential is None:
        raise NodeError("This node's credential no longer exists in this team: choose another one.")
    if str(credential_id) in credentials.unreadable:
        raise NodeError(
            f"The API key of credential '{credential.name}' can no longer be decrypted: enter it again."
        )
    return credential


def _safe_params(params: Any, secrets: list[str]) -> dict[str, Any]:
    try:
        value = safe(params, secrets)
    except Unstorable:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def _safe_error(error: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    try:
        value = safe(error, secrets)
    except Unstorable:
        value = {"message": safe(str(error.get("message", "The node failed.")), secrets)}
    if not isinstance(value.get("message"), str):
        value["message"] = "The node failed."
    return value
