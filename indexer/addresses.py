"""Which addresses the open internet reaches: the one rule of the SSRF guards, the crawler's (every URL a
page or feed names) and the alert channels' (a webhook URL typed into the web app)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

_EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "0.0.0.0/8")]


def address_is_public(ip: str) -> bool:
    """False for private, loopback, link-local (cloud metadata), multicast, reserved, unspecified,
    CGNAT and benchmarking ranges; IPv4-mapped / 6to4 / NAT64 IPv6 forms are unwrapped first."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr.sixtofour is not None:
            addr = addr.sixtofour
        elif addr in ipaddress.ip_network("64:ff9b::/96"):
            addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_reserved
            or addr.is_unspecified or not addr.is_global):
        return False
    return not any(addr in net for net in _EXTRA_BLOCKED if net.version == addr.version)


def networks(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parsed CIDRs; ValueError names the one that is not one."""
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def reachable(ip: str, allowed: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()) -> bool:
    """Public, or inside one of the ``allowed`` private networks (an intranet the user named)."""
    if address_is_public(ip):
        return True
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    return any(addr in net for net in allowed if net.version == addr.version)
