"""What every editor view starts with: the signed-in user and a scenario looked up in their teams."""

from __future__ import annotations

import uuid
from typing import cast

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from scenarios.models import Scenario
from teams.models import Membership, Role, User
from teams.scoping import get_scoped


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def user_of(request: HttpRequest) -> User:
    # Only called behind @login_required.
    return cast(User, request.user)


def scenario_for(
    request: HttpRequest, scenario_id: uuid.UUID, role: Role = Role.VIEWER
) -> tuple[Scenario, Membership]:
    """The scenario if the user's team owns it (404 otherwise) and their role there allows `role` (403)."""
    return get_scoped(request.user, Scenario.objects.select_related("team"), role, id=scenario_id)
