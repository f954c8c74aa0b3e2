"""Who may change whose membership, and the rule that a team always keeps an owner.

Admins manage members up to their own role; owners manage everyone. Permission failures are 403
(PermissionDenied); a change that would leave a team without an owner is a MembershipRuleError whose
message is shown to the user.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from teams.models import Membership, Role, Team

LAST_OWNER = "{team} must keep at least one owner. Make someone else an owner first."


class MembershipRuleError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def assignable_roles(actor: Membership) -> list[Role]:
    """The roles `actor` may give (to invitees or members): admin and up, never above their own."""
    if actor.role < Role.ADMIN:
        return []
    return [role for role in Role if role <= actor.role]


def check_can_manage(actor: Membership, target: Membership) -> None:
    if actor.team_id != target.team_id:  # the views look targets up in the actor's team; be sure
        raise PermissionDenied("Not a member of this team.")
    if actor.role < Role.ADMIN:
        raise PermissionDenied("Managing members needs the admin role or higher.")
    if target.role > actor.role:
        raise PermissionDenied(f"Only an owner can change an {target.get_role_display().lower()}.")


def change_role(actor: Membership, target: Membership, role: Role) -> None:
    check_can_manage(actor, target)
    if role not in assignable_roles(actor):
        raise PermissionDenied(f"You cannot give the {role.label.lower()} role.")
    with transaction.atomic():
        target = _locked(target)
        if target.role == Role.OWNER and role != Role.OWNER:
            _keep_an_owner(target.team)
        target.role = role
        target.save(update_fields=["role"])


def remove(actor: Membership, target: Membership) -> None:
    if actor.pk != target.pk:
        check_can_manage(actor, target)
    leave(target)  # the same deletion, under the same last-owner rule


def leave(membership: Membership) -> None:
    with transaction.atomic():
        membership = _locked(membership)
        if membership.role == Role.OWNER:
            _keep_an_owner(membership.team)
        membership.delete()


def _locked(membership: Membership) -> Membership:
    return Membership.objects.select_for_update().select_related("team").get(pk=membership.pk)


def _keep_an_owner(team: Team) -> None:
    """Refuse when the owner about to go is the last one. Called inside the change's transaction."""
    owners = list(
        Membership.objects.select_for_update().filter(team=team, role=Role.OWNER).values_list("pk", flat=True)
    )
    if len(owners) <= 1:
        raise MembershipRuleError(LAST_OWNER.format(team=team.name))
