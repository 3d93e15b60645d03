"""Network isolation rules (NB-01..04, NB-09, NB-10): no way out of a model zone, and no way between zones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from modelfort_policy.addresses import PrefixLists, known_items, open_families, parse_all

from modelfort_policy.props import (
    as_int,
    as_list,
    as_mappings,
    is_open_cidr,
    parse_cidr,
    referenced,
    refers_to,
    within_any,
)
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import ELEVATED, STANDARD

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
ROUTE = "aws:ec2/route:Route"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
DEFAULT_ROUTE_TABLE = "aws:ec2/defaultRouteTable:DefaultRouteTable"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NETWORK_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DNS_DOMAIN_LIST = "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList"
DNS_RULE = "aws:route53/resolverFirewallRule:ResolverFirewallRule"
DNS_ASSOCIATION = "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
DNS_FIREWALL_CONFIG = "aws:route53/resolverFirewallConfig:ResolverFirewallConfig"

INTERNET_GATEWAYS = frozenset(
    {
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/internetGatewayAttachment:InternetGatewayAttachment",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway",
    }
)
CROSS_ZONE_LINKS = frozenset(
    {
        "aws:ec2/vpcPeeringConnection:VpcPeeringConnection",
        "aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter",
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        "aws:ec2transitgateway/vpcAttachmentAccepter:VpcAttachmentAccepter",
        # A peering attachment joins this zone's transit gateway to another one (another zone, region or account).
        "aws:ec2transitgateway/peeringAttachment:PeeringAttachment",
        "aws:ec2transitgateway/peeringAttachmentAccepter:PeeringAttachmentAccepter",
        "aws:ec2/vpnGateway:VpnGateway",
        "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment",
        "aws:ram/resourceAssociation:ResourceAssociation",
    }
)

# Names a DNS allow-list may hold without a waiver: AWS service endpoints and the VPC's own internal names.
AWS_DOMAIN_SUFFIXES = ("amazonaws.com", "amazonaws.com.cn", "api.aws", "compute.internal", "ec2.internal")


# ---------------------------------------------------------------------------------------------------- NB-01
def check_no_internet_gateway(resource: Resource, _ctx: Context) -> Iterable[str]:
    kind = resource.resource_type.split(":")[-1]
    yield f"{kind} '{resource.name}' gives the zone a path to the internet; model zones have none."


def check_no_default_route(resource: Resource, _ctx: Context) -> Iterable[str]:
    # Judged on the destination, which is known at preview; the target (a new gateway's id) often is not.
    if resource.resource_type == ROUTE:
        routes = [
            {"cidrBlock": resource.props.get("destinationCidrBlock"),
             "ipv6CidrBlock": resource.props.get("destinationIpv6CidrBlock")}
        ]
    else:
        routes = as_mappings(resource.props.get("routes"))
    for route in routes:
        for key in ("cidrBlock", "ipv6CidrBlock"):
            if is_open_cidr(route.get(key)):
                yield f"route to {route.get(key)} in '{resource.name}': model subnets must have no default route."


# ---------------------------------------------------------------------------------------------------- NB-02
def _sg_entries(resource: Resource, direction: str) -> list[dict[str, list[Any]]]:
    """Every (IPv4, IPv6) CIDR set a security-group resource allows in `direction` ('egress' or 'ingress')."""
    props = resource.props
    if resource.resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        return [
            {"cidrs": as_list(entry.get("cidrBlocks")) + as_list(entry.get("ipv6CidrBlocks"))}
            for entry in as_mappings(props.get(direction))
        ]
    if resource.resource_type == SECURITY_GROUP_RULE:
        if props.get("type") != direction:
            return []
        return [{"cidrs": as_list(props.get("cidrBlocks")) + as_list(props.get("ipv6CidrBlocks"))}]
    wanted = SG_EGRESS_RULE if direction == "egress" else SG_INGRESS_RULE
    if resource.resource_type == wanted:
        return [{"cidrs": as_list(props.get("cidrIpv4")) + as_list(props.get("cidrIpv6"))}]
    return []


SG_TYPES = frozenset({SECURITY_GROUP, DEFAULT_SECURITY_GROUP, SECURITY_GROUP_RULE, SG_EGRESS_RULE, SG_INGRESS_RULE})


def _sg_prefix_refs(resource: Resource, direction: str) -> tuple[str, list[Any], list[Any]] | None:
    """(property, prefix-list ids, the same rules' own CIDRs) a security-group resource uses in `direction`."""
    props = resource.props
    if resource.resource_type in (SECURITY_GROUP, DEFAULT_SECURITY_GROUP):
        entries = as_mappings(props.get(direction))
        ids = [i for entry in entries for i in known_items(entry, "prefixListIds")]
        return direction, ids, [c for entry in _sg_entries(resource, direction) for c in entry["cidrs"]]
    if resource.resource_type == SECURITY_GROUP_RULE:
        if props.get("type") != direction:
            return None
        return "prefixListIds", known_items(props, "prefixListIds"), _sg_entries(resource, direction)[0]["cidrs"]
    if resource.resource_type == (SG_EGRESS_RULE if direction == "egress" else SG_INGRESS_RULE):
        return "prefixListId", known_items(props, "prefixListId"), _sg_entries(resource, direction)[0]["cidrs"]
    return None


def _open_set_findings(cidrs: list[Any], what: str) -> Iterator[str]:
    """One finding per address family the ranges, taken together, open to the whole internet (addresses.py)."""
    for family in open_families(cidrs):
        ranges = ", ".join(str(network) for network in parse_all(cidrs) if f"IPv{network.version}" == family)
        yield f"{what} {ranges}: together these ranges cover every public {family} address."


def check_sg_egress_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    # Judged on the union of the resource's ranges: 0.0.0.0/1 + 128.0.0.0/1 is as open as 0.0.0.0/0.
    cidrs = [cidr for entry in _sg_entries(resource, "egress") for cidr in entry["cidrs"]]
    yield from _open_set_findings(cidrs, f"security group '{resource.name}' lets workloads reach any address: egress to")


def check_sg_ingress_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    cidrs = [cidr for entry in _sg_entries(resource, "ingress") for cidr in entry["cidrs"]]
    yield from _open_set_findings(cidrs, f"security group '{resource.name}' admits any address: ingress from")


def check_nacl_egress_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == NETWORK_ACL_RULE:
        entries = []
        if props.get("egress") is True and props.get("ruleAction") == "allow":
            entries = [{"cidrBlock": props.get("cidrBlock"), "ipv6CidrBlock": props.get("ipv6CidrBlock")}]
    else:
        entries = [entry for entry in as_mappings(props.get("egress")) if entry.get("action") == "allow"]
    cidrs = [entry.get(key) for entry in entries for key in ("cidrBlock", "ipv6CidrBlock") if entry.get(key)]
    yield from _open_set_findings(cidrs, f"network ACL '{resource.name}' allows egress to")


def check_default_security_group_closed(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """AWS gives every VPC a default security group that allows all egress, unless the program empties it."""
    defaults = [r for r in resources if r.resource_type == DEFAULT_SECURITY_GROUP]
    for vpc in _of_type(resources, VPC):
        managing = [sg for sg in defaults if refers_to(sg, "vpcId", vpc)]
        if not managing:
            yield Finding(
                f"VPC '{vpc.name}' keeps AWS's default security group, which allows all egress: "
                "manage it with aws.ec2.DefaultSecurityGroup and no rules.",
                vpc.urn,
            )
        for sg in managing:
            if as_list(sg.props.get("ingress")) or as_list(sg.props.get("egress")):
                yield Finding(f"default security group '{sg.name}' of VPC '{vpc.name}' must have no rules.", sg.urn)


def check_sg_rule_outside_zone(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """A security-group rule may only name addresses inside the stack's own VPCs: anything else is a path out of,
    or into, the zone (another zone, an office range, an internet host). The entries of a prefix list the stack
    declares count as the rule's own."""
    zone_cidrs = [cidr for vpc in _of_type(resources, VPC) if (cidr := parse_cidr(vpc.props.get("cidrBlock")))]
    prefix_lists = PrefixLists(resources)
    for resource in resources:
        if resource.resource_type not in SG_TYPES:
            continue
        for direction in ("egress", "ingress"):
            named = [(text, "") for entry in _sg_entries(resource, direction) for text in entry["cidrs"]]
            refs = _sg_prefix_refs(resource, direction)
            if refs is not None and refs[1]:
                view = prefix_lists.view(resource, refs[0], refs[1])
                named += [(text, f" (prefix list '{name}')") for name, text in view.entries]
            for text, via in named:
                cidr = parse_cidr(text)
                if cidr is None:
                    yield Finding(f"'{resource.name}' has {direction} CIDR {text!r}{via}, which is not a valid CIDR.", resource.urn)
                elif cidr.prefixlen == 0:
                    continue  # reported by the open-internet rules (and sg-prefix-list-closed), with their own severity
                elif not within_any(cidr, zone_cidrs):
                    yield Finding(
                        f"'{resource.name}' allows {direction} {'to' if direction == 'egress' else 'from'} {text}{via}, "
                        "outside the zone's VPC address space.",
                        resource.urn,
                    )


def check_sg_prefix_lists(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """Security-group rules that name managed prefix lists, judged on what the lists hold (addresses.PrefixLists).

    A list the stack declares is resolved: its entries, with the rule's own ranges, must not cover the internet, and
    an entry computed at deploy time cannot be seen. A list the stack does not declare cannot be seen at all: for
    ingress into a model zone that is a violation (it could hold anyone). Egress to such a list is left to the
    egress rules: the zone reaches S3 through AWS's own prefix list, which a program looks up, never declares.
    """
    prefix_lists = PrefixLists(resources)
    for resource in resources:
        if resource.resource_type not in SG_TYPES:
            continue
        for direction in ("ingress", "egress"):
            refs = _sg_prefix_refs(resource, direction)
            if refs is None or not refs[1]:
                continue
            prop, ids, own = refs
            view = prefix_lists.view(resource, prop, ids)
            for name in view.unreadable:
                yield Finding(f"'{resource.name}' {direction} uses prefix list '{name}', whose entries are computed at "
                              "deploy time: the gate cannot see what it admits; write its CIDRs from known values.",
                              resource.urn)
            if view.undeclared and direction == "ingress":
                shown = ", ".join(sorted({str(i) for i in ids if isinstance(i, str)})) or "computed ids"
                yield Finding(f"security group '{resource.name}' admits ingress from {view.undeclared} prefix list(s) "
                              f"this stack does not declare ({shown}): the gate cannot see who is in them, so it cannot "
                              "pass them. Declare the list in the zone's program (aws.ec2.ManagedPrefixList with its "
                              "entries) or name the zone's own ranges.", resource.urn)
            if not view.lists:
                continue
            already = open_families(own)  # the rule's own ranges alone: reported by the open-internet rules
            for family in open_families(list(own) + view.cidrs):
                if family in already:
                    continue
                lists = ", ".join(f"'{name}'" for name in view.lists)
                reach = "admits any address" if direction == "ingress" else "lets workloads reach any address"
                yield Finding(f"security group '{resource.name}' {reach}: {direction} through prefix list(s) {lists}, "
                              f"whose entries (with the rule's own ranges) cover every public {family} address.",
                              resource.urn)


# ---------------------------------------------------------------------------------------------------- NB-03/04
def check_interface_endpoint_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("vpcEndpointType") != "Interface":
        return
    if props.get("privateDnsEnabled") is not True:
        yield f"interface endpoint '{resource.name}' must enable private DNS so service names resolve inside the VPC."
    if not as_list(props.get("securityGroupIds")):
        yield f"interface endpoint '{resource.name}' must sit behind a security group that admits only the zone."


def check_dns_firewall_fail_closed(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    configs = _of_type(resources, DNS_FIREWALL_CONFIG)
    associations = _of_type(resources, DNS_ASSOCIATION)
    rules = _of_type(resources, DNS_RULE)
    lists = _of_type(resources, DNS_DOMAIN_LIST)
    for vpc in _of_type(resources, VPC):
        vpc_configs = [c for c in configs if refers_to(c, "resourceId", vpc)]
        if not any(c.props.get("firewallFailOpen") == "DISABLED" for c in vpc_configs):
            yield Finding(
                f"VPC '{vpc.name}' needs a ResolverFirewallConfig with firewallFailOpen=DISABLED, "
                "or DNS queries pass unfiltered whenever the firewall is impaired.",
                vpc.urn,
            )
        groups = [dep for a in associations if refers_to(a, "vpcId", vpc) for dep in referenced(a, "firewallRuleGroupId")]
        if not any(_group_blocks_everything(group, rules, lists) for group in groups):
            yield Finding(
                f"VPC '{vpc.name}' needs a DNS firewall rule group that BLOCKs '*' after its allow-list.",
                vpc.urn,
            )


def _group_blocks_everything(group: StackResource, rules: list[StackResource], lists: list[StackResource]) -> bool:
    for rule in rules:
        if not refers_to(rule, "firewallRuleGroupId", group) or rule.props.get("action") != "BLOCK":
            continue
        for domain_list in lists:
            if refers_to(rule, "firewallDomainListId", domain_list):
                if any(str(d).rstrip(".") == "*" for d in as_list(domain_list.props.get("domains"))):
                    return True
    return False


def check_dns_allowlist_aws_only(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    allow_rules = [r for r in _of_type(resources, DNS_RULE) if r.props.get("action") == "ALLOW"]
    for domain_list in _of_type(resources, DNS_DOMAIN_LIST):
        if not any(refers_to(rule, "firewallDomainListId", domain_list) for rule in allow_rules):
            continue
        for domain in as_list(domain_list.props.get("domains")):
            name = str(domain).rstrip(".").lstrip("*.")
            if not any(name == suffix or name.endswith("." + suffix) for suffix in AWS_DOMAIN_SUFFIXES):
                yield Finding(
                    f"DNS allow-list '{domain_list.name}' lets models resolve '{domain}', which is not an AWS service name.",
                    domain_list.urn,
                )


# ---------------------------------------------------------------------------------------------------- NB-09/10
def check_subnet_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("mapPublicIpOnLaunch") is True:
        yield f"subnet '{resource.name}' gives instances public IPv4 addresses."
    if props.get("assignIpv6AddressOnCreation") is True:
        yield f"subnet '{resource.name}' gives instances globally routable IPv6 addresses."


def check_no_cross_zone_link(resource: Resource, _ctx: Context) -> Iterable[str]:
    if resource.resource_type == "aws:ram/resourceAssociation:ResourceAssociation":
        arn = resource.props.get("resourceArn")
        # Sharing a subnet or a transit gateway with another account lets its workloads join this zone's network;
        # sharing anything else (a prefix list, a resolver rule) is not a network path.
        if isinstance(arn, str) and ":subnet/" not in arn and ":transit-gateway/" not in arn:
            return
    kind = resource.resource_type.split(":")[-1]
    yield f"{kind} '{resource.name}' connects this zone's network to another; zones must stay unreachable from each other."


def check_vpc_flow_logs(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    flow_logs = _of_type(resources, FLOW_LOG)
    for vpc in _of_type(resources, VPC):
        logs = [f for f in flow_logs if refers_to(f, "vpcId", vpc)]
        complete = [f for f in logs if f.props.get("trafficType") == "ALL"]
        if not complete:
            yield Finding(f"VPC '{vpc.name}' has no flow log capturing ALL traffic.", vpc.urn)
            continue
        for flow_log in complete:
            yield from _flow_log_destination_findings(flow_log, ctx)


def _flow_log_destination_findings(flow_log: StackResource, ctx: Context) -> Iterable[Finding]:
    destinations = referenced(flow_log, "logDestination")
    groups = [d for d in destinations if d.resource_type == LOG_GROUP]
    if flow_log.props.get("logDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
        if not destinations:
            yield Finding(f"flow log '{flow_log.name}' must deliver to a destination this stack encrypts.", flow_log.urn)
        return
    if not groups:
        yield Finding(f"flow log '{flow_log.name}' must deliver to a log group managed in this stack.", flow_log.urn)
    for group in groups:
        if not group.props.get("kmsKeyId"):
            yield Finding(f"flow log group '{group.name}' must be encrypted with a customer-managed KMS key.", group.urn)
        retention = as_int(group.props.get("retentionInDays"))
        if retention is not None and 0 < retention < ctx.tier.min_log_retention_days:
            yield Finding(
                f"flow log group '{group.name}' keeps logs {retention} days; the {ctx.tier.name} tier needs "
                f"at least {ctx.tier.min_log_retention_days}.",
                group.urn,
            )


def _of_type(resources: Sequence[StackResource], resource_type: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type == resource_type]


RULES = (
    Rule(
        name="no-internet-gateway",
        description="Model zones have no internet, NAT or egress-only gateway.",
        severity="critical",
        controls=("NB-01",),
        remediation="Remove the gateway; reach AWS services through VPC endpoints (SegmentedNetwork creates them).",
        mandatory_from=STANDARD,
        resource_types=INTERNET_GATEWAYS,
        resource_check=check_no_internet_gateway,
    ),
    Rule(
        name="no-default-route",
        description="No route table in a model zone has a default route (0.0.0.0/0 or ::/0).",
        severity="critical",
        controls=("NB-01", "NB-09"),
        remediation="Delete the default route; model subnets keep only the local route and gateway endpoint routes.",
        mandatory_from=STANDARD,
        resource_types=frozenset({ROUTE, ROUTE_TABLE, DEFAULT_ROUTE_TABLE}),
        resource_check=check_no_default_route,
    ),
    Rule(
        name="sg-egress-open-internet",
        description="No security group allows egress to 0.0.0.0/0 or ::/0.",
        severity="critical",
        controls=("NB-02",),
        remediation="Allow egress only to the zone's endpoint security group and the S3 prefix list.",
        mandatory_from=STANDARD,
        resource_types=SG_TYPES,
        resource_check=check_sg_egress_open,
    ),
    Rule(
        name="sg-ingress-open-internet",
        description="No security group admits traffic from 0.0.0.0/0 or ::/0.",
        severity="high",
        controls=("NB-05", "NB-09"),
        remediation="Admit only the zone's subnets; expose models only through a ModelEndpoint.",
        mandatory_from=STANDARD,
        resource_types=SG_TYPES,
        resource_check=check_sg_ingress_open,
    ),
    Rule(
        name="nacl-egress-open-internet",
        description="No network ACL allows egress to 0.0.0.0/0 or ::/0.",
        severity="high",
        controls=("NB-02",),
        remediation="Allow egress only to the VPC CIDR and the S3 gateway prefixes; the implicit rule denies the rest.",
        mandatory_from=STANDARD,
        resource_types=frozenset({NETWORK_ACL, DEFAULT_NETWORK_ACL, NETWORK_ACL_RULE}),
        resource_check=check_nacl_egress_open,
    ),
    Rule(
        name="default-security-group-closed",
        description="Every VPC's default security group is managed and has no rules.",
        severity="high",
        controls=("NB-02",),
        remediation="Add aws.ec2.DefaultSecurityGroup(vpc_id=..., ingress=[], egress=[]).",
        mandatory_from=STANDARD,
        stack_check=check_default_security_group_closed,
    ),
    Rule(
        name="sg-rule-outside-zone",
        description="Security-group rules name only addresses inside the zone's own VPC.",
        severity="high",
        controls=("NB-02", "NB-10"),
        remediation="Reference security groups or the zone's CIDR; a red-team target range needs a waiver.",
        mandatory_from=STANDARD,
        stack_check=check_sg_rule_outside_zone,
    ),
    Rule(
        name="sg-prefix-list-closed",
        description="Security-group rules that use managed prefix lists are judged on the lists' entries: none covers "
                    "the internet, and no ingress comes from a list the stack does not declare.",
        severity="critical",
        controls=("NB-02", "NB-05", "NB-09"),
        remediation="Declare the prefix list in the zone's program with the zone's own CIDRs; never admit ingress "
                    "from a list managed elsewhere.",
        mandatory_from=STANDARD,
        stack_check=check_sg_prefix_lists,
    ),
    Rule(
        name="interface-endpoint-private",
        description="Interface VPC endpoints use private DNS and sit behind a security group.",
        severity="medium",
        controls=("NB-03",),
        remediation="Set private_dns_enabled=True and security_group_ids to the zone's endpoint security group.",
        mandatory_from=ELEVATED,
        resource_types=frozenset({VPC_ENDPOINT}),
        resource_check=check_interface_endpoint_private,
    ),
    Rule(
        name="dns-firewall-fail-closed",
        description="Every VPC has a Route 53 Resolver DNS Firewall that blocks all but its allow-list and fails closed.",
        severity="high",
        controls=("NB-04",),
        remediation="Use SegmentedNetwork, or associate a rule group that ALLOWs the service domains then BLOCKs '*', "
        "and set ResolverFirewallConfig firewall_fail_open='DISABLED'.",
        mandatory_from=STANDARD,
        stack_check=check_dns_firewall_fail_closed,
    ),
    Rule(
        name="dns-allowlist-aws-only",
        description="DNS allow-lists hold only AWS service and VPC-internal names.",
        severity="medium",
        controls=("NB-03", "NB-04"),
        remediation="Remove the extra domain, or waive it for the zone that needs it (red-team targets).",
        mandatory_from=STANDARD,
        stack_check=check_dns_allowlist_aws_only,
    ),
    Rule(
        name="subnet-private",
        description="Subnets never assign public IPv4 or IPv6 addresses.",
        severity="high",
        controls=("NB-09",),
        remediation="Set map_public_ip_on_launch=False and assign_ipv6_address_on_creation=False.",
        mandatory_from=STANDARD,
        resource_types=frozenset({SUBNET}),
        resource_check=check_subnet_private,
    ),
    Rule(
        name="no-cross-zone-link",
        description="No peering, transit-gateway attachment, VPN gateway or shared subnet connects zones.",
        severity="critical",
        controls=("NB-10",),
        remediation="Remove the link; zones exchange artefacts only through signed releases, never networks.",
        mandatory_from=STANDARD,
        resource_types=CROSS_ZONE_LINKS,
        resource_check=check_no_cross_zone_link,
    ),
    Rule(
        name="vpc-flow-logs",
        description="Every VPC sends flow logs of ALL traffic to an encrypted log group kept as long as the tier requires.",
        severity="medium",
        controls=("NB-02", "OB-01", "OB-03"),
        remediation="Use SegmentedNetwork, or add aws.ec2.FlowLog(traffic_type='ALL') to a KMS-encrypted log group.",
        mandatory_from=STANDARD,
        stack_check=check_vpc_flow_logs,
    ),
)
