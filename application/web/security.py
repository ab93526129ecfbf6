"""Response security headers and the client address behind trusted proxies."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

from aiohttp import web

from application.keys import SETTINGS

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def add_security_headers(response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def split_url(text: str) -> SplitResult | None:
    """A URL from a request (a header, ``next``) split into its parts; None when it cannot be, as
    ``http://[`` cannot."""
    try:
        return urlsplit(text)
    except ValueError:
        return None


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether an ``Origin`` header names this site."""
    parts = split_url(origin)
    return parts is not None and parts.netloc.lower() == request.host.lower()


@lru_cache(maxsize=4096)  # every request asks; the same few addresses come again and again
def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: web.Request) -> str:
    """The peer, or when the peer is a trusted proxy, the last untrusted hop of X-Forwarded-For.

    A peer on a unix socket (nginx in front of supervisor's sockets) is a local proxy.
    """
    forwarded = request.headers.get("X-Forwarded-For", "")
    return _client_of(request.remote or "", forwarded, request.app[SETTINGS].trusted_proxies)


@lru_cache(maxsize=1024)  # every request asks; the same few peers and proxy chains come again and again
def _client_of(peer: str, forwarded: str, trusted: tuple[Network, ...]) -> str:
    def is_trusted(address: Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    peer_address = _address(peer)
    if peer_address is not None and not is_trusted(peer_address):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(_address(hop)):
            return hop if _address(hop) else peer
    return hops[0] if hops else peer
