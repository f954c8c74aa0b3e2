"""Test settings: the project's settings with fixed keys and an isolated database per test process."""

from __future__ import annotations

import os

os.environ.setdefault("CREDENTIAL_KEYS", "nKMEb8EqNDPVqjgPPhtjhQEmzSdKXjQhcBBKq5NVsDg=")
os.environ.setdefault("SECRET_KEY", "scenery-tests")

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES  # noqa: E402

# Stub providers and live servers listen on random loopback ports.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Each test process its own cache, emptied after each test (tests/conftest.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EXECUTOR_POLL_SECONDS = 0.2
# The test process executes in-process even with REDIS_URL (tests drive the web side and expect
# executions to run); tests/durability starts real `manage.py executor` processes for the worker layout.
EXECUTOR = os.environ.get("EXECUTOR", "inprocess")

# A file (not :memory:) so live servers in other processes share it; one per test process so
# concurrent runs do not collide.
_suffix = os.environ.get("PYTEST_XDIST_WORKER", "") + str(os.getpid())
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": f"/tmp/scenery-test-{_suffix}.sqlite3"}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_scenery_{_suffix}"}
