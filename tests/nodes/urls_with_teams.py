"""A URL configuration with a stand-in for the teams helper's inline "new credential" endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def credential_new(request: HttpRequest) -> HttpResponse:
    return HttpResponse("new credential form")


teams_patterns = ([path("credentials/new/", credential_new, name="credential_new")], "teams")
urlpatterns = [path("teams/", include(teams_patterns))]
