"""Storage rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service."""

from __future__ import annotations

import json

import pytest
from fixtures import flagged, judge_all, res

BUCKET = "aws:s3/bucket:Bucket"


def hardened(name: str = "weights", data_class: str = "model-weights", lock_mode: str = "GOVERNANCE", lock_days: int = 30) -> list[dict]:
    bucket = res(BUCKET, name, {"objectLockEnabled": True, "tags": {"modelfort:data-class": data_class}})
    on = {"bucket": [bucket]}
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "Endpoint", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}},
        ],
    }
    return [
        bucket,
        res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab", {"bucket": "x", "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}, on),
        res("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{name}-own", {"bucket": "x", "rule": {"objectOwnership": "BucketOwnerEnforced"}}, on),
        res("aws:s3/bucketVersioning:BucketVersioning", f"{name}-ver", {"bucket": "x", "versioningConfiguration": {"status": "Enabled"}}, on),
        res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", f"{name}-sse",
            {"bucket": "x", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/k"}, "bucketKeyEnabled": True}]}, on),
        res("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"{name}-lock", {"bucket": "x", "rule": {"defaultRetention": {"mode": lock_mode, "days": lock_days}}}, on),
        res("aws:s3/bucketLogging:BucketLogging", f"{name}-log", {"bucket": "x", "targetBucket": "logs"}, on),
        res("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy", {"bucket": "x", "policy": json.dumps(document)}, on),
    ]


def drop(resources, suffix):
    return [r for r in resources if not r["name"].endswith(suffix)]


def change(resources, suffix, **props):
    return [({**r, "properties": {**r["properties"], **props}} if r["name"].endswith(suffix) else r) for r in resources]


STORAGE_POLICIES = (
    "s3-public-access-blocked", "s3-no-website", "s3-no-public-grants", "model-bucket-encrypted", "model-bucket-immutable",
    "model-bucket-tls-only", "weights-bucket-endpoint-only", "model-bucket-owner-enforced", "model-bucket-access-logged",
    "reference-store-compliance-lock", "access-log-retention",
)


def violations(pack, resources):
    diagnostics = judge_all(pack, resources)
    return {policy: flagged(diagnostics, policy) for policy in STORAGE_POLICIES if flagged(diagnostics, policy)}


def test_hardened_weights_and_signature_buckets_pass(packs):
    resources = hardened() + hardened("signatures", "model-signatures", "COMPLIANCE", 365)
    assert violations(packs.get(), resources) == {}


@pytest.mark.control("WP-01", "WP-02", "WP-03", "WP-06", "DP-09", "OB-03")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: drop(r, "-pab"), {"s3-public-access-blocked": {"weights"}}),
        (lambda r: change(r, "-pab", restrictPublicBuckets=False), {"s3-public-access-blocked": {"weights"}}),
        (lambda r: drop(r, "-sse"), {"model-bucket-encrypted": {"weights"}}),
        (lambda r: change(r, "-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]), {"model-bucket-encrypted": {"weights"}}),
        (lambda r: change(r, "-sse", rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]), {"model-bucket-encrypted": {"weights"}}),
        (lambda r: drop(r, "-ver"), {"model-bucket-immutable": {"weights"}}),
        (lambda r: change(r, "-ver", versioningConfiguration={"status": "Suspended"}), {"model-bucket-immutable": {"weights"}}),
        (lambda r: change(r, "weights", objectLockEnabled=False), {"model-bucket-immutable": {"weights"}}),
        (lambda r: drop(r, "-lock"), {"model-bucket-immutable": {"weights"}}),
        (lambda r: drop(r, "-own"), {"model-bucket-owner-enforced": {"weights"}}),
        (lambda r: drop(r, "-log"), {"model-bucket-access-logged": {"weights"}}),
        (lambda r: drop(r, "-policy"), {"model-bucket-tls-only": {"weights"}, "weights-bucket-endpoint-only": {"weights"}}),
        (lambda r: change(r, "-policy", policy=json.dumps({"Statement": [{"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})),
         {"weights-bucket-endpoint-only": {"weights"}}),
    ],
)
def test_each_missing_safeguard_on_a_weights_bucket_is_flagged(packs, mutate, expected):
    assert violations(packs.get(), mutate(hardened())) == expected


@pytest.mark.control("WP-06")
def test_signatures_need_a_compliance_lock_as_long_as_the_tier_requires(packs):
    governance = hardened("signatures", "model-signatures", "GOVERNANCE", 3650)
    assert violations(packs.get(), governance) == {"reference-store-compliance-lock": {"signatures"}}
    short = hardened("signatures", "model-signatures", "COMPLIANCE", 90)
    assert violations(packs.get({"modelfort:zone": "testing"}), short) == {}
    assert violations(packs.get({"modelfort:zone": "production"}), short) == {"reference-store-compliance-lock": {"signatures"}}
    in_years = change(hardened("signatures", "model-signatures", "COMPLIANCE"), "-lock", rule={"defaultRetention": {"mode": "COMPLIANCE", "years": 1}})
    assert violations(packs.get({"modelfort:zone": "production"}), in_years) == {}


@pytest.mark.control("OB-03")
def test_access_log_buckets_keep_logs_as_long_as_the_tier_requires(packs):
    logs = drop(hardened("logs", "access-logs", "GOVERNANCE", 30), "-sse")
    assert violations(packs.get(), logs) == {"access-log-retention": {"logs"}}
    assert violations(packs.get(), change(logs, "-lock", rule={"defaultRetention": {"mode": "GOVERNANCE", "days": 365}})) == {}


def test_untagged_buckets_only_need_to_be_private(packs):
    plain = res(BUCKET, "scratch", {})
    pab = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "scratch-pab",
              {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}, {"bucket": [plain]})
    assert violations(packs.get(), [plain, pab]) == {}
    assert violations(packs.get(), [plain]) == {"s3-public-access-blocked": {"scratch"}}


def test_a_public_access_block_found_by_literal_bucket_name(packs):
    plain = res(BUCKET, "named", {"bucket": "acme-named"})
    pab = res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "named-pab",
              {"bucket": "acme-named", "blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True})
    assert violations(packs.get(), [plain, pab]) == {}


@pytest.mark.control("WP-03")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res("aws:s3/bucketWebsiteConfiguration:BucketWebsiteConfiguration", "site", {"bucket": "b"}), {"site"}),
        (res("aws:s3/bucketWebsiteConfigurationV2:BucketWebsiteConfigurationV2", "site-v2", {"bucket": "b"}), {"site-v2"}),
        (res(BUCKET, "legacy-site", {"website": {"indexDocument": "index.html"}}), {"legacy-site"}),
        (res(BUCKET, "plain", {}), set()),
    ],
)
def test_no_bucket_serves_a_website(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), "s3-no-website") == expected


@pytest.mark.control("WP-03")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res("aws:s3/bucketAcl:BucketAcl", "canned", {"acl": "public-read"}), {"canned"}),
        (res("aws:s3/bucketAcl:BucketAcl", "private", {"acl": "private"}), set()),
        (res("aws:s3/bucketAclV2:BucketAclV2", "grant", {"accessControlPolicy": {"grants": [{"grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}, "permission": "READ"}]}}), {"grant"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "anyone", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject"}]})}), {"anyone"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "conditioned", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]})}), set()),
        # Only a condition that limits who the caller is narrows "*" (conditions.py); TLS or a negation does not.
        (res("aws:s3/bucketPolicy:BucketPolicy", "tls-only", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]})}), {"tls-only"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "negated-vpce", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}]})}), {"negated-vpce"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "if-exists", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}}]})}), {"if-exists"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "wildcard-org", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringLike": {"aws:PrincipalOrgID": "*"}}}]})}), {"wildcard-org"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "org-only", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]})}), set()),
        (res("aws:s3/bucketPolicy:BucketPolicy", "any-value-account", {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalAccount": ["123456789012"]}}}]})}), set()),
        (res("aws:s3/bucketPolicy:BucketPolicy", "garbled", {"policy": "{not json"}), {"garbled"}),
        (res("aws:s3/bucketPolicy:BucketPolicy", "missing-policy", {}), {"missing-policy"}),
    ],
)
def test_no_acl_or_policy_grants_access_to_everyone(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), "s3-no-public-grants") == expected
