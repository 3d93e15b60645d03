"""What several report formats need: resource views with secrets masked, and plan counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from modelfort.gate.engine import GateReport

SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SPECIAL_SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def public_value(value: Any) -> Any:
    """A property value safe to write to a report: secrets masked, unknowns named."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG_KEY) == SECRET_SIG:
            return "[secret]"
        return {k: public_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public_value(v) for v in value]
    if value == UNKNOWN:
        return "[unknown until apply]"
    return value


def component_of(report: GateReport, resource: dict[str, Any]) -> str:
    """The nearest component (non-custom resource) a resource belongs to, by name."""
    by_urn = {r["urn"]: r for r in report.resources}
    parent = by_urn.get(resource.get("parent", ""))
    while parent is not None and parent["type"] != "pulumi:pulumi:Stack":
        if not parent["custom"]:
            return f"{parent['type']} {parent['name']}"
        parent = by_urn.get(parent.get("parent", ""))
    return "(stack)"


def plan_by_component(report: GateReport) -> dict[str, Counter]:
    plan: dict[str, Counter] = {}
    for resource in report.resources:
        if not resource["custom"] or resource["type"].startswith("pulumi:providers:"):
            continue
        plan.setdefault(component_of(report, resource), Counter())[resource["type"]] += 1
    return plan


def custom_resource_count(report: GateReport) -> int:
    return sum(1 for r in report.resources if r["custom"] and not r["type"].startswith("pulumi:providers:"))


def zone_label(report: GateReport) -> str:
    if report.zone:
        return report.zone
    return "none (judged at the strictest tier)"
