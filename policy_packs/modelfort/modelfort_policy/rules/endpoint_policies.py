"""Gateway VPC endpoints reach only the zone's own data (NB-03, WP-02).

A gateway endpoint (S3, DynamoDB) without a policy has AWS's default: full access to every bucket and table of every
account. From a zone without internet access that is the one open door: a workload, or whatever runs in it, can copy
weights into a bucket of another account. The endpoint's policy must confine what passes it to the zone's resources:
a condition on the resource's account or organisation (`aws:ResourceAccount`, `aws:ResourceOrgID`, ...) or resources
named exactly. A policy set by a separate `VpcEndpointPolicy` is the one judged; a policy the gate cannot read is a
violation, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.conditions import narrows_resource, policy_statements
from modelfort_policy.props import as_list, referenced
from modelfort_policy.rule import Context, Finding, Rule, StackResource
from modelfort_policy.tiers import STANDARD

ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
ENDPOINT_POLICY = "aws:ec2/vpcEndpointPolicy:VpcEndpointPolicy"
UNSEEN = object()


def _read(props: Any, key: str) -> Any:
    try:
        return props.get(key)
    except UnknownValueError:
        return UNSEEN


def _is_gateway(endpoint: StackResource) -> bool:
    kind = _read(endpoint.props, "vpcEndpointType")
    return kind in (None, "Gateway", UNSEEN)  # AWS's default type is Gateway; an unknown type is judged as one


def _open_resource(resource: Any) -> bool:
    """A resource pattern that can match another account's bucket or table."""
    text = str(resource)
    if text.strip("*") == "":
        return True
    parts = text.split(":", 5)
    if len(parts) < 6:
        return True  # not an ARN: nothing confines it
    service, account, rest = parts[2], parts[4], parts[5]
    if service == "s3":
        bucket = rest.split("/", 1)[0]
        return any(ch in bucket for ch in "*?")  # bucket names are global: a wildcard can match anyone's
    return account == "" or any(ch in account for ch in "*?")


def opening_statements(document: Any) -> list[str] | None:
    """Sids (or positions) of the Allow statements that reach other accounts' data; None when unreadable."""
    statements = policy_statements(document)
    if statements is None:
        return None
    opened = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow" or narrows_resource(statement.get("Condition")):
            continue
        if "NotResource" in statement or any(_open_resource(r) for r in as_list(statement.get("Resource"))):
            opened.append(str(statement.get("Sid") or f"statement {index}"))
    return opened


def check_gateway_endpoint_policies(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    separate: dict[str, StackResource] = {}
    standalone = []
    for policy in (r for r in resources if r.resource_type == ENDPOINT_POLICY):
        targets = [dep for dep in referenced(policy, "vpcEndpointId") if getattr(dep, "resource_type", None) == ENDPOINT]
        for target in targets:
            separate[target.urn] = policy
        if not targets:
            standalone.append(policy)
    for endpoint in (r for r in resources if r.resource_type == ENDPOINT and _is_gateway(r)):
        holder = separate.get(endpoint.urn, endpoint)
        yield from _judge(endpoint, holder)
    for policy in standalone:
        yield from _judge(policy, policy)


def _judge(subject: StackResource, holder: StackResource) -> Iterable[Finding]:
    document = _read(holder.props, "policy")
    where = "" if holder is subject else f" (set by VpcEndpointPolicy '{holder.name}')"
    if document is UNSEEN:
        yield Finding(f"gateway endpoint '{subject.name}'{where}: its policy is computed at deploy time, so the gate "
                      "cannot see what it admits; write it from known values.", subject.urn)
        return
    if not document:
        yield Finding(f"gateway endpoint '{subject.name}' has no policy, so AWS's default admits every bucket and "
                      "table of every account; give it a policy confined to the zone's account (aws:ResourceAccount).",
                      subject.urn)
        return
    opened = opening_statements(document)
    if opened is None:
        yield Finding(f"gateway endpoint '{subject.name}'{where}: its policy is not a readable JSON policy document.",
                      subject.urn)
    elif opened:
        yield Finding(f"gateway endpoint '{subject.name}'{where}: {', '.join(opened)} admit(s) other accounts' data "
                      "(a wildcard resource with no aws:ResourceAccount / aws:ResourceOrgID condition).", subject.urn)


RULES = (
    Rule(
        name="gateway-endpoint-policy-scoped",
        description="S3 and DynamoDB gateway endpoints admit only the zone's own account (or organisation).",
        severity="high",
        controls=("NB-03", "WP-02"),
        remediation="Give the endpoint a policy whose Allow statements carry aws:ResourceAccount (SegmentedNetwork does).",
        mandatory_from=STANDARD,
        stack_check=check_gateway_endpoint_policies,
    ),
)
