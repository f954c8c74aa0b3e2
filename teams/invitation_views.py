"""Invitations: issue (by email or as a link), withdraw, and the invitee's accept/decline page.

The token is in the link only; the database keeps its hash. An unknown, expired, used or withdrawn
token, or one sent to another address, gets a page saying so (never a crash or a silent join).
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.mail import EmailMessage
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from teams import members
from teams.account_views import signed_in
from teams.forms import InviteForm
from teams.models import Invitation, InvitationError, Role
from teams.scoping import SESSION_TEAM_KEY
from teams.team_views import team_membership, team_page_context

logger = logging.getLogger(__name__)


@login_required
@require_POST
def invite(request: HttpRequest, team_id: UUID) -> HttpResponse:
    actor = team_membership(request, team_id, Role.ADMIN)
    form = InviteForm(request.POST, roles=members.assignable_roles(actor))
    if not form.is_valid():
        context = team_page_context(actor, invite_form=form)
        return render(request, "teams/team_detail.html", context, status=400)
    invitation, token = Invitation.issue(
        actor.team,
        form.cleaned_data["role"],
        signed_in(request),
        email=form.cleaned_data["email"],
    )
    link = request.build_absolute_uri(reverse("teams:invitation", args=[token]))
    if invitation.email and not _send(invitation, link):
        messages.warning(request, "The email could not be sent; give the link below to the person yourself.")
    # The link exists only in this response (the database keeps its hash), so render, not redirect.
    context = team_page_context(actor, new_invitation=invitation, new_link=link)
    return render(request, "teams/team_detail.html", context, status=201)


def _send(invitation: Invitation, link: str) -> bool:
    body = render_to_string("teams/invitation_email.txt", {"invitation": invitation, "link": link})
    subject = f"Join {invitation.team.name} on Scenery"
    try:
        EmailMessage(subject, body, None, [invitation.email]).send()
    except Exception:  # the SMTP server's problem must not lose the invitation
        logger.exception("could not send invitation %s", invitation.id)
        return False
    return True


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, team_id: UUID, invitation_id: UUID) -> HttpResponse:
    actor = team_membership(request, team_id, Role.ADMIN)
    invitation = actor.team.invitations.filter(pk=invitation_id, status=Invitation.Status.PENDING).first()
    if invitation is None:
        raise Http404("Not found")
    if invitation.role > actor.role:
        messages.error(request, "Only an owner can withdraw an invitation to become owner.")
    else:
        invitation.status = Invitation.Status.REVOKED
        invitation.save(update_fields=["status"])
        messages.success(request, f"Withdrew the invitation {invitation.email or 'link'}.")
    return redirect("teams:detail", team_id=team_id)


# ---- the invitee's side


def _render(
    request: HttpRequest, invitation: Invitation | None, error: InvitationError | None
) -> HttpResponse:
    status = error.status if error else 200
    context = {"invitation": invitation, "error": error.message if error else ""}
    return render(request, "teams/invitation.html", context, status=status)


def _lookup(token: str) -> Invitation:
    invitation = Invitation.find(token)
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Check that you copied all of it.", 404)
    return invitation


@login_required
@require_GET
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = _lookup(token)
        found.check_usable_by(signed_in(request))
    except InvitationError as exc:
        return _render(request, None, exc)
    return _render(request, found, None)


@login_required
@require_POST
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        membership = _lookup(token).accept(signed_in(request))
    except InvitationError as exc:
        return _render(request, None, exc)
    request.session[SESSION_TEAM_KEY] = str(membership.team_id)
    role = membership.get_role_display().lower()
    messages.success(request, f"You joined “{membership.team.name}” as {role}.")
    return redirect("teams:detail", team_id=membership.team_id)


@login_required
@require_POST
def invitation_decline(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = _lookup(token)
        found.decline(signed_in(request))
    except InvitationError as exc:
        return _render(request, None, exc)
    messages.info(request, f"You declined the invitation to “{found.team.name}”.")
    return redirect("teams:list")
