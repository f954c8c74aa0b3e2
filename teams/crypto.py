"""Secrets at rest: MultiFernet over settings.CREDENTIAL_KEYS (first key encrypts, all decrypt)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with any configured key: it needs re-entry."""


@cache
def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.CREDENTIAL_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CREDENTIAL_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes). "
            "Generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ) from exc


def check_keys() -> None:
    """Raise ImproperlyConfigured unless every key in CREDENTIAL_KEYS is a Fernet key."""
    _fernet()


def reset_keys() -> None:
    """Forget the cached keys (tests and rotation change settings at run time)."""
    _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("This secret can no longer be decrypted; it needs re-entry.") from exc


def rotate(token: str) -> str:
    """Re-encrypt under the first key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("This secret can no longer be decrypted; it needs re-entry.") from exc
