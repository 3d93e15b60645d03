"""Small readers for engine-shaped properties. Missing means absent, never "secure"."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def as_list(value: Any) -> list[Any]:
    # The SDK hands checks read-only proxies (Sequence/Mapping, not list/dict) that raise on unknown values.
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return list(value)
    return [value]


def known_copy(value: Any) -> Any:
    """A plain copy (dicts and lists) of an engine value with its unknowns left out: a real preview's computed values
    are not in the program's text, and Terraform leaves them out of planned values too."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[str(key)] = known_copy(value[key])
            except UnknownValueError:
                continue
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                items.append(known_copy(value[index]))
            except UnknownValueError:
                continue
        return items
    return value


def as_mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in as_list(value) if isinstance(item, Mapping)]


def as_int(value: Any) -> int | None:
    """Numbers cross the wire as doubles (protobuf Struct): 365.0 is 365. Anything else is not a number here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if float(value).is_integer() else None


def parse_cidr(text: Any) -> IpNetwork | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def is_open_cidr(text: Any) -> bool:
    """True for any CIDR that spans the whole address family (0.0.0.0/0, ::/0, written in any form)."""
    network = parse_cidr(text)
    return network is not None and network.prefixlen == 0


def within_any(cidr: IpNetwork, containers: Iterable[IpNetwork]) -> bool:
    return any(cidr.version == outer.version and cidr.subnet_of(outer) for outer in containers)  # type: ignore[arg-type]


def referenced(resource: Any, prop: str) -> Sequence[Any]:
    """The resources a property was computed from (the engine's property dependencies).

    Correlating by dependency rather than by id works during a real preview, when ids of new resources are unknown.
    """
    deps = getattr(resource, "property_dependencies", None) or {}
    return list(deps.get(prop, []))


def refers_to(resource: Any, prop: str, target: Any) -> bool:
    if any(dep.urn == target.urn for dep in referenced(resource, prop)):
        return True
    # Fallback for literal ids (existing resources): compare values when both are known strings.
    target_id = _known(target.props, "id")
    value = _known(resource.props, prop)
    return isinstance(value, str) and isinstance(target_id, str) and value == target_id


def _known(props: Any, key: str) -> Any:
    try:
        return props.get(key)
    except UnknownValueError:  # during a real preview: "cannot tell" is not a match
        return None
