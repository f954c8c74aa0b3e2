from __future__ import annotations

import re
from datetime import timedelta
from unittest.mock import patch

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from teams.models import Invitation, Membership, Role, User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def invite(client: Client, in_team, **data):
    response = client.post(reverse("teams:invite", args=[in_team.id]), data)
    assert response.status_code == 201, response.text
    match = re.search(r'value="(http://testserver/invitations/[^"]+/)"', response.text)
    assert match, "the new link is shown once"
    return match.group(1).removeprefix("http://testserver"), response


@pytest.fixture
def dave(cast) -> User:
    return make_user("dave")


def test_an_email_invitation_is_mailed_and_accepted_with_the_invited_role(cast, dave, mailoutbox):
    link, _ = invite(cast.client_for(cast.alice), cast.team, email="dave@example.com", role=Role.EDITOR)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["dave@example.com"]
    assert link in mailoutbox[0].body
    client = cast.client_for(dave)
    page = client.get(link)
    assert page.status_code == 200 and "Join “Alice&#x27;s team”" in page.text
    response = client.post(link + "accept/")
    assert response["Location"] == reverse("teams:detail", args=[cast.team.id])
    assert cast.team.role_of(dave) == Role.EDITOR


def test_the_token_is_stored_only_as_a_hash(cast):
    link, _ = invite(cast.client_for(cast.alice), cast.team, role=Role.VIEWER)
    token = link.split("/")[2]
    invitation = Invitation.objects.get()
    assert token not in invitation.token_hash
    assert Invitation.find(token) == invitation


def test_a_link_invitation_works_for_any_signed_in_user_once(cast, dave):
    link, _ = invite(cast.client_for(cast.alice), cast.team, role=Role.VIEWER)
    assert cast.client_for(dave).post(link + "accept/").status_code == 302
    assert cast.team.role_of(dave) == Role.VIEWER
    erin = make_user("erin")
    reused = cast.client_for(erin).post(link + "accept/")
    assert reused.status_code == 410
    assert "This invitation was already used" in reused.text
    assert cast.team.role_of(erin) is None


def test_a_declined_invitation_cannot_be_accepted_afterwards(cast, dave, world):
    client = cast.client_for(dave)
    link = reverse("teams:invitation", args=[world.invitation_token])
    assert client.post(link + "decline/").status_code == 302
    assert Invitation.objects.get(pk=world.invitation.pk).status == Invitation.Status.DECLINED
    response = client.post(link + "accept/")
    assert response.status_code == 410
    assert cast.team.role_of(dave) is None


def test_an_expired_invitation_says_so(cast, dave, world):
    Invitation.objects.filter(pk=world.invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client = cast.client_for(dave)
    link = reverse("teams:invitation", args=[world.invitation_token])
    page = client.get(link)
    assert page.status_code == 410 and "This invitation expired on" in page.text
    assert client.post(link + "accept/").status_code == 410
    assert cast.team.role_of(dave) is None


def test_an_invitation_for_another_address_is_refused_without_revealing_it(cast, world):
    client = cast.client_for(cast.mallory)
    link = reverse("teams:invitation", args=[world.invitation_token])
    response = client.post(link + "accept/")
    assert response.status_code == 403
    assert "was sent to d•••@example.com" in response.text
    assert "dave@example.com" not in response.text
    assert cast.team.role_of(cast.mallory) is None
    assert Invitation.objects.get(pk=world.invitation.pk).status == Invitation.Status.PENDING


def test_the_address_is_compared_without_case(cast, world):
    dave = User.objects.create_user("dave", email="Dave@Example.com", password="x-long-password-1")
    assert (
        cast.client_for(dave)
        .post(reverse("teams:invitation_accept", args=[world.invitation_token]))
        .status_code
        == 302
    )
    assert cast.team.role_of(dave) == Role.EDITOR


def test_an_unknown_token_is_a_clear_404(cast):
    response = cast.client_for(cast.bob).get(reverse("teams:invitation", args=["not-a-real-token"]))
    assert response.status_code == 404
    assert "This invitation link is not valid" in response.text


def test_a_member_cannot_join_twice(cast):
    link, _ = invite(cast.client_for(cast.alice), cast.team, role=Role.ADMIN)
    response = cast.client_for(cast.carol).post(link + "accept/")
    assert response.status_code == 409
    assert Membership.objects.get(team=cast.team, user=cast.carol).role == Role.VIEWER


def test_a_withdrawn_invitation_cannot_be_used(cast, dave, world):
    url = reverse("teams:invitation_revoke", args=[cast.team.id, world.invitation.id])
    assert cast.client_for(cast.alice).post(url).status_code == 302
    response = cast.client_for(dave).post(reverse("teams:invitation_accept", args=[world.invitation_token]))
    assert response.status_code == 410 and "withdrawn" in response.text


def test_anonymous_visitors_are_sent_to_log_in_and_back(cast, world):
    link = reverse("teams:invitation", args=[world.invitation_token])
    response = Client().get(link)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("teams:login"))
    assert "next=" in response["Location"]


def test_only_admins_invite_and_never_above_their_own_role(cast):
    url = reverse("teams:invite", args=[cast.team.id])
    assert cast.client_for(cast.bob).post(url, {"role": Role.VIEWER}).status_code == 403
    Membership.objects.filter(team=cast.team, user=cast.bob).update(role=Role.ADMIN)
    response = cast.client_for(cast.bob).post(url, {"role": Role.OWNER})
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_an_invitation_is_for_the_team_in_the_url_whatever_is_posted(cast, dave):
    link, _ = invite(cast.client_for(cast.alice), cast.team, role=Role.VIEWER, team=str(cast.other_team.id))
    cast.client_for(dave).post(link + "accept/")
    assert cast.team.role_of(dave) == Role.VIEWER
    assert cast.other_team.role_of(dave) is None


def test_a_mail_failure_keeps_the_invitation_and_shows_the_link(cast):
    with patch("teams.invitation_views.EmailMessage.send", side_effect=ConnectionRefusedError):
        _, response = invite(cast.client_for(cast.alice), cast.team, email="x@example.com", role=Role.VIEWER)
    assert "could not be sent" in response.text
    assert Invitation.objects.filter(email="x@example.com").exists()
