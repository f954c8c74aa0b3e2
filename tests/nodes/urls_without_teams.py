"""A URL configuration without the teams helper's endpoints (the form must still render)."""

from __future__ import annotations

urlpatterns: list[object] = []
