"""EvidenceStore under mocks: a validated, encrypted, all-region trail into a COMPLIANCE-locked bucket, and encrypted,
retained, deletion-protected log groups for telemetry, findings and DNS queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.aws.evidence_store import (
    EvidenceStoreArgs,
    dns_query_log_group_name,
    findings_log_group_name,
    telemetry_log_group_name,
)
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "observability-mutant"
TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/modelfort-production-evidence"


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "observability-mutant:mutation": "none"})
    result = run_program_under_mocks(project, stack)
    assert result["error"] is None, result["error"]
    return result["resources"]


def named(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match["properties"]


def bucket_name(resources: list[dict], name: str) -> str:
    """The bucket's name as the mocks answered it (the recorded properties are the program's inputs)."""
    (match,) = [r for r in resources if r["name"] == name]
    return match["id"]


def statements(document: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


@pytest.mark.control("OB-01", "OB-03")
def test_the_trail_covers_every_region_validates_its_files_and_is_encrypted_with_the_evidence_key(resources):
    trail = named(resources, "prod-evidence-trail")
    assert trail["name"] == "modelfort-production-evidence"
    assert trail["isMultiRegionTrail"] is True
    assert trail["includeGlobalServiceEvents"] is True
    assert trail["enableLogFileValidation"] is True
    assert trail["enableLogging"] is True
    assert trail["kmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert trail["s3BucketName"] == bucket_name(resources, "prod-evidence-bucket")
    assert named(resources, "prod-evidence-key")["enableKeyRotation"] is True


@pytest.mark.control("OB-03", "WP-02")
def test_the_trail_records_management_events_and_every_object_access_to_weights_and_signatures(resources):
    selectors = named(resources, "prod-evidence-trail")["advancedEventSelectors"]
    management, data = selectors
    assert management["fieldSelectors"] == [{"field": "eventCategory", "equals": ["Management"]}]
    fields = {f["field"]: f for f in data["fieldSelectors"]}
    assert fields["eventCategory"]["equals"] == ["Data"]
    assert fields["resources.type"]["equals"] == ["AWS::S3::Object"]
    weights = bucket_name(resources, "prod-weights-bucket")
    signatures = bucket_name(resources, "prod-reference-store-bucket")
    assert sorted(fields["resources.ARN"]["startsWiths"]) == sorted([f"arn:aws:s3:::{weights}/", f"arn:aws:s3:::{signatures}/"])


@pytest.mark.control("OB-03")
def test_the_key_lets_only_this_trail_and_this_zones_log_groups_encrypt(resources):
    policy = statements(named(resources, "prod-evidence-key")["policy"])
    trail = policy["CloudTrailEncryptsThisTrailOnly"]
    assert trail["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trail["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN, "kms:EncryptionContext:aws:cloudtrail:arn": TRAIL_ARN}}
    assert policy["CloudTrailDescribesTheKey"]["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    logs = policy["CloudWatchLogsOfThisZoneOnly"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/modelfort/production/*",
        "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-modelfort-production-*",
    ]
    # Nobody outside the account's IAM, and no other service, may use the key.
    assert {s["Principal"].get("Service") for s in policy.values() if "Service" in s["Principal"]} == {
        "cloudtrail.amazonaws.com", "logs.us-east-1.amazonaws.com"}


@pytest.mark.control("OB-03")
def test_the_bucket_locks_evidence_in_compliance_mode_and_admits_only_this_trail(resources):
    bucket = named(resources, "prod-evidence-bucket")
    assert bucket["objectLockEnabled"] is True
    assert bucket["tags"]["modelfort:data-class"] == "evidence"
    assert named(resources, "prod-evidence-object-lock")["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 365}
    assert named(resources, "prod-evidence-versioning")["versioningConfiguration"]["status"] == "Enabled"
    sse = named(resources, "prod-evidence-encryption")["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse["sseAlgorithm"] == "aws:kms" and sse["kmsMasterKeyId"].startswith("arn:aws:kms:")
    policy = statements(named(resources, "prod-evidence-policy")["policy"])
    assert policy["CloudTrailWritesThisTrailOnly"]["Condition"] == {
        "StringEquals": {"aws:SourceArn": TRAIL_ARN, "s3:x-amz-acl": "bucket-owner-full-control"}}
    assert policy["CloudTrailWritesThisTrailOnly"]["Resource"].endswith("/AWSLogs/123456789012/*")
    assert policy["CloudTrailChecksTheBucket"]["Condition"] == {"StringEquals": {"aws:SourceArn": TRAIL_ARN}}
    deletion = policy["DenyEvidenceDeletion"]
    assert deletion["Effect"] == "Deny" and set(deletion["Action"]) == {"s3:DeleteObject", "s3:DeleteObjectVersion"}
    assert "Condition" not in deletion
    assert policy["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    block = named(resources, "prod-evidence-public-access-block")
    assert all(block[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    assert named(resources, "prod-evidence-access-logs")["targetBucket"] == bucket_name(resources, "prod-access-logs-bucket")


@pytest.mark.control("OB-01", "OB-02", "OB-03")
@pytest.mark.parametrize(
    "role,group_name",
    [("telemetry", telemetry_log_group_name("production")), ("findings", findings_log_group_name("production")),
     ("dns-queries", dns_query_log_group_name("production"))],
)
def test_log_groups_are_encrypted_retained_and_protected_from_deletion(resources, role, group_name):
    group = named(resources, f"prod-evidence-{role}")
    assert group["name"] == group_name
    assert group["kmsKeyId"].startswith("arn:aws:kms:")
    assert group["retentionInDays"] == 365
    assert group["deletionProtectionEnabled"] is True
    assert group["tags"]["modelfort:data-class"] == "evidence"


@pytest.mark.control("OB-01")
def test_dns_queries_of_the_zone_vpc_are_logged_to_the_encrypted_group(resources):
    config = named(resources, "prod-evidence-dns-query-log")
    assert config["destinationArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{dns_query_log_group_name('production')}"
    association = named(resources, "prod-evidence-dns-query-log-association")
    assert association["resourceId"].startswith("vpc-")
    assert association["resolverQueryLogConfigId"].startswith("rslvr-rqlc-")
    delivery = json.loads(named(resources, "prod-evidence-dns-query-log-delivery")["policyDocument"])["Statement"][0]
    assert delivery["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert delivery["Resource"] == f"{config['destinationArn']}:*"
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}


@pytest.mark.control("OB-01")
def test_the_serving_role_may_only_append_telemetry(resources):
    (statement,) = json.loads(named(resources, "prod-evidence-serving-append")["policy"])["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{telemetry_log_group_name('production')}:*"


def _args(**changes) -> EvidenceStoreArgs:
    base = dict(zone="production", region="us-east-1", vpc_id="vpc-1", retention_days=365, log_retention_days=365,
                access_log_bucket="logs", watched_bucket_names=["weights"])
    return EvidenceStoreArgs(**{**base, **changes})


@pytest.mark.parametrize(
    "changes,arg",
    [
        ({"retention_days": 0}, "retention_days"),
        ({"log_retention_days": 100}, "log_retention_days"),
        ({"watched_bucket_names": []}, "watched_bucket_names"),
    ],
)
def test_unsafe_args_fail_at_construction_naming_the_arg(changes, arg):
    with pytest.raises(ValueError, match=f"EvidenceStoreArgs.{arg}"):
        _args(**changes)
