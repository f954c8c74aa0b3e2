from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from teams import members
from teams.models import Membership, Role, Team

pytestmark = pytest.mark.django_db


def membership(team: Team, user) -> Membership:
    return Membership.objects.get(team=team, user=user)


def role_url(cast, target) -> str:
    return reverse("teams:member_role", args=[cast.team.id, membership(cast.team, target).pk])


@pytest.mark.parametrize(
    ("actor_role", "expected"),
    [
        (Role.VIEWER, []),
        (Role.EDITOR, []),
        (Role.ADMIN, [Role.VIEWER, Role.EDITOR, Role.ADMIN]),
        (Role.OWNER, [Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER]),
    ],
)
def test_members_can_give_roles_up_to_their_own_and_only_from_admin_up(actor_role, expected):
    assert members.assignable_roles(Membership(role=actor_role)) == expected


def test_an_owner_promotes_a_viewer_to_admin(cast):
    response = cast.client_for(cast.alice).post(role_url(cast, cast.carol), {"role": Role.ADMIN})
    assert response.status_code == 302
    assert membership(cast.team, cast.carol).role == Role.ADMIN


def test_an_admin_manages_editors_but_cannot_make_owners_or_touch_an_owner(cast):
    Membership.objects.filter(team=cast.team, user=cast.bob).update(role=Role.ADMIN)
    bob = cast.client_for(cast.bob)
    assert bob.post(role_url(cast, cast.carol), {"role": Role.EDITOR}).status_code == 302
    assert membership(cast.team, cast.carol).role == Role.EDITOR
    assert bob.post(role_url(cast, cast.carol), {"role": Role.OWNER}).status_code == 302  # not offered
    assert membership(cast.team, cast.carol).role == Role.EDITOR
    assert bob.post(role_url(cast, cast.alice), {"role": Role.VIEWER}).status_code == 403
    remove_alice = reverse("teams:member_remove", args=[cast.team.id, membership(cast.team, cast.alice).pk])
    assert bob.post(remove_alice).status_code == 403
    assert membership(cast.team, cast.alice).role == Role.OWNER


def test_editors_and_viewers_cannot_manage_members(cast):
    for user in (cast.bob, cast.carol):
        response = cast.client_for(user).post(role_url(cast, cast.carol), {"role": Role.EDITOR})
        assert response.status_code == 403
    assert membership(cast.team, cast.carol).role == Role.VIEWER


def test_the_last_owner_cannot_be_demoted(cast):
    alice = cast.client_for(cast.alice)
    response = alice.post(role_url(cast, cast.alice), {"role": Role.ADMIN}, follow=True)
    assert "must keep at least one owner" in response.text
    assert membership(cast.team, cast.alice).role == Role.OWNER


def test_an_owner_can_step_down_once_someone_else_owns_the_team(cast):
    alice = cast.client_for(cast.alice)
    alice.post(role_url(cast, cast.bob), {"role": Role.OWNER})
    alice.post(role_url(cast, cast.alice), {"role": Role.EDITOR})
    assert membership(cast.team, cast.alice).role == Role.EDITOR
    assert membership(cast.team, cast.bob).role == Role.OWNER


def test_the_last_owner_cannot_leave_or_be_removed(cast):
    alice = cast.client_for(cast.alice)
    response = alice.post(reverse("teams:leave", args=[cast.team.id]), follow=True)
    assert "must keep at least one owner" in response.text
    own = membership(cast.team, cast.alice)
    response = alice.post(reverse("teams:member_remove", args=[cast.team.id, own.pk]), follow=True)
    assert "must keep at least one owner" in response.text
    with pytest.raises(members.MembershipRuleError):
        members.leave(own)
    assert membership(cast.team, cast.alice).role == Role.OWNER


def test_two_owners_cannot_both_leave(cast):
    Membership.objects.filter(team=cast.team, user=cast.bob).update(role=Role.OWNER)
    members.leave(membership(cast.team, cast.bob))
    with pytest.raises(members.MembershipRuleError):
        members.leave(membership(cast.team, cast.alice))


def test_a_member_leaves_and_loses_access(cast):
    carol = cast.client_for(cast.carol)
    response = carol.post(reverse("teams:leave", args=[cast.team.id]))
    assert response["Location"] == reverse("teams:list")
    assert not Membership.objects.filter(team=cast.team, user=cast.carol).exists()
    assert carol.get(reverse("teams:detail", args=[cast.team.id])).status_code == 404


def test_an_owner_removes_a_member(cast):
    target = membership(cast.team, cast.bob)
    response = cast.client_for(cast.alice).post(
        reverse("teams:member_remove", args=[cast.team.id, target.pk])
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_a_membership_of_another_team_is_not_found_from_this_team(cast):
    mallorys = membership(cast.other_team, cast.mallory)
    alice = cast.client_for(cast.alice)
    url = reverse("teams:member_role", args=[cast.team.id, mallorys.pk])
    assert alice.post(url, {"role": Role.VIEWER}).status_code == 404
    url = reverse("teams:member_remove", args=[cast.team.id, mallorys.pk])
    assert alice.post(url).status_code == 404
    assert membership(cast.other_team, cast.mallory).role == Role.OWNER


def test_the_rules_refuse_a_target_from_another_team_even_when_called_directly(cast):
    with pytest.raises(PermissionDenied):
        members.change_role(
            membership(cast.team, cast.alice), membership(cast.other_team, cast.mallory), Role.VIEWER
        )


def test_the_team_page_lists_members_and_shows_management_only_to_admins(cast):
    page = cast.client_for(cast.alice).get(reverse("teams:detail", args=[cast.team.id]))
    assert page.status_code == 200
    assert "carol" in page.text and "Invite people" in page.text
    page = cast.client_for(cast.carol).get(reverse("teams:detail", args=[cast.team.id]))
    assert "carol" in page.text and "Invite people" not in page.text
    assert cast.client_for(cast.mallory).get(reverse("teams:detail", args=[cast.team.id])).status_code == 404
