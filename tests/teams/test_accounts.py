from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from teams.models import Membership, Role, User
from teams.scoping import SESSION_TEAM_KEY
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a much longer passphrase 42"


def sign_up(client: Client, username: str = "erin", email: str = "erin@example.com", **extra: str):
    data = {"username": username, "email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    return client.post(reverse("teams:signup"), data | extra)


def test_signing_up_creates_a_personal_team_owned_by_the_new_user_and_logs_in():
    client = Client()
    response = sign_up(client)
    assert response.status_code == 302
    user = User.objects.get(username="erin")
    membership = Membership.objects.get(user=user)
    assert membership.role == Role.OWNER
    assert membership.team.name == "erin's team"
    assert client.session[SESSION_TEAM_KEY] == str(membership.team_id)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signing_up_with_an_email_already_in_use_is_refused_and_creates_nothing(cast):
    response = sign_up(Client(), email="ALICE@example.com")
    assert response.status_code == 200
    assert "An account with this email address already exists." in response.text
    assert not User.objects.filter(username="erin").exists()


def test_signing_up_follows_a_safe_next_but_not_another_site():
    response = sign_up(Client(), next="/teams/")
    assert response["Location"] == "/teams/"
    response = sign_up(Client(), username="frank", email="frank@example.com", next="https://evil.example/")
    assert "evil.example" not in response["Location"]


def test_the_login_page_logs_in_and_offers_sign_up_and_reset(cast):
    client = Client()
    page = client.get(reverse("teams:login"))
    assert page.status_code == 200
    assert reverse("teams:signup") in page.text and reverse("teams:password_reset") in page.text
    response = client.post(reverse("teams:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(cast.alice.pk)


def test_a_wrong_password_says_so_without_logging_in(cast):
    client = Client()
    response = client.post(reverse("teams:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert "_auth_user_id" not in client.session


def test_logging_out_needs_a_post_and_ends_the_session(cast):
    client = cast.client_for(cast.alice)
    assert client.get(reverse("teams:logout")).status_code == 405
    assert client.post(reverse("teams:logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_changing_the_password_needs_the_old_one(cast):
    client = cast.client_for(cast.alice)
    url = reverse("teams:password_change")
    wrong = {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    assert "Your old password was entered incorrectly" in client.post(url, wrong).text
    right = wrong | {"old_password": PASSWORD}
    assert client.post(url, right)["Location"] == reverse("teams:password_change_done")
    cast.alice.refresh_from_db()
    assert cast.alice.check_password(NEW_PASSWORD)


def test_a_password_reset_mails_a_link_that_sets_a_new_password(cast, mailoutbox):
    client = Client()
    response = client.post(reverse("teams:password_reset"), {"email": "alice@example.com"})
    assert response["Location"] == reverse("teams:password_reset_done")
    assert len(mailoutbox) == 1
    link = re.search(r"http://testserver(/password/reset/\S+/)", mailoutbox[0].body)
    assert link, mailoutbox[0].body
    form = client.get(link.group(1), follow=True)
    assert "Choose a new password" in form.text
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done["Location"] == reverse("teams:password_reset_complete")
    cast.alice.refresh_from_db()
    assert cast.alice.check_password(NEW_PASSWORD)


def test_a_password_reset_for_an_unknown_address_sends_nothing_and_looks_the_same(cast, mailoutbox):
    response = Client().post(reverse("teams:password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("teams:password_reset_done")
    assert mailoutbox == []


def test_a_used_reset_link_says_it_no_longer_works(cast):
    response = Client().get(reverse("teams:password_reset_confirm", args=["MQ", "bad-token"]))
    assert "This link no longer works" in response.text
