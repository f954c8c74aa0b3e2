"""Where Scenery may send requests (the SSRF guard), and how user values go into URLs.

Only http and https; the host is resolved here and every address must be public, or the origin must
be Scenery's own (SCENERY_BASE_URL, the built-in gateway) or one of OUTBOUND_ALLOWED_ORIGINS, or the
address must be inside OUTBOUND_ALLOWED_NETWORKS (empty by default). The connection then goes to the address
that was checked, with the original Host header and TLS server name, so a second DNS answer cannot
send it elsewhere. Numeric host spellings (0x7f000001, 2130706433), IPv4-mapped, NAT64 and 6to4
IPv6 addresses and trailing dots are all judged by the IPv4 address they stand for.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
import time
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

from nodes.base import NodeError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(NodeError):
    """The SSRF guard refused the destination. Never retried."""


class Unresolvable(NodeError):
    """The host name has no usable address right now (worth a retry)."""


# 0x7f000001, 017700000001, 2130706433, 127.1: numeric forms that resolvers accept but no real
# host name uses. Refused outright so that no allow-list can be sidestepped with them.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# Host name -> (expiry, addresses). getaddrinfo is a hop to a worker thread on every call; a few
# seconds of reuse saves it on busy paths. Only the lookup is reused: every request is still judged
# by the guard and connects to the address that was judged. Failures and empty answers are not kept.
RESOLVE_CACHE_SECONDS = 5.0
RESOLVE_CACHE_SIZE = 256
_resolved: dict[str, tuple[float, tuple[str, ...]]] = {}
_clock = time.monotonic


async def _lookup(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses of a host name (never an IP literal: those are not looked up)."""
    now = _clock()
    cached = _resolved.get(host)
    if cached is not None and now < cached[0]:
        return list(cached[1])
    addresses = await _lookup(host, port)
    if addresses:
        _resolved.pop(host, None)  # re-inserted last, so the oldest entry is first
        while len(_resolved) >= RESOLVE_CACHE_SIZE:
            _resolved.pop(next(iter(_resolved), ""), None)
        _resolved[host] = (now + RESOLVE_CACHE_SECONDS, tuple(addresses))
    return addresses


def forget_addresses() -> None:
    """Empty the resolution cache (tests)."""
    _resolved.clear()


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return _networks(tuple(settings.OUTBOUND_ALLOWED_NETWORKS))


def _allowed_origins() -> frozenset[tuple[str, str, int]]:
    return _origins(settings.SCENERY_BASE_URL, tuple(settings.OUTBOUND_ALLOWED_ORIGINS))


# Parsed once per configuration (every provider call asks; tests change the settings).
@functools.lru_cache(maxsize=16)
def _networks(networks: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in networks]


@functools.lru_cache(maxsize=16)
def _origins(base_url: str, origins: tuple[str, ...]) -> frozenset[tuple[str, str, int]]:
    return frozenset(origin(url) for url in [base_url, *origins])


def origin_allowed(url: httpx.URL, host: str, port: int, candidates: list[Address]) -> bool:
    """Whether the request goes to an origin the administrator named (by host or by its address)."""
    allowed = _allowed_origins()
    if (url.scheme, host, port) in allowed:
        return True
    return any((url.scheme, str(_embedded_ipv4(ip) or ip), port) in allowed for ip in candidates)


def address_allowed(ip: Address) -> bool:
    """Public unicast addresses, plus the configured networks."""
    ip = _embedded_ipv4(ip) or ip
    if any(ip in net for net in _allowed_networks()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


async def pinned_target(url: httpx.URL) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """Check where `url` goes; return the URL rewritten to the checked address, a Host header and
    the TLS server name, so the connection goes exactly where the check looked."""
    if url.scheme not in ("http", "https"):
        raise OutboundRefused(f"Scenery only calls http:// and https:// addresses, not {url.scheme}://.")
    host = url.host.rstrip(".").lower()
    if not host:
        raise OutboundRefused("The address has no host.")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None and all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
        raise OutboundRefused(f"'{host}' is not a valid host name; write an address as 1.2.3.4.")
    if literal is not None:
        candidates = [literal]
    else:
        try:
            candidates = [ipaddress.ip_address(a.split("%")[0]) for a in await _resolve(host, port)]
        except (OSError, UnicodeError) as exc:
            raise Unresolvable(f"Cannot resolve the host '{host}' ({exc.__class__.__name__}).") from None
    if not candidates:
        raise Unresolvable(f"The host '{host}' has no address.")
    refused = [ip for ip in candidates if not address_allowed(ip)]
    if refused and not origin_allowed(url, host, port, candidates):
        raise OutboundRefused(
            f"Scenery does not call '{host}': it is a private, local or reserved address ({refused[0]}). "
            "An administrator can allow it with OUTBOUND_ALLOWED_ORIGINS (e.g. http://127.0.0.1:11434) "
            "or OUTBOUND_ALLOWED_NETWORKS.",
            host=host,
        )
    # Prefer IPv4: local servers usually listen on 127.0.0.1 only.
    chosen = sorted(candidates, key=lambda ip: ip.version)[0]
    target = url.copy_with(host=str(chosen))
    default_port = url.port is None or url.port == (443 if url.scheme == "https" else 80)
    shown = f"[{host}]" if ":" in host else host  # an IPv6 literal needs brackets in a Host header
    headers = {"Host": shown if default_port else f"{shown}:{url.port}"}
    extensions: dict[str, Any] = {}
    if url.scheme == "https" and literal is None:
        extensions["sni_hostname"] = host
    return target, headers, extensions


def origin(url: httpx.URL | str) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port made explicit and a trailing dot dropped."""
    url = httpx.URL(url) if isinstance(url, str) else url
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.host.rstrip(".").lower(), port


def path_segment(value: Any) -> str:
    """A user-supplied id as one URL path segment: encoded, never a traversal."""
    text = str(value).strip()
    if text in ("", ".", "..") or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise NodeError(f"'{text[:80]}' is not a valid id.")
    return quote(text, safe="")
