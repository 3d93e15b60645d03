"""Supply-chain rules (ST-05, ST-07, DP-01, DP-09): images are stored immutably, encrypted with a customer key and
scanned, and admission refuses any image in a model namespace that is not signed and pinned by digest.

ECR is judged on `aws.ecr.Repository` and the account's `RegistryScanningConfiguration`. Admission is judged on Kyverno
as the engine sees it: `kyverno.io/v1` ClusterPolicy/Policy custom resources (their `verifyImages` rules) and the
Helm release that installs Kyverno (its values decide whether webhooks fail closed).

Kyverno defaults are read the way Kyverno reads them: a policy without `validationFailureAction` audits, `required`
and `verifyDigest` default to true, `failurePolicy` defaults to Fail. A default that would audit is a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_list, as_mappings
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

REPOSITORY = "aws:ecr/repository:Repository"
REGISTRY_SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
KYVERNO_POLICIES = frozenset({"kubernetes:kyverno.io/v1:ClusterPolicy", "kubernetes:kyverno.io/v1:Policy"})
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"

MIN_KYVERNO_CHART = (3, 4, 0)
"""Kyverno 1.14: earlier releases let pods bypass rules that match namespaces by selector (GO-2025-3652)."""
_EXACT_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def _get(props: Any, key: str, unknown: Any = None) -> Any:
    try:
        return props.get(key) if hasattr(props, "get") else None
    except UnknownValueError:
        return unknown


_SET = object()
"""A value computed at deploy time (e.g. the ARN of a key being created): present, though not known at preview."""


# ------------------------------------------------------------------------------------------------ ECR
def check_ecr_immutable_tags(resource: Resource, _ctx: Context) -> Iterable[str]:
    mutability = _get(resource.props, "imageTagMutability") or "MUTABLE"
    if mutability != "IMMUTABLE":
        yield (
            f"ECR repository '{resource.name}' has tag mutability {mutability}: a pushed tag can later point at other "
            "bytes. Set image_tag_mutability='IMMUTABLE'."
        )


def check_ecr_scan_on_push(resource: Resource, _ctx: Context) -> Iterable[str]:
    scanning = _get(resource.props, "imageScanningConfiguration") or {}
    if _get(scanning, "scanOnPush") is not True:
        yield f"ECR repository '{resource.name}' does not scan images on push (image_scanning_configuration.scan_on_push)."


def check_ecr_customer_key(resource: Resource, _ctx: Context) -> Iterable[str]:
    configurations = as_mappings(_get(resource.props, "encryptionConfigurations"))
    kms = [c for c in configurations if _get(c, "encryptionType") in ("KMS", "KMS_DSSE")]
    if not kms:
        found = ", ".join(str(_get(c, "encryptionType")) for c in configurations) or "AES256 (the default)"
        yield f"ECR repository '{resource.name}' is encrypted with {found}; use KMS with a customer-managed key."
    elif not any(_get(c, "kmsKey", _SET) for c in kms):
        yield f"ECR repository '{resource.name}' uses the AWS-managed key aws/ecr; name a customer-managed key (kms_key)."


def check_registry_scanning(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    configurations = [r for r in resources if r.resource_type == REGISTRY_SCANNING]
    for configuration in configurations:
        scan_type = _get(configuration.props, "scanType")
        rules = as_list(_get(configuration.props, "rules"))
        if scan_type != "ENHANCED":
            yield Finding(f"registry scanning '{configuration.name}' is {scan_type or 'BASIC'}; use ENHANCED (continuous, Amazon Inspector).", configuration.urn)
        elif not rules:
            yield Finding(f"registry scanning '{configuration.name}' is ENHANCED but has no rules, so it scans no repository.", configuration.urn)
    if configurations:
        return  # judged above; which repositories its filters cover is the account owner's call
    for repository in (r for r in resources if r.resource_type == REPOSITORY):
        yield Finding(
            f"ECR repository '{repository.name}' is not covered by ENHANCED registry scanning in this stack; add "
            "aws.ecr.RegistryScanningConfiguration(scan_type='ENHANCED'), or waive it where another stack owns that "
            "account-wide setting.",
            repository.urn,
        )


# ------------------------------------------------------------------------------------------------ Kyverno policies
def check_kyverno_verify_images(resource: Resource, _ctx: Context) -> Iterable[str]:
    spec = _get(resource.props, "spec") or {}
    rules = [rule for rule in as_mappings(_get(spec, "rules")) if as_list(_get(rule, "verifyImages"))]
    if not rules:
        return
    name = resource.name
    policy_action = str(_get(spec, "validationFailureAction") or "Audit")
    for override in as_mappings(_get(spec, "validationFailureActionOverrides")):
        if str(_get(override, "action")).lower() == "audit":
            yield f"Kyverno policy '{name}' only audits images in namespaces {list(as_list(_get(override, 'namespaces')))} (validationFailureActionOverrides)."
    for policy_level in (_get(spec, "failurePolicy"), _get(_get(spec, "webhookConfiguration") or {}, "failurePolicy")):
        if str(policy_level).lower() == "ignore":
            yield f"Kyverno policy '{name}' has failurePolicy Ignore: when Kyverno cannot answer, unverified images are admitted."
    for rule in rules:
        rule_name = _get(rule, "name") or "?"
        for entry in as_mappings(_get(rule, "verifyImages")):
            action = str(_get(entry, "failureAction") or _get(entry, "validationFailureAction") or policy_action)
            if action.lower() != "enforce":
                yield f"Kyverno policy '{name}' rule '{rule_name}' verifies images in {action} mode: unsigned images are admitted and only reported."
            if _get(entry, "required") is False:
                yield f"Kyverno policy '{name}' rule '{rule_name}' sets required: false: images without a signature are admitted."
            if _get(entry, "verifyDigest") is False:
                yield f"Kyverno policy '{name}' rule '{rule_name}' sets verifyDigest: false: images referenced by tag alone are admitted."
            if not as_list(_get(entry, "attestors")) and not as_list(_get(entry, "attestations")):
                yield f"Kyverno policy '{name}' rule '{rule_name}' names no attestor: it verifies nothing."


# ------------------------------------------------------------------------------------------------ Kyverno install
def _is_kyverno(resource: Resource) -> bool:
    chart = _get(resource.props, "chart")
    return isinstance(chart, str) and (chart == "kyverno" or chart.endswith("/kyverno"))


def check_kyverno_release(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not _is_kyverno(resource):
        return
    name = resource.name
    version = _get(resource.props, "version")
    match = _EXACT_VERSION.match(version) if isinstance(version, str) else None
    if not match:
        yield f"Kyverno release '{name}' does not pin an exact chart version ({version!r}); admission control must not change between deployments."
    elif tuple(int(part) for part in match.groups()) < MIN_KYVERNO_CHART:
        yield f"Kyverno release '{name}' installs chart {version}, older than 3.4.0 (Kyverno 1.14), which lets pods bypass namespace-selector rules (GO-2025-3652)."
    values = _get(resource.props, "values") or {}
    features = _get(values, "features") or {}
    if _get(_get(features, "forceFailurePolicyIgnore") or {}, "enabled") is True:
        yield f"Kyverno release '{name}' forces every webhook to failurePolicy Ignore (features.forceFailurePolicyIgnore): admission fails open."
    exceptions = _get(features, "policyExceptions") or {}
    if _get(exceptions, "enabled") is True and not _get(exceptions, "namespace"):
        yield (
            f"Kyverno release '{name}' accepts PolicyExceptions from any namespace: anyone who can create one can exempt "
            "their pod from image verification (set features.policyExceptions.enabled=false, or restrict the namespace)."
        )


RULES = (
    Rule(
        name="ecr-immutable-tags",
        description="ECR repositories make tags immutable, so a released tag always means the same bytes.",
        severity="high",
        controls=("ST-05", "DP-09"),
        remediation="Use ImageTrust, or set image_tag_mutability='IMMUTABLE' on aws.ecr.Repository.",
        mandatory_from=STANDARD,
        resource_types=frozenset({REPOSITORY}),
        resource_check=check_ecr_immutable_tags,
    ),
    Rule(
        name="ecr-scan-on-push",
        description="ECR repositories scan every image when it is pushed.",
        severity="medium",
        controls=("ST-05", "DP-01"),
        remediation="Set image_scanning_configuration={'scan_on_push': True} on aws.ecr.Repository.",
        mandatory_from=STANDARD,
        resource_types=frozenset({REPOSITORY}),
        resource_check=check_ecr_scan_on_push,
    ),
    Rule(
        name="ecr-customer-key",
        description="ECR repositories are encrypted with a customer-managed KMS key (not AES256 or aws/ecr).",
        severity="medium",
        controls=("ST-05", "DP-01"),
        remediation="Set encryption_configurations=[{'encryption_type': 'KMS', 'kms_key': <customer key ARN>}].",
        mandatory_from=STANDARD,
        resource_types=frozenset({REPOSITORY}),
        resource_check=check_ecr_customer_key,
    ),
    Rule(
        name="ecr-registry-scanning-enhanced",
        description="The registry scans continuously with ENHANCED scanning, covering the stack's repositories.",
        severity="medium",
        controls=("ST-05", "DP-01"),
        remediation="Add aws.ecr.RegistryScanningConfiguration(scan_type='ENHANCED') with a rule for all repositories "
        "(ImageTrust does), or waive per repository where another stack owns the account setting.",
        mandatory_from=STANDARD,
        stack_check=check_registry_scanning,
    ),
    Rule(
        name="kyverno-verify-images-enforced",
        description="Kyverno image verification refuses unsigned or tag-only images (Enforce, required, verifyDigest, fail closed).",
        severity="critical",
        controls=("ST-05", "ST-07"),
        remediation="Use ImageAdmission (audit_only=False), or set validationFailureAction/failureAction Enforce, "
        "failurePolicy Fail, required: true and verifyDigest: true.",
        mandatory_from=STANDARD,
        resource_types=KYVERNO_POLICIES,
        resource_check=check_kyverno_verify_images,
    ),
    Rule(
        name="kyverno-fail-closed",
        description="Kyverno is installed at a pinned, patched version with webhooks failing closed and no open policy exceptions.",
        severity="high",
        controls=("ST-05", "ST-07"),
        remediation="Pin the chart version (>= 3.4.0), keep features.forceFailurePolicyIgnore.enabled=false and "
        "features.policyExceptions.enabled=false.",
        mandatory_from=STANDARD,
        resource_types=frozenset({HELM_RELEASE}),
        resource_check=check_kyverno_release,
    ),
)
