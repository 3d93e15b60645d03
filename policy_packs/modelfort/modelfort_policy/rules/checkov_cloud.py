"""checkov's maintained cloud checks as ModelFort policies: one stack policy per curated check (`checkov:CKV_AWS_79`),
all fed from one checkov run per stack.

Pulumi policies are declared when the pack starts, so the curated table decides the policies; the checkov run is shared
(`SharedRun`): the first checkov policy of each AnalyzeStack runs checkov once and the rest read its result. A pack environment without checkov makes the
mandatory `modelfort-checkov-available` policy fail, naming the fix; the checkov policies then report nothing of their
own, so the one clear error is not drowned in a cascade.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.checkov import runner
from modelfort_policy.checkov.convert import StackInput, convert
from modelfort_policy.checkov.curated import CuratedCheck, load_table
from modelfort_policy.props import known_copy
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.tiers import STANDARD

AVAILABLE_POLICY = "modelfort-checkov-available"

# The import overlaps the program's run: the pack module loads while the gate (or the engine) runs the program.
runner.start_import()


def stack_inputs(resources: Sequence[StackResource]) -> list[StackInput]:
    return [
        StackInput(
            resource_type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=known_copy(r.props),
            property_dependencies={prop: [dep.urn for dep in deps] for prop, deps in (r.property_dependencies or {}).items()},
        )
        for r in resources
    ]


class SharedRun:
    """One checkov run per AnalyzeStack, shared by every checkov policy of that request.

    The SDK calls a request's stack policies one after another on one thread, in the order they are declared, and
    `modelfort-checkov-available` is declared first: it converts the stack and runs checkov, and the check policies
    after it read that result from the thread's slot. Converting and hashing the stack again in each of them cost
    more than checkov's own run. A policy that finds no result for its thread (called on its own) runs checkov itself.
    """

    def __init__(self, checks: Sequence[str]) -> None:
        self.checks = list(checks)
        self._slot = threading.local()

    def run(self, resources: Sequence[StackResource]) -> dict[str, list[tuple[str, str]]]:
        """check ID -> [(URN, Terraform address)] of the resources that fail it; becomes this request's result."""
        conversion = convert(stack_inputs(resources))
        by_check: dict[str, list[tuple[str, str]]] = {}
        for failure in runner.run_plan(conversion.plan, self.checks):
            urn = conversion.urn_by_address.get(failure.address)
            if urn is not None:
                by_check.setdefault(failure.check_id, []).append((urn, failure.address))
        self._slot.result = (_fingerprint(resources), by_check)
        return by_check

    def failures(self, resources: Sequence[StackResource]) -> dict[str, list[tuple[str, str]]]:
        cached = getattr(self._slot, "result", None)
        if cached is not None and cached[0] == _fingerprint(resources):
            return cached[1]
        return self.run(resources)


def _fingerprint(resources: Sequence[StackResource]) -> tuple[str, ...]:
    """Which request a result belongs to: its resources' URNs, in order (cheap; the slot is also per thread and
    rewritten by the first policy of every request, so a stale result is never read)."""
    return tuple(r.urn for r in resources)


def _flagged_by_rule(rule: Rule, resources: Sequence[StackResource], ctx: Context) -> set[str]:
    """URNs the duplicated ModelFort rule reports, so checkov's finding on the same resource is not a second one."""
    try:
        if rule.stack_check is not None:
            return {finding.urn for finding in rule.stack_check(resources, ctx)}
        assert rule.resource_check is not None
        return {r.urn for r in resources if r.resource_type in rule.resource_types and any(True for _ in rule.resource_check(r, ctx))}
    except UnknownValueError:
        # The rule cannot tell during a preview: keep checkov's finding rather than lose both.
        return set()


def _rules_by_name() -> dict[str, Rule]:
    from modelfort_policy.rules import ALL_RULES  # late: this module is part of ALL_RULES

    return {rule.name: rule for rule in ALL_RULES}


def make_check(check: CuratedCheck, shared: SharedRun):
    def stack_check(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
        try:
            runner.ensure_available()
        except runner.CheckovUnavailable:
            return  # modelfort-checkov-available reports it, once
        failing = shared.failures(resources).get(check.check_id, [])
        if not failing:
            return
        covered = set()
        if check.duplicates is not None:
            covered = _flagged_by_rule(_rules_by_name()[check.duplicates], resources, ctx)
        names = {r.urn: r.name for r in resources}
        for urn, address in failing:
            if urn in covered:
                continue
            # The SDK puts the policy's description (checkov's ID and title) above this message.
            yield Finding(f"'{names.get(urn, address)}' ({address}) fails {check.check_id}. {check.remediation}", urn)

    return stack_check


def make_available_check(shared: SharedRun):
    def check_checkov_available(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
        try:
            runner.ensure_available()
        except runner.CheckovUnavailable as error:
            yield Finding(f"{error}; without it the pack cannot judge the stack's cloud resources with checkov's checks.", "")
            return
        shared.run(resources)  # this request's one checkov run, read by the check policies declared after this one

    return check_checkov_available


def build_rules() -> tuple[Rule, ...]:
    table = load_table()
    shared = SharedRun([check.check_id for check in table.checks])
    rules = [
        Rule(
            name=AVAILABLE_POLICY,
            description="checkov is installed in the pack's environment, so its curated cloud checks run.",
            severity="critical",
            controls=("ST-07",),
            remediation="Recreate the pack's virtualenv from policy_packs/modelfort/requirements.txt (it pins checkov).",
            mandatory_from=STANDARD,
            stack_check=make_available_check(shared),
        )
    ]
    for check in table.checks:
        rules.append(
            Rule(
                name=check.policy_name,
                description=f"checkov {check.check_id}: {check.title}.",
                severity=check.severity,
                controls=check.controls,
                remediation=check.remediation,
                mandatory_from=check.mandatory_from,
                stack_check=make_check(check, shared),
            )
        )
    return tuple(rules)


RULES = build_rules()
