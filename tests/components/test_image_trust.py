"""ImageTrust and ImageAdmission under mocks (tests/programs/secrets-mutant, unmutated): immutable, scanned,
encrypted repositories, a signing key only the pipeline may use, and admission that refuses unsigned or tag-only
images in model namespaces and fails closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.image_trust import ImageTrustArgs
from components.k8s.image_admission import ImageAdmissionArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "secrets-mutant"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    result = run_program_under_mocks(
        read_project(str(PROGRAM)), StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "secrets-mutant:mutation": "none"})
    )
    assert result["error"] is None, result["error"]
    return result["resources"]


def resource(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match


def props(resources: list[dict], name: str) -> dict:
    return resource(resources, name)["properties"]


def statements(resources: list[dict], name: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(props(resources, name)["policy"])["Statement"]}


def key_arn(resources: list[dict], name: str) -> str:
    return f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{resource(resources, name)['id']}"


# ------------------------------------------------------------------------------------------------ ECR
@pytest.mark.control("ST-05", "DP-09")
@pytest.mark.parametrize("repository", ["model-server", "guardrail"])
def test_repositories_are_immutable_scanned_and_encrypted_with_the_customer_key(resources, repository):
    repo = props(resources, f"prod-images-{repository}")
    assert repo["name"] == f"modelfort/production/{repository}"
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key_arn(resources, "prod-images-key")}]
    assert repo["forceDelete"] is False
    key = props(resources, "prod-images-key")
    assert key["enableKeyRotation"] is True and key["rotationPeriodInDays"] == 365


@pytest.mark.control("DP-01")
def test_lifecycle_expires_untagged_images_and_keeps_the_newest_releases(resources):
    rules = json.loads(props(resources, "prod-images-model-server-lifecycle")["policy"])["rules"]
    untagged, tagged = sorted(rules, key=lambda rule: rule["rulePriority"])
    assert untagged["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}
    assert tagged["selection"] == {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 100}
    assert {rule["action"]["type"] for rule in rules} == {"expire"}


@pytest.mark.control("DP-01", "ST-05")
def test_registry_scanning_is_enhanced_and_continuous_for_every_repository(resources):
    scanning = props(resources, "prod-images-registry-scanning")
    assert scanning["scanType"] == "ENHANCED"
    assert scanning["rules"] == [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}]


@pytest.mark.control("ST-05", "DP-01")
def test_the_signing_key_is_asymmetric_and_only_the_pipeline_may_sign(resources):
    signing = props(resources, "prod-images-signing-key")
    assert (signing["customerMasterKeySpec"], signing["keyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert "enableKeyRotation" not in signing, "AWS cannot rotate asymmetric keys; a new key is a new trust root"
    signing_arn = key_arn(resources, "prod-images-signing-key")
    sign = statements(resources, "prod-images-ci-sign")
    assert sign == {"SignImages": {"Sid": "SignImages", "Effect": "Allow", "Action": ["kms:GetPublicKey", "kms:Sign"], "Resource": signing_arn}}
    verify = statements(resources, "prod-images-kyverno-verify")
    assert verify["VerifyWithThePublicKey"]["Action"] == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"]
    assert verify["VerifyWithThePublicKey"]["Resource"] == signing_arn
    every_verify_action = [a for s in verify.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in every_verify_action if a in ("kms:Sign", "ecr:PutImage")], "admission must never be able to sign or push"


@pytest.mark.control("ST-05")
def test_push_is_limited_to_these_repositories(resources):
    push = statements(resources, "prod-images-ci-push")
    repos = sorted(f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/modelfort/production/{r}" for r in ("guardrail", "model-server"))
    assert push["PushImagesAndSignatures"]["Resource"] == repos
    assert "ecr:PutImage" in push["PushImagesAndSignatures"]["Action"]
    assert push["EcrLogin"] == {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    assert set(push) == {"EcrLogin", "PushImagesAndSignatures"}


@pytest.mark.parametrize(
    "change,message",
    [
        ({"repositories": []}, "repositories: name at least one"),
        ({"repositories": ["Model_Server"]}, "repositories: 'Model_Server' is not a repository name"),
        ({"repositories": ["a", "a"]}, "repositories: each repository once"),
        ({"repository_prefix": "ModelFort/prod"}, "repository_prefix: 'ModelFort/prod' is not"),
        ({"keep_images": 1}, "keep_images: 1 must be at least 2"),
        ({"untagged_expiry_days": 0}, "untagged_expiry_days: 0 must be at least 1"),
        ({"allow_mutable_tags": "no"}, "allow_mutable_tags: must be True or False"),
    ],
)
def test_bad_image_trust_args_fail_at_construction_naming_the_arg(change, message):
    base = dict(zone="production", region="us-east-1", repositories=["model-server"])
    with pytest.raises(ValueError, match=f"ImageTrustArgs.{message}"):
        ImageTrustArgs(**{**base, **change})


# ------------------------------------------------------------------------------------------------ admission
@pytest.mark.control("ST-05", "ST-07")
def test_kyverno_is_pinned_fails_closed_and_accepts_no_exceptions(resources):
    release = props(resources, "prod-admission-kyverno")
    assert (release["chart"], release["version"]) == ("kyverno", "3.8.2")
    assert release["repositoryOpts"] == {"repo": "https://kyverno.github.io/kyverno/"}
    assert release["namespace"] == "kyverno" and release["atomic"] is True
    features = release["values"]["features"]
    assert features["forceFailurePolicyIgnore"] == {"enabled": False}
    assert features["policyExceptions"] == {"enabled": False}
    admission = release["values"]["admissionController"]
    assert admission["replicas"] == 3
    assert admission["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(resource(resources, "kyverno-admission")["id"])


@pytest.mark.control("ST-05", "ST-07")
def test_every_image_in_the_model_namespaces_must_be_signed_with_the_zone_key_and_pinned(resources):
    policy = resource(resources, "prod-admission-verify-images")
    assert (policy["properties"]["apiVersion"], policy["properties"]["kind"]) == ("kyverno.io/v1", "ClusterPolicy")
    assert resource(resources, "prod-admission-kyverno")["urn"] in policy["dependencies"], "the CRD must exist first"
    spec = policy["properties"]["spec"]
    assert (spec["validationFailureAction"], spec["failurePolicy"], spec["webhookTimeoutSeconds"]) == ("Enforce", "Fail", 30)
    assert spec["webhookConfiguration"] == {"failurePolicy": "Fail", "timeoutSeconds": 30}
    verify_rule, digest_rule = spec["rules"]
    selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["guardrails", "models"]}]}
    for rule in (verify_rule, digest_rule):
        assert rule["match"] == {"any": [{"resources": {"kinds": ["Pod"], "namespaceSelector": selector}}]}
    (entry,) = verify_rule["verifyImages"]
    assert entry["imageReferences"] == ["*"]
    assert (entry["failureAction"], entry["required"], entry["verifyDigest"], entry["mutateDigest"]) == ("Enforce", True, True, False)
    (attestor,) = entry["attestors"]
    assert attestor["count"] == 1
    (key,) = [e["keys"] for e in attestor["entries"]]
    assert key["kms"] == "awskms:///" + key_arn(resources, "prod-images-signing-key")
    assert digest_rule["validate"]["failureAction"] == "Enforce"
    for field in ("containers", "=(initContainers)", "=(ephemeralContainers)"):
        assert digest_rule["validate"]["pattern"]["spec"][field] == [{"image": "*@sha256:*"}]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"model_namespaces": []}, "model_namespaces: name at least one"),
        ({"model_namespaces": ["Models"]}, "'Models' is not a Kubernetes namespace name"),
        ({"model_namespaces": ["kyverno"]}, "namespace: Kyverno cannot run in the model namespace 'kyverno'"),
        ({"chart_version": "~3.8"}, r"chart_version: '~3.8' must be an exact version"),
        ({"chart_version": "3.3.4"}, "chart_version: 3.3.4 is older than 3.4.0"),
        ({"webhook_timeout_seconds": 31}, "webhook_timeout_seconds: 31 must be from 1 to 30"),
        ({"admission_replicas": 0}, "admission_replicas: 0 must be at least 1"),
        ({"audit_only": 1}, "audit_only: must be True or False"),
    ],
)
def test_bad_admission_args_fail_at_construction_naming_the_arg(change, message):
    base = dict(signing_key_arn="arn:aws:kms:us-east-1:123456789012:key/k", model_namespaces=["models"])
    with pytest.raises(ValueError, match=f"ImageAdmissionArgs.*{message}"):
        ImageAdmissionArgs(**{**base, **change})
