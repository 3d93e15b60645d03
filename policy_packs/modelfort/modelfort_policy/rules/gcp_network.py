"""Google Cloud network rules (NB-01..05, NB-09, NB-10): no way out of a model zone but the restricted Google APIs, and
no way between zones.

The one route allowed through the default internet gateway is to the restricted VIP, 199.36.153.4/30: that is how a
VPC without external IPs reaches the Google APIs that VPC Service Controls guards, and traffic to it never leaves
Google's network. Any other destination through that gateway (0.0.0.0/0, the private VIP 199.36.153.8/30, a public
range) is a path to the internet or around the perimeter.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from modelfort_policy.addresses import open_families
from modelfort_policy.props import as_list, as_mappings, is_open_cidr, parse_cidr, within_any
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.gcp_common import (
    CLUSTER,
    FIREWALL,
    GLOBAL_ADDRESS,
    NETWORK,
    RESTRICTED_VIP,
    ROUTE,
    SUBNETWORK,
    of_type,
    points_to,
    strings,
)
from modelfort_policy.tiers import STANDARD

ROUTER_NAT = "gcp:compute/routerNat:RouterNat"
ADDRESS = "gcp:compute/address:Address"
INSTANCES = frozenset({
    "gcp:compute/instance:Instance",
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
})
MANAGED_ZONE = "gcp:dns/managedZone:ManagedZone"
RECORD_SET = "gcp:dns/recordSet:RecordSet"
DNS_POLICY = "gcp:dns/policy:Policy"
CROSS_ZONE_LINKS = frozenset({
    "gcp:compute/networkPeering:NetworkPeering",
    "gcp:compute/haVpnGateway:HaVpnGateway",
    "gcp:compute/vPNGateway:VPNGateway",
    "gcp:compute/vPNTunnel:VPNTunnel",
    "gcp:compute/externalVpnGateway:ExternalVpnGateway",
    "gcp:compute/interconnectAttachment:InterconnectAttachment",
    "gcp:compute/sharedVPCHostProject:SharedVPCHostProject",
    "gcp:compute/sharedVPCServiceProject:SharedVPCServiceProject",
    "gcp:networkconnectivity/spoke:Spoke",
})
INTERNET_GATEWAY = "default-internet-gateway"
RESTRICTED_HOST = "restricted.googleapis.com."
# Google's load-balancer health checkers: an internal model endpoint behind a load balancer must admit them.
HEALTH_CHECK_RANGES = tuple(ipaddress.ip_network(r) for r in ("35.191.0.0/16", "130.211.0.0/22"))


# ---------------------------------------------------------------------------------------------------- NB-01, NB-09
def check_network_custom_mode(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    # Google's defaults are auto subnets in every region and a default route to the internet: absent means on.
    if props.get("autoCreateSubnetworks") is not False:
        yield f"network '{resource.name}' creates a subnet in every region (auto_create_subnetworks must be False)."
    if props.get("deleteDefaultRoutesOnCreate") is not True:
        yield (f"network '{resource.name}' keeps Google's default route 0.0.0.0/0 to the internet gateway "
               "(delete_default_routes_on_create must be True).")


def check_route(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    destination = props.get("destRange")
    network = parse_cidr(destination)
    gateway = str(props.get("nextHopGateway") or "")
    if network is not None and network.prefixlen == 0:
        yield f"route '{resource.name}' sends {destination} out of the zone; model networks have no default route."
        return
    if gateway.rstrip("/").endswith(INTERNET_GATEWAY):
        if network is None or network.version != 4 or not network.subnet_of(RESTRICTED_VIP):
            yield (f"route '{resource.name}' sends {destination} to the default internet gateway; only the restricted "
                   f"Google APIs VIP {RESTRICTED_VIP} may use it.")


def check_no_cloud_nat(resource: Resource, _ctx: Context) -> Iterable[str]:
    yield f"Cloud NAT '{resource.name}' gives the zone a path to the internet; model zones have none."


def check_no_external_address(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type in (ADDRESS, GLOBAL_ADDRESS):
        # Both default to EXTERNAL when address_type is not given.
        if props.get("addressType") != "INTERNAL":
            yield f"address '{resource.name}' is an external IP; model zones have none (address_type must be INTERNAL)."
        return
    for interface in as_mappings(props.get("networkInterfaces")):
        if as_list(interface.get("accessConfigs")):
            yield f"'{resource.name}' gives a network interface an external IPv4 address (access_configs)."
        if as_list(interface.get("ipv6AccessConfigs")):
            yield f"'{resource.name}' gives a network interface an external IPv6 address (ipv6_access_configs)."


# ---------------------------------------------------------------------------------------------------- NB-02
def _direction(props: Any) -> str:
    return str(props.get("direction") or "INGRESS").upper()  # GCP's default direction


def _allow_entries(props: Any) -> list[Any]:
    return as_mappings(props.get("allows"))


def check_firewall_egress_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if _direction(props) != "EGRESS" or props.get("disabled") is True or not _allow_entries(props):
        return
    destinations = strings(props.get("destinationRanges"))
    if not destinations:
        yield f"firewall '{resource.name}' allows egress to every address (no destination_ranges means 0.0.0.0/0)."
    # The union is judged (addresses.py): 0.0.0.0/1 + 128.0.0.0/1 reaches as far as 0.0.0.0/0.
    for family in open_families(destinations):
        yield (f"firewall '{resource.name}' allows egress to {', '.join(destinations)}: together these ranges cover "
               f"every public {family} address, so workloads could reach any address.")


def check_firewall_ingress_open(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if _direction(props) != "INGRESS" or props.get("disabled") is True or not _allow_entries(props):
        return
    sources = strings(props.get("sourceRanges"))
    if not sources and not as_list(props.get("sourceTags")) and not as_list(props.get("sourceServiceAccounts")):
        # GCP fills in 0.0.0.0/0 for an ingress rule that names no source at all.
        yield (f"firewall '{resource.name}' admits traffic from every address: an ingress rule with no source_ranges, "
               "source_tags or source_service_accounts is open to 0.0.0.0/0 by GCP's default.")
    for family in open_families(sources):
        yield (f"firewall '{resource.name}' admits traffic from {', '.join(sources)}: together these ranges cover "
               f"every public {family} address.")


def _denies_everything(firewall: StackResource) -> bool:
    props = firewall.props
    return (
        _direction(props) == "EGRESS"
        and props.get("disabled") is not True
        and any(str(d.get("protocol")).lower() == "all" and not as_list(d.get("ports")) for d in as_mappings(props.get("denies")))
        and any(is_open_cidr(cidr) for cidr in strings(props.get("destinationRanges")))
        # A deny that names targets covers only those instances, not the zone.
        and not as_list(props.get("targetTags"))
        and not as_list(props.get("targetServiceAccounts"))
    )


def check_egress_default_deny(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    firewalls = of_type(resources, FIREWALL)
    for network in of_type(resources, NETWORK):
        if not any(_denies_everything(f) for f in firewalls if points_to(f, "network", network)):
            yield Finding(
                f"network '{network.name}' has no firewall that denies all egress (direction EGRESS, deny protocol "
                "'all', destination 0.0.0.0/0, no targets): the implied rule allows every destination.",
                network.urn,
            )


def _zone_ranges(resources: Sequence[StackResource]) -> list[Any]:
    """Every address the zone's own resources occupy or use: subnets and their secondary ranges, GKE control planes,
    the restricted VIP and Private Service Connect endpoints."""
    ranges: list[Any] = [RESTRICTED_VIP]
    for subnet in of_type(resources, SUBNETWORK):
        ranges.append(parse_cidr(subnet.props.get("ipCidrRange")))
        ranges.extend(parse_cidr(r.get("ipCidrRange")) for r in as_mappings(subnet.props.get("secondaryIpRanges")))
    for cluster in of_type(resources, CLUSTER):
        ranges.append(parse_cidr((cluster.props.get("privateClusterConfig") or {}).get("masterIpv4CidrBlock")))
    for address in of_type(resources, GLOBAL_ADDRESS):
        if address.props.get("purpose") == "PRIVATE_SERVICE_CONNECT":
            ranges.append(parse_cidr(address.props.get("address")))
    return [r for r in ranges if r is not None]


def check_firewall_outside_zone(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    """An allow rule may name only addresses the zone itself uses; anything else is a path out of, or into, the zone
    (another zone, an office range, an internet host)."""
    inside = _zone_ranges(resources)
    for firewall in of_type(resources, FIREWALL):
        props = firewall.props
        if props.get("disabled") is True or not _allow_entries(props):
            continue
        egress = _direction(props) == "EGRESS"
        key, allowed = ("destinationRanges", inside) if egress else ("sourceRanges", [*inside, *HEALTH_CHECK_RANGES])
        for text in strings(props.get(key)):
            cidr = parse_cidr(text)
            if cidr is None:
                yield Finding(f"firewall '{firewall.name}' names {text!r}, which is not a CIDR.", firewall.urn)
            elif cidr.prefixlen == 0:
                continue  # reported by the open-internet rules, with their own severity
            elif not within_any(cidr, allowed):
                where = "to" if egress else "from"
                yield Finding(f"firewall '{firewall.name}' allows traffic {where} {text}, outside the zone's own ranges.", firewall.urn)


# ---------------------------------------------------------------------------------------------------- NB-03, NB-09
def check_subnet_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("purpose") not in (None, "PRIVATE"):
        return  # proxy-only and PSC subnets host Google's proxies, not workloads
    if props.get("privateIpGoogleAccess") is not True:
        yield f"subnet '{resource.name}' must turn on Private Google Access (its nodes have no external IPs)."
    log = props.get("logConfig")
    if not log:
        yield f"subnet '{resource.name}' must record flow logs (log_config)."
    elif log.get("metadata") == "EXCLUDE_ALL_METADATA" or log.get("flowSampling") == 0:
        yield f"subnet '{resource.name}' records flow logs without content (no metadata or zero sampling)."
    if props.get("ipv6AccessType") == "EXTERNAL":
        yield f"subnet '{resource.name}' gives instances globally routable IPv6 addresses."


# ---------------------------------------------------------------------------------------------------- NB-03, NB-04
def _network_urls(value: Any) -> list[Any]:
    return [n.get("networkUrl") for n in as_mappings(value)]


def _zone_networks(zone: StackResource, networks: Sequence[StackResource]) -> list[StackResource]:
    def urls() -> list[Any]:
        config = zone.props.get("privateVisibilityConfig") or {}
        return _network_urls(config.get("networks") if hasattr(config, "get") else None)

    return [n for n in networks if points_to(zone, "privateVisibilityConfig", n, urls)]


def check_dns_restricted_google_apis(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    networks = of_type(resources, NETWORK)
    zones = [z for z in of_type(resources, MANAGED_ZONE)
             if str(z.props.get("dnsName") or "").rstrip(".") == "googleapis.com" and z.props.get("visibility") == "private"]
    psc = [str(a.props.get("address")) for a in of_type(resources, GLOBAL_ADDRESS) if a.props.get("purpose") == "PRIVATE_SERVICE_CONNECT"]
    allowed_addresses = {str(a) for a in RESTRICTED_VIP} | set(psc)
    for network in networks:
        if not any(network.urn in {n.urn for n in _zone_networks(z, networks)} for z in zones):
            yield Finding(
                f"network '{network.name}' has no private googleapis.com zone: Google API names resolve to public "
                "addresses outside VPC Service Controls. Point them at restricted.googleapis.com.",
                network.urn,
            )
    for zone in zones:
        if zone.props.get("forwardingConfig") or zone.props.get("peeringConfig"):
            yield Finding(f"googleapis.com zone '{zone.name}' forwards or peers its queries elsewhere.", zone.urn)
    for record in of_type(resources, RECORD_SET):
        if not any(points_to(record, "managedZone", zone) for zone in zones):
            continue
        kind, data = str(record.props.get("type") or ""), strings(record.props.get("rrdatas"))
        if kind == "A" and not set(data) <= allowed_addresses:
            yield Finding(f"record '{record.name}' sends Google API names to {', '.join(sorted(set(data) - allowed_addresses))}, "
                          "not the restricted VIP.", record.urn)
        elif kind == "CNAME" and data != [RESTRICTED_HOST]:
            yield Finding(f"record '{record.name}' points Google API names at {', '.join(data)}, not {RESTRICTED_HOST}", record.urn)
        elif kind not in ("A", "CNAME"):
            yield Finding(f"record '{record.name}' ({kind}) has no place in the restricted googleapis.com zone.", record.urn)


def check_dns_policy(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    networks = of_type(resources, NETWORK)
    policies = of_type(resources, DNS_POLICY)
    for policy in policies:
        servers = (policy.props.get("alternativeNameServerConfig") or {})
        if hasattr(servers, "get") and as_list(servers.get("targetNameServers")):
            yield Finding(f"DNS policy '{policy.name}' forwards every query to other name servers, around the zone's "
                          "private zones.", policy.urn)
        if policy.props.get("enableInboundForwarding") is True:
            yield Finding(f"DNS policy '{policy.name}' accepts queries forwarded from outside the zone.", policy.urn)
    for network in networks:
        logging = [p for p in policies
                   if p.props.get("enableLogging") is True
                   and points_to(p, "networks", network, lambda p=p: _network_urls(p.props.get("networks")))]
        if not logging:
            yield Finding(f"network '{network.name}' needs a DNS policy with enable_logging=True: DNS queries are evidence.", network.urn)


# ---------------------------------------------------------------------------------------------------- NB-10
def check_no_cross_zone_link(resource: Resource, _ctx: Context) -> Iterable[str]:
    kind = resource.resource_type.split(":")[-1]
    yield f"{kind} '{resource.name}' connects this zone's network to another; zones must stay unreachable from each other."


# ---------------------------------------------------------------------------------------------------- NB-05/NB-09
CLOUD_RUN_V2 = "gcp:cloudrunv2/service:Service"
CLOUD_RUN_V1 = "gcp:cloudrun/service:Service"
# Internal-only, or through an internal or Cloud Load Balancing front door (where the zone's WAF and auth sit).
PRIVATE_RUN_INGRESS = frozenset({"INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"})
PRIVATE_RUN_INGRESS_V1 = frozenset({"internal", "internal-and-cloud-load-balancing"})
RUN_INGRESS_ANNOTATION = "run.googleapis.com/ingress"


def check_cloud_run_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == CLOUD_RUN_V2:
        ingress = props.get("ingress")
        if ingress not in PRIVATE_RUN_INGRESS:
            # No ingress set is INGRESS_TRAFFIC_ALL: Cloud Run's default serves the internet.
            yield (f"Cloud Run service '{resource.name}' takes traffic from the internet (ingress "
                   f"{ingress or 'unset, which defaults to INGRESS_TRAFFIC_ALL'}); allowed: {', '.join(sorted(PRIVATE_RUN_INGRESS))}.")
        if props.get("invokerIamDisabled") is True:
            yield f"Cloud Run service '{resource.name}' disables the invoker IAM check: anyone who reaches it may call it."
        return
    metadata = props.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    ingress = annotations.get(RUN_INGRESS_ANNOTATION) if isinstance(annotations, Mapping) else None
    if ingress not in PRIVATE_RUN_INGRESS_V1:
        yield (f"Cloud Run service '{resource.name}' takes traffic from the internet (annotation {RUN_INGRESS_ANNOTATION} "
               f"{ingress or 'unset, which defaults to all'}); allowed: {', '.join(sorted(PRIVATE_RUN_INGRESS_V1))}.")


RULES = (
    Rule(name="gcp-network-custom-mode", description="VPC networks have no auto subnets and start without Google's default internet route.",
         severity="critical", controls=("NB-01", "NB-09"), mandatory_from=STANDARD,
         remediation="Set auto_create_subnetworks=False and delete_default_routes_on_create=True (SegmentedNetwork does).",
         resource_types=frozenset({NETWORK}), resource_check=check_network_custom_mode),
    Rule(name="gcp-route-internet-gateway", description="No route leaves the zone: the default internet gateway serves only the restricted VIP 199.36.153.4/30.",
         severity="critical", controls=("NB-01", "NB-03"), mandatory_from=STANDARD,
         remediation="Delete the route; reach Google APIs through restricted.googleapis.com (199.36.153.4/30) only.",
         resource_types=frozenset({ROUTE}), resource_check=check_route),
    Rule(name="gcp-no-cloud-nat", description="Model zones have no Cloud NAT.", severity="critical", controls=("NB-01",),
         mandatory_from=STANDARD, remediation="Remove the NAT; use Private Google Access to the restricted VIP.",
         resource_types=frozenset({ROUTER_NAT}), resource_check=check_no_cloud_nat),
    Rule(name="gcp-no-external-ip", description="No instance, template or reserved address in a model zone is external.",
         severity="critical", controls=("NB-01", "NB-09"), mandatory_from=STANDARD,
         remediation="Remove access_configs; reserve INTERNAL addresses only.",
         resource_types=INSTANCES | {ADDRESS, GLOBAL_ADDRESS}, resource_check=check_no_external_address),
    Rule(name="gcp-firewall-egress-open", description="No firewall rule allows egress to the whole internet (0.0.0.0/0, ::/0, or ranges that together cover it).",
         severity="critical", controls=("NB-02",), mandatory_from=STANDARD,
         remediation="Allow egress only to the restricted VIP and the zone's own ranges; deny the rest.",
         resource_types=frozenset({FIREWALL}), resource_check=check_firewall_egress_open),
    Rule(name="gcp-firewall-ingress-open", description="No firewall rule admits the whole internet (0.0.0.0/0, ::/0, ranges that together cover it, or no source at all).",
         severity="high", controls=("NB-05", "NB-09"), mandatory_from=STANDARD,
         remediation="Admit only the zone's ranges (and Google's health checkers for load-balanced endpoints).",
         resource_types=frozenset({FIREWALL}), resource_check=check_firewall_ingress_open),
    Rule(name="gcp-egress-default-deny", description="Every VPC network denies all egress by default, with a logged firewall rule.",
         severity="high", controls=("NB-02",), mandatory_from=STANDARD,
         remediation="Add a firewall rule: direction EGRESS, deny protocol all, destination 0.0.0.0/0, priority 65534.",
         stack_check=check_egress_default_deny),
    Rule(name="gcp-firewall-outside-zone", description="Firewall allow rules name only the zone's own ranges, the restricted VIP and PSC endpoints.",
         severity="high", controls=("NB-02", "NB-10"), mandatory_from=STANDARD,
         remediation="Name the zone's subnets; a red-team target range needs a waiver.",
         stack_check=check_firewall_outside_zone),
    Rule(name="gcp-subnet-private", description="Subnets use Private Google Access, record flow logs and hand out no external IPv6.",
         severity="medium", controls=("NB-03", "NB-09", "OB-01"), mandatory_from=STANDARD,
         remediation="Set private_ip_google_access=True and log_config (SegmentedNetwork does).",
         resource_types=frozenset({SUBNETWORK}), resource_check=check_subnet_private),
    Rule(name="gcp-dns-restricted-google-apis", description="Google API names resolve, inside each network, to the restricted VIP only.",
         severity="high", controls=("NB-03", "NB-04"), mandatory_from=STANDARD,
         remediation="Add a private googleapis.com zone bound to the network, with restricted.googleapis.com and CNAMEs to it.",
         stack_check=check_dns_restricted_google_apis),
    Rule(name="gcp-dns-logged", description="Every network logs its DNS queries; no DNS policy forwards queries around the zone or into it.",
         severity="medium", controls=("NB-04", "OB-01"), mandatory_from=STANDARD,
         remediation="Add gcp.dns.Policy(enable_logging=True, enable_inbound_forwarding=False) without alternative name servers.",
         stack_check=check_dns_policy),
    Rule(name="gcp-no-cross-zone-link", description="No peering, VPN, interconnect, Shared VPC or hub spoke connects zones.",
         severity="critical", controls=("NB-10",), mandatory_from=STANDARD,
         remediation="Remove the link; zones exchange artefacts only through signed releases, never networks.",
         resource_types=CROSS_ZONE_LINKS, resource_check=check_no_cross_zone_link),
    Rule(name="gcp-cloud-run-private", description="Cloud Run services take internal or load-balanced traffic only, and keep the invoker IAM check.",
         severity="high", controls=("NB-05", "NB-09"), mandatory_from=STANDARD,
         remediation="Set ingress to INGRESS_TRAFFIC_INTERNAL_ONLY (or INTERNAL_LOAD_BALANCER behind the zone's load balancer) "
                     "and leave invoker_iam_disabled unset; grant run.invoker to named service accounts.",
         resource_types=frozenset({CLOUD_RUN_V2, CLOUD_RUN_V1}), resource_check=check_cloud_run_private),
)
