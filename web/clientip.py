"""The client's address, by one rule for every use (rate limits, sessions, captcha checks).

Behind a reverse proxy the peer is the proxy, so X-Forwarded-For is read, but only when the
peer is one of `[web] trusted_proxies`: anyone else could write any address into it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Parsed once per application, not on every request.
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def install(app: web.Application, trusted_proxies: Iterable[str]) -> None:
    app[TRUSTED_PROXIES] = parse_networks(trusted_proxies)


def client_ip(request: web.Request) -> str:
    """The client's address; X-Forwarded-For counts only when sent by a trusted proxy."""
    trusted = request.config_dict.get(TRUSTED_PROXIES, ())
    peer = request.remote or ""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):  # the right-most address not added by our own proxies
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; match them as IPv4 too.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return any(ip in network or (mapped is not None and mapped in network) for network in trusted)
