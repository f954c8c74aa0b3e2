"""Settings of the worker processes the durability tests start: the test settings, pointed at the
test database of the pytest process that started them, plus the test job source."""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import CHANNEL_LAYERS, DATABASES, INSTALLED_APPS

DATABASES["default"]["NAME"] = os.environ["SCENERY_TEST_DATABASE_NAME"]
if not DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Lets a test find (and cut) the workers' PostgreSQL connections.
    DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = "scenery-test-worker"
INSTALLED_APPS = [*INSTALLED_APPS, "tests.durability.apps.DurabilityJobsConfig"]
_layer: dict = CHANNEL_LAYERS["default"]
if "CONFIG" in _layer:
    # Each pytest process gets its own channel names, so concurrent runs never wake each other.
    _layer["CONFIG"]["prefix"] = os.environ.get("SCENERY_CHANNEL_PREFIX", "asgi")
EXECUTOR_POLL_SECONDS = float(os.environ.get("EXECUTOR_POLL_SECONDS", "0.5"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
