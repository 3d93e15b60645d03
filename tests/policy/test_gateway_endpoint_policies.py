"""Gateway VPC endpoints reach only the zone's own data, judged through the analyzer service in every way a program
can write the policy: none (AWS's full-access default), on the endpoint, in a separate VpcEndpointPolicy, narrowed
by a condition that does or does not confine the resource's account, and computed at deploy time."""

from __future__ import annotations

import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from components.aws.network import s3_endpoint_policy

POLICY = "gateway-endpoint-policy-scoped"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SEPARATE = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
TESTING = {"modelfort:zone": "testing"}
ACCOUNT = "111122223333"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(resource, condition=None, action="s3:*") -> dict:
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def gateway(name: str, policy=None, **props) -> dict:
    base = {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-1.s3", "vpcEndpointType": "Gateway", **props}
    if policy is not None:
        base["policy"] = policy
    return res(ENDPOINT, name, base)


CASES = {
    "no-policy": ([gateway("no-policy")], True),
    "type-left-to-default": ([res(ENDPOINT, "type-left-to-default", {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-1.dynamodb"})], True),
    "full-access-written-out": ([gateway("full-access-written-out", doc(allow("*", action="*")))], True),
    "secure-transport-only": ([gateway("secure-transport-only", doc(allow("*", {"Bool": {"aws:SecureTransport": "true"}})))], True),
    "principal-account-only": ([gateway("principal-account-only", doc(allow("*", {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})))], True),
    "negated-account": ([gateway("negated-account", doc(allow("*", {"StringNotEquals": {"aws:ResourceAccount": "999999999999"}})))], True),
    "bucket-wildcard": ([gateway("bucket-wildcard", doc(allow("arn:aws:s3:::weights-*/*")))], True),
    "not-resource": ([gateway("not-resource", doc({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "NotResource": "arn:aws:s3:::x/*"}))], True),
    "computed-policy": ([gateway("computed-policy", UNKNOWN)], True),
    "resource-account": ([gateway("resource-account", doc(allow("*", {"StringEquals": {"aws:ResourceAccount": ACCOUNT}})))], False),
    "named-buckets": ([gateway("named-buckets", doc(allow(["arn:aws:s3:::weights-0a1b", "arn:aws:s3:::weights-0a1b/*"])))], False),
    "org-id": ([gateway("org-id", doc(allow("*", {"StringEquals": {"aws:ResourceOrgID": "o-abc123"}})))], False),
    "segmented-network": ([gateway("segmented-network", json.dumps(s3_endpoint_policy(ACCOUNT, "aws", "us-east-1")))], False),
    "interface-endpoint": ([res(ENDPOINT, "interface-endpoint", {"vpcId": "vpc-1", "serviceName": "com.amazonaws.us-east-1.kms",
                                                                 "vpcEndpointType": "Interface"})], False),
}


def separate_policy(name: str, document: str) -> list[dict]:
    endpoint = gateway(name)
    return [endpoint, res(SEPARATE, f"{name}-policy", {"vpcEndpointId": UNKNOWN, "policy": document}, {"vpcEndpointId": [endpoint]})]


@pytest.fixture(scope="module")
def verdicts(packs):
    pack = packs.get(TESTING)
    resources = [r for rs, _ in CASES.values() for r in rs]
    resources += separate_policy("separate-open", doc(allow("*")))
    resources += separate_policy("separate-scoped", doc(allow("*", {"StringEquals": {"aws:ResourceAccount": ACCOUNT}})))
    return flagged(judge_all(pack, resources), POLICY)


@pytest.mark.control("NB-03", "WP-02")
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_gateway_endpoint_passes_only_when_confined_to_the_zones_data(verdicts, case):
    assert (case in verdicts) is CASES[case][1]


@pytest.mark.control("NB-03", "WP-02")
def test_a_separate_endpoint_policy_is_the_one_judged(verdicts):
    assert "separate-open" in verdicts
    assert "separate-scoped" not in verdicts
