from __future__ import annotations

from django.urls import URLPattern, URLResolver

from scenarios import urls_editor, urls_runs, urls_sharing

app_name = "scenarios"
# Pages and fragments of the editor (urls_editor), the run-time endpoints: webhooks, runs (urls_runs),
# and moving/copying/exporting scenarios between teams (urls_sharing).
urlpatterns: list[URLPattern | URLResolver] = [
    *urls_editor.urlpatterns,
    *urls_runs.urlpatterns,
    *urls_sharing.urlpatterns,
]
