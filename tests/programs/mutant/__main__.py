"""The production network with one hardening default turned off, chosen by config `mutant:mutation`.

Every mutation must be blocked by the gate: a hardening knob that no policy catches is a bug.
"""

import dataclasses

import pulumi
import pulumi_aws as aws

from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs

BASE = SegmentedNetworkArgs(
    zone="production",
    region="us-east-1",
    cidr_block="10.30.0.0/16",
    availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
    log_retention_days=365,
    key_rotation_days=365,
)

# Escape hatches and knobs of the component itself.
ARG_MUTATIONS = {
    "none": {},
    "dns-fail-open": {"allow_dns_firewall_fail_open": True},
    "no-flow-logs": {"enable_flow_logs": False},
    "egress-allowlist": {"egress_allowlist_cidrs": ["198.51.100.0/24"]},
    "extra-dns-domain": {"dns_allowed_domains": ["huggingface.co"]},
    "endpoint-admits-other-zone": {"endpoint_allowed_cidrs": ["10.40.0.0/16"]},
    "short-log-retention": {"log_retention_days": 30},
    "slow-key-rotation": {"key_rotation_days": 730},
}

mutation = pulumi.Config().require("mutation")
args = dataclasses.replace(BASE, **ARG_MUTATIONS.get(mutation, {}))
network = SegmentedNetwork("prod-network", args)
child = pulumi.ResourceOptions(parent=network)

# What a program could add beside the component (the pack judges programs, not just components).
if mutation == "internet-gateway":
    igw = aws.ec2.InternetGateway("igw", vpc_id=network.vpc_id)
    aws.ec2.Route("default-route", route_table_id=network.route_table_id, destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)
elif mutation == "open-security-group":
    aws.ec2.SecurityGroup("open-sg", vpc_id=network.vpc_id, egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}])
elif mutation == "open-egress-rule-v6":
    aws.vpc.SecurityGroupEgressRule("open-v6", security_group_id=network.workload_security_group_id, cidr_ipv6="::/0", ip_protocol="-1")
elif mutation == "open-nacl-rule":
    aws.ec2.NetworkAclRule("open-nacl", network_acl_id="acl-12345678", rule_number=50, egress=True, protocol="-1", rule_action="allow", cidr_block="0.0.0.0/0")
elif mutation == "public-subnet":
    aws.ec2.Subnet("public", vpc_id=network.vpc_id, cidr_block="10.30.250.0/24", map_public_ip_on_launch=True)
elif mutation == "peering":
    aws.ec2.VpcPeeringConnection("to-testing", vpc_id=network.vpc_id, peer_vpc_id="vpc-0123456789abcdef0")
elif mutation == "transit-gateway":
    aws.ec2transitgateway.VpcAttachment("tgw", vpc_id=network.vpc_id, subnet_ids=network.subnet_ids, transit_gateway_id="tgw-0123456789abcdef0")
elif mutation == "bare-vpc":
    aws.ec2.Vpc("shadow-vpc", cidr_block="10.31.0.0/16")
elif mutation == "endpoint-without-private-dns":
    aws.ec2.VpcEndpoint("sagemaker", vpc_id=network.vpc_id, service_name="com.amazonaws.us-east-1.sagemaker.runtime", vpc_endpoint_type="Interface", private_dns_enabled=False, security_group_ids=[network.endpoint_security_group_id])
elif mutation not in ARG_MUTATIONS:
    raise ValueError(f"mutant:mutation: unknown mutation {mutation!r}")
