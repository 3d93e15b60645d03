"""SegmentedNetwork under Pulumi mocks: the security-relevant inputs of every child, as the engine would see them."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from components.aws.network import SegmentedNetworkArgs
from components.aws.service_endpoints import DEFAULT_INTERFACE_SERVICES
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


def plan(stack: str) -> list[dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, stack))
    assert result["error"] is None, result["error"]
    return result["resources"]


@pytest.fixture(scope="module")
def production() -> list[dict]:
    return plan("production")


def of_type(resources: list[dict], suffix: str) -> list[dict]:
    return [r for r in resources if r["type"].endswith(suffix)]


def one(resources: list[dict], name_suffix: str) -> dict:
    matches = [r for r in resources if r["name"].endswith(name_suffix)]
    assert len(matches) == 1, [r["name"] for r in matches]
    return matches[0]


@pytest.mark.control("NB-09", "NB-10")
def test_one_vpc_with_isolated_subnets_in_three_zones(production):
    (vpc,) = of_type(production, ":Vpc")
    assert vpc["properties"]["cidrBlock"] == "10.30.0.0/16"
    assert vpc["properties"]["enableDnsSupport"] and vpc["properties"]["enableDnsHostnames"]
    subnets = of_type(production, ":Subnet")
    assert len({s["properties"]["availabilityZone"] for s in subnets}) == 3
    for subnet in subnets:
        assert subnet["properties"]["mapPublicIpOnLaunch"] is False
        assert ipaddress.ip_network(subnet["properties"]["cidrBlock"]).subnet_of(ipaddress.ip_network("10.30.0.0/16"))


@pytest.mark.control("NB-01")
def test_no_gateway_and_no_route_out(production):
    types = {r["type"] for r in production}
    assert not types & {"aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway", "aws:ec2/route:Route"}
    for table in of_type(production, "RouteTable"):
        assert table["properties"]["routes"] == [], table["name"]


@pytest.mark.control("NB-02")
def test_security_groups_deny_egress_except_to_endpoints_and_s3(production):
    endpoint_sg = one(production, "-endpoint-sg")
    assert endpoint_sg["properties"]["egress"] == []
    (ingress,) = endpoint_sg["properties"]["ingress"]
    assert (ingress["fromPort"], ingress["toPort"], ingress["protocol"]) == (443, 443, "tcp")
    assert all(ipaddress.ip_network(c).subnet_of(ipaddress.ip_network("10.30.0.0/16")) for c in ingress["cidrBlocks"])

    workload = one(production, "-workload-sg")
    for rule in workload["properties"]["egress"]:
        assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks"), rule
    targets = [rule.get("securityGroups") or rule.get("prefixListIds") or ("self" if rule.get("self") else None) for rule in workload["properties"]["egress"]]
    assert all(targets)
    default_sg = one(production, "-default-sg")
    assert default_sg["properties"]["ingress"] == [] and default_sg["properties"]["egress"] == []


@pytest.mark.control("NB-02")
def test_network_acl_allows_only_the_zone_and_s3_on_https(production):
    nacl = one(production, "-isolated-nacl")
    vpc = ipaddress.ip_network("10.30.0.0/16")
    for rule in nacl["properties"]["egress"]:
        assert rule["action"] == "allow" and rule["protocol"] == "tcp"
        destination = ipaddress.ip_network(rule["cidrBlock"])
        assert destination.prefixlen > 0
        if not destination.subnet_of(vpc):
            assert (rule["fromPort"], rule["toPort"]) == (443, 443), "outside the zone only HTTPS to S3"
    default_nacl = one(production, "-default-nacl")
    assert default_nacl["properties"].get("egress", []) == [] and default_nacl["properties"].get("ingress", []) == []


@pytest.mark.control("NB-03")
def test_private_endpoints_for_exactly_the_required_services(production):
    endpoints = of_type(production, ":VpcEndpoint")
    interface = [e for e in endpoints if e["properties"]["vpcEndpointType"] == "Interface"]
    services = {e["properties"]["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in interface}
    assert services == {*DEFAULT_INTERFACE_SERVICES, "bedrock-runtime"}
    endpoint_sg_id = one(production, "-endpoint-sg")["id"]
    for endpoint in interface:
        assert endpoint["properties"]["privateDnsEnabled"] is True
        assert endpoint["properties"]["securityGroupIds"] == [endpoint_sg_id]
    (gateway,) = [e for e in endpoints if e["properties"]["vpcEndpointType"] == "Gateway"]
    assert gateway["properties"]["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert gateway["properties"]["routeTableIds"] == [one(production, "-isolated-rt")["id"]]


@pytest.mark.control("NB-03", "WP-02")
def test_the_s3_gateway_endpoint_reaches_only_the_zone_accounts_buckets_and_ecr_layers(production):
    (gateway,) = [e for e in of_type(production, ":VpcEndpoint") if e["properties"]["vpcEndpointType"] == "Gateway"]
    statements = {s["Sid"]: s for s in json.loads(gateway["properties"]["policy"])["Statement"]}
    assert set(statements) == {"ZoneAccountBucketsOnly", "EcrImageLayers"}
    zone = statements["ZoneAccountBucketsOnly"]
    assert list(zone["Condition"]["StringEquals"]) == ["aws:ResourceAccount"]
    assert not [a for a in zone["Action"] if a.endswith("*") or a.startswith(("s3:Delete", "s3:PutBucket"))]
    assert statements["EcrImageLayers"]["Action"] == "s3:GetObject"
    assert statements["EcrImageLayers"]["Resource"] == "arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*"


@pytest.mark.control("NB-04")
def test_dns_firewall_allows_service_names_blocks_the_rest_and_fails_closed(production):
    allowed = one(production, "-dns-allowed")["properties"]["domains"]
    assert "*.kms.us-east-1.amazonaws.com" in allowed and "*.dkr.ecr.us-east-1.amazonaws.com" in allowed
    assert "*" not in allowed and all("amazonaws.com" in d or d.endswith(".internal") or d.endswith("api.aws") for d in allowed)
    block = one(production, "-dns-block-everything-else")["properties"]
    allow = one(production, "-dns-allow-services")["properties"]
    assert block["action"] == "BLOCK" and block["blockResponse"] == "NXDOMAIN" and allow["action"] == "ALLOW"
    assert allow["priority"] < block["priority"]
    assert one(production, "-dns-everything")["properties"]["domains"] == ["*"]
    assert one(production, "-dns-firewall-association")["properties"]["mutationProtection"] == "ENABLED"
    assert one(production, "-dns-firewall-config")["properties"]["firewallFailOpen"] == "DISABLED"


@pytest.mark.control("NB-02", "OB-01")
def test_flow_logs_of_all_traffic_to_a_kms_encrypted_group_kept_for_the_tier(production):
    flow_log = one(production, "-flow-log")["properties"]
    group = one(production, "-flow-logs")
    key = one(production, "-network-logs-key")
    assert flow_log["trafficType"] == "ALL"
    assert flow_log["logDestination"] == "arn:aws:logs:us-east-1:123456789012:log-group:/modelfort/production/vpc-flow-logs"
    assert flow_log["logDestinationType"] == "cloud-watch-logs"
    assert group["properties"]["kmsKeyId"] == f"arn:aws:kms:us-east-1:123456789012:key/{key['id']}"
    assert group["properties"]["retentionInDays"] == 365
    assert key["properties"]["enableKeyRotation"] is True
    policy = json.loads(key["properties"]["policy"])
    logs = next(s for s in policy["Statement"] if s["Sid"] == "CloudWatchLogsOfThisZoneOnly")
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"].endswith(":log-group:/modelfort/production/*")
    trust = json.loads(one(production, "-flow-logs-role")["properties"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_every_resource_carries_the_zone_tag(production):
    provider = next(r for r in production if r["type"] == "pulumi:providers:aws")
    assert json.loads(provider["properties"]["defaultTags"])["tags"]["modelfort:zone"] == "production"


@pytest.mark.control("NB-02")
def test_the_red_team_escape_hatch_opens_only_https_to_the_listed_range():
    redteam = plan("redteam")
    workload = one(redteam, "-workload-sg")
    outside = [r for r in workload["properties"]["egress"] if r.get("cidrBlocks")]
    assert outside == [{**outside[0], "cidrBlocks": ["198.51.100.0/24"], "fromPort": 443, "toPort": 443, "protocol": "tcp"}]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"availability_zones": ["us-east-1a"]}, "at least two availability zones"),
        ({"availability_zones": ["us-east-1a", "us-east-1a"]}, "each availability zone once"),
        ({"cidr_block": "52.0.0.0/16"}, "must be a private IPv4 CIDR"),
        ({"egress_allowlist_cidrs": ["0.0.0.0/0"]}, "never allowed"),
        ({"log_retention_days": 0}, "must be positive"),
    ],
)
def test_unsafe_or_contradictory_args_fail_at_construction(change, message):
    base = dict(zone="production", region="us-east-1", cidr_block="10.30.0.0/16", availability_zones=["us-east-1a", "us-east-1b"], log_retention_days=365)
    with pytest.raises(ValueError, match=message):
        SegmentedNetworkArgs(**{**base, **change})
