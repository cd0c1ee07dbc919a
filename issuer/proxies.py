"""Which address a request comes from, behind the proxies named in ISSUER_TRUSTED_PROXIES.

`X-Forwarded-For` is believed only when the peer is a trusted proxy; then the client is the
right-most address in it that is not a trusted proxy (each proxy appends the address it
received the request from, so everything left of that is the client's own say). This is
uvicorn's rule as well, so the app and `issuer serve` agree on the address, and applying it
again to an address uvicorn already resolved gives the same one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["client_address", "parse_networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated addresses and CIDRs, as CIDRs; ValueError says what is wrong with the
    first bad one (`'x' does not appear to be an IPv4 or IPv6 network`, `… has host bits set`).

    Kept as strings: Settings is a dependency, and the framework's type checks refuse a
    union of two classes (IPv4Network | IPv6Network) in it.
    """
    items = (part.strip() for part in raw.split(","))
    return tuple(str(ipaddress.ip_network(item)) for item in items if item)


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item) for item in trusted)


def _host(entry: str) -> str:
    """An X-Forwarded-For entry without a port: `1.2.3.4:5`, `[::1]:5` → the address."""
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[str, ...]
) -> str:
    """The peer, or — if the peer is a trusted proxy — the right-most untrusted forwarder."""
    if peer is None:
        return "unknown"
    trusted = _networks(trusted_proxies)
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [_host(entry.strip()) for value in forwarded_for for entry in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    # Every hop is a trusted proxy: the first one is as near the client as we can tell.
    return hops[0] if hops else peer
