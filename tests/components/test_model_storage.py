"""WeightsBucket, ModelReferenceStore and AccessLogBucket under mocks: encryption, locking, and who may do what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.reference_store import ModelReferenceStoreArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "mutant"


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "mutant:mutation": "none"})
    result = run_program_under_mocks(project, stack)
    assert result["error"] is None, result["error"]
    return result["resources"]


def named(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match["properties"]


@pytest.mark.control("WP-01", "DP-09")
def test_weights_are_encrypted_with_a_rotated_customer_key_versioned_and_locked(resources):
    key = named(resources, "prod-weights-key")
    assert key["enableKeyRotation"] is True
    sse = named(resources, "prod-weights-encryption")["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert sse["bucketKeyEnabled"] is True
    assert named(resources, "prod-weights-bucket")["objectLockEnabled"] is True
    assert named(resources, "prod-weights-versioning")["versioningConfiguration"]["status"] == "Enabled"
    assert named(resources, "prod-weights-object-lock")["rule"]["defaultRetention"]["mode"] == "GOVERNANCE"


@pytest.mark.control("WP-02", "WP-03")
def test_weights_bucket_is_private_tls_only_endpoint_only_and_logged(resources):
    block = named(resources, "prod-weights-public-access-block")
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert named(resources, "prod-weights-ownership")["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    statements = {s["Sid"]: s for s in json.loads(named(resources, "prod-weights-policy")["policy"])["Statement"]}
    assert statements["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["DenyAccessOutsideZoneEndpoint"]["Condition"]["StringNotEquals"]["aws:SourceVpce"].startswith("vpce-")
    assert "s3:x-amz-server-side-encryption-aws-kms-key-id" in statements["DenyUploadsWithAnotherKey"]["Condition"]["StringNotEqualsIfExists"]
    assert named(resources, "prod-weights-access-logs")["targetPrefix"].startswith("s3/")
    assert not [r for r in resources if "Website" in r["type"]]


@pytest.mark.control("WP-02")
def test_grant_read_allows_get_object_on_the_prefix_and_decrypt_only_through_s3(resources):
    policy = json.loads(named(resources, "prod-weights-serving-read")["policy"])
    read, listing, decrypt = policy["Statement"]
    assert read["Action"] == "s3:GetObject" and read["Resource"].endswith("/models/llama-guard/v3/*")
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["models/llama-guard/v3/", "models/llama-guard/v3/*"]}}
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}


@pytest.mark.control("WP-06", "OB-04")
def test_reference_store_locks_signatures_in_compliance_mode_with_an_asymmetric_signing_key(resources):
    lock = named(resources, "prod-reference-store-object-lock")["rule"]["defaultRetention"]
    assert lock == {"mode": "COMPLIANCE", "days": 365}
    signing = named(resources, "prod-reference-store-signing-key")
    assert signing["customerMasterKeySpec"] == "ECC_NIST_P256" and signing["keyUsage"] == "SIGN_VERIFY"
    publisher = json.loads(named(resources, "prod-reference-store-publisher-access")["policy"])["Statement"]
    reader = json.loads(named(resources, "prod-reference-store-reader-access")["policy"])["Statement"]
    publisher_actions = {a for s in publisher for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    reader_actions = {a for s in reader for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "kms:Sign" in publisher_actions and "s3:PutObject" in publisher_actions
    assert "kms:Sign" not in reader_actions and "s3:PutObject" not in reader_actions
    trust = json.loads(named(resources, "prod-reference-store-reader")["assumeRolePolicy"])["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:PrincipalTag/modelfort:signature-reader": "true"}}
    deny = {s["Sid"]: s for s in json.loads(named(resources, "prod-reference-store-policy")["policy"])["Statement"]}
    assert deny["OnlyThePublisherWrites"]["Effect"] == "Deny"


def test_access_log_bucket_accepts_only_s3_logging_from_this_account(resources):
    statements = {s["Sid"]: s for s in json.loads(named(resources, "prod-access-logs-policy")["policy"])["Statement"]}
    logging = statements["S3ServerAccessLogsFromThisAccount"]
    assert logging["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert logging["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert named(resources, "prod-access-logs-encryption")["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_bad_store_args_fail_at_construction():
    with pytest.raises(ValueError, match="retention_days"):
        ModelReferenceStoreArgs(zone="production", region="us-east-1", retention_days=0, access_log_bucket="logs")
