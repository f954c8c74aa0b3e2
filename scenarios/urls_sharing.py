from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from scenarios import sharing

# Copying and moving scenarios between teams, and JSON export/import (scenarios/sharing.py).
urlpatterns: list[URLPattern | URLResolver] = [
    path("scenarios/import/", sharing.import_view, name="import"),
    path("scenarios/<uuid:scenario_id>/share/", sharing.share, name="share"),
    path("scenarios/<uuid:scenario_id>/copy/", sharing.copy_to_team, name="copy_to_team"),
    path("scenarios/<uuid:scenario_id>/move/", sharing.move_to_team, name="move_to_team"),
    path("scenarios/<uuid:scenario_id>/export/", sharing.export, name="export"),
]
