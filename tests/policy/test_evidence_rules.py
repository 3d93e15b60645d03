"""Evidence and alerting rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer
service: trails, the evidence bucket, evidence log groups, SNS topics and alarms."""

from __future__ import annotations

import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET = "aws:s3/bucket:Bucket"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000000"

EVIDENCE_POLICIES = (
    "cloudtrail-log-file-validation", "cloudtrail-kms-encrypted", "cloudtrail-all-regions", "cloudtrail-evidence-bucket",
    "cloudtrail-model-data-events", "evidence-bucket-compliance-lock", "evidence-bucket-encrypted",
    "evidence-log-group-protected", "sns-topic-encrypted", "alarm-has-actions",
)


def evidence_bucket(name: str = "evidence", mode: str = "COMPLIANCE", days: int = 365) -> list[dict]:
    bucket = res(BUCKET, name, {"bucket": f"{name}-bucket", "objectLockEnabled": True, "tags": {"modelfort:data-class": "evidence"}})
    on = {"bucket": [bucket]}
    tls = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    return [
        bucket,
        res("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{name}-pab", {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}, on),
        res("aws:s3/bucketVersioning:BucketVersioning", f"{name}-ver", {"versioningConfiguration": {"status": "Enabled"}}, on),
        res("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", f"{name}-sse",
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}}]}, on),
        res("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", f"{name}-lock", {"rule": {"defaultRetention": {"mode": mode, "days": days}}}, on),
        res("aws:s3/bucketPolicy:BucketPolicy", f"{name}-policy", {"policy": json.dumps(tls)}, on),
    ]


def weights_bucket() -> dict:
    return res(BUCKET, "weights", {"bucket": "weights-bucket", "tags": {"modelfort:data-class": "model-weights"}})


def data_selector(values: list[str], key: str = "startsWiths") -> dict:
    return {"name": "data", "fieldSelectors": [
        {"field": "eventCategory", "equals": ["Data"]},
        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
        {"field": "resources.ARN", key: values},
    ]}


def trail(bucket: dict, weights: dict, **changes) -> dict:
    props = {
        "name": "zone-trail", "s3BucketName": "evidence-bucket", "isMultiRegionTrail": True, "includeGlobalServiceEvents": True,
        "enableLogFileValidation": True, "enableLogging": True, "kmsKeyId": KEY,
        "advancedEventSelectors": [{"name": "mgmt", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
                                   data_selector(["arn:aws:s3:::weights-bucket/"])],
    }
    props.update(changes)
    return res(TRAIL, "trail", {k: v for k, v in props.items() if v is not None},
               {"s3BucketName": [bucket], "advancedEventSelectors": [weights]})


def hardened(**trail_changes) -> list[dict]:
    store = evidence_bucket()
    weights = weights_bucket()
    return [*store, weights, trail(store[0], weights, **trail_changes)]


def violations(pack, resources) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, resources)
    return {policy: flagged(diagnostics, policy) for policy in EVIDENCE_POLICIES if flagged(diagnostics, policy)}


def test_a_hardened_trail_and_evidence_bucket_pass(packs):
    assert violations(packs.get(), hardened()) == {}


@pytest.mark.control("OB-01", "OB-03")
@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"enableLogFileValidation": False}, {"cloudtrail-log-file-validation": {"trail"}}),
        ({"enableLogFileValidation": None}, {"cloudtrail-log-file-validation": {"trail"}}),
        ({"kmsKeyId": None}, {"cloudtrail-kms-encrypted": {"trail"}}),
        ({"kmsKeyId": ""}, {"cloudtrail-kms-encrypted": {"trail"}}),
        ({"isMultiRegionTrail": False}, {"cloudtrail-all-regions": {"trail"}}),
        ({"isMultiRegionTrail": None}, {"cloudtrail-all-regions": {"trail"}}),
        ({"includeGlobalServiceEvents": False}, {"cloudtrail-all-regions": {"trail"}}),
        ({"includeGlobalServiceEvents": None}, {}),  # AWS's default is to include them
        ({"enableLogging": False}, {"cloudtrail-all-regions": {"trail"}}),
    ],
)
def test_each_missing_trail_safeguard_is_flagged(packs, changes, expected):
    assert violations(packs.get(), hardened(**changes)) == expected


@pytest.mark.control("OB-03")
def test_a_trail_must_deliver_to_an_evidence_bucket(packs):
    store, weights = evidence_bucket(), weights_bucket()
    plain = res(BUCKET, "plain", {"bucket": "plain-bucket"})
    to_plain = res(TRAIL, "trail", {**trail(store[0], weights)["properties"], "s3BucketName": "plain-bucket"},
                   {"s3BucketName": [plain], "advancedEventSelectors": [weights]})
    assert violations(packs.get(), [*store, weights, plain, to_plain]) == {"cloudtrail-evidence-bucket": {"trail"}}
    # An existing evidence bucket named literally counts as well.
    by_name = res(TRAIL, "trail", trail(store[0], weights)["properties"], {"advancedEventSelectors": [weights]})
    assert violations(packs.get(), [*store, weights, by_name]) == {}


@pytest.mark.control("OB-03", "WP-02")
@pytest.mark.parametrize(
    "selectors,deps,expected",
    [
        ([], False, {"weights"}),
        ([data_selector(["arn:aws:s3:::weights-bucket/"])], False, set()),
        ([data_selector(["arn:aws:s3:::"])], False, set()),
        ([data_selector(["arn:aws:s3:::weights-bucket/public/"])], False, {"weights"}),
        ([data_selector(["arn:aws:s3:::other-bucket/"])], False, {"weights"}),
        ([data_selector(["arn:aws:s3:::weights-bucket/"], key="notStartsWiths")], True, {"weights"}),
        ([{"fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}], False, set()),
        ([data_selector([UNKNOWN])], True, set()),  # at preview the ARN is unknown; the dependency says which bucket
    ],
)
def test_trails_record_object_access_to_every_model_bucket(packs, selectors, deps, expected):
    store, weights = evidence_bucket(), weights_bucket()
    props = {**trail(store[0], weights)["properties"], "advancedEventSelectors": selectors}
    watching = res(TRAIL, "trail", props, {"s3BucketName": [store[0]], **({"advancedEventSelectors": [weights]} if deps else {})})
    found = violations(packs.get(), [*store, weights, watching])
    assert found.get("cloudtrail-model-data-events", set()) == expected
    assert set(found) <= {"cloudtrail-model-data-events"}


def test_basic_event_selectors_count_too(packs):
    store, weights = evidence_bucket(), weights_bucket()
    props = {**trail(store[0], weights)["properties"], "advancedEventSelectors": None,
             "eventSelectors": [{"readWriteType": "All", "dataResources": [{"type": "AWS::S3::Object", "values": ["arn:aws:s3:::weights-bucket/"]}]}]}
    basic = res(TRAIL, "trail", {k: v for k, v in props.items() if v is not None}, {"s3BucketName": [store[0]]})
    assert violations(packs.get(), [*store, weights, basic]) == {}


def test_without_any_trail_model_buckets_are_not_judged_for_data_events(packs):
    assert violations(packs.get(), [weights_bucket()]) == {}


@pytest.mark.control("OB-03")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: [*evidence_bucket(mode="GOVERNANCE")], {"evidence-bucket-compliance-lock": {"evidence"}}),
        (lambda r: [*evidence_bucket(days=30)], {"evidence-bucket-compliance-lock": {"evidence"}}),
        (lambda r: [x for x in r if not x["name"].endswith("-lock")], {"evidence-bucket-compliance-lock": {"evidence"}}),
        (lambda r: [{**x, "properties": {**x["properties"], "objectLockEnabled": False}} if x["name"] == "evidence" else x for x in r],
         {"evidence-bucket-compliance-lock": {"evidence"}}),
        (lambda r: [x for x in r if not x["name"].endswith("-ver")], {"evidence-bucket-compliance-lock": {"evidence"}}),
        (lambda r: [x for x in r if not x["name"].endswith("-sse")], {"evidence-bucket-encrypted": {"evidence"}}),
        (lambda r: [x for x in r if not x["name"].endswith("-policy")], {"evidence-bucket-encrypted": {"evidence"}}),
    ],
)
def test_each_missing_evidence_bucket_safeguard_is_flagged(packs, mutate, expected):
    assert violations(packs.get(), mutate(evidence_bucket())) == expected


def test_evidence_retention_follows_the_tier(packs):
    short = evidence_bucket(days=90)
    assert violations(packs.get({"modelfort:zone": "testing"}), short) == {}
    assert violations(packs.get({"modelfort:zone": "production"}), short) == {"evidence-bucket-compliance-lock": {"evidence"}}
    in_years = [({**r, "properties": {"rule": {"defaultRetention": {"mode": "COMPLIANCE", "years": 4}}}} if r["name"].endswith("-lock") else r)
                for r in evidence_bucket()]
    assert violations(packs.get({"modelfort:zone": "high-sensitivity"}), in_years) == {}


@pytest.mark.control("OB-03")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"tags": {"modelfort:data-class": "evidence"}, "deletionProtectionEnabled": True}, set()),
        ({"tags": {"modelfort:data-class": "evidence"}, "deletionProtectionEnabled": False}, {"audit"}),
        ({"tags": {"modelfort:data-class": "evidence"}}, {"audit"}),
        ({"tags": {"team": "ml"}}, set()),
        ({}, set()),
    ],
)
def test_evidence_log_groups_cannot_be_deleted(packs, props, expected):
    group = res(LOG_GROUP, "audit", {"kmsKeyId": KEY, "retentionInDays": 365, **props})
    assert flagged(packs.get().analyze(group), "evidence-log-group-protected") == expected


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"kmsMasterKeyId": KEY}, set()),
        ({"kmsMasterKeyId": "alias/modelfort/production/alerts"}, set()),
        ({}, {"topic"}),
        ({"kmsMasterKeyId": ""}, {"topic"}),
        ({"kmsMasterKeyId": "alias/aws/sns"}, {"topic"}),
        ({"kmsMasterKeyId": "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"}, {"topic"}),
    ],
)
def test_sns_topics_use_a_customer_key_cloudwatch_can_use(packs, props, expected):
    assert flagged(packs.get().analyze(res(TOPIC, "topic", props)), "sns-topic-encrypted") == expected


@pytest.mark.control("OB-05", "OB-06", "OB-07", "OB-08")
@pytest.mark.parametrize(
    "kind,props,expected",
    [
        (ALARM, {"alarmActions": ["arn:aws:sns:us-east-1:123456789012:oncall"]}, set()),
        (ALARM, {}, {"alarm"}),
        (ALARM, {"alarmActions": []}, {"alarm"}),
        (ALARM, {"alarmActions": ["arn:aws:sns:us-east-1:123456789012:oncall"], "actionsEnabled": False}, {"alarm"}),
        (ALARM, {"okActions": ["arn:aws:sns:us-east-1:123456789012:oncall"]}, {"alarm"}),
        ("aws:cloudwatch/compositeAlarm:CompositeAlarm", {"alarmRule": "ALARM(a)"}, {"alarm"}),
    ],
)
def test_alarms_notify_someone(packs, kind, props, expected):
    assert flagged(packs.get().analyze(res(kind, "alarm", props)), "alarm-has-actions") == expected


@pytest.mark.control("OB-03", "OB-05")
@pytest.mark.parametrize(
    "resource,policy",
    [
        (res(TRAIL, "trail", {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": UNKNOWN}), "cloudtrail-kms-encrypted"),
        (res(TOPIC, "topic", {"kmsMasterKeyId": UNKNOWN}), "sns-topic-encrypted"),
        (res(ALARM, "alarm", {"alarmActions": [UNKNOWN]}), "alarm-has-actions"),
    ],
)
def test_presence_checks_hold_at_preview_when_a_new_keys_or_topics_arn_is_unknown(packs, resource, policy):
    # A mandatory check that reads an unknown value degrades to advisory; these never need the value itself.
    assert [d for d in packs.get().analyze(resource) if d.policy == policy] == []
