"""Address sets read literally: does a set of CIDR ranges, taken together, admit the whole public internet?

A rule that looks only for `0.0.0.0/0` is fooled by `0.0.0.0/1` + `128.0.0.0/1`, or by a list of /8s that spans
every public address. What matters to a model zone is the union: if every public (globally routable) address of an
address family is inside some range of the set, the set is open, however it is written. Ranges that are not public
(RFC 1918, loopback, link-local, CGNAT, multicast, reserved, IPv6 ULA ...) do not count either way: a set that
leaves out only those is still the internet.

This is the one place the pack decides that; every rule about address sets (security groups, NACLs, GCP firewall
rules, prefix lists) asks `open_families`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from modelfort_policy.props import IpNetwork, parse_cidr

FULL = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}

# Not reachable across the internet: a set needs none of these to count as open. Kept short and documented (IANA
# special-purpose registries) rather than derived from `is_global`, whose answer changes between Python versions.
NOT_PUBLIC = {
    4: tuple(ipaddress.ip_network(n) for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4",
    )),
    # Only 2000::/3 is allocated global unicast; everything outside it (ULA, link-local, multicast ...) is not.
    6: tuple(ipaddress.ip_network("::/0").address_exclude(ipaddress.ip_network("2000::/3"))) + tuple(
        ipaddress.ip_network(n) for n in ("2001:db8::/32",)),
}

def _subtract(remaining: list[IpNetwork], cut: IpNetwork) -> list[IpNetwork]:
    """`remaining` (disjoint networks of one family) without the addresses in `cut`."""
    out: list[IpNetwork] = []
    for network in remaining:
        if network.subnet_of(cut):  # type: ignore[arg-type]
            continue
        if cut.subnet_of(network):  # type: ignore[arg-type]
            out.extend(network.address_exclude(cut))  # type: ignore[arg-type]
        else:
            out.append(network)
    return out


def uncovered_public(networks: Iterable[IpNetwork], version: int) -> list[IpNetwork]:
    """The public addresses of one family that no network in `networks` contains (empty: the set is open)."""
    remaining: list[IpNetwork] = [FULL[version]]
    for cut in NOT_PUBLIC[version]:
        remaining = _subtract(remaining, cut)
    for network in networks:
        if network.version != version:
            continue
        remaining = _subtract(remaining, network)
        if not remaining:
            break
    return remaining


def parse_all(cidrs: Iterable[object]) -> list[IpNetwork]:
    """The ranges of a set that parse; anything else (unknown, a prefix-list id) is the caller's to judge."""
    return [n for n in (parse_cidr(c) for c in cidrs) if n is not None]


def open_families(cidrs: Iterable[object]) -> list[str]:
    """'IPv4' and/or 'IPv6' when the set's ranges together admit every public address of that family."""
    networks = parse_all(cidrs)
    return [f"IPv{v}" for v in (4, 6) if any(n.version == v for n in networks) and not uncovered_public(networks, v)]


def is_open_set(cidrs: Iterable[object]) -> bool:
    return bool(open_families(cidrs))
