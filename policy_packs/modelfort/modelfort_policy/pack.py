"""Assemble the rules into a Pulumi policy pack for the stack being judged.

The zone (and so the tier) and the waivers come from the stack config, which the Pulumi CLI and the offline gate
both hand the pack in its environment (PULUMI_CONFIG). Enforcement is fixed per rule when the pack starts:
mandatory at and above the rule's tier, advisory below it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from modelfort_policy.rule import Context, Rule
from modelfort_policy.rules import ALL_RULES
from modelfort_policy.tiers import tier_for_zone
from modelfort_policy.waivers import CONFIG_KEY as WAIVERS_KEY
from modelfort_policy.waivers import Waiver, WaiverProblem, parse_waivers

PACK_NAME = "modelfort-guard"
ZONE_KEY = "modelfort:zone"
WAIVERS_VALID_POLICY = "modelfort-waivers-valid"
WAIVERS_APPLIED_POLICY = "modelfort-waivers-applied"
FRAMEWORK_NAME = "ModelFort controls"

_SEVERITIES = {
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}


@dataclass
class WaiverLedger:
    """Which waivers suppressed which violations, so the pack can list them at the end of the run.

    The analyzer serves requests from a thread pool, hence the lock.
    """

    waivers: Sequence[Waiver]
    applied: list[tuple[Waiver, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def waive(self, policy: str, urn: str, message: str) -> bool:
        for waiver in self.waivers:
            if waiver.matches(policy, urn):
                with self._lock:
                    self.applied.append((waiver, urn, message))
                return True
        return False

    def unused(self) -> list[Waiver]:
        with self._lock:
            used = {id(waiver) for waiver, _, _ in self.applied}
        return [waiver for waiver in self.waivers if id(waiver) not in used]


@dataclass(frozen=True)
class StackSettings:
    zone: str | None
    waivers: list[Waiver]
    waiver_problems: list[WaiverProblem]


def read_stack_settings(get_config: Callable[[str], str | None], today: dt.date) -> StackSettings:
    """Read the zone and waivers from stack config (values as the engine passes them: strings, JSON for objects)."""
    zone = get_config(ZONE_KEY)
    raw_waivers = get_config(WAIVERS_KEY)
    if raw_waivers is None:
        return StackSettings(zone, [], [])
    try:
        decoded = json.loads(raw_waivers)
    except json.JSONDecodeError as error:
        return StackSettings(zone, [], [WaiverProblem(None, f"is not valid JSON/YAML structure ({error.msg})")])
    waivers, problems = parse_waivers(decoded, today)
    return StackSettings(zone, waivers, problems)


def build_policies(settings: StackSettings, rules: Sequence[Rule] = ALL_RULES) -> tuple[list, WaiverLedger]:
    tier = tier_for_zone(settings.zone)
    context = Context(zone=settings.zone, tier=tier)
    ledger = WaiverLedger(settings.waivers)
    policies: list = [_to_policy(rule, context, ledger) for rule in rules]
    policies.append(_waivers_valid_policy(settings.waiver_problems))
    # Last, so that it sees every waiver the other policies applied in this run.
    policies.append(_waivers_applied_policy(ledger))
    return policies, ledger


def _to_policy(rule: Rule, context: Context, ledger: WaiverLedger):
    common = dict(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel.MANDATORY if rule.is_mandatory(context.tier) else EnforcementLevel.ADVISORY,
        severity=_SEVERITIES[rule.severity],
        tags=list(rule.controls),
        remediation_steps=rule.remediation,
        framework=PolicyComplianceFramework(
            name=FRAMEWORK_NAME, version="1", reference=", ".join(rule.controls), specification=rule.description
        ),
    )
    if rule.resource_check is not None:
        check = rule.resource_check

        def validate_resource(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if args.resource_type not in rule.resource_types:
                return
            for message in check(args, context):
                if not ledger.waive(rule.name, args.urn, message):
                    report_violation(message)

        return ResourceValidationPolicy(validate=validate_resource, **common)

    stack_check = rule.stack_check
    assert stack_check is not None

    def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for finding in stack_check(args.resources, context):
            if not ledger.waive(rule.name, finding.urn, finding.message):
                report_violation(finding.message, finding.urn)

    return StackValidationPolicy(validate=validate_stack, **common)


def _waivers_valid_policy(problems: Sequence[WaiverProblem]) -> StackValidationPolicy:
    def validate(_args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for problem in problems:
            report_violation(str(problem))

    return StackValidationPolicy(
        name=WAIVERS_VALID_POLICY,
        description="Every waiver in the stack config is well-formed and unexpired.",
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=Severity.HIGH,
        tags=["DP-07"],
        remediation_steps="Fix or remove the waiver; renewing an expired one needs a fresh review.",
        validate=validate,
    )


def _waivers_applied_policy(ledger: WaiverLedger) -> StackValidationPolicy:
    def validate(_args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for waiver, urn, message in list(ledger.applied):
            report_violation(f"WAIVED {waiver.describe()} — suppressed: {message}", urn)
        for waiver in ledger.unused():
            report_violation(f"UNUSED waiver {waiver.describe()} matched nothing: remove it")

    return StackValidationPolicy(
        name=WAIVERS_APPLIED_POLICY,
        description="Lists the waivers that suppressed violations in this run, and waivers that matched nothing.",
        enforcement_level=EnforcementLevel.ADVISORY,
        severity=Severity.LOW,
        tags=["DP-07"],
        validate=validate,
    )
