"""SegmentedNetwork (GCP): one custom-mode VPC per zone, with no way out but the restricted Google APIs.

Controls: NB-01 (no internet route, no Cloud NAT, no external IPs), NB-02 (deny-all egress, logged), NB-03 (explicit
allow-list: the restricted VIP or a Private Service Connect endpoint), NB-04 (only the Google API names the zone needs
resolve, to the restricted VIP; every query logged), NB-09 (one private subnet, Private Google Access, flow logs),
NB-10 (no peering: nothing here connects one zone's network to another).

How the pieces fit:
- The VPC is created without auto subnets and with its default routes deleted, so there is no 0.0.0.0/0 route to the
  default internet gateway at any moment of its life.
- One route remains by design: 199.36.153.4/30 (restricted.googleapis.com) via `default-internet-gateway`. That is how
  Google documents reaching the restricted VIP from a VPC without external IPs: the traffic never leaves Google's
  network, and the restricted VIP serves only APIs that VPC Service Controls can guard. The policy pack allows that
  destination and nothing else through the default internet gateway.
- Firewall: an egress deny for every protocol to 0.0.0.0/0 at priority 65534 (just above the implied rules), logged;
  allows above it for HTTPS to the restricted VIP (or the PSC endpoint) and for traffic inside the zone's own CIDR.
  Ingress is denied (and logged) the same way; GKE adds the narrow rules its control plane needs.
- DNS: private zones bound to this VPC. `googleapis.com.` holds `restricted.googleapis.com` (A: the VIP) and a CNAME
  to it for each Google API the zone needs, and nothing else, so any other googleapis.com name is NXDOMAIN inside the
  zone (a private zone is authoritative for its whole namespace). `pkg.dev.` holds only the region's Artifact Registry
  host. A DNS server policy logs every query. What Cloud DNS cannot do is answer NXDOMAIN for the rest of the public
  namespace: response-policy rules only serve local data or bypass, and a private zone for the root is not offered.
  Internet names therefore still resolve, but nothing can connect to what they resolve to, and every query lands in
  the zone's locked evidence bucket (docs/gcp.md, "DNS").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.config import is_private_range
from components.gcp.common import check_zone_and_project, child_options, zone_labels

CONTROLS = ("NB-01", "NB-02", "NB-03", "NB-04", "NB-09", "NB-10")
RESTRICTED_VIP = "199.36.153.4/30"
RESTRICTED_VIP_ADDRESSES = tuple(str(a) for a in ipaddress.ip_network(RESTRICTED_VIP))
RESTRICTED_HOST = "restricted.googleapis.com."
DEFAULT_INTERNET_GATEWAY = "default-internet-gateway"
DENY_ALL_PRIORITY = 65534
"""Just above the implied rules (65535), so every explicit allow wins over it and it wins over the implied allow."""
ALLOW_PRIORITY = 1000
HTTPS = "443"
PODS_RANGE, SERVICES_RANGE = "pods", "services"
MAX_ZONE_PREFIX = 20
"""A /20 is the smallest zone that still fits GKE's node, pod and service ranges."""
DEFAULT_GOOGLE_API_NAMES = (
    # What private GKE nodes, Workload Identity and the zone's own components call.
    "container.googleapis.com",
    "oauth2.googleapis.com",
    "sts.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "storage.googleapis.com",
    "artifactregistry.googleapis.com",
    "secretmanager.googleapis.com",
    "cloudkms.googleapis.com",
    "pubsub.googleapis.com",
    "binaryauthorization.googleapis.com",
    "containeranalysis.googleapis.com",
    "gkeauth.googleapis.com",
    "www.googleapis.com",
)
_API_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.googleapis\.com$")


@dataclass(frozen=True)
class NetworkPlan:
    """How a zone's CIDR is divided (planned, so known without waiting on Google)."""

    nodes: str
    services: str
    pods: str
    free: str
    """Left unused for growth; a Private Service Connect address, when used, comes from here."""


def plan_ranges(cidr_block: str) -> NetworkPlan:
    """Nodes get the first eighth, services the next sixteenth (after a gap), pods the upper half; a quarter stays
    free. For 10.130.0.0/16: nodes 10.130.0.0/19, services 10.130.32.0/20, free 10.130.64.0/18, pods 10.130.128.0/17."""
    network = ipaddress.ip_network(cidr_block)
    if network.prefixlen > MAX_ZONE_PREFIX:
        raise ValueError(f"{cidr_block} is too small for GKE's node, pod and service ranges (a /{MAX_ZONE_PREFIX} or larger)")
    return NetworkPlan(
        nodes=str(next(network.subnets(prefixlen_diff=3))),
        services=str(list(network.subnets(prefixlen_diff=4))[2]),
        pods=str(list(network.subnets(prefixlen_diff=1))[1]),
        free=str(list(network.subnets(prefixlen_diff=2))[1]),
    )


@dataclass(frozen=True, kw_only=True)
class SegmentedNetworkArgs:
    zone: str
    """The zone this network isolates (redteam, testing, production, high-sensitivity); labelled on every resource."""
    project: str
    """The zone's Google Cloud project."""
    region: str
    """The region of the zone's subnet."""
    cidr_block: str
    """The zone's private IPv4 CIDR (a /20 or larger), distinct from every other zone's."""
    google_api_names: Sequence[str] = DEFAULT_GOOGLE_API_NAMES
    """The googleapis.com names that resolve (to the restricted VIP); every other googleapis.com name is NXDOMAIN.
    Defaults to what a private GKE model zone needs. Each must be a full name under googleapis.com, no wildcards."""
    psc_address: str | None = None
    """An address in the zone's free range for a Private Service Connect endpoint to the `vpc-sc` API bundle. When
    set, DNS points the API names at it instead of the restricted VIP, and the VIP route is not created. Defaults to
    None (the restricted VIP)."""
    egress_allowlist_cidrs: Sequence[str] = ()
    """Escape hatch (weakens NB-02): outside CIDRs workloads may reach on HTTPS, e.g. red-team targets. Defaults to
    none; a policy blocks any unless the stack waives it. Useless without a route, which this component never adds."""
    enable_flow_logs: bool = True
    """Record every flow of the subnet (all metadata, 5-second aggregation, no sampling). Defaults to True; turning it
    off is blocked by a policy."""
    enable_dns_logging: bool = True
    """Log every DNS query of the network. Defaults to True; turning it off is blocked by a policy."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("SegmentedNetworkArgs", self.zone, self.project)
        network = ipaddress.ip_network(self.cidr_block)  # raises with the offending value
        if not is_private_range(network):
            raise ValueError(f"SegmentedNetworkArgs.cidr_block: {self.cidr_block} must be a private IPv4 CIDR")
        if network.prefixlen > MAX_ZONE_PREFIX:
            raise ValueError(f"SegmentedNetworkArgs.cidr_block: {self.cidr_block} is too small; give a /{MAX_ZONE_PREFIX} or larger")
        for name in self.google_api_names:
            if not _API_NAME.match(name):
                raise ValueError(f"SegmentedNetworkArgs.google_api_names: {name!r} is not a full googleapis.com name (no wildcards)")
        if len(set(self.google_api_names)) != len(self.google_api_names):
            raise ValueError("SegmentedNetworkArgs.google_api_names: each name once")
        if self.psc_address is not None:
            address = ipaddress.ip_address(self.psc_address)
            if address not in ipaddress.ip_network(plan_ranges(self.cidr_block).free):
                raise ValueError(
                    f"SegmentedNetworkArgs.psc_address: {self.psc_address} must lie in the zone's free range "
                    f"{plan_ranges(self.cidr_block).free} (not in a subnet or secondary range)"
                )
        for cidr in self.egress_allowlist_cidrs:
            outside = ipaddress.ip_network(cidr)
            if outside.prefixlen == 0:
                raise ValueError(f"SegmentedNetworkArgs.egress_allowlist_cidrs: {cidr} would open the zone to every address; never allowed")
            if outside.overlaps(network):
                raise ValueError(f"SegmentedNetworkArgs.egress_allowlist_cidrs: {cidr} overlaps the zone's own CIDR; list only outside targets")


class SegmentedNetwork(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    network_id: pulumi.Output[str]
    """`projects/<p>/global/networks/<n>`."""
    network_self_link: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    """The zone's one private subnet (nodes), with the pod and service secondary ranges."""
    plan: NetworkPlan
    """The planned ranges (known at once)."""
    pods_range_name: str
    services_range_name: str
    google_apis_address: tuple[str, ...]
    """Where the Google API names resolve: the restricted VIP's four addresses, or the PSC endpoint's one."""
    google_apis_cidrs: tuple[str, ...]
    """The same as CIDRs (the restricted VIP's /30, or the PSC endpoint's /32): what workloads may open HTTPS to."""
    google_apis_zone: pulumi.Output[str]
    """The private googleapis.com zone's name, for a CNAME to restricted.googleapis.com the defaults lack."""

    def __init__(self, name: str, args: SegmentedNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:SegmentedNetwork", name, None, opts)
        self._name, self._args = name, args
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        self.plan = plan_ranges(args.cidr_block)
        self.pods_range_name, self.services_range_name = PODS_RANGE, SERVICES_RANGE

        network = gcp.compute.Network(
            f"{name}-vpc",
            description=f"ModelFort zone {args.zone}: no internet route, Google APIs through the restricted VIP only",
            auto_create_subnetworks=False,
            # Google adds a 0.0.0.0/0 route to the default internet gateway to every new network unless told not to.
            delete_default_routes_on_create=True,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-nodes",
            network=network.id,
            region=args.region,
            ip_cidr_range=self.plan.nodes,
            secondary_ip_ranges=[
                {"range_name": PODS_RANGE, "ip_cidr_range": self.plan.pods},
                {"range_name": SERVICES_RANGE, "ip_cidr_range": self.plan.services},
            ],
            # Nodes have no external IPs; Private Google Access is how they reach the (restricted) Google APIs.
            private_ip_google_access=True,
            stack_type="IPV4_ONLY",
            log_config=(
                {"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 1.0, "metadata": "INCLUDE_ALL_METADATA"}
                if args.enable_flow_logs
                else None
            ),
            opts=child,
        )

        if args.psc_address is None:
            gcp.compute.Route(
                f"{name}-restricted-googleapis",
                network=network.id,
                description="The restricted Google APIs VIP; the only destination reached through the default internet gateway",
                dest_range=RESTRICTED_VIP,
                next_hop_gateway=DEFAULT_INTERNET_GATEWAY,
                priority=ALLOW_PRIORITY,
                opts=child,
            )
            self.google_apis_address = RESTRICTED_VIP_ADDRESSES
            api_destinations = [RESTRICTED_VIP]
        else:
            address = gcp.compute.GlobalAddress(
                f"{name}-psc-address",
                network=network.id,
                address=args.psc_address,
                address_type="INTERNAL",
                purpose="PRIVATE_SERVICE_CONNECT",
                opts=child,
            )
            gcp.compute.GlobalForwardingRule(
                f"{name}-psc-endpoint",
                # PSC endpoints for Google APIs are named with 1-20 lowercase letters and digits.
                name=("mf" + re.sub(r"[^a-z0-9]", "", args.zone))[:20],
                network=network.id,
                ip_address=address.id,
                # The vpc-sc bundle serves only APIs VPC Service Controls supports: the PSC twin of the restricted VIP.
                target="vpc-sc",
                load_balancing_scheme="",
                opts=child,
            )
            self.google_apis_address = (args.psc_address,)
            api_destinations = [f"{args.psc_address}/32"]

        self._firewall(network, api_destinations, child)
        self.google_apis_cidrs = tuple(api_destinations)
        self.google_apis_zone = self._dns(network, child, labels)

        self.network_id = network.id
        self.network_self_link = network.self_link
        self.subnetwork_id = subnet.id
        self.register_outputs({"network_id": self.network_id, "subnetwork_id": self.subnetwork_id})

    def _firewall(self, network: gcp.compute.Network, api_destinations: list[str], child: pulumi.ResourceOptions) -> None:
        args, name = self._args, self._name
        logged = {"metadata": "INCLUDE_ALL_METADATA"}
        gcp.compute.Firewall(
            f"{name}-deny-all-egress",
            network=network.id,
            description="Default deny: nothing leaves the zone unless a rule above this one allows it",
            direction="EGRESS",
            priority=DENY_ALL_PRIORITY,
            denies=[{"protocol": "all"}],
            destination_ranges=["0.0.0.0/0"],
            log_config=logged,
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-deny-all-ingress",
            network=network.id,
            description="Default deny, logged (the implied ingress deny records nothing)",
            direction="INGRESS",
            priority=DENY_ALL_PRIORITY,
            denies=[{"protocol": "all"}],
            source_ranges=["0.0.0.0/0"],
            log_config=logged,
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-allow-google-apis",
            network=network.id,
            description="HTTPS to the restricted Google APIs only",
            direction="EGRESS",
            priority=ALLOW_PRIORITY,
            allows=[{"protocol": "tcp", "ports": [HTTPS]}],
            destination_ranges=api_destinations,
            log_config=logged,
            opts=child,
        )
        gcp.compute.Firewall(
            f"{name}-allow-zone-internal",
            network=network.id,
            description="Nodes, pods and services of the zone talk to each other",
            direction="EGRESS",
            priority=ALLOW_PRIORITY,
            allows=[{"protocol": "all"}],
            # The planned ranges, not the whole CIDR: the free quarter stays unreachable until something is placed there.
            destination_ranges=[self.plan.nodes, self.plan.pods, self.plan.services],
            opts=child,
        )
        if args.egress_allowlist_cidrs:
            gcp.compute.Firewall(
                f"{name}-allow-egress-allowlist",
                network=network.id,
                description="ESCAPE HATCH: allow-listed outside targets (needs a waiver)",
                direction="EGRESS",
                priority=ALLOW_PRIORITY,
                allows=[{"protocol": "tcp", "ports": [HTTPS]}],
                destination_ranges=list(args.egress_allowlist_cidrs),
                log_config=logged,
                opts=child,
            )

    def _dns(self, network: gcp.compute.Network, child: pulumi.ResourceOptions, labels: dict[str, str]) -> pulumi.Output[str]:
        args, name = self._args, self._name
        bound = {"networks": [{"network_url": network.id}]}
        googleapis = gcp.dns.ManagedZone(
            f"{name}-googleapis",
            dns_name="googleapis.com.",
            description="Only the Google APIs this zone needs resolve, to the restricted VIP; all others are NXDOMAIN",
            visibility="private",
            private_visibility_config=bound,
            labels=labels,
            opts=child,
        )
        gcp.dns.RecordSet(
            f"{name}-restricted-a",
            managed_zone=googleapis.name,
            name=RESTRICTED_HOST,
            type="A",
            ttl=300,
            rrdatas=list(self.google_apis_address),
            opts=child,
        )
        for api in args.google_api_names:
            gcp.dns.RecordSet(
                f"{name}-{api.removesuffix('.googleapis.com').replace('.', '-')}-cname",
                managed_zone=googleapis.name,
                name=f"{api}.",
                type="CNAME",
                ttl=300,
                rrdatas=[RESTRICTED_HOST],
                opts=child,
            )
        # Artifact Registry serves images from <region>-docker.pkg.dev; only this region's host resolves.
        registry = gcp.dns.ManagedZone(
            f"{name}-pkg-dev",
            dns_name="pkg.dev.",
            description="Only this region's Artifact Registry host resolves, to the restricted VIP",
            visibility="private",
            private_visibility_config=bound,
            labels=labels,
            opts=child,
        )
        gcp.dns.RecordSet(
            f"{name}-docker-registry-cname",
            managed_zone=registry.name,
            name=f"{args.region}-docker.pkg.dev.",
            type="CNAME",
            ttl=300,
            rrdatas=[RESTRICTED_HOST],
            opts=child,
        )
        gcp.dns.Policy(
            f"{name}-dns-policy",
            description="Every DNS query of the zone is logged; no inbound forwarding into the zone",
            networks=[{"network_url": network.id}],
            enable_logging=args.enable_dns_logging,
            enable_inbound_forwarding=False,
            opts=child,
        )
        return googleapis.name
