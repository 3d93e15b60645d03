"""The GCP SegmentedNetwork under mocks, as the gcp-production stack builds it, and its PSC variant."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml

from components.gcp.network import (
    DEFAULT_GOOGLE_API_NAMES,
    RESTRICTED_VIP,
    RESTRICTED_VIP_ADDRESSES,
    SegmentedNetworkArgs,
    plan_ranges,
)
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]
NETWORK_ID = "projects/modelfort-production/global/networks/production-network-vpc-"


def by_name(result: dict) -> dict[str, dict]:
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    return by_name(run_program_under_mocks(project, read_stack(project, "gcp-production")))


def of_type(resources: dict[str, dict], resource_type: str) -> dict[str, dict]:
    return {name: r["properties"] for name, r in resources.items() if r["type"] == resource_type}


@pytest.mark.control("NB-01", "NB-09")
def test_the_network_has_no_auto_subnets_no_default_route_and_one_private_subnet(production):
    vpc = production["production-network-vpc"]["properties"]
    assert vpc["autoCreateSubnetworks"] is False and vpc["deleteDefaultRoutesOnCreate"] is True
    (subnet,) = of_type(production, "gcp:compute/subnetwork:Subnetwork").values()
    assert subnet["privateIpGoogleAccess"] is True and subnet["stackType"] == "IPV4_ONLY"
    assert subnet["ipCidrRange"] == "10.130.0.0/19"
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {"pods": "10.130.128.0/17", "services": "10.130.32.0/20"}
    assert subnet["logConfig"] == {"aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 1.0, "metadata": "INCLUDE_ALL_METADATA"}
    assert subnet["network"].startswith(NETWORK_ID)


@pytest.mark.control("NB-01", "NB-03")
def test_the_only_route_is_the_restricted_vip_and_there_is_no_nat(production):
    routes = of_type(production, "gcp:compute/route:Route")
    assert [(r["destRange"], r["nextHopGateway"]) for r in routes.values()] == [(RESTRICTED_VIP, "default-internet-gateway")]
    assert not [r for r in production.values() if r["type"] in ("gcp:compute/routerNat:RouterNat", "gcp:compute/router:Router")]
    assert not [r for r in production.values() if r["type"] == "gcp:compute/globalAddress:GlobalAddress"]


@pytest.mark.control("NB-02", "NB-03")
def test_egress_is_denied_by_default_and_allowed_only_to_google_apis_and_the_zone(production):
    firewalls = of_type(production, "gcp:compute/firewall:Firewall")
    deny = firewalls["production-network-deny-all-egress"]
    assert deny["direction"] == "EGRESS" and deny["priority"] == 65534 and deny["denies"] == [{"protocol": "all"}]
    assert deny["destinationRanges"] == ["0.0.0.0/0"] and deny["logConfig"] == {"metadata": "INCLUDE_ALL_METADATA"}
    assert "targetTags" not in deny and "targetServiceAccounts" not in deny
    allowed: set[str] = set()
    for name, rule in firewalls.items():
        if rule["direction"] == "EGRESS" and rule.get("allows"):
            assert rule["priority"] < 65534, name
            allowed.update(rule["destinationRanges"])
    assert allowed == {RESTRICTED_VIP, "10.130.0.0/19", "10.130.128.0/17", "10.130.32.0/20", "172.16.0.0/28"}
    assert firewalls["production-network-allow-google-apis"]["allows"] == [{"protocol": "tcp", "ports": ["443"]}]
    # Nodes reach their control plane, and only they do.
    control_plane = firewalls["production-gpu-to-control-plane"]
    assert control_plane["targetServiceAccounts"] == ["mf-production-gke-nodes@modelfort-production.iam.gserviceaccount.com"]


@pytest.mark.control("NB-03", "NB-04")
def test_only_the_needed_google_api_names_resolve_and_only_to_the_restricted_vip(production):
    zones = of_type(production, "gcp:dns/managedZone:ManagedZone")
    assert {z["dnsName"] for z in zones.values()} == {"googleapis.com.", "pkg.dev."}
    for zone in zones.values():
        assert zone["visibility"] == "private"
        assert [n["networkUrl"] for n in zone["privateVisibilityConfig"]["networks"]][0].startswith(NETWORK_ID)
    records = of_type(production, "gcp:dns/recordSet:RecordSet")
    a_records = [r for r in records.values() if r["type"] == "A"]
    assert a_records == [{**a_records[0], "name": "restricted.googleapis.com.", "rrdatas": list(RESTRICTED_VIP_ADDRESSES)}]
    cnames = {r["name"]: r["rrdatas"] for r in records.values() if r["type"] == "CNAME"}
    assert set(cnames) == {f"{n}." for n in DEFAULT_GOOGLE_API_NAMES} | {"us-central1-docker.pkg.dev."}
    assert all(target == ["restricted.googleapis.com."] for target in cnames.values())
    (policy,) = of_type(production, "gcp:dns/policy:Policy").values()
    assert policy["enableLogging"] is True and policy["enableInboundForwarding"] is False
    assert "alternativeNameServerConfig" not in policy


@pytest.mark.control("NB-10")
def test_nothing_links_the_zone_to_another(production):
    links = ("networkPeering", "haVpnGateway", "vPNTunnel", "sharedVPCServiceProject", "interconnectAttachment")
    assert not [r for r in production.values() if any(f"/{link}:" in r["type"] for link in links)]


@pytest.mark.control("NB-03")
def test_a_private_service_connect_endpoint_replaces_the_vip_route(program):
    directory = program("gcp-mutant", config={"gcp:project": "modelfort-production", "gcp:region": "us-central1",
                                              "modelfort:zone": "production", "mutant:mutation": "psc-endpoint"})
    project = read_project(str(directory))
    resources = by_name(run_program_under_mocks(project, read_stack(project, "test")))
    assert not of_type(resources, "gcp:compute/route:Route")
    address = resources["prod-network-psc-address"]
    assert address["type"] == "gcp:compute/globalAddress:GlobalAddress"
    assert {k: address["properties"][k] for k in ("address", "addressType", "purpose")} == {
        "address": "10.130.64.10", "addressType": "INTERNAL", "purpose": "PRIVATE_SERVICE_CONNECT"}
    rule = next(r["properties"] for r in resources.values() if r["type"] == "gcp:compute/globalForwardingRule:GlobalForwardingRule")
    assert rule["target"] == "vpc-sc" and rule["name"] == "mfproduction" and len(rule["name"]) <= 20
    assert resources["prod-network-restricted-a"]["properties"]["rrdatas"] == ["10.130.64.10"]
    assert resources["prod-network-allow-google-apis"]["properties"]["destinationRanges"] == ["10.130.64.10/32"]


def test_ranges_are_planned_inside_the_zone_without_overlap():
    plan = plan_ranges("10.130.0.0/16")
    ranges = [ipaddress.ip_network(r) for r in (plan.nodes, plan.services, plan.pods, plan.free)]
    assert all(r.subnet_of(ipaddress.ip_network("10.130.0.0/16")) for r in ranges)
    assert not any(a.overlaps(b) for i, a in enumerate(ranges) for b in ranges[i + 1:])
    assert plan_ranges("10.140.0.0/20").nodes == "10.140.0.0/23"


def test_every_gcp_stack_uses_its_own_cidr():
    cidrs = {}
    for path in sorted((REPO / "stacks").glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text())["config"]
        cidrs[path.name] = ipaddress.ip_network(config["modelfort:network"]["cidr"])
    assert not [(a, b) for a in cidrs for b in cidrs if a < b and cidrs[a].overlaps(cidrs[b])]


BASE = dict(zone="production", project="modelfort-production", region="us-central1", cidr_block="10.130.0.0/16")


@pytest.mark.parametrize(
    "change,message",
    [
        ({"cidr_block": "203.0.113.0/24"}, "cidr_block"),
        ({"cidr_block": "10.130.0.0/22"}, "too small"),
        ({"google_api_names": ["*.googleapis.com"]}, "google_api_names"),
        ({"google_api_names": ["storage.example.com"]}, "google_api_names"),
        ({"google_api_names": ["storage.googleapis.com", "storage.googleapis.com"]}, "each name once"),
        ({"psc_address": "10.130.0.10"}, "psc_address"),
        ({"egress_allowlist_cidrs": ["0.0.0.0/0"]}, "never allowed"),
        ({"egress_allowlist_cidrs": ["10.130.5.0/24"]}, "overlaps"),
        ({"zone": "Prod"}, "zone"),
        ({"project": "x"}, "project"),
    ],
)
def test_unsafe_network_args_fail_at_construction_naming_the_arg(change, message):
    with pytest.raises(ValueError, match=message):
        SegmentedNetworkArgs(**{**BASE, **change})
