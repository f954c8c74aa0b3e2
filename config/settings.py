"""Scenery settings: one file, read from the environment (and a local .env when present)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# A fixed development key keeps `make run` working before .env exists; production sets SECRET_KEY.
SECRET_KEY = env("SECRET_KEY", default="scenery-development-only-insecure-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys for secrets at rest: the first encrypts, every key decrypts (rotation).
CREDENTIAL_KEYS: list[str] = env.list("CREDENTIAL_KEYS", default=[])
if not CREDENTIAL_KEYS:
    raise ImproperlyConfigured(
        "CREDENTIAL_KEYS is not set. Scenery encrypts credentials with it. Run `make run` once "
        "(it writes a .env with a generated key), or set CREDENTIAL_KEYS to one or more comma-separated "
        "keys from `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
    )

INSTALLED_APPS = [
    "teams",
    "durable",
    "scenarios",
    "nodes",
    "gateway",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "channels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.nul_in_path_is_not_found",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "teams.context_processors.current_team",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets readers work while the executor writes; IMMEDIATE takes the write lock at BEGIN
            # so two writers queue on the busy timeout instead of failing mid-transaction.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 5}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "teams.User"
LOGIN_URL = "teams:login"
LOGIN_REDIRECT_URL = "scenarios:list"
LOGOUT_REDIRECT_URL = "teams:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end packages installed by npm (package.json); only their dist folders are exposed.
    ("vendor/x6", BASE_DIR / "node_modules/@antv/x6/dist"),
    ("vendor/dagre", BASE_DIR / "node_modules/@dagrejs/dagre/dist"),
]

# Channels: without Redis, the in-memory layer and the durable executor inside the one web process;
# with REDIS_URL, channels_redis as shipped (its Pub/Sub layer) and separate `manage.py executor`
# workers. Every message Scenery sends is a wake-up or a live update (the database is the truth), so
# Pub/Sub's at-most-once delivery to whoever listens now is what they need, at one PUBLISH a send
# where the list-based layer spends four round trips a send and polls to receive.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # Pub/Sub channels are server-wide, not per database number: sites sharing a Redis server on
    # different databases must not hear each other. The layer prefixes groups and new channels; the
    # executor's wake-up channel is a plain name, so it carries the prefix itself.
    CHANNEL_PREFIX = f"scenery-db{urlsplit(REDIS_URL).path.strip('/') or '0'}-"
    EXECUTOR_WAKE_CHANNEL = f"{CHANNEL_PREFIX}executor"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 5}],
                "prefix": CHANNEL_PREFIX,
            },
        }
    }
else:
    EXECUTOR_WAKE_CHANNEL = "scenery-executor"
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Shared by every web process: the throttle's counters (teams/throttle.py) live here.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env("CACHE_DIR", default=str(BASE_DIR / ".cache")),
        }
    }
# Brute force: past this many failed sign-ins, gateway key failures or password-reset requests of
# one account or from one address, more are refused until THROTTLE_SECONDS after the last one.
THROTTLE_ACCOUNT_ATTEMPTS = env.int("THROTTLE_ACCOUNT_ATTEMPTS", default=10)
THROTTLE_ADDRESS_ATTEMPTS = env.int("THROTTLE_ADDRESS_ATTEMPTS", default=50)
THROTTLE_SECONDS = env.int("THROTTLE_SECONDS", default=900)
# "inprocess": the web process runs executions; "worker": only `manage.py executor` processes do.
EXECUTOR = env("EXECUTOR", default="worker" if REDIS_URL else "inprocess")
EXECUTOR_POLL_SECONDS = env.float("EXECUTOR_POLL_SECONDS", default=2.0)
EXECUTOR_LEASE_SECONDS = env.float("EXECUTOR_LEASE_SECONDS", default=30.0)
EXECUTOR_MAX_ATTEMPTS = env.int("EXECUTOR_MAX_ATTEMPTS", default=3)
EXECUTOR_CONCURRENCY = env.int("EXECUTOR_CONCURRENCY", default=32)
# How long a stopping worker (SIGTERM) lets running jobs finish before releasing them to others.
EXECUTOR_GRACE_SECONDS = env.float("EXECUTOR_GRACE_SECONDS", default=20.0)
# Job sources this process serves (comma-separated names, e.g. "gateway-runs"); unset = all of them.
EXECUTOR_SOURCES: list[str] | None = env.list("EXECUTOR_SOURCES") if env.str("EXECUTOR_SOURCES", "") else None

# Webhooks
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
WEBHOOK_RESPONSE_DEADLINE = env.float("WEBHOOK_RESPONSE_DEADLINE", default=30.0)
# A team with this many executions waiting gets 429 + Retry-After from its webhooks (0: no cap).
WEBHOOK_MAX_QUEUED_PER_TEAM = env.int("WEBHOOK_MAX_QUEUED_PER_TEAM", default=1000)
# Calls of one webhook in flight per web process; more get 429 + Retry-After (scenarios/runtime/backlog.py).
WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK", default=8)
# A call over that cap waits in line this long for a slot (first come, first served) before its 429;
# at most WEBHOOK_DOOR_LINE calls of one webhook wait, more are refused at once.
WEBHOOK_DOOR_WAIT_SECONDS = env.float("WEBHOOK_DOOR_WAIT_SECONDS", default=2.0)
WEBHOOK_DOOR_LINE = env.int("WEBHOOK_DOOR_LINE", default=64)
# A call refused at the door gets its 429 after this pause, so a client that floods on refusals
# spends its time waiting rather than our CPU.
WEBHOOK_REFUSAL_PAUSE_SECONDS = env.float("WEBHOOK_REFUSAL_PAUSE_SECONDS", default=0.5)
# How often an open scenario WebSocket re-checks that its user is still a member of the team.
SCENARIO_SOCKET_RECHECK_SECONDS = env.float("SCENARIO_SOCKET_RECHECK_SECONDS", default=30.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# Outbound HTTP to providers (one shared client, see nodes/transport/http.py).
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=10.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=120.0)
PROVIDER_TOTAL_TIMEOUT = env.float("PROVIDER_TOTAL_TIMEOUT", default=300.0)
PROVIDER_MAX_RETRIES = env.int("PROVIDER_MAX_RETRIES", default=3)
PROVIDER_MAX_RETRY_WAIT = env.float("PROVIDER_MAX_RETRY_WAIT", default=30.0)
PROVIDER_MAX_RESPONSE_BYTES = env.int("PROVIDER_MAX_RESPONSE_BYTES", default=20 * 1024 * 1024)
# The SSRF guard (nodes/transport/guard.py): outbound requests go to public addresses only, plus
# - OUTBOUND_ALLOWED_ORIGINS: exact origins ("http://127.0.0.1:11434" for a local Ollama); Scenery's
#   own origin (SCENERY_BASE_URL, the built-in gateway) is always allowed;
# - OUTBOUND_ALLOWED_NETWORKS: whole networks ("192.168.1.0/24" for a LAN model server). Empty by
#   default: allowing all of loopback would let a team admin reach Redis or PostgreSQL on this host.
OUTBOUND_ALLOWED_ORIGINS = env.list("OUTBOUND_ALLOWED_ORIGINS", default=[])
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])
# Where the built-in gateway is reached from inside Scenery (the demo credential points here).
SCENERY_BASE_URL = env("SCENERY_BASE_URL", default="http://127.0.0.1:8000")
# The built-in gateway (/v1/): run expiry, upload size, attachment cap, polling hint, downloads.
GATEWAY_RUN_EXPIRES_SECONDS = env.int("GATEWAY_RUN_EXPIRES_SECONDS", default=600)
GATEWAY_MAX_FILE_BYTES = env.int("GATEWAY_MAX_FILE_BYTES", default=20 * 1024 * 1024)
GATEWAY_MAX_MESSAGE_ATTACHMENTS = env.int("GATEWAY_MAX_MESSAGE_ATTACHMENTS", default=10)
# What one gateway request may hold and ask for (gateway/bounds.py); anyone who signs up gets a key.
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=2 * 1024 * 1024)
GATEWAY_MAX_LIST_ITEMS = env.int("GATEWAY_MAX_LIST_ITEMS", default=2048)
GATEWAY_MAX_CHOICES = env.int("GATEWAY_MAX_CHOICES", default=128)
GATEWAY_MAX_CONCURRENT_PER_KEY = env.int("GATEWAY_MAX_CONCURRENT_PER_KEY", default=16)
GATEWAY_POLL_AFTER_MS = env.int("GATEWAY_POLL_AFTER_MS", default=250)
GATEWAY_ALLOW_ASSISTANTS_FILE_DOWNLOAD = env.bool("GATEWAY_ALLOW_ASSISTANTS_FILE_DOWNLOAD", default=True)

# Mail: printed to the console by default; SMTP with EMAIL_BACKEND=smtp and the EMAIL_SMTP_* settings.
if env("EMAIL_BACKEND", default="console") == "smtp":
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env("EMAIL_SMTP_HOST", default="localhost"),
                "port": env.int("EMAIL_SMTP_PORT", default=587),
                "username": env("EMAIL_SMTP_USER", default=""),
                "password": env("EMAIL_SMTP_PASSWORD", default=""),
                "use_tls": env.bool("EMAIL_SMTP_TLS", default=True),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="scenery@localhost")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
