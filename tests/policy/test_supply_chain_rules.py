"""Supply-chain rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service."""

from __future__ import annotations

import copy

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

REPOSITORY = "aws:ecr/repository:Repository"
SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
CLUSTER_POLICY = "kubernetes:kyverno.io/v1:ClusterPolicy"
POLICY = "kubernetes:kyverno.io/v1:Policy"
RELEASE = "kubernetes:helm.sh/v3:Release"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

HARDENED_REPOSITORY = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY_ARN}],
}
ENHANCED = {"scanType": "ENHANCED", "rules": [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]}


def repository(**changes) -> dict:
    props = {**HARDENED_REPOSITORY, **changes}
    return res(REPOSITORY, "repo", {k: v for k, v in props.items() if v is not None})


@pytest.mark.control("ST-05", "DP-01", "DP-09")
@pytest.mark.parametrize(
    "policy,resource,expected",
    [
        ("ecr-immutable-tags", repository(), False),
        ("ecr-immutable-tags", repository(imageTagMutability="MUTABLE"), True),
        ("ecr-immutable-tags", repository(imageTagMutability=None), True),  # AWS's default is MUTABLE
        ("ecr-immutable-tags", repository(imageTagMutability="IMMUTABLE_WITH_EXCLUSION"), True),
        ("ecr-scan-on-push", repository(), False),
        ("ecr-scan-on-push", repository(imageScanningConfiguration={"scanOnPush": False}), True),
        ("ecr-scan-on-push", repository(imageScanningConfiguration=None), True),
        ("ecr-customer-key", repository(), False),
        ("ecr-customer-key", repository(encryptionConfigurations=[{"encryptionType": "KMS", "kmsKey": UNKNOWN}]), False),
        ("ecr-customer-key", repository(encryptionConfigurations=[{"encryptionType": "AES256"}]), True),
        ("ecr-customer-key", repository(encryptionConfigurations=None), True),  # AES256 by default
        ("ecr-customer-key", repository(encryptionConfigurations=[{"encryptionType": "KMS"}]), True),  # aws/ecr
    ],
)
def test_repository_rules(packs, policy, resource, expected):
    assert flagged(packs.get().analyze(resource), policy) == ({"repo"} if expected else set())


@pytest.mark.control("ST-05", "DP-01")
@pytest.mark.parametrize(
    "resources,expected",
    [
        ([repository(), res(SCANNING, "scanning", ENHANCED)], set()),
        ([repository()], {"repo"}),
        ([repository(), res(SCANNING, "scanning", {"scanType": "BASIC", "rules": ENHANCED["rules"]})], {"scanning"}),
        ([repository(), res(SCANNING, "scanning", {"rules": ENHANCED["rules"]})], {"scanning"}),
        ([repository(), res(SCANNING, "scanning", {"scanType": "ENHANCED", "rules": []})], {"scanning"}),
        ([res(SCANNING, "scanning", ENHANCED)], set()),
        ([], set()),
    ],
)
def test_registry_scanning_is_enhanced(packs, resources, expected):
    assert flagged(judge_all(packs.get(), resources), "ecr-registry-scanning-enhanced") == expected


HARDENED_SPEC = {
    "validationFailureAction": "Enforce",
    "failurePolicy": "Fail",
    "webhookConfiguration": {"failurePolicy": "Fail", "timeoutSeconds": 30},
    "rules": [{
        "name": "verify",
        "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "verifyImages": [{
            "imageReferences": ["*"],
            "failureAction": "Enforce",
            "required": True,
            "verifyDigest": True,
            "attestors": [{"count": 1, "entries": [{"keys": {"kms": f"awskms:///{KEY_ARN}"}}]}],
        }],
    }],
}


def kyverno_policy(edit=None, kind: str = CLUSTER_POLICY) -> dict:
    spec = copy.deepcopy(HARDENED_SPEC)
    if edit:
        edit(spec)
    return res(kind, "verify", {"apiVersion": "kyverno.io/v1", "spec": spec})


def entry(spec: dict) -> dict:
    return spec["rules"][0]["verifyImages"][0]


@pytest.mark.control("ST-05", "ST-07")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (kyverno_policy(), False),
        (kyverno_policy(kind=POLICY), False),
        # Kyverno's default action is Audit.
        (kyverno_policy(lambda s: (s.pop("validationFailureAction"), entry(s).pop("failureAction"))), True),
        (kyverno_policy(lambda s: entry(s).pop("failureAction")), False),  # the policy's Enforce applies
        (kyverno_policy(lambda s: entry(s).update(failureAction="Audit")), True),
        (kyverno_policy(lambda s: s.update(validationFailureAction="Audit")), False),  # the rule's own Enforce wins
        (kyverno_policy(lambda s: s.update(validationFailureActionOverrides=[{"action": "Audit", "namespaces": ["models"]}])), True),
        (kyverno_policy(lambda s: s.update(failurePolicy="Ignore")), True),
        (kyverno_policy(lambda s: s["webhookConfiguration"].update(failurePolicy="Ignore")), True),
        (kyverno_policy(lambda s: (s.pop("failurePolicy"), s.pop("webhookConfiguration"))), False),  # default Fail
        (kyverno_policy(lambda s: entry(s).update(required=False)), True),
        (kyverno_policy(lambda s: entry(s).pop("required")), False),  # default true
        (kyverno_policy(lambda s: entry(s).update(verifyDigest=False)), True),
        (kyverno_policy(lambda s: entry(s).pop("attestors")), True),
        # Not an image-verification policy: audit-only validation is another rule's business.
        (kyverno_policy(lambda s: (s.update(validationFailureAction="Audit"), s["rules"][0].pop("verifyImages"),
                                   s["rules"][0].update(validate={"pattern": {}}))), False),
        (res(CLUSTER_POLICY, "verify", {"spec": UNKNOWN}), False),
    ],
)
def test_kyverno_image_verification_is_enforced_and_fails_closed(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), "kyverno-verify-images-enforced") == ({"verify"} if expected else set())


def kyverno_release(chart: str = "kyverno", **changes) -> dict:
    props = {
        "chart": chart,
        "version": "3.8.2",
        "repositoryOpts": {"repo": "https://kyverno.github.io/kyverno/"},
        "values": {"features": {"forceFailurePolicyIgnore": {"enabled": False}, "policyExceptions": {"enabled": False}}},
        **changes,
    }
    return res(RELEASE, "kyverno", {k: v for k, v in props.items() if v is not None})


@pytest.mark.control("ST-05", "ST-07")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (kyverno_release(), False),
        (kyverno_release(values=None), False),  # chart defaults fail closed and refuse exceptions
        (kyverno_release(version="v3.8.2"), False),
        (kyverno_release(chart="oci://ghcr.io/kyverno/charts/kyverno"), False),
        (kyverno_release(version=None), True),
        (kyverno_release(version="~3.8"), True),
        (kyverno_release(version="3.3.4"), True),
        (kyverno_release(values={"features": {"forceFailurePolicyIgnore": {"enabled": True}}}), True),
        (kyverno_release(values={"features": {"policyExceptions": {"enabled": True}}}), True),
        (kyverno_release(values={"features": {"policyExceptions": {"enabled": True, "namespace": "kyverno-exceptions"}}}), False),
        (kyverno_release(chart="cert-manager", version="~1.15", values={"features": {"forceFailurePolicyIgnore": {"enabled": True}}}), False),
    ],
)
def test_kyverno_is_installed_pinned_and_fail_closed(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), "kyverno-fail-closed") == ({"kyverno"} if expected else set())
