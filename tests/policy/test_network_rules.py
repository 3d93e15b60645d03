"""Every network rule with pass, fail and missing-property fixtures, judged by the pack through the analyzer service.

Each case asserts exactly which resources the rule flags, so a rule that flags too much fails as surely as one that
flags too little.
"""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

VPC = "aws:ec2/vpc:Vpc"
SG = "aws:ec2/securityGroup:SecurityGroup"


def isolated_vpc(name: str = "vpc", cidr: str = "10.30.0.0/16") -> list[dict]:
    """A VPC with everything the stack rules ask for; tests take pieces away."""
    vpc = res(VPC, name, {"cidrBlock": cidr})
    key = res("aws:kms/key:Key", f"{name}-key", {"enableKeyRotation": True, "rotationPeriodInDays": 365})
    group = res("aws:cloudwatch/logGroup:LogGroup", f"{name}-flow-logs", {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/x", "retentionInDays": 365}, {"kmsKeyId": [key]})
    flow_log = res("aws:ec2/flowLog:FlowLog", f"{name}-flow-log", {"trafficType": "ALL", "logDestinationType": "cloud-watch-logs", "logDestination": "arn:..."}, {"vpcId": [vpc], "logDestination": [group]})
    default_sg = res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", f"{name}-default-sg", {"ingress": [], "egress": []}, {"vpcId": [vpc]})
    allowed = res("aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList", f"{name}-allowed", {"domains": ["*.kms.us-east-1.amazonaws.com"]})
    everything = res("aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList", f"{name}-everything", {"domains": ["*"]})
    rule_group = res("aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup", f"{name}-rules", {})
    allow = res("aws:route53/resolverFirewallRule:ResolverFirewallRule", f"{name}-allow", {"action": "ALLOW", "priority": 100}, {"firewallRuleGroupId": [rule_group], "firewallDomainListId": [allowed]})
    block = res("aws:route53/resolverFirewallRule:ResolverFirewallRule", f"{name}-block", {"action": "BLOCK", "blockResponse": "NXDOMAIN", "priority": 900}, {"firewallRuleGroupId": [rule_group], "firewallDomainListId": [everything]})
    association = res("aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation", f"{name}-assoc", {"priority": 101}, {"vpcId": [vpc], "firewallRuleGroupId": [rule_group]})
    fw_config = res("aws:route53/resolverFirewallConfig:ResolverFirewallConfig", f"{name}-fw-config", {"firewallFailOpen": "DISABLED"}, {"resourceId": [vpc]})
    return [vpc, key, group, flow_log, default_sg, allowed, everything, rule_group, allow, block, association, fw_config]


def without(resources: list[dict], name: str) -> list[dict]:
    return [r for r in resources if r["name"] != name]


def replaced(resources: list[dict], name: str, **props) -> list[dict]:
    out = []
    for r in resources:
        if r["name"] == name:
            r = {**r, "properties": {**r["properties"], **props}}
            r["properties"] = {k: v for k, v in r["properties"].items() if v is not None}
        out.append(r)
    return out


def test_a_fully_isolated_vpc_passes_every_rule(packs):
    diagnostics = judge_all(packs.get(), isolated_vpc())
    assert [d for d in diagnostics if d.enforcement == "mandatory"] == []


# ------------------------------------------------------------------------------------------------ resource rules
RESOURCE_CASES = [
    # (policy, resource, flagged?)
    ("no-internet-gateway", res("aws:ec2/internetGateway:InternetGateway", "igw", {}), True),
    ("no-internet-gateway", res("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "subnet-1"}), True),
    ("no-internet-gateway", res("aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway", "eigw", {}), True),
    ("no-default-route", res("aws:ec2/route:Route", "default", {"destinationCidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN}), True),
    ("no-default-route", res("aws:ec2/route:Route", "v6-default", {"destinationIpv6CidrBlock": "::/0"}), True),
    ("no-default-route", res("aws:ec2/route:Route", "to-onprem", {"destinationCidrBlock": "10.50.0.0/16"}), False),
    ("no-default-route", res("aws:ec2/routeTable:RouteTable", "inline", {"routes": [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}]}), True),
    ("no-default-route", res("aws:ec2/routeTable:RouteTable", "empty", {"routes": []}), False),
    ("no-default-route", res("aws:ec2/routeTable:RouteTable", "missing-routes", {}), False),
    ("no-default-route", res("aws:ec2/defaultRouteTable:DefaultRouteTable", "default-rt", {"routes": [{"ipv6CidrBlock": "::/0"}]}), True),
    ("sg-egress-open-internet", res(SG, "open", {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}), True),
    ("sg-egress-open-internet", res(SG, "open-v6", {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["::/0"]}]}), True),
    ("sg-egress-open-internet", res(SG, "zone-only", {"egress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.30.0.0/16"]}]}), False),
    ("sg-egress-open-internet", res(SG, "no-egress-key", {"ingress": []}), False),
    ("sg-egress-open-internet", res("aws:ec2/securityGroupRule:SecurityGroupRule", "rule-open", {"type": "egress", "cidrBlocks": ["0.0.0.0/0"], "protocol": "-1", "fromPort": 0, "toPort": 0}), True),
    ("sg-egress-open-internet", res("aws:ec2/securityGroupRule:SecurityGroupRule", "rule-ingress", {"type": "ingress", "cidrBlocks": ["10.0.0.0/8"]}), False),
    ("sg-egress-open-internet", res("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "vpc-rule-open", {"cidrIpv6": "::/0", "ipProtocol": "-1"}), True),
    ("sg-egress-open-internet", res("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "vpc-rule-ok", {"cidrIpv4": "10.30.1.0/24", "ipProtocol": "tcp"}), False),
    ("sg-egress-open-internet", res("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "default-open", {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]}), True),
    ("sg-ingress-open-internet", res(SG, "world-in", {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}), True),
    ("sg-ingress-open-internet", res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "vpc-in-ok", {"cidrIpv4": "10.30.0.0/16"}), False),
    ("nacl-egress-open-internet", res("aws:ec2/networkAcl:NetworkAcl", "nacl-open", {"egress": [{"action": "allow", "cidrBlock": "0.0.0.0/0", "ruleNo": 100, "protocol": "-1"}]}), True),
    ("nacl-egress-open-internet", res("aws:ec2/networkAcl:NetworkAcl", "nacl-deny-all", {"egress": [{"action": "deny", "cidrBlock": "0.0.0.0/0", "ruleNo": 100, "protocol": "-1"}]}), False),
    ("nacl-egress-open-internet", res("aws:ec2/networkAcl:NetworkAcl", "nacl-missing", {}), False),
    ("nacl-egress-open-internet", res("aws:ec2/networkAclRule:NetworkAclRule", "nacl-rule-open", {"egress": True, "ruleAction": "allow", "cidrBlock": "0.0.0.0/0"}), True),
    ("nacl-egress-open-internet", res("aws:ec2/networkAclRule:NetworkAclRule", "nacl-rule-ingress", {"egress": False, "ruleAction": "allow", "cidrBlock": "0.0.0.0/0"}), False),
    # Address sets read literally (addresses.py): halves, quarters or /8s that together span the internet are open.
    ("sg-egress-open-internet", res(SG, "split-halves", {"egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]}), True),
    ("sg-egress-open-internet", res(SG, "split-across-entries", {"egress": [{"protocol": "tcp", "cidrBlocks": ["0.0.0.0/2", "64.0.0.0/2"]}, {"protocol": "tcp", "cidrBlocks": ["128.0.0.0/1"]}]}), True),
    ("sg-egress-open-internet", res(SG, "public-slash-8s", {"egress": [{"protocol": "-1", "cidrBlocks": [f"{i}.0.0.0/8" for i in range(1, 224) if i not in (10, 127)]}]}), True),
    ("sg-egress-open-internet", res(SG, "one-half-only", {"egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/1"]}]}), False),
    ("sg-egress-open-internet", res(SG, "private-only", {"egress": [{"protocol": "-1", "cidrBlocks": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}]}), False),
    ("sg-egress-open-internet", res(SG, "v6-global-unicast", {"egress": [{"protocol": "-1", "ipv6CidrBlocks": ["2000::/4", "3000::/4"]}]}), True),
    ("sg-egress-open-internet", res(SG, "v6-ula-only", {"egress": [{"protocol": "-1", "ipv6CidrBlocks": ["fc00::/7"]}]}), False),
    ("sg-ingress-open-internet", res(SG, "split-in", {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]}), True),
    ("nacl-egress-open-internet", res("aws:ec2/networkAcl:NetworkAcl", "nacl-split", {"egress": [{"action": "allow", "cidrBlock": "0.0.0.0/1", "ruleNo": 100}, {"action": "allow", "cidrBlock": "128.0.0.0/1", "ruleNo": 110}]}), True),
    ("nacl-egress-open-internet", res("aws:ec2/networkAcl:NetworkAcl", "nacl-split-deny", {"egress": [{"action": "allow", "cidrBlock": "0.0.0.0/1", "ruleNo": 100}, {"action": "deny", "cidrBlock": "128.0.0.0/1", "ruleNo": 110}]}), False),
    ("interface-endpoint-private", res("aws:ec2/vpcEndpoint:VpcEndpoint", "kms", {"vpcEndpointType": "Interface", "privateDnsEnabled": True, "securityGroupIds": ["sg-1"]}), False),
    ("interface-endpoint-private", res("aws:ec2/vpcEndpoint:VpcEndpoint", "no-dns", {"vpcEndpointType": "Interface", "securityGroupIds": ["sg-1"]}), True),
    ("interface-endpoint-private", res("aws:ec2/vpcEndpoint:VpcEndpoint", "no-sg", {"vpcEndpointType": "Interface", "privateDnsEnabled": True}), True),
    ("interface-endpoint-private", res("aws:ec2/vpcEndpoint:VpcEndpoint", "s3-gateway", {"vpcEndpointType": "Gateway"}), False),
    ("subnet-private", res("aws:ec2/subnet:Subnet", "public", {"mapPublicIpOnLaunch": True}), True),
    ("subnet-private", res("aws:ec2/subnet:Subnet", "v6-global", {"assignIpv6AddressOnCreation": True}), True),
    ("subnet-private", res("aws:ec2/subnet:Subnet", "isolated", {"mapPublicIpOnLaunch": False}), False),
    ("subnet-private", res("aws:ec2/subnet:Subnet", "defaults", {}), False),
    ("no-cross-zone-link", res("aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "peer", {"vpcId": "vpc-1", "peerVpcId": "vpc-2"}), True),
    ("no-cross-zone-link", res("aws:ec2transitgateway/vpcAttachment:VpcAttachment", "tgw", {"vpcId": "vpc-1"}), True),
    ("no-cross-zone-link", res("aws:ram/resourceAssociation:ResourceAssociation", "shared-subnet", {"resourceArn": "arn:aws:ec2:us-east-1:1:subnet/subnet-1"}), True),
    ("no-cross-zone-link", res("aws:ec2transitgateway/peeringAttachment:PeeringAttachment", "tgw-peer", {"transitGatewayId": "tgw-1", "peerTransitGatewayId": "tgw-2", "peerRegion": "us-west-2"}), True),
    ("no-cross-zone-link", res("aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter", "tgw-peer-accept", {"transitGatewayAttachmentId": "tgw-attach-1"}), True),
    ("no-cross-zone-link", res("aws:ram/resourceAssociation:ResourceAssociation", "shared-tgw", {"resourceArn": "arn:aws:ec2:us-east-1:1:transit-gateway/tgw-1"}), True),
    ("no-cross-zone-link", res("aws:ram/resourceAssociation:ResourceAssociation", "shared-prefix-list", {"resourceArn": "arn:aws:ec2:us-east-1:1:prefix-list/pl-1"}), False),
    ("kms-key-rotation", res("aws:kms/key:Key", "rotating", {"enableKeyRotation": True, "rotationPeriodInDays": 365}), False),
    ("kms-key-rotation", res("aws:kms/key:Key", "not-rotating", {"enableKeyRotation": False}), True),
    ("kms-key-rotation", res("aws:kms/key:Key", "rotation-unset", {}), True),
    ("kms-key-rotation", res("aws:kms/key:Key", "signing-key", {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"}), False),
]


@pytest.mark.control("NB-01", "NB-02", "NB-03", "NB-09", "NB-10", "WP-01")
@pytest.mark.parametrize("policy,resource,expected", RESOURCE_CASES, ids=[f"{p}-{r['name']}" for p, r, _ in RESOURCE_CASES])
def test_resource_rule(packs, policy, resource, expected):
    diagnostics = packs.get().analyze(resource)
    assert flagged(diagnostics, policy) == ({resource["name"]} if expected else set())
    if expected:
        assert all(d.enforcement == "mandatory" for d in diagnostics if d.policy == policy)


# ------------------------------------------------------------------------------------------------ stack rules
@pytest.mark.control("NB-02")
def test_default_security_group_must_be_managed_and_empty(packs):
    pack = packs.get()
    assert flagged(judge_all(pack, without(isolated_vpc(), "vpc-default-sg")), "default-security-group-closed") == {"vpc"}
    with_rules = replaced(isolated_vpc(), "vpc-default-sg", egress=[{"cidrBlocks": ["10.30.0.0/16"]}])
    assert flagged(judge_all(pack, with_rules), "default-security-group-closed") == {"vpc-default-sg"}


@pytest.mark.control("NB-04")
def test_dns_firewall_must_fail_closed_and_block_everything_else(packs):
    pack = packs.get()
    fail_open = replaced(isolated_vpc(), "vpc-fw-config", firewallFailOpen="ENABLED")
    assert flagged(judge_all(pack, fail_open), "dns-firewall-fail-closed") == {"vpc"}
    missing_setting = replaced(isolated_vpc(), "vpc-fw-config", firewallFailOpen=None)
    assert flagged(judge_all(pack, missing_setting), "dns-firewall-fail-closed") == {"vpc"}
    no_block_rule = without(isolated_vpc(), "vpc-block")
    assert flagged(judge_all(pack, no_block_rule), "dns-firewall-fail-closed") == {"vpc"}
    not_associated = without(isolated_vpc(), "vpc-assoc")
    assert flagged(judge_all(pack, not_associated), "dns-firewall-fail-closed") == {"vpc"}
    block_list_not_everything = replaced(isolated_vpc(), "vpc-everything", domains=["*.example.com"])
    assert flagged(judge_all(pack, block_list_not_everything), "dns-firewall-fail-closed") == {"vpc"}


@pytest.mark.control("NB-04")
def test_dns_firewall_of_one_vpc_does_not_cover_another(packs):
    second = res(VPC, "other-vpc", {"cidrBlock": "10.31.0.0/16"})
    diagnostics = judge_all(packs.get(), [*isolated_vpc(), second])
    assert flagged(diagnostics, "dns-firewall-fail-closed") == {"other-vpc"}
    assert flagged(diagnostics, "vpc-flow-logs") == {"other-vpc"}


@pytest.mark.control("NB-03", "NB-04")
def test_dns_allow_list_holds_only_aws_names(packs):
    extra = replaced(isolated_vpc(), "vpc-allowed", domains=["*.kms.us-east-1.amazonaws.com", "huggingface.co"])
    diagnostics = judge_all(packs.get(), extra)
    assert flagged(diagnostics, "dns-allowlist-aws-only") == {"vpc-allowed"}
    assert any("huggingface.co" in d.message for d in diagnostics if d.policy == "dns-allowlist-aws-only")
    # The block list's '*' is not an allow-list entry.
    assert flagged(judge_all(packs.get(), isolated_vpc()), "dns-allowlist-aws-only") == set()


@pytest.mark.control("NB-02", "OB-01")
def test_flow_logs_capture_all_traffic_encrypted_and_kept(packs):
    pack = packs.get()
    assert flagged(judge_all(pack, without(isolated_vpc(), "vpc-flow-log")), "vpc-flow-logs") == {"vpc"}
    rejects_only = replaced(isolated_vpc(), "vpc-flow-log", trafficType="REJECT")
    assert flagged(judge_all(pack, rejects_only), "vpc-flow-logs") == {"vpc"}
    unencrypted = replaced(isolated_vpc(), "vpc-flow-logs", kmsKeyId=None)
    assert flagged(judge_all(pack, unencrypted), "vpc-flow-logs") == {"vpc-flow-logs"}
    short = replaced(isolated_vpc(), "vpc-flow-logs", retentionInDays=30)
    assert flagged(judge_all(pack, short), "vpc-flow-logs") == {"vpc-flow-logs"}


@pytest.mark.control("NB-02", "NB-10")
def test_security_group_rules_stay_inside_the_zone(packs):
    inside = res(SG, "inside", {"egress": [{"cidrBlocks": ["10.30.4.0/24"], "protocol": "tcp", "fromPort": 443, "toPort": 443}]})
    other_zone = res(SG, "to-other-zone", {"egress": [{"cidrBlocks": ["10.40.0.0/16"], "protocol": "tcp", "fromPort": 443, "toPort": 443}]})
    office_in = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "office-in", {"cidrIpv4": "192.168.7.0/24"})
    garbage = res(SG, "garbage", {"egress": [{"cidrBlocks": ["10.30.0.0/33"]}]})
    diagnostics = judge_all(packs.get(), [*isolated_vpc(), inside, other_zone, office_in, garbage])
    assert flagged(diagnostics, "sg-rule-outside-zone") == {"to-other-zone", "office-in", "garbage"}


# ------------------------------------------------------------------------------------------------ tiers
@pytest.mark.control("DP-08")
def test_tier_sets_enforcement_and_thresholds(packs):
    endpoint = res("aws:ec2/vpcEndpoint:VpcEndpoint", "no-dns", {"vpcEndpointType": "Interface", "securityGroupIds": ["sg-1"]})
    testing = packs.get({"modelfort:zone": "testing"}).analyze(endpoint)
    production = packs.get({"modelfort:zone": "production"}).analyze(endpoint)
    assert {d.enforcement for d in testing if d.policy == "interface-endpoint-private"} == {"advisory"}
    assert {d.enforcement for d in production if d.policy == "interface-endpoint-private"} == {"mandatory"}

    half_year_key = res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "rotationPeriodInDays": 365})
    assert flagged(packs.get({"modelfort:zone": "production"}).analyze(half_year_key), "kms-key-rotation") == set()
    assert flagged(packs.get({"modelfort:zone": "high-sensitivity"}).analyze(half_year_key), "kms-key-rotation") == {"k"}


@pytest.mark.control("DP-08")
def test_no_zone_or_an_unknown_zone_is_judged_at_the_strictest_tier(packs):
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "rotationPeriodInDays": 365})
    assert flagged(packs.get({}).analyze(key), "kms-key-rotation") == {"k"}
    assert flagged(packs.get({"modelfort:zone": "prod"}).analyze(key), "kms-key-rotation") == {"k"}


# ------------------------------------------------------------------------------------------------ unknowns
def test_an_unknown_value_read_by_a_mandatory_rule_is_reported_not_ignored(packs):
    subnet = res("aws:ec2/subnet:Subnet", "maybe-public", {"mapPublicIpOnLaunch": UNKNOWN})
    diagnostics = packs.get().analyze(subnet)
    unknown = [d for d in diagnostics if d.policy == "subnet-private"]
    assert len(unknown) == 1 and unknown[0].enforcement == "advisory"
    assert "during preview" in unknown[0].message  # the gate turns this into a blocking violation
