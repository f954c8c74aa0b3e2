from __future__ import annotations

from django.urls import URLPattern, URLResolver

from scenarios import urls_editor, urls_runs

app_name = "scenarios"
# Pages and fragments of the editor (urls_editor) and the run-time endpoints: webhooks, runs (urls_runs).
urlpatterns: list[URLPattern | URLResolver] = [*urls_editor.urlpatterns, *urls_runs.urlpatterns]
