from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from teams.models import Membership
from teams.scoping import current_membership


def current_team(request: HttpRequest) -> dict[str, Any]:
    membership = current_membership(request)
    if membership is None:
        return {}
    return {
        "current_membership": membership,
        "current_team": membership.team,
        "my_memberships": Membership.objects.select_related("team").filter(user=membership.user),
    }
