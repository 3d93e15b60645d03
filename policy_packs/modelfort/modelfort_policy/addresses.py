"""Address sets read literally: does a set of CIDR ranges, taken together, admit the whole public internet?

A rule that looks only for `0.0.0.0/0` is fooled by `0.0.0.0/1` + `128.0.0.0/1`, or by a list of /8s that spans
every public address. What matters to a model zone is the union: if every public (globally routable) address of an
address family is inside some range of the set, the set is open, however it is written. Ranges that are not public
(RFC 1918, loopback, link-local, CGNAT, multicast, reserved, IPv6 ULA ...) do not count either way: a set that
leaves out only those is still the internet.

This is the one place the pack decides that; every rule about address sets (security groups, NACLs, GCP firewall
rules, prefix lists) asks `open_families`.

A managed prefix list is an address set by reference: a security-group rule that names one admits whatever the list
holds. `PrefixLists` resolves the references a stack can resolve (lists it declares, with their inline entries and
separate entry resources, matched through property dependencies, which also hold during a real preview when the
list's id is unknown) and says how many references it could not resolve: a list declared outside the stack, whose
entries the gate cannot see.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import IpNetwork, as_list, parse_cidr, referenced

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


# ---------------------------------------------------------------------------------------------------- prefix lists
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
PREFIX_LIST_ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
COMPUTED = object()
"""A prefix-list id or entry computed at deploy time."""


@dataclass
class PrefixListView:
    """What a set of prefix-list references admits, as far as the stack shows it."""

    entries: list[tuple[str, str]] = field(default_factory=list)
    """(list name, CIDR) for every entry of the referenced lists the stack declares."""
    lists: list[str] = field(default_factory=list)
    """The declared lists referenced, by resource name."""
    undeclared: int = 0
    """References that name no list the stack declares (another stack's, another account's, an AWS-managed list)."""
    unreadable: list[str] = field(default_factory=list)
    """Declared lists with an entry computed at deploy time: what they admit cannot be seen."""

    @property
    def cidrs(self) -> list[str]:
        return [cidr for _, cidr in self.entries]


def known_items(mapping: Any, key: str) -> list[Any]:
    """The items of a list property (a lone value is a one-item list), with COMPUTED for each item, or for the whole
    list, computed at deploy time."""
    try:
        items = as_list(mapping.get(key) if hasattr(mapping, "get") else None)
    except UnknownValueError:
        return [COMPUTED]
    found = []
    for index in range(len(items)):
        try:
            found.append(items[index])
        except UnknownValueError:
            found.append(COMPUTED)
    return found


class PrefixLists:
    """The managed prefix lists a stack declares, with their entries (inline `entries` and ManagedPrefixListEntry)."""

    def __init__(self, resources: Sequence[Any]) -> None:
        self._lists = {r.urn: r for r in resources if r.resource_type == PREFIX_LIST}
        self._entries: dict[str, list[str]] = {urn: [] for urn in self._lists}
        self._unreadable: set[str] = set()
        for urn, prefix_list in self._lists.items():
            for entry in known_items(prefix_list.props, "entries"):
                self._add(urn, _get(entry, "cidr") if entry is not COMPUTED else COMPUTED)
        for entry in (r for r in resources if r.resource_type == PREFIX_LIST_ENTRY):
            for target in referenced(entry, "prefixListId"):
                if target.urn in self._lists:
                    self._add(target.urn, _get(entry.props, "cidr"))

    def _add(self, urn: str, cidr: Any) -> None:
        if isinstance(cidr, str):
            self._entries[urn].append(cidr)
        else:
            self._unreadable.add(urn)

    def view(self, holder: Any, prop: str, ids: Iterable[Any]) -> PrefixListView:
        """What the prefix-list ids in `holder.prop` admit. A declared list is recognised by the property dependency
        the reference carries; ids that match no declared list are counted as undeclared."""
        ids = list(ids)
        distinct = len({i for i in ids if isinstance(i, str)}) + sum(1 for i in ids if not isinstance(i, str))
        declared = [dep for dep in referenced(holder, prop) if dep.urn in self._lists]
        declared = list({dep.urn: dep for dep in declared}.values())
        view = PrefixListView(undeclared=max(0, distinct - len(declared)))
        for prefix_list in declared:
            view.lists.append(prefix_list.name)
            view.entries.extend((prefix_list.name, cidr) for cidr in self._entries[prefix_list.urn])
            if prefix_list.urn in self._unreadable:
                view.unreadable.append(prefix_list.name)
        return view


def _get(value: Any, key: str) -> Any:
    try:
        return value.get(key) if hasattr(value, "get") else None
    except UnknownValueError:
        return COMPUTED
