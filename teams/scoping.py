"""The one place where team scope and roles are decided.

Every view, fragment, consumer, webhook, gateway endpoint and command goes through these helpers.
Objects of a team the user is not a member of are 404, exactly like unknown ids; a member whose role
is too low for the action gets 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404

from teams.models import Membership, Role, Team

if TYPE_CHECKING:
    from django.http import HttpRequest

    from teams.models import User


SESSION_TEAM_KEY = "current_team"


class TeamOwned(Protocol):
    team_id: Any


def membership_for(user: User | Any, team: Team | Any) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    team_id = team.pk if isinstance(team, Team) else team
    try:
        return Membership.objects.select_related("team").filter(team_id=team_id, user=user).first()
    except (ValidationError, ValueError, TypeError):  # a malformed team id is no team of the user's
        return None


def require_role(membership: Membership | None, role: Role) -> Membership:
    """404 for strangers, 403 for members whose role is below `role`."""
    if membership is None:
        raise Http404("Not found")
    if not membership.allows(role):
        raise PermissionDenied(f"This needs the {role.label.lower()} role or higher.")
    return membership


def get_scoped[M: models.Model](
    user: User | Any,
    queryset: models.QuerySet[M],
    role: Role = Role.VIEWER,
    team_field: str = "team",
    **lookup: Any,
) -> tuple[M, Membership]:
    """Fetch one object through `team_field` among the user's teams, and check the role there.

    Returns the object and the user's membership in its team. Unknown ids and objects of teams the
    user is not in are both 404.
    """
    if not getattr(user, "is_authenticated", False):
        raise Http404("Not found")
    try:
        obj = queryset.filter(**{f"{team_field}__memberships__user": user}).get(**lookup)
    except (models.ObjectDoesNotExist, ValidationError, ValueError, TypeError) as exc:
        # ValidationError: a malformed id ("nonsense" for a UUID) is just another unknown id.
        raise Http404("Not found") from exc
    team_id = _team_id_of(obj, team_field)
    membership = require_role(membership_for(user, team_id), role)
    return obj, membership


def _team_id_of(obj: models.Model, team_field: str) -> Any:
    target: Any = obj
    parts = team_field.split("__")
    for part in parts[:-1]:
        target = getattr(target, part)
    return getattr(target, f"{parts[-1]}_id")


def current_membership(request: HttpRequest) -> Membership | None:
    """The membership of the team the user is working in (chosen in the header, kept in the session).

    Falls back to the user's first team; the team id in the session is always re-checked.
    """
    user = request.user
    if not user.is_authenticated:
        return None
    cached: Membership | None = getattr(request, "_current_membership", None)
    if cached is not None:
        return cached
    memberships = Membership.objects.select_related("team").filter(user=user)
    team_id = request.session.get(SESSION_TEAM_KEY)
    membership = memberships.filter(team_id=team_id).first() if team_id else None
    if membership is None:
        membership = memberships.order_by("created_at").first()
        if membership is not None:
            request.session[SESSION_TEAM_KEY] = str(membership.team_id)
    request._current_membership = membership  # type: ignore[attr-defined]
    return membership


def require_current(request: HttpRequest, role: Role = Role.VIEWER) -> Membership:
    return require_role(current_membership(request), role)
