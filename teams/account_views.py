"""Sign-up, and the `next` handling shared by the account pages. Log in/out and passwords use Django's
auth views (see teams/urls.py) with our templates."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import PasswordResetView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from teams.forms import SignupForm, ThrottledPasswordResetForm
from teams.models import Team, User
from teams.scoping import SESSION_TEAM_KEY


def signed_in(request: HttpRequest) -> User:
    """The user of a request behind @login_required."""
    return cast(User, request.user)


def safe_next(request: HttpRequest) -> str:
    """The `next` URL of the request when it stays on this site, else ""."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if allowed else ""


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            team = Team.bootstrap(user, f"{user.username}'s team")
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_TEAM_KEY] = str(team.id)
        messages.success(request, f"Welcome to Scenery, {user.username}. “{team.name}” is your own team.")
        return redirect(safe_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "teams/signup.html", {"form": form, "next": safe_next(request)})


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset, with the request handed to the form for its throttle."""

    form_class = ThrottledPasswordResetForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}
