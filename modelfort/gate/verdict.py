"""Turn what the pack said into a verdict. Pure: the tests feed it diagnostics directly.

Fail closed: a mandatory diagnostic blocks; so does a mandatory policy that could not run because it read an unknown
value (the SDK downgrades that to advisory, which during a real preview silently lets the change through).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from modelfort.gate.analyzer import Diagnostic, PackInfo, PolicyInfo

EXIT_PASS, EXIT_BLOCKED, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3
CONTROL_ID = re.compile(r"^[A-Z]{2}-\d{2}$")
UNKNOWN_VALUE_MARKER = re.compile(r"^can't run policy '.*' during preview: ", re.DOTALL)
WAIVERS_APPLIED_POLICY = "modelfort-waivers-applied"
WAIVERS_VALID_POLICY = "modelfort-waivers-valid"
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "unspecified": 4}
REMOTE_COMPONENT_POLICY = "modelfort-gate-remote-component"
UNEXPANDABLE_POLICY = "modelfort-gate-unexpandable"
MODELFORT_PACK_NAME = "modelfort-guard"
# The gate's own checks, listed beside the pack's policies in every report (SARIF rules, JUnit cases).
GATE_POLICIES = {
    REMOTE_COMPONENT_POLICY: PolicyInfo(
        name=REMOTE_COMPONENT_POLICY,
        description="A remote (multi-language) component the gate cannot expand offline must not pass unjudged",
        enforcement="mandatory",
        severity="high",
        tags=("ST-07", "gate"),
        remediation="Judge the stack with `pulumi preview --policy-pack` where the Pulumi CLI and the component's "
        "provider plugin are installed, or waive this component in the stack config (modelfort:waivers, with "
        "reason, owner and expiry) after that review.",
        framework_reference="",
        kind="resource",
    ),
    UNEXPANDABLE_POLICY: PolicyInfo(
        name=UNEXPANDABLE_POLICY,
        description="Something the program plans that the gate could not expand offline must not pass unjudged",
        enforcement="mandatory",
        severity="high",
        tags=("ST-07", "gate"),
        remediation="Judge the stack with `pulumi preview --policy-pack` where the Pulumi CLI is installed (it "
        "renders what the gate cannot), or waive the resource in the stack config (modelfort:waivers, with reason, "
        "owner and expiry) after that review.",
        framework_reference="",
        kind="resource",
    ),
}


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    severity: str
    enforcement: str
    blocking: bool
    urn: str
    resource_name: str
    resource_type: str
    controls: tuple[str, ...]
    remediation: str
    reason: str = "violation"
    """'violation', 'unknown-value' (a mandatory policy could not judge), or 'waiver' (the gate's own check)."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["controls"] = list(self.controls)
        return data


@dataclass(frozen=True)
class WaiverRecord:
    """A violation a waiver suppressed, or a waiver that matched nothing, as the pack reported it."""

    message: str
    urn: str


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    waiver_records: list[WaiverRecord] = field(default_factory=list)

    @property
    def blocking(self) -> list[Violation]:
        return [v for v in self.violations if v.blocking]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if not v.blocking]

    @property
    def exit_code(self) -> int:
        return EXIT_BLOCKED if self.blocking else EXIT_PASS

    def add(self, violations: Iterable[Violation], waiver_records: Iterable[WaiverRecord] = ()) -> None:
        self.violations.extend(violations)
        self.waiver_records.extend(waiver_records)
        self.violations.sort(key=_order)


def judge(
    diagnostics: Iterable[Diagnostic],
    info: PackInfo,
    resources_by_urn: Mapping[str, Mapping[str, Any]],
    gate_waiver_problems: Sequence[str] = (),
) -> Verdict:
    verdict = Verdict()
    seen: set[tuple[str, str, str]] = set()
    for diagnostic in diagnostics:
        if diagnostic.policy == WAIVERS_APPLIED_POLICY:
            verdict.waiver_records.append(WaiverRecord(_specific_message(diagnostic, info), diagnostic.urn))
            continue
        key = (diagnostic.policy, diagnostic.urn, diagnostic.message)
        if key in seen:
            continue
        seen.add(key)
        verdict.violations.append(_violation(diagnostic, info, resources_by_urn))
    # The gate checks waivers itself too, so a third-party pack cannot let an expired waiver pass unnoticed.
    if not any(v.policy == WAIVERS_VALID_POLICY for v in verdict.violations):
        for problem in gate_waiver_problems:
            verdict.violations.append(
                Violation(WAIVERS_VALID_POLICY, problem, "high", "mandatory", True, "", "", "", ("DP-07",),
                          "Fix or remove the waiver; renewing an expired one needs a fresh review.", reason="waiver")
            )
    verdict.violations.sort(key=_order)
    return verdict


def _order(v: Violation) -> tuple[bool, int, str, str]:
    return (not v.blocking, SEVERITY_ORDER.get(v.severity, 9), v.policy, v.urn)


def _violation(diagnostic: Diagnostic, info: PackInfo, resources_by_urn: Mapping[str, Mapping[str, Any]]) -> Violation:
    policy = info.policies.get(diagnostic.policy)
    resource = resources_by_urn.get(diagnostic.urn, {})
    controls = tuple(t for t in (policy.tags if policy else ()) if CONTROL_ID.match(t))
    unknown = bool(UNKNOWN_VALUE_MARKER.match(diagnostic.message))
    configured_mandatory = policy is not None and policy.enforcement in ("mandatory", "remediate")
    if unknown:
        blocking = configured_mandatory
        message = (
            f"mandatory policy could not judge: {diagnostic.message}" if blocking else diagnostic.message
        )
        reason = "unknown-value"
        enforcement = policy.enforcement if policy else diagnostic.enforcement
    else:
        blocking = diagnostic.enforcement in ("mandatory", "remediate")
        message = _specific_message(diagnostic, info)
        reason = "violation"
        enforcement = diagnostic.enforcement
    return Violation(
        policy=diagnostic.policy,
        message=message,
        severity=diagnostic.severity if diagnostic.severity != "unspecified" else (policy.severity if policy else "unspecified"),
        enforcement=enforcement,
        blocking=blocking,
        urn=diagnostic.urn,
        resource_name=str(resource.get("name", "")),
        resource_type=str(resource.get("type", "")),
        controls=controls,
        remediation=policy.remediation if policy else "",
        reason=reason,
    )


def _specific_message(diagnostic: Diagnostic, info: PackInfo) -> str:
    """The SDK prefixes every message with the policy's description; keep the part that names the resource."""
    policy = info.policies.get(diagnostic.policy)
    prefix = f"{policy.description}\n" if policy else ""
    if prefix and diagnostic.message.startswith(prefix):
        return diagnostic.message[len(prefix):]
    return diagnostic.message


def gate_findings(
    resources: Sequence[Mapping[str, Any]],
    unexpandable: Sequence[Mapping[str, Any]],
    judged_component_types: frozenset[str],
    waivers: Sequence[Any],
) -> tuple[list[Violation], list[WaiverRecord], list[Any]]:
    """The gate's own mandatory findings: remote components the pack does not judge, and what could not be
    expanded. Both are blind spots of an offline run; passing them silently would report 'no violations' about
    resources nobody looked at. A waiver (modelfort_policy.waivers.Waiver) covers one by policy name and URN
    pattern; an entry without a URN cannot be waived. Returns the findings kept, the waived ones, and the waivers
    used (the pack, which does not know the gate's checks, reports those as matching nothing)."""
    findings: list[Violation] = []
    for resource in resources:
        if resource.get("remote") and resource.get("type") not in judged_component_types:
            findings.append(_remote_finding(resource))
    by_urn = {r.get("urn"): r for r in resources}
    for entry in unexpandable:
        findings.append(_unexpandable_finding(entry, by_urn))
    kept: list[Violation] = []
    waived: list[WaiverRecord] = []
    used: list[Any] = []
    for finding in findings:
        waiver = next((w for w in waivers if finding.urn and w.matches(finding.policy, finding.urn)), None)
        if waiver is None:
            kept.append(finding)
        else:
            waived.append(WaiverRecord(f"waived {finding.policy} on {finding.resource_name or finding.urn}: {waiver.describe()}", finding.urn))
            used.append(waiver)
    return kept, waived, used


def without_unused_claims(records: Sequence[WaiverRecord], used: Sequence[Any]) -> list[WaiverRecord]:
    """Drop the pack's 'UNUSED waiver ...' notes about waivers the gate itself applied to its own checks."""
    described = [w.describe() for w in used]
    return [r for r in records if not (r.message.startswith("UNUSED waiver ") and any(d in r.message for d in described))]


def _remote_finding(resource: Mapping[str, Any]) -> Violation:
    info = GATE_POLICIES[REMOTE_COMPONENT_POLICY]
    token = str(resource.get("type", ""))
    return Violation(
        policy=REMOTE_COMPONENT_POLICY,
        message=f"remote component {token} was not expanded (its provider builds its children at deploy time) and the "
        "policy pack does not judge this type on its inputs: nothing inside it was checked",
        severity=info.severity, enforcement=info.enforcement, blocking=True,
        urn=str(resource.get("urn", "")), resource_name=str(resource.get("name", "")), resource_type=token,
        controls=("ST-07",), remediation=info.remediation, reason="gate",
    )


def _unexpandable_finding(entry: Mapping[str, Any], by_urn: Mapping[Any, Mapping[str, Any]]) -> Violation:
    info = GATE_POLICIES[UNEXPANDABLE_POLICY]
    urn = str(entry.get("urn") or "")
    resource = by_urn.get(urn, {})
    token = str(entry.get("token") or resource.get("type") or "")
    kind = str(entry.get("kind") or "resource")
    detail = str(entry.get("detail") or "").strip()
    return Violation(
        policy=UNEXPANDABLE_POLICY,
        message=f"{kind} {token or urn} could not be expanded offline, so what it creates was not judged"
        + (f": {detail}" if detail else ""),
        severity=info.severity, enforcement=info.enforcement, blocking=True,
        urn=urn, resource_name=str(resource.get("name", "")), resource_type=token,
        controls=("ST-07",), remediation=info.remediation, reason="gate",
    )
