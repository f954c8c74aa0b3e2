"""Who may call every URL of Scenery: the role table walked by test_access_matrix.py.

Every URL pattern of the project (named ones by "namespace:name", unnamed ones by their route) and
every WebSocket route must be listed here; the guard test fails on a missing or a stale entry.

Kinds of access:
- public: anyone, signed in or not (log in, sign up, password reset).
- signed_in: any signed-in user, whatever their teams (team list, new team, invitation links).
- current: acts on the user's current team (kept in the session): each user is judged by their
  role there. Mallory, owner of her own team, is allowed: she acts on her own team, never on alice's.
- scoped: addresses an object of alice's team by id in the URL. Mallory gets 404 (the same as for
  an unknown id); members below the minimum role get 403.
- webhook: authenticated by the secret token in the URL, never by a session.
- gateway: authenticated by a gateway API key (Authorization: Bearer); `team_object=True` when the
  URL names an object of the key's team (another team's key gets 404).
- not_found: answers 404 to everyone (the gateway's unknown-URL handler).
- staff: Django's admin: non-staff users are sent to the admin login.

The minimum role of each method follows issue 5: viewers see; editors also create, edit, run and
delete scenarios; admins also manage members and credentials; owners also delete the team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from teams.models import Role

Kind = Literal["public", "signed_in", "current", "scoped", "gateway", "not_found", "staff"]

VIEWER, EDITOR, ADMIN, OWNER = Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER


@dataclass(frozen=True)
class Access:
    kind: Kind
    # HTTP method (or "CONNECT" for WebSockets) -> minimum role; None where roles do not apply.
    methods: dict[str, Role | None]
    # URL kwargs beyond the defaults of test_access_matrix.KWARGS, from the test's objects.
    kwargs: Callable[[Any], dict[str, Any]] | None = None
    team_object: bool = False  # gateway: the URL names an object of the key's team
    headers: dict[str, str] = field(default_factory=dict)
    # POST data, from the test's objects and the requesting user (None when anonymous).
    data: Callable[[Any, Any], dict[str, Any]] | None = None
    # The action ends on the login page by design (log out), which is not a refusal.
    lands_on_login: bool = False


def public(*methods: str, kwargs: Callable[[Any], dict[str, Any]] | None = None) -> Access:
    return Access("public", dict.fromkeys(methods), kwargs)


def signed_in(*methods: str, kwargs: Callable[[Any], dict[str, Any]] | None = None) -> Access:
    return Access("signed_in", dict.fromkeys(methods), kwargs)


def current(data: Callable[[Any, Any], dict[str, Any]] | None = None, **methods: Role) -> Access:
    return Access("current", dict(methods), data=data)


def scoped(kwargs: Callable[[Any], dict[str, Any]] | None = None, **methods: Role) -> Access:
    return Access("scoped", dict(methods), kwargs)


BETA = {"OpenAI-Beta": "assistants=v2"}


def gateway(
    *methods: str,
    team_object: bool = False,
    beta: bool = False,
    data: Callable[[Any, Any], dict[str, Any]] | None = None,
) -> Access:
    """`data`: a valid JSON body, so that the call gets as far as looking the object up."""
    return Access(
        "gateway", dict.fromkeys(methods), team_object=team_object, headers=BETA if beta else {}, data=data
    )


def link_token(w: Any) -> dict[str, Any]:
    return {"token": w.link_token}


def own_team(w: Any, user: Any) -> dict[str, Any]:
    membership = user.memberships.order_by("created_at").first() if user is not None else None
    return {"team": str(membership.team_id)} if membership else {}


TABLE: dict[str, Access] = {
    # ---- accounts (teams/urls.py)
    "teams:signup": public("GET", "POST"),
    "teams:login": public("GET", "POST"),
    "teams:logout": Access("public", {"POST": None}, lands_on_login=True),
    "teams:password_change": signed_in("GET", "POST"),
    "teams:password_change_done": signed_in("GET"),
    "teams:password_reset": public("GET", "POST"),
    "teams:password_reset_done": public("GET"),
    "teams:password_reset_confirm": public("GET", kwargs=lambda w: {"uidb64": "MQ", "token": "set-password"}),
    "teams:password_reset_complete": public("GET"),
    # ---- teams and members
    "teams:list": signed_in("GET"),
    "teams:create": signed_in("POST"),
    "teams:switch": current(POST=VIEWER, data=own_team),
    "teams:detail": scoped(GET=VIEWER),
    "teams:rename": scoped(POST=ADMIN),
    "teams:delete": scoped(GET=OWNER, POST=OWNER),
    "teams:leave": scoped(POST=VIEWER),
    "teams:member_role": scoped(POST=ADMIN),
    "teams:member_remove": scoped(POST=ADMIN),
    "teams:invite": scoped(POST=ADMIN),
    "teams:invitation_revoke": scoped(POST=ADMIN),
    # Invitation links: whoever signed in holds the token (tests/teams/test_invitations.py checks
    # invitations sent to an address, expired and used ones).
    "teams:invitation": signed_in("GET", kwargs=link_token),
    "teams:invitation_accept": signed_in("POST", kwargs=link_token),
    "teams:invitation_decline": signed_in("POST", kwargs=link_token),
    # ---- credentials
    "teams:credentials": current(GET=VIEWER),
    "teams:credential_new": current(GET=ADMIN, POST=ADMIN),
    "teams:credential_gateway": current(POST=ADMIN),
    "teams:credential_edit": scoped(GET=ADMIN, POST=ADMIN),
    "teams:credential_delete": scoped(GET=ADMIN, POST=ADMIN),
    # ---- the gateway's keys and settings
    "teams:gateway": current(GET=VIEWER),
    "teams:gateway_key_new": current(POST=ADMIN),
    "teams:gateway_settings": current(POST=ADMIN),
    "teams:gateway_key_revoke": scoped(POST=ADMIN, kwargs=lambda w: {"key_id": w.gateway_key.pk}),
    # ---- scenario list (scenarios/urls_editor.py)
    "scenarios:home": public("GET"),  # a redirect to the list
    "scenarios:from_template": current(POST=EDITOR),
    "scenarios:favicon": public("GET"),  # a redirect to the static icon
    "scenarios:list": current(GET=VIEWER),
    "scenarios:create": current(POST=EDITOR),
    "scenarios:row": scoped(GET=VIEWER),
    "scenarios:rename": scoped(GET=EDITOR, POST=EDITOR),
    "scenarios:duplicate": scoped(POST=EDITOR),
    "scenarios:toggle_active": scoped(POST=EDITOR),
    "scenarios:delete": scoped(GET=EDITOR, POST=EDITOR),
    "scenarios:settings": scoped(GET=VIEWER, POST=EDITOR),
    # ---- editor, outline and inspector (htmx fragments and JSON)
    "scenarios:editor": scoped(GET=VIEWER),
    "scenarios:graph": scoped(GET=VIEWER, POST=EDITOR),
    "scenarios:outline": scoped(GET=VIEWER),
    "scenarios:outline_connect": scoped(POST=EDITOR),
    "scenarios:outline_disconnect": scoped(POST=EDITOR),
    "scenarios:outline_delete_node": scoped(POST=EDITOR),
    "scenarios:outline_add_node": scoped(POST=EDITOR),
    "scenarios:inspector": scoped(GET=VIEWER, POST=EDITOR),
    "scenarios:run_once": scoped(POST=EDITOR),
    "scenarios:test_call": scoped(
        kwargs=lambda w: {"node_id": w.scenario.nodes.get(number=1).pk}, GET=VIEWER, POST=EDITOR
    ),
    "scenarios:node_models": scoped(GET=EDITOR),
    "scenarios:schedule_times": scoped(GET=VIEWER),
    # ---- runs
    "scenarios:run": scoped(GET=EDITOR, POST=EDITOR),
    "scenarios:runs": scoped(GET=VIEWER),
    "scenarios:run_detail": scoped(GET=VIEWER),
    "scenarios:run_iterations": scoped(GET=VIEWER, kwargs=lambda w: {"number": 1}),
    "scenarios:rerun": scoped(POST=EDITOR),
    "scenarios:cancel_run": scoped(POST=EDITOR),
    # ---- sharing between teams, export and import (scenarios/urls.py)
    "scenarios:share": scoped(GET=VIEWER),
    "scenarios:copy_to_team": scoped(POST=VIEWER),  # into a team where the user is an editor
    "scenarios:move_to_team": scoped(POST=EDITOR),
    "scenarios:export": scoped(GET=VIEWER),
    "scenarios:import": current(GET=EDITOR, POST=EDITOR),
    # ---- webhooks are no Django URL: plain ASGI before Django (scenarios/runtime/webhooks.py), see
    # test_access_matrix.py::test_webhooks_are_authenticated_by_their_token_not_by_a_session
    # ---- the gateway (/v1/, gateway/urls.py): team from the API key
    "gateway:assistants": gateway("GET", "POST", beta=True),
    "gateway:assistant": gateway("GET", "POST", "DELETE", team_object=True, beta=True),
    "gateway:threads": gateway("POST", beta=True),
    "gateway:thread-and-run": gateway("POST", beta=True),
    "gateway:thread": gateway("GET", "POST", "DELETE", team_object=True, beta=True),
    "gateway:messages": gateway(
        "GET", "POST", team_object=True, beta=True, data=lambda w, u: {"role": "user", "content": "Hi"}
    ),
    "gateway:message": gateway("GET", "POST", "DELETE", team_object=True, beta=True),
    "gateway:runs": gateway(
        "GET",
        "POST",
        team_object=True,
        beta=True,
        data=lambda w, u: {"assistant_id": w.gateway.ids["assistant_id"]},
    ),
    "gateway:run": gateway("GET", "POST", team_object=True, beta=True),
    "gateway:run-cancel": gateway("POST", team_object=True, beta=True),
    "gateway:run-submit": gateway(
        "POST",
        team_object=True,
        beta=True,
        data=lambda w, u: {"tool_outputs": [{"tool_call_id": "c", "output": "x"}]},
    ),
    "gateway:run-steps": gateway("GET", team_object=True, beta=True),
    "gateway:run-step": gateway("GET", team_object=True, beta=True),
    "gateway:files": gateway("GET", "POST"),
    "gateway:file": gateway("GET", "DELETE", team_object=True),
    "gateway:file-content": gateway("GET", team_object=True),
    "gateway:vector-stores": gateway("GET", "POST"),
    "gateway:vector-store": gateway("GET", "POST", "DELETE", team_object=True),
    "gateway:vector-store-files": gateway(
        "GET", "POST", team_object=True, data=lambda w, u: {"file_id": w.gateway.ids["file_id"]}
    ),
    "gateway:vector-store-file": gateway(
        "GET", "POST", "DELETE", team_object=True, data=lambda w, u: {"attributes": {"topic": "a"}}
    ),
    "gateway:vector-store-file-batches": gateway(
        "POST", team_object=True, data=lambda w, u: {"file_ids": [w.gateway.ids["file_id"]]}
    ),
    "gateway:vector-store-file-batch": gateway("GET", team_object=True),
    "gateway:vector-store-file-batch-cancel": gateway("POST", team_object=True),
    "gateway:vector-store-file-batch-files": gateway("GET", team_object=True),
    "gateway:vector-store-search": gateway("POST", team_object=True, data=lambda w, u: {"query": "a"}),
    "gateway:chat-completions": gateway("POST"),
    "gateway:completions": gateway("POST"),
    "gateway:models": gateway("GET"),
    "gateway:model": gateway("GET"),
    "gateway:unknown": Access("not_found", {"GET": None, "POST": None}, lambda w: {"path": "no/such/thing"}),
}

# WebSocket routes (scenarios/runtime/routing.py), by route.
WS_TABLE: dict[str, Access] = {
    "ws/scenarios/<uuid:scenario_id>/": scoped(CONNECT=VIEWER),
}

# Django's admin: every pattern under admin/ (named "admin:…" or not).
DJANGO_ADMIN = Access("staff", {"GET": None})
