"""Turn what the pack said into a verdict. Pure: the tests feed it diagnostics directly.

Fail closed: a mandatory diagnostic blocks; so does a mandatory policy that could not run because it read an unknown
value (the SDK downgrades that to advisory, which during a real preview silently lets the change through).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from modelfort.gate.analyzer import Diagnostic, PackInfo

EXIT_PASS, EXIT_BLOCKED, EXIT_USAGE, EXIT_FAILURE = 0, 1, 2, 3
CONTROL_ID = re.compile(r"^[A-Z]{2}-\d{2}$")
UNKNOWN_VALUE_MARKER = re.compile(r"^can't run policy '.*' during preview: ", re.DOTALL)
WAIVERS_APPLIED_POLICY = "modelfort-waivers-applied"
WAIVERS_VALID_POLICY = "modelfort-waivers-valid"
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "unspecified": 4}


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
    verdict.violations.sort(key=lambda v: (not v.blocking, SEVERITY_ORDER.get(v.severity, 9), v.policy, v.urn))
    return verdict


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
