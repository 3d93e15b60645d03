"""Build resources the way the engine sends them to a policy pack, and read what the pack says back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelfort.gate.analyzer import Diagnostic, PackProcess

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def res(resource_type: str, name: str, props: Mapping[str, Any] | None = None, deps: Mapping[str, Iterable[dict]] | None = None) -> dict:
    """A fixture resource. `deps` maps a property to the fixture resources it was computed from."""
    return {
        "type": resource_type,
        "name": name,
        "urn": f"urn:pulumi:test::fixture::{resource_type}::{name}",
        "parent": "",
        "properties": dict(props or {}),
        "propertyDependencies": {prop: [r["urn"] for r in targets] for prop, targets in (deps or {}).items()},
        "dependencies": sorted({r["urn"] for targets in (deps or {}).values() for r in targets}),
    }


def judge_all(pack: PackProcess, resources: list[dict]) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    for resource in resources:
        diagnostics.extend(pack.analyze(resource))
    diagnostics.extend(pack.analyze_stack(resources))
    return diagnostics


def flagged(diagnostics: Iterable[Diagnostic], policy: str) -> set[str]:
    """Names of the resources a policy flagged."""
    return {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.policy == policy}
