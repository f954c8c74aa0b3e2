from __future__ import annotations

import httpx
import pytest


@pytest.mark.django_db(transaction=True)
def test_the_live_server_serves_static_files_and_refuses_unknown_paths(asgi_server):
    assert httpx.get(f"{asgi_server.url}/static/scenery/app.css").status_code == 200
    assert httpx.get(f"{asgi_server.url}/no-such-page/").status_code == 404
