"""KMS key, SNS topic and SQS queue policies: Principal "*" is public unless a condition narrows who (conditions.py)."""

from __future__ import annotations

import json

import pytest
from fixtures import UNKNOWN, flagged, res

from modelfort.gate.verdict import UNKNOWN_VALUE_MARKER

POLICY = "resource-policy-not-public"
ANYONE_SENDS = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}
ANYONE_DECRYPTS = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"], "Resource": "*"}
OWNER = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.mark.control("WP-02", "SC-03")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res("aws:kms/key:Key", "open-key", {"policy": doc(OWNER, ANYONE_DECRYPTS)}), {"open-key"}),
        (res("aws:kms/keyPolicy:KeyPolicy", "tls-key", {"keyId": "k", "policy": doc({**ANYONE_DECRYPTS, "Condition": {"Bool": {"aws:SecureTransport": "true"}}})}), {"tls-key"}),
        (res("aws:kms/keyPolicy:KeyPolicy", "via-service-key", {"keyId": "k", "policy": doc({**ANYONE_DECRYPTS, "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})}), {"via-service-key"}),
        (res("aws:kms/key:Key", "account-key", {"policy": doc({**ANYONE_DECRYPTS, "Condition": {"StringEquals": {"kms:CallerAccount": "123456789012"}}})}), set()),
        (res("aws:kms/key:Key", "owner-key", {"policy": doc(OWNER)}), set()),
        (res("aws:kms/key:Key", "default-key", {}), set()),
        (res("aws:sqs/queue:Queue", "open-queue", {"policy": doc(ANYONE_SENDS)}), {"open-queue"}),
        (res("aws:sqs/queuePolicy:QueuePolicy", "negated-queue", {"queueUrl": "q", "policy": doc({**ANYONE_SENDS, "Condition": {"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:alarms"}}})}), {"negated-queue"}),
        (res("aws:sqs/queuePolicy:QueuePolicy", "topic-queue", {"queueUrl": "q", "policy": doc({**ANYONE_SENDS, "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:alarms"}}})}), set()),
        (res("aws:sns/topic:Topic", "open-topic", {"policy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Subscribe"}]}}), {"open-topic"}),
        (res("aws:sns/topicPolicy:TopicPolicy", "org-topic", {"arn": "t", "policy": doc({"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}})}), set()),
        (res("aws:sns/topicPolicy:TopicPolicy", "garbled-topic", {"arn": "t", "policy": "{not json"}), {"garbled-topic"}),
        (res("aws:sns/topic:Topic", "no-policy-topic", {"name": "alarms"}), set()),
    ],
)
def test_no_key_topic_or_queue_policy_lets_anyone_in(packs, resource, expected):
    assert flagged(packs.get().analyze(resource), POLICY) == expected


@pytest.mark.control("WP-02")
def test_a_computed_policy_is_reported_as_not_judged(packs):
    # The gate turns this marker into a blocking "could not judge" for a mandatory policy (verdict.py).
    diagnostics = [d for d in packs.get().analyze(res("aws:kms/key:Key", "computed-key", {"policy": UNKNOWN})) if d.policy == POLICY]
    assert diagnostics and all(UNKNOWN_VALUE_MARKER.match(d.message) for d in diagnostics), diagnostics
