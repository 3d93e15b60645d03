"""What a rule is: metadata the pack turns into a Pulumi policy, plus one pure check.

Checks are pure functions over the resources exactly as the engine sends them (engine property names), so the
same check judges our components and any other program. A resource check yields violation messages; a stack
check yields `Finding`s that name the offending resource's URN.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelfort_policy.tiers import Tier

SEVERITIES = ("low", "medium", "high", "critical")


class Resource(Protocol):
    """The part of `pulumi_policy`'s ResourceValidationArgs / PolicyResource a check may use."""

    resource_type: str
    props: Any
    urn: str
    name: str


class StackResource(Resource, Protocol):
    property_dependencies: dict[str, list["StackResource"]]


@dataclass(frozen=True)
class Context:
    """What a check may know besides the resources: the zone being judged and its tier."""

    zone: str | None
    tier: Tier


@dataclass(frozen=True)
class Finding:
    message: str
    urn: str


ResourceCheck = Callable[[Resource, Context], Iterable[str]]
StackCheck = Callable[[Sequence[StackResource], Context], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    severity: str
    controls: tuple[str, ...]
    remediation: str
    mandatory_from: Tier
    """The lowest tier at which a violation blocks the deployment; below it the rule is advisory."""
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    resource_types: frozenset[str] = field(default_factory=frozenset)
    """For resource checks: the types the check looks at (others are skipped without reading any property)."""

    def __post_init__(self) -> None:
        if (self.resource_check is None) == (self.stack_check is None):
            raise ValueError(f"rule {self.name}: give exactly one of resource_check or stack_check")
        if self.resource_check is not None and not self.resource_types:
            raise ValueError(f"rule {self.name}: a resource check must name the resource_types it judges")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: severity must be one of {SEVERITIES}")
        if not self.controls:
            raise ValueError(f"rule {self.name}: name the control IDs it enforces")

    def is_mandatory(self, tier: Tier) -> bool:
        return tier.rank >= self.mandatory_from.rank
