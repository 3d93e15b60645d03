"""checkov's maintained cloud and Kubernetes checks as ModelFort policies: one stack policy per curated check
(`checkov:CKV_AWS_79`, `checkov:CKV_K8S_40`), all fed from one checkov run per stack and framework: its terraform_plan
checks on the stack's AWS and GCP resources converted to a plan (convert.py), its kubernetes checks on the stack's
Kubernetes objects as manifests (manifests.py).

Pulumi policies are declared when the pack starts, so the curated table decides the policies; the checkov run is shared
(`SharedRun`): the first checkov policy of each AnalyzeStack runs checkov once and the rest read its result. A pack environment without checkov makes the
mandatory `modelfort-checkov-available` policy fail, naming the fix; the checkov policies then report nothing of their
own, so the one clear error is not drowned in a cascade.

A value unknown until apply is left out of what checkov reads, as in a Terraform plan, so a check that fails on its
absence fails. A Kubernetes check that passes an object with unknowns could have passed on the gap (privileged left
out reads as not privileged), and one that raises on an object judged nothing: either way the policy says it cannot
judge the object (the SDK's "can't run policy during preview", which the gate blocks on for a mandatory policy),
never a pass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.checkov import runner
from modelfort_policy.checkov.convert import StackInput, convert
from modelfort_policy.checkov.curated import CuratedCheck, load_table
from modelfort_policy.checkov.manifests import convert_manifests, is_kubernetes_object
from modelfort_policy.props import known_copy
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.tiers import STANDARD

AVAILABLE_POLICY = "modelfort-checkov-available"

# The import overlaps the program's run: the pack module loads while the gate (or the engine) runs the program.
runner.start_import()


def stack_inputs(resources: Sequence[StackResource]) -> list[StackInput]:
    inputs = []
    for r in resources:
        unknown: list[str] = []
        # Where the unknowns were matters only to the Kubernetes checks (see the module's docstring).
        props = known_copy_noting(r.props, "", unknown) if is_kubernetes_object(r.resource_type) else known_copy(r.props)
        inputs.append(StackInput(
            resource_type=r.resource_type,
            name=r.name,
            urn=r.urn,
            props=props,
            property_dependencies={prop: [dep.urn for dep in deps] for prop, deps in (r.property_dependencies or {}).items()},
            unknown=tuple(unknown),
        ))
    return inputs


def known_copy_noting(value: Any, path: str, unknown: list[str]) -> Any:
    """known_copy, noting the path of every value left out because it is unknown until apply."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            where = f"{path}.{key}" if path else str(key)
            try:
                child = value[key]
            except UnknownValueError:
                unknown.append(where)
                continue
            result[str(key)] = known_copy_noting(child, where, unknown)
        return result
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items = []
        for index in range(len(value)):
            try:
                child = value[index]
            except UnknownValueError:
                unknown.append(f"{path}[{index}]")
                continue
            items.append(known_copy_noting(child, f"{path}[{index}]", unknown))
        return items
    return value


@dataclass
class StackResult:
    """One request's checkov results."""

    failing: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """check ID → [(URN, Terraform address or Kubernetes resource ID)] of the resources that fail it."""
    unjudged: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """check ID → [(URN, why)] of the Kubernetes objects it could not judge: it passed them only with values left out
    (unknown until apply), or it raised on them."""


class SharedRun:
    """One checkov run per AnalyzeStack and framework, shared by every checkov policy of that request.

    The SDK calls a request's stack policies one after another on one thread, in the order they are declared, and
    `modelfort-checkov-available` is declared first: it converts the stack and runs checkov, and the check policies
    after it read that result from the thread's slot. Converting and hashing the stack again in each of them cost
    more than checkov's own run. A policy that finds no result for its thread (called on its own) runs checkov itself.
    """

    def __init__(self, checks: Sequence[str]) -> None:
        self.checks = list(checks)
        self.kubernetes_checks = [check for check in self.checks if "_K8S_" in check]
        self.cloud_checks = [check for check in self.checks if "_K8S_" not in check]
        self._slot = threading.local()

    def run(self, resources: Sequence[StackResource]) -> StackResult:
        """This request's result: what fails each check, and what a Kubernetes check could not judge."""
        inputs = stack_inputs(resources)
        result = StackResult()
        # An empty check list would make checkov run every check it has: a framework without curated checks is skipped.
        if self.cloud_checks:
            conversion = convert(inputs)
            for failure in runner.run_plan(conversion.plan, self.cloud_checks):
                urn = conversion.urn_by_address.get(failure.address)
                if urn is not None:
                    result.failing.setdefault(failure.check_id, []).append((urn, failure.address))
        if self.kubernetes_checks:
            manifests = convert_manifests(inputs)
            failures, errors = runner.run_manifests(manifests.documents, self.kubernetes_checks)
            for failure in failures:
                if failure.document is not None:
                    pair = (manifests.urns[failure.document], failure.address)
                    failing = result.failing.setdefault(failure.check_id, [])
                    if pair not in failing:  # a container check reports each failing container
                        failing.append(pair)
            crashed = {(error.check_id, manifests.urns[error.document]): error.error for error in errors}
            kinds = runner.kubernetes_kinds(self.kubernetes_checks) if manifests.unknown or crashed else {}
            for check_id in self.kubernetes_checks:
                failed = {urn for urn, _ in result.failing.get(check_id, [])}
                for urn in manifests.urns:
                    paths = manifests.unknown.get(urn, ())
                    crash = crashed.get((check_id, urn))
                    if urn in failed or not (paths or crash) or manifests.kinds[urn] not in kinds.get(check_id, ()):
                        continue
                    why = f"values unknown until apply were left out ({_paths(paths)})" if paths else ""
                    if crash:
                        why = f"{why}{'; ' if why else ''}checkov's check raised {crash}"
                    result.unjudged.setdefault(check_id, []).append((urn, why))
        self._slot.result = (_fingerprint(resources), result)
        return result

    def result(self, resources: Sequence[StackResource]) -> StackResult:
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


class CannotJudge(UnknownValueError):
    """The SDK's own signal for "this policy read a value unknown during preview", naming what was unknown."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.unknown_type_sentinel, self.props, self.message = "", [], message


def _paths(paths: Sequence[str], most: int = 5) -> str:
    return ", ".join(paths[:most]) + (f" and {len(paths) - most} more" if len(paths) > most else "")


def _rules_by_name() -> dict[str, Rule]:
    from modelfort_policy.rules import ALL_RULES  # late: this module is part of ALL_RULES

    return {rule.name: rule for rule in ALL_RULES}


def make_check(check: CuratedCheck, shared: SharedRun):
    def stack_check(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
        try:
            runner.ensure_available()
        except runner.CheckovUnavailable:
            return  # modelfort-checkov-available reports it, once
        result = shared.result(resources)
        failing = result.failing.get(check.check_id, [])
        unjudged = result.unjudged.get(check.check_id, [])
        if not failing and not unjudged:
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
        unjudged = [(urn, why) for urn, why in unjudged if urn not in covered]
        if unjudged:
            described = "; ".join(f"'{names.get(urn, urn)}': {why}" for urn, why in unjudged)
            raise CannotJudge(f"{check.check_id} cannot judge {described}")

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
