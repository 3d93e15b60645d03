"""Adversarial corpus, cloud network: address sets that reach the internet however they are written, and links
between zones (transit-gateway peering, a transit gateway shared with another account).

Each case is a small program a platform engineer could write with plain pulumi_aws or pulumi_gcp: the insecure version must be
blocked with a mandatory violation on the resource it names, and its secure twin must pass. Some take an evasion
route: the ranges split into halves, spread over entries, built inside `Output.apply`, passed as dicts instead of
args classes, or registered under the engineer's own ComponentResource or a second provider. Managed prefix lists are
read as the addresses they hold: declared in the program (inline entries or entry resources), or looked up and so
unseen, which no ingress may use.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from corpus_harness import Program, assert_blocked, assert_passes


@dataclass(frozen=True)
class Case:
    insecure: Program
    secure: Program
    resource: str
    policy: str
    cloud: str = "aws"


def split_egress():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("split-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/1", "128.0.0.0/1"]),
    ])


def split_egress_twin():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("split-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=443, to_port=443, self=True),
    ])


def quarters_over_entries():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("quarters-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [cidr]}
        for cidr in ("0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2")
    ])


def quarters_over_entries_twin():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("quarters-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "security_groups": [group]}
        for group in ("sg-0aaaaaaaaaaaaaaa1", "sg-0aaaaaaaaaaaaaaa2")
    ])


def public_slash_eights_in_apply():
    import pulumi
    import pulumi_aws as aws

    # The list is computed at run time, as a lookup or a config transform would produce it.
    ranges = pulumi.Output.from_input(list(range(1, 224))).apply(
        lambda octets: [f"{o}.0.0.0/8" for o in octets if o not in (10, 127)])
    aws.ec2.SecurityGroup("eights-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=ranges),
    ])


def public_slash_eights_in_apply_twin():
    import pulumi
    import pulumi_aws as aws

    peers = pulumi.Output.from_input(["sg-0aaaaaaaaaaaaaaa1"]).apply(list)
    aws.ec2.SecurityGroup("eights-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        aws.ec2.SecurityGroupEgressArgs(protocol="tcp", from_port=443, to_port=443, security_groups=peers),
    ])


def ipv6_global_unicast_rule():
    import pulumi_aws as aws

    # Every global-unicast IPv6 address, without writing ::/0.
    aws.vpc.SecurityGroupEgressRule("v6-out-0", security_group_id="sg-0123456789abcdef0",
                                    ip_protocol="-1", cidr_ipv6="2000::/3")


def ipv6_global_unicast_rule_twin():
    import pulumi_aws as aws

    aws.vpc.SecurityGroupEgressRule("v6-out-0", security_group_id="sg-0123456789abcdef0",
                                    ip_protocol="tcp", from_port=443, to_port=443,
                                    referenced_security_group_id="sg-0aaaaaaaaaaaaaaa1")


def split_ingress_in_component():
    import pulumi
    import pulumi_aws as aws

    class Bastion(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:net:Bastion", name)
            aws.ec2.SecurityGroup(f"{name}-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
                aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=22, to_port=22,
                                                 cidr_blocks=["0.0.0.0/1", "128.0.0.0/1"]),
            ], opts=pulumi.ResourceOptions(parent=self))

    Bastion("jump")


def split_ingress_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class Bastion(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:net:Bastion", name)
            aws.ec2.SecurityGroup(f"{name}-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
                aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=22, to_port=22,
                                                 security_groups=["sg-0aaaaaaaaaaaaaaa1"]),
            ], opts=pulumi.ResourceOptions(parent=self))

    Bastion("jump")


def split_nacl_second_region():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.ec2.NetworkAcl("west-nacl", vpc_id="vpc-0123456789abcdef0", egress=[
        {"rule_no": 100, "action": "allow", "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "0.0.0.0/1"},
        {"rule_no": 110, "action": "allow", "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_block": "128.0.0.0/1"},
    ], opts=pulumi.ResourceOptions(provider=west))


def split_nacl_second_region_twin():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.ec2.NetworkAcl("west-nacl", vpc_id="vpc-0123456789abcdef0", egress=[
        {"rule_no": 100, "action": "allow", "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_block": "10.30.0.0/16"},
    ], opts=pulumi.ResourceOptions(provider=west))


def split_rule_resources():
    import pulumi_aws as aws

    aws.ec2.SecurityGroupRule("halves-rule", type="egress", security_group_id="sg-0123456789abcdef0",
                              protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/1", "128.0.0.0/1"])


def split_rule_resources_twin():
    import pulumi_aws as aws

    aws.ec2.SecurityGroupRule("halves-rule", type="egress", security_group_id="sg-0123456789abcdef0",
                              protocol="tcp", from_port=443, to_port=443,
                              source_security_group_id="sg-0aaaaaaaaaaaaaaa1")


def gcp_ingress_no_source():
    import pulumi_gcp as gcp

    # No source_ranges, tags or service accounts: GCP fills in 0.0.0.0/0.
    gcp.compute.Firewall("serve-in", network="projects/acme-models/global/networks/models",
                         allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["8080"])],
                         target_tags=["model-server"])


def gcp_ingress_no_source_twin():
    import pulumi_gcp as gcp

    gcp.compute.Firewall("serve-in", network="projects/acme-models/global/networks/models",
                         allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["8080"])],
                         source_tags=["model-gateway"], target_tags=["model-server"])


def gcp_ingress_split_dict_args():
    import pulumi_gcp as gcp

    gcp.compute.Firewall("admin-in", network="projects/acme-models/global/networks/models",
                         allows=[{"protocol": "tcp", "ports": ["22"]}], source_ranges=["0.0.0.0/1", "128.0.0.0/1"])


def gcp_ingress_split_dict_args_twin():
    import pulumi_gcp as gcp

    gcp.compute.Firewall("admin-in", network="projects/acme-models/global/networks/models",
                         allows=[{"protocol": "tcp", "ports": ["22"]}],
                         source_service_accounts=["bastion@acme-models.iam.gserviceaccount.com"])


def gcp_egress_split_in_apply():
    import pulumi
    import pulumi_gcp as gcp

    halves = pulumi.Output.from_input(["0.0.0.0/1", "128.0.0.0/1"]).apply(list)
    gcp.compute.Firewall("fetch-out", network="projects/acme-models/global/networks/models", direction="EGRESS",
                         allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["443"])], destination_ranges=halves)


def gcp_egress_split_in_apply_twin():
    import pulumi
    import pulumi_gcp as gcp

    vip = pulumi.Output.from_input(["199.36.153.4/30"]).apply(list)
    gcp.compute.Firewall("fetch-out", network="projects/acme-models/global/networks/models", direction="EGRESS",
                         allows=[gcp.compute.FirewallAllowArgs(protocol="tcp", ports=["443"])], destination_ranges=vip)


def tgw_peering_in_component():
    import pulumi
    import pulumi_aws as aws

    class Backbone(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:net:Backbone", name)
            aws.ec2transitgateway.PeeringAttachment(f"{name}-peer", transit_gateway_id="tgw-0123456789abcdef0",
                                                    peer_transit_gateway_id="tgw-0fedcba9876543210",
                                                    peer_region="us-west-2", peer_account_id="210987654321",
                                                    opts=pulumi.ResourceOptions(parent=self))

    Backbone("to-testing")


def tgw_peering_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    # The same component without the link: the zone's transit gateway stays its own.
    class Backbone(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:net:Backbone", name)
            aws.ec2transitgateway.RouteTable(f"{name}-routes", transit_gateway_id="tgw-0123456789abcdef0",
                                             opts=pulumi.ResourceOptions(parent=self))

    Backbone("to-testing")


def tgw_shared_by_ram():
    import pulumi_aws as aws

    aws.ram.ResourceAssociation("share-tgw", resource_share_arn="arn:aws:ram:us-east-1:123456789012:resource-share/abc",
                                resource_arn="arn:aws:ec2:us-east-1:123456789012:transit-gateway/tgw-0123456789abcdef0")


def tgw_shared_by_ram_twin():
    import pulumi_aws as aws

    aws.ram.ResourceAssociation("share-tgw", resource_share_arn="arn:aws:ram:us-east-1:123456789012:resource-share/abc",
                                resource_arn="arn:aws:ec2:us-east-1:123456789012:prefix-list/pl-0123456789abcdef0")


def v6_halves_ingress():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("v6-in-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "ipv6_cidr_blocks": ["2000::/4", "3000::/4"]},
    ])


def v6_halves_ingress_twin():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("v6-in-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "self": True},
    ])


def default_sg_split_egress():
    import pulumi_aws as aws

    aws.ec2.DefaultSecurityGroup("adopted-default", vpc_id="vpc-0123456789abcdef0", egress=[
        aws.ec2.DefaultSecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["0.0.0.0/1"]),
        aws.ec2.DefaultSecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=["128.0.0.0/1"]),
    ])


def default_sg_split_egress_twin():
    import pulumi_aws as aws

    # Adopted and emptied: the default group keeps no rules.
    aws.ec2.DefaultSecurityGroup("adopted-default", vpc_id="vpc-0123456789abcdef0")


def nacl_rule_resources_split():
    import pulumi_aws as aws

    for number, cidr in ((100, "0.0.0.0/0"),):
        aws.ec2.NetworkAclRule(f"out-{number}", network_acl_id="acl-0123456789abcdef0", rule_number=number, egress=True,
                               protocol="-1", rule_action="allow", cidr_block=cidr)


def nacl_rule_resources_split_twin():
    import pulumi_aws as aws

    for number, cidr in ((100, "0.0.0.0/0"),):
        aws.ec2.NetworkAclRule(f"out-{number}", network_acl_id="acl-0123456789abcdef0", rule_number=number, egress=True,
                               protocol="-1", rule_action="deny", cidr_block=cidr)


def vpc_peering_second_region():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.ec2.VpcPeeringConnection("to-redteam", vpc_id="vpc-0123456789abcdef0", peer_vpc_id="vpc-0fedcba9876543210",
                                 peer_region="us-east-1", opts=pulumi.ResourceOptions(provider=west))


def vpc_peering_second_region_twin():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.ec2.SecurityGroup("to-redteam", vpc_id="vpc-0123456789abcdef0", opts=pulumi.ResourceOptions(provider=west))


def gcp_egress_no_destination_dict():
    import pulumi_gcp as gcp

    # No destination_ranges: GCP fills in 0.0.0.0/0 for egress.
    gcp.compute.Firewall("pull-out", network="projects/acme-models/global/networks/models", direction="EGRESS",
                         allows=[{"protocol": "tcp", "ports": ["443"]}], target_tags=["model-server"])


def gcp_egress_no_destination_dict_twin():
    import pulumi_gcp as gcp

    gcp.compute.Firewall("pull-out", network="projects/acme-models/global/networks/models", direction="EGRESS",
                         allows=[{"protocol": "tcp", "ports": ["443"]}], target_tags=["model-server"],
                         destination_ranges=["199.36.153.4/30"])


def prefix_list_ingress_undeclared():
    import pulumi_aws as aws

    # A partner's prefix list, shared into the account: its entries live outside this program.
    aws.ec2.SecurityGroup("partner-in-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
        aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, prefix_list_ids=["pl-0a1b2c3d4e5f67890"]),
    ])


def prefix_list_ingress_undeclared_twin():
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("partner-in-sg", vpc_id="vpc-0123456789abcdef0", ingress=[
        aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443, security_groups=["sg-0aaaaaaaaaaaaaaa1"]),
    ])


def prefix_list_halves_in_apply():
    import pulumi
    import pulumi_aws as aws

    ranges = pulumi.Output.from_input(["0.0.0.0/1", "128.0.0.0/1"]).apply(lambda rs: [{"cidr": r} for r in rs])
    mirrors = aws.ec2.ManagedPrefixList("mirrors", name="package-mirrors", address_family="IPv4", max_entries=4, entries=ranges)
    aws.ec2.SecurityGroup("mirrors-out-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "prefix_list_ids": [mirrors.id]},
    ])


def prefix_list_halves_in_apply_twin():
    import pulumi
    import pulumi_aws as aws

    ranges = pulumi.Output.from_input(["0.0.0.0/1", "128.0.0.0/1"]).apply(lambda rs: [{"cidr": r} for r in rs])
    aws.ec2.ManagedPrefixList("mirrors", name="package-mirrors", address_family="IPv4", max_entries=4, entries=ranges)
    aws.ec2.SecurityGroup("mirrors-out-sg", vpc_id="vpc-0123456789abcdef0", egress=[
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "security_groups": ["sg-0aaaaaaaaaaaaaaa1"]},
    ])


def prefix_list_entries_in_component():
    import pulumi
    import pulumi_aws as aws

    class OfficeAccess(pulumi.ComponentResource):
        def __init__(self, name, cidrs):
            super().__init__("acme:net:OfficeAccess", name)
            child = pulumi.ResourceOptions(parent=self)
            offices = aws.ec2.ManagedPrefixList(f"{name}-list", name=name, address_family="IPv4", max_entries=8, opts=child)
            for index, cidr in enumerate(cidrs):
                aws.ec2.ManagedPrefixListEntry(f"{name}-{index}", prefix_list_id=offices.id, cidr=cidr, opts=child)
            aws.vpc.SecurityGroupIngressRule(f"{name}-in", security_group_id="sg-0123456789abcdef0", ip_protocol="tcp",
                                             from_port=8080, to_port=8080, prefix_list_id=offices.id, opts=child)

    # "Every office", written as four quarters of the address space.
    OfficeAccess("offices", ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"])


def prefix_list_entries_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class OfficeAccess(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:net:OfficeAccess", name)
            aws.vpc.SecurityGroupIngressRule(f"{name}-in", security_group_id="sg-0123456789abcdef0", ip_protocol="tcp",
                                             from_port=8080, to_port=8080,
                                             referenced_security_group_id="sg-0aaaaaaaaaaaaaaa1",
                                             opts=pulumi.ResourceOptions(parent=self))

    OfficeAccess("offices")


def prefix_list_lookup_second_region():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    # Looked up, not declared: the gate cannot see who is in it (here, every CloudFront edge).
    edges = aws.ec2.get_managed_prefix_list(name="com.amazonaws.global.cloudfront.origin-facing",
                                            opts=pulumi.InvokeOptions(provider=west))
    aws.ec2.SecurityGroupRule("edge-in", type="ingress", security_group_id="sg-0123456789abcdef0", protocol="tcp",
                              from_port=443, to_port=443, prefix_list_ids=[edges.id],
                              opts=pulumi.ResourceOptions(provider=west))


def prefix_list_lookup_second_region_twin():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.ec2.SecurityGroupRule("edge-in", type="ingress", security_group_id="sg-0123456789abcdef0", protocol="tcp",
                              from_port=443, to_port=443, source_security_group_id="sg-0aaaaaaaaaaaaaaa1",
                              opts=pulumi.ResourceOptions(provider=west))


CASES = {
    "split-egress": Case(split_egress, split_egress_twin, "split-sg", "sg-egress-open-internet"),
    "quarters-over-entries": Case(quarters_over_entries, quarters_over_entries_twin, "quarters-sg", "sg-egress-open-internet"),
    "public-slash-8s-in-apply": Case(public_slash_eights_in_apply, public_slash_eights_in_apply_twin, "eights-sg", "sg-egress-open-internet"),
    "ipv6-global-unicast": Case(ipv6_global_unicast_rule, ipv6_global_unicast_rule_twin, "v6-out-0", "sg-egress-open-internet"),
    "split-ingress-in-component": Case(split_ingress_in_component, split_ingress_in_component_twin, "jump-sg", "sg-ingress-open-internet"),
    "split-nacl-second-region": Case(split_nacl_second_region, split_nacl_second_region_twin, "west-nacl", "nacl-egress-open-internet"),
    "split-rule-resource": Case(split_rule_resources, split_rule_resources_twin, "halves-rule", "sg-egress-open-internet"),
    "tgw-peering-in-component": Case(tgw_peering_in_component, tgw_peering_in_component_twin, "to-testing-peer", "no-cross-zone-link"),
    "tgw-shared-by-ram": Case(tgw_shared_by_ram, tgw_shared_by_ram_twin, "share-tgw", "no-cross-zone-link"),
    "v6-halves-ingress": Case(v6_halves_ingress, v6_halves_ingress_twin, "v6-in-sg", "sg-ingress-open-internet"),
    "default-sg-split-egress": Case(default_sg_split_egress, default_sg_split_egress_twin, "adopted-default", "sg-egress-open-internet"),
    "nacl-rule-resource-open": Case(nacl_rule_resources_split, nacl_rule_resources_split_twin, "out-100", "nacl-egress-open-internet"),
    "vpc-peering-second-region": Case(vpc_peering_second_region, vpc_peering_second_region_twin, "to-redteam", "no-cross-zone-link"),
    "gcp-egress-no-destination-dict": Case(gcp_egress_no_destination_dict, gcp_egress_no_destination_dict_twin, "pull-out", "gcp-firewall-egress-open", "gcp"),
    "gcp-ingress-no-source": Case(gcp_ingress_no_source, gcp_ingress_no_source_twin, "serve-in", "gcp-firewall-ingress-open", "gcp"),
    "gcp-ingress-split-dict-args": Case(gcp_ingress_split_dict_args, gcp_ingress_split_dict_args_twin, "admin-in", "gcp-firewall-ingress-open", "gcp"),
    "gcp-egress-split-in-apply": Case(gcp_egress_split_in_apply, gcp_egress_split_in_apply_twin, "fetch-out", "gcp-firewall-egress-open", "gcp"),
    "prefix-list-ingress-undeclared": Case(prefix_list_ingress_undeclared, prefix_list_ingress_undeclared_twin, "partner-in-sg", "sg-prefix-list-closed"),
    "prefix-list-halves-in-apply": Case(prefix_list_halves_in_apply, prefix_list_halves_in_apply_twin, "mirrors-out-sg", "sg-prefix-list-closed"),
    "prefix-list-entries-in-component": Case(prefix_list_entries_in_component, prefix_list_entries_in_component_twin, "offices-in", "sg-prefix-list-closed"),
    "prefix-list-lookup-second-region": Case(prefix_list_lookup_second_region, prefix_list_lookup_second_region_twin, "edge-in", "sg-prefix-list-closed"),
}


@pytest.mark.control("NB-02", "NB-10")
@pytest.mark.parametrize("name", sorted(CASES))
def test_insecure_case_is_blocked(corpus, name):
    case = CASES[name]
    assert_blocked(corpus(case.insecure, cloud=case.cloud), case.resource, case.policy)


@pytest.mark.control("NB-02", "NB-10")
@pytest.mark.parametrize("name", sorted(CASES))
def test_secure_twin_passes(corpus, name):
    case = CASES[name]
    assert_passes(corpus(case.secure, cloud=case.cloud))
