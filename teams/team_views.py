"""Teams: list and create, switch the current one, the team page (members, invitations), rename,
leave, delete; member roles and removal.

Team-addressed pages look the membership up with `teams.scoping`: a team the user is not in is 404,
exactly like an unknown id; a role too low for the action is 403, checked before any form is read.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from scenarios.models import Execution
from teams import members
from teams.account_views import safe_next, signed_in
from teams.forms import DeleteTeamForm, InviteForm, RoleForm, TeamForm
from teams.models import Invitation, Membership, Role, Team
from teams.scoping import SESSION_TEAM_KEY, membership_for, require_role


def team_membership(request: HttpRequest, team_id: UUID, role: Role = Role.VIEWER) -> Membership:
    return require_role(membership_for(request.user, team_id), role)


def active_executions(team: Team) -> int:
    statuses = [Execution.Status.QUEUED, Execution.Status.RUNNING]
    return Execution.objects.filter(scenario__team=team, status__in=statuses).count()


# ---- my teams, create, switch


@login_required
@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    memberships = (
        Membership.objects.filter(user=signed_in(request)).select_related("team").order_by("team__name")
    )
    return render(request, "teams/team_list.html", {"memberships": memberships, "form": TeamForm()})


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST)
    if not form.is_valid():
        memberships = Membership.objects.filter(user=signed_in(request)).select_related("team")
        return render(request, "teams/team_list.html", {"memberships": memberships, "form": form}, status=400)
    team = Team.bootstrap(signed_in(request), form.cleaned_data["name"])
    request.session[SESSION_TEAM_KEY] = str(team.id)
    messages.success(request, f"Created “{team.name}”. You are its owner; invite people below.")
    return redirect("teams:detail", team_id=team.id)


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    membership = membership_for(request.user, _uuid_or_404(request.POST.get("team", "")))
    if membership is None:
        raise Http404("Not found")
    request.session[SESSION_TEAM_KEY] = str(membership.team_id)
    return redirect(_team_neutral(safe_next(request)) or "/")


def _uuid_or_404(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise Http404("Not found") from exc


def _team_neutral(path: str) -> str:
    """`path` if it is a page of "the current team" (no object in its URL), so switching stays there."""
    try:
        match = resolve(path.split("?", 1)[0])
    except Resolver404:
        return ""
    return "" if match.kwargs else path


# ---- the team page


@login_required
@require_GET
def team_detail(request: HttpRequest, team_id: UUID) -> HttpResponse:
    membership = team_membership(request, team_id)
    return render(request, "teams/team_detail.html", team_page_context(membership))


def team_page_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    team = membership.team
    roles = members.assignable_roles(membership)
    people = team.memberships.select_related("user").order_by("-role", "user__username")
    rows = [
        {"membership": m, "manageable": bool(roles) and m.role <= membership.role and m.pk != membership.pk}
        for m in people
    ]
    context: dict[str, Any] = {
        "team": team,
        "membership": membership,
        "rows": rows,
        "roles": roles,
        "can_manage": bool(roles),
        "is_owner": membership.role == Role.OWNER,
        "rename_form": TeamForm(instance=team),
        "invite_form": InviteForm(roles=roles) if roles else None,
    }
    if roles:
        context["invitations"] = team.invitations.filter(status=Invitation.Status.PENDING)
    context.update(extra)
    return context


@login_required
@require_POST
def team_rename(request: HttpRequest, team_id: UUID) -> HttpResponse:
    membership = team_membership(request, team_id, Role.ADMIN)
    form = TeamForm(request.POST, instance=membership.team)
    if not form.is_valid():
        context = team_page_context(membership, rename_form=form)
        return render(request, "teams/team_detail.html", context, status=400)
    form.save()
    messages.success(request, f"Renamed the team to “{form.instance.name}”.")
    return redirect("teams:detail", team_id=team_id)


@login_required
@require_http_methods(["GET", "POST"])
def team_delete(request: HttpRequest, team_id: UUID) -> HttpResponse:
    membership = team_membership(request, team_id, Role.OWNER)
    team = membership.team
    form = DeleteTeamForm(request.POST or None, team=team)
    status = 200
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            running = active_executions(team)
            if not running:
                name = team.name
                team.delete()
        if not running:
            if request.session.get(SESSION_TEAM_KEY) == str(team_id):
                del request.session[SESSION_TEAM_KEY]
            messages.success(request, f"Deleted “{name}” with its scenarios, executions and credentials.")
            return redirect("teams:list")
        status = 409
        form.add_error(None, _running_message(running))
    elif request.method == "POST":
        status = 400
    context = {
        "team": team,
        "form": form,
        "running": active_executions(team),
        "counts": {
            "scenarios": team.scenarios.count(),
            "credentials": team.credentials.count(),
            "members": team.memberships.count(),
        },
    }
    return render(request, "teams/team_delete.html", context, status=status)


def _running_message(count: int) -> str:
    runs = "execution is" if count == 1 else "executions are"
    return f"{count} {runs} still queued or running in this team. Wait for them to finish or cancel them."


@login_required
@require_POST
def team_leave(request: HttpRequest, team_id: UUID) -> HttpResponse:
    membership = team_membership(request, team_id)
    try:
        members.leave(membership)
    except members.MembershipRuleError as exc:
        messages.error(request, exc.message)
        return redirect("teams:detail", team_id=team_id)
    if request.session.get(SESSION_TEAM_KEY) == str(team_id):
        del request.session[SESSION_TEAM_KEY]
    messages.success(request, f"You left “{membership.team.name}”.")
    return redirect("teams:list")


# ---- members


def _target(actor: Membership, membership_id: int) -> Membership:
    # Looked up inside the actor's own team, so another team's membership id is 404.
    target = actor.team.memberships.select_related("user", "team").filter(pk=membership_id).first()
    if target is None:
        raise Http404("Not found")
    return target


@login_required
@require_POST
def member_role(request: HttpRequest, team_id: UUID, membership_id: int) -> HttpResponseBase:
    actor = team_membership(request, team_id, Role.ADMIN)
    target = _target(actor, membership_id)
    members.check_can_manage(actor, target)
    form = RoleForm(request.POST, roles=members.assignable_roles(actor))
    if not form.is_valid():
        messages.error(request, "Choose one of the roles offered.")
        return redirect("teams:detail", team_id=team_id)
    role: Role = form.cleaned_data["role"]
    try:
        members.change_role(actor, target, role)
    except members.MembershipRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{target.user.username} is now {role.label.lower()}.")
    return redirect("teams:detail", team_id=team_id)


@login_required
@require_POST
def member_remove(request: HttpRequest, team_id: UUID, membership_id: int) -> HttpResponseBase:
    actor = team_membership(request, team_id, Role.ADMIN)
    target = _target(actor, membership_id)
    try:
        members.remove(actor, target)
    except members.MembershipRuleError as exc:
        messages.error(request, exc.message)
        return redirect("teams:detail", team_id=team_id)
    if target.pk == actor.pk:
        messages.success(request, f"You left “{actor.team.name}”.")
        return redirect("teams:list")
    messages.success(request, f"Removed {target.user.username} from the team.")
    return redirect("teams:detail", team_id=team_id)
