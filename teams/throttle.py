"""Slowing brute force down: failures (sign-ins, gateway keys) and password-reset requests are
counted per account and per address in Django's cache, which every web process shares (Redis with
REDIS_URL, files on this machine without). Past a limit, attempts are refused — the right password
too — until THROTTLE_SECONDS have passed since the last one counted."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from teams.names import comparison_form


def address_of(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def account_of(name: str) -> str:
    """One key for every spelling of an account name that looks the same (teams/names.py)."""
    return comparison_form(name)


def _key(scope: str, kind: str, who: str) -> str:
    return f"throttle:{scope}:{kind}:{hashlib.sha256(who.encode()).hexdigest()}"


def _limits(account: str, address: str) -> list[tuple[str, str, int]]:
    found = [("address", address, settings.THROTTLE_ADDRESS_ATTEMPTS)]
    if account:
        found.append(("account", account, settings.THROTTLE_ACCOUNT_ATTEMPTS))
    return found


def refused(scope: str, *, address: str, account: str = "") -> bool:
    """Whether this account or this address used up its attempts."""
    return any(
        (cache.get(_key(scope, kind, who)) or 0) >= limit for kind, who, limit in _limits(account, address)
    )


def count(scope: str, *, address: str, account: str = "") -> None:
    """One more attempt of this account and this address; each count restarts the wait."""
    for kind, who, _ in _limits(account, address):
        key = _key(scope, kind, who)
        cache.add(key, 0, settings.THROTTLE_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.set(key, 1, settings.THROTTLE_SECONDS)
        cache.touch(key, settings.THROTTLE_SECONDS)


def failed(scope: str, *, address: str, account: str = "") -> bool:
    """Count one failure; whether this account or address is now past its limit."""
    count(scope, address=address, account=account)
    return refused(scope, address=address, account=account)


def forget_account(scope: str, account: str) -> None:
    """A success clears the account's count (not the address's)."""
    cache.delete(_key(scope, "account", account))


def wait_text() -> str:
    minutes = max(1, round(settings.THROTTLE_SECONDS / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
