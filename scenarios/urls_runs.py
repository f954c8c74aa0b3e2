from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from scenarios import webhooks

# Run-time endpoints. Webhooks are authenticated by their secret token, so they carry no CSRF token.
urlpatterns: list[URLPattern | URLResolver] = [
    path("hooks/<str:token>", webhooks.webhook, name="webhook"),
    path("hooks/<str:token>/", webhooks.webhook),
]
