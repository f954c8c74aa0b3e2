"""Sharing scenarios between teams: copy or move one to another team of the user, and export or
import it as JSON (the format of `scenarios.portable`, the same as the command line; never a secret).

Credentials belong to a team and never follow a scenario into another one: the nodes that had one
are listed so the user can pick one of the new team's credentials.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from nodes import json_limits
from nodes.registry import NODE_TYPES
from scenarios.models import Execution, Node, Scenario
from scenarios.portable import ImportProblem, Unexportable, export_scenario, import_scenario
from scenarios.views.common import scenario_for, user_of
from teams.models import Membership, Role, Team, User
from teams.scoping import SESSION_TEAM_KEY, require_current

SHARE = "teams/scenario_share.html"
IMPORT = "teams/scenario_import.html"
MAX_IMPORT_BYTES = 2 * 1024 * 1024


# ---- forms


def teams_to_edit(user: User, besides: Team) -> list[Team]:
    """The user's other teams in which they may create scenarios."""
    memberships = Membership.objects.filter(user=user, role__gte=Role.EDITOR).exclude(team=besides)
    return [m.team for m in memberships.select_related("team").order_by("team__name")]


class TargetTeamForm(forms.Form):
    def __init__(self, *args: Any, teams: list[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.teams = {str(team.id): team for team in teams}
        self.fields["team"] = forms.ChoiceField(
            label="To team",
            choices=[(key, team.name) for key, team in self.teams.items()],
            error_messages={"invalid_choice": "Choose one of your teams where you are an editor."},
        )

    @property
    def target(self) -> Team:
        return self.teams[self.cleaned_data["team"]]


class MoveForm(TargetTeamForm):
    version = forms.IntegerField(widget=forms.HiddenInput)


class ImportForm(forms.Form):
    file = forms.FileField(required=False, label="Exported file (.json)")
    text = forms.CharField(
        required=False, label="…or paste the JSON", widget=forms.Textarea(attrs={"rows": 6})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload, text = cleaned.get("file"), cleaned.get("text") or ""
        if upload is None and not text.strip():
            raise forms.ValidationError("Choose an exported file or paste its JSON.")
        size = upload.size if upload is not None else len(text.encode())
        if size is not None and size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB.")
        raw = upload.read() if upload is not None else text.encode()
        try:
            cleaned["data"] = json_limits.parse(raw.decode("utf-8-sig"), "file")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc
        except json_limits.BadData as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned


# ---- pages


def node_name(node: Node) -> str:
    """ "$2 Send Message": the number and the title the canvas shows."""
    node_type = NODE_TYPES.get(node.kind)
    return f"${node.number} {node.label or (node_type.title if node_type else node.kind)}"


def _needing_credentials(scenario: Scenario) -> list[Node]:
    return list(scenario.nodes.filter(credential__isnull=False).order_by("number"))


def _credential_note(nodes: list[Node], team: Team) -> str:
    names = ", ".join(node_name(node) for node in nodes)
    return f"Credentials stay in their own team: choose one of {team.name}'s credentials for {names}."


def _share_page(
    request: HttpRequest, scenario: Scenario, membership: Membership, **extra: Any
) -> dict[str, Any]:
    teams = teams_to_edit(user_of(request), scenario.team)
    context: dict[str, Any] = {
        "scenario": scenario,
        "can_move": membership.allows(Role.EDITOR),
        "teams": teams,
        "copy_form": TargetTeamForm(teams=teams),
        "move_form": MoveForm(teams=teams, initial={"version": scenario.version}),
        "with_credentials": [node_name(node) for node in _needing_credentials(scenario)],
    }
    context.update(extra)
    return context


@login_required
@require_GET
def share(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id)
    return render(request, SHARE, _share_page(request, scenario, membership))


@login_required
@require_POST
def copy_to_team(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    # Whoever sees a scenario may copy it into a team where they are an editor.
    scenario, membership = scenario_for(request, scenario_id)
    user = user_of(request)
    form = TargetTeamForm(request.POST, teams=teams_to_edit(user, scenario.team))
    if not form.is_valid():
        context = _share_page(request, scenario, membership, copy_form=form)
        return render(request, SHARE, context, status=400)
    target = form.target
    notes: list[str] = []
    try:
        data = export_scenario(scenario)
        for node in data["nodes"]:
            node["credential"] = None
        copy = import_scenario(data, target, user, notes)
    except Unexportable as exc:
        context = _share_page(request, scenario, membership, copy_error=str(exc))
        return render(request, SHARE, context, status=400)
    except ImportProblem as exc:  # e.g. a node type this Scenery no longer has
        context = _share_page(request, scenario, membership, copy_error=" ".join(exc.problems))
        return render(request, SHARE, context, status=400)
    request.session[SESSION_TEAM_KEY] = str(target.id)
    messages.success(request, f"Copied “{scenario.name}” to {target.name}.")
    if needing := _needing_credentials(scenario):
        messages.warning(request, _credential_note(needing, target))
    for note in notes:
        messages.info(request, note)
    return redirect("scenarios:editor", scenario_id=copy.id)


@login_required
@require_POST
def move_to_team(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, membership = scenario_for(request, scenario_id, Role.EDITOR)
    user = user_of(request)
    form = MoveForm(request.POST, teams=teams_to_edit(user, scenario.team))
    if not form.is_valid():
        context = _share_page(request, scenario, membership, move_form=form)
        return render(request, SHARE, context, status=400)
    target = form.target
    needing: list[Node] = []
    with transaction.atomic():
        locked = Scenario.objects.select_for_update().get(pk=scenario.pk)
        refusal = _move_refusal(locked, form.cleaned_data["version"])
        if refusal is None:
            needing = _needing_credentials(locked)
            locked.nodes.update(credential=None)
            locked.team = target
            # An error scenario is one of the old team's: the link does not cross teams.
            locked.error_scenario = None
            Scenario.objects.filter(error_scenario=locked).update(error_scenario=None)
            locked.version += 1  # the graph changed (credentials unset): older editors must reload
            locked.updated_by = user
            locked.save(update_fields=["team", "version", "updated_by", "updated_at", "error_scenario"])
    if refusal is not None:
        context = _share_page(request, locked, membership, move_error=refusal)
        return render(request, SHARE, context, status=409)
    request.session[SESSION_TEAM_KEY] = str(target.id)
    messages.success(request, f"Moved “{locked.name}” to {target.name}, with its run history.")
    if needing:
        messages.warning(request, _credential_note(needing, target))
    return redirect("scenarios:editor", scenario_id=locked.id)


def _move_refusal(scenario: Scenario, version: int) -> str | None:
    if scenario.version != version:
        return (
            f"“{scenario.name}” was changed since this page was opened (version {version}, now "
            f"{scenario.version}). Reload the page and check it before moving it."
        )
    active = scenario.executions.filter(
        status__in=[Execution.Status.QUEUED, Execution.Status.RUNNING, Execution.Status.WAITING]
    )
    if active.exists():
        return "This scenario has queued, running or waiting executions. Move it once they have finished."
    return None


@login_required
@require_GET
def export(request: HttpRequest, scenario_id: uuid.UUID) -> HttpResponse:
    scenario, _ = scenario_for(request, scenario_id)
    try:
        data = export_scenario(scenario)
    except Unexportable as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    body = json.dumps(data, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"{slugify(scenario.name) or 'scenario'}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def import_view(request: HttpRequest) -> HttpResponse:
    membership = require_current(request, Role.EDITOR)
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        notes: list[str] = []
        try:
            scenario = import_scenario(form.cleaned_data["data"], membership.team, user_of(request), notes)
        except ImportProblem as exc:
            problems = exc.problems
        else:
            messages.success(request, f"Imported “{scenario.name}” into {membership.team.name}.")
            for note in notes:
                messages.warning(request, note)
            return redirect("scenarios:editor", scenario_id=scenario.id)
    status = 400 if request.method == "POST" else 200
    return render(
        request, IMPORT, {"form": form, "problems": problems, "team": membership.team}, status=status
    )
