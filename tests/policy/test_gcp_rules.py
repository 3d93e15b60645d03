"""Google Cloud rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service.

Each case names exactly which resources each GCP policy flags. Fixtures are shaped as the engine sends them (camelCase
properties, numbers as doubles on the wire, references as property dependencies), and cover what a program that does
not use ModelFort's components would write.
"""

from __future__ import annotations

import json

import pytest
from fixtures import flagged, judge_all, res

from modelfort_policy.rules import ALL_RULES

GCP_POLICIES = tuple(r.name for r in ALL_RULES if r.name.startswith(("gcp-", "gke-", "gcs-")))
PRODUCTION = {"modelfort:zone": "production"}
CRITICAL = {"modelfort:zone": "high-sensitivity"}
TESTING = {"modelfort:zone": "testing"}
KEY = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
DAY = 86_400

NETWORK = "gcp:compute/network:Network"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
FIREWALL = "gcp:compute/firewall:Firewall"
ROUTE = "gcp:compute/route:Route"
ZONE = "gcp:dns/managedZone:ManagedZone"
RECORD = "gcp:dns/recordSet:RecordSet"
DNS_POLICY = "gcp:dns/policy:Policy"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
SINK = "gcp:logging/projectSink:ProjectSink"
BUCKET = "gcp:storage/bucket:Bucket"
AUDIT = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
CLUSTER = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
SECRET = "gcp:secretmanager/secret:Secret"
PERIMETER = "gcp:accesscontextmanager/servicePerimeter:ServicePerimeter"
BINAUTHZ = "gcp:binaryauthorization/policy:Policy"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
TEMPLATE = "gcp:modelarmor/template:Template"
FLOOR = "gcp:modelarmor/floorsetting:Floorsetting"


def violations(pack, resources) -> dict[str, set[str]]:
    """What blocks: mandatory diagnostics of the GCP policies, by policy, as resource names. (Rules that become
    mandatory only at a higher tier advise below it; the tests that care say so.)"""
    found: dict[str, set[str]] = {}
    for d in judge_all(pack, resources):
        if d.policy in GCP_POLICIES and d.enforcement == "mandatory":
            found.setdefault(d.policy, set()).add(d.urn.rsplit("::", 1)[-1])
    return found


def change(resources, name, **props):
    return [({**r, "properties": {**r["properties"], **props}} if r["name"] == name else r) for r in resources]


def without(resources, name, *keys):
    """The property is absent, so the engine has no dependency recorded for it either."""
    return [
        ({**r, "properties": {k: v for k, v in r["properties"].items() if k not in keys},
          "propertyDependencies": {k: v for k, v in r["propertyDependencies"].items() if k not in keys}} if r["name"] == name else r)
        for r in resources
    ]


def drop(resources, *names):
    return [r for r in resources if r["name"] not in names]


# ============================================================================================================ network
def evidence() -> list[dict]:
    bucket = res(LOG_BUCKET, "evidence-bucket", {"bucketId": "evidence", "locked": True, "retentionDays": 365, "cmekSettings": {"kmsKeyName": KEY}})
    sink = res(SINK, "evidence-sink", {"destination": "logging.googleapis.com/projects/p/locations/us-central1/buckets/evidence",
                                       "filter": 'logName:"cloudaudit.googleapis.com"'}, {"destination": [bucket]})
    return [bucket, sink]


def zone_network() -> list[dict]:
    vpc = res(NETWORK, "vpc", {"name": "zone-vpc", "autoCreateSubnetworks": False, "deleteDefaultRoutesOnCreate": True})
    on = {"network": [vpc]}
    subnet = res(SUBNET, "nodes", {"network": "x", "ipCidrRange": "10.130.0.0/19", "privateIpGoogleAccess": True,
                                    "secondaryIpRanges": [{"rangeName": "pods", "ipCidrRange": "10.130.128.0/17"},
                                                          {"rangeName": "services", "ipCidrRange": "10.130.32.0/20"}],
                                    "logConfig": {"flowSampling": 1.0, "metadata": "INCLUDE_ALL_METADATA"}}, on)
    googleapis = res(ZONE, "googleapis", {"name": "googleapis", "dnsName": "googleapis.com.", "visibility": "private",
                                           "privateVisibilityConfig": {"networks": [{"networkUrl": "x"}]}},
                     {"privateVisibilityConfig": [vpc]})
    in_zone = {"managedZone": [googleapis]}
    return [
        vpc, subnet, googleapis,
        res(ROUTE, "restricted-route", {"network": "x", "destRange": "199.36.153.4/30", "nextHopGateway": "default-internet-gateway"}, on),
        res(FIREWALL, "deny-all-egress", {"network": "x", "direction": "EGRESS", "priority": 65534, "denies": [{"protocol": "all"}],
                                          "destinationRanges": ["0.0.0.0/0"]}, on),
        res(FIREWALL, "allow-google-apis", {"network": "x", "direction": "EGRESS", "allows": [{"protocol": "tcp", "ports": ["443"]}],
                                            "destinationRanges": ["199.36.153.4/30"]}, on),
        res(FIREWALL, "allow-internal", {"network": "x", "direction": "EGRESS", "allows": [{"protocol": "all"}],
                                         "destinationRanges": ["10.130.0.0/19", "10.130.128.0/17"]}, on),
        res(RECORD, "restricted-a", {"managedZone": "googleapis", "name": "restricted.googleapis.com.", "type": "A",
                                     "rrdatas": ["199.36.153.4", "199.36.153.5", "199.36.153.6", "199.36.153.7"]}, in_zone),
        res(RECORD, "storage-cname", {"managedZone": "googleapis", "name": "storage.googleapis.com.", "type": "CNAME",
                                      "rrdatas": ["restricted.googleapis.com."]}, in_zone),
        res(DNS_POLICY, "dns-policy", {"networks": [{"networkUrl": "x"}], "enableLogging": True, "enableInboundForwarding": False},
            {"networks": [vpc]}),
        *evidence(),
    ]


def test_a_hardened_network_passes(packs):
    assert violations(packs.get(), zone_network()) == {}


@pytest.mark.control("NB-01", "NB-02", "NB-03", "NB-04", "NB-09")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: change(r, "vpc", autoCreateSubnetworks=True), {"gcp-network-custom-mode": {"vpc"}}),
        (lambda r: without(r, "vpc", "autoCreateSubnetworks"), {"gcp-network-custom-mode": {"vpc"}}),
        (lambda r: without(r, "vpc", "deleteDefaultRoutesOnCreate"), {"gcp-network-custom-mode": {"vpc"}}),
        (lambda r: change(r, "restricted-route", destRange="0.0.0.0/0"), {"gcp-route-internet-gateway": {"restricted-route"}}),
        # The private VIP serves APIs outside VPC Service Controls: not allowed through the gateway.
        (lambda r: change(r, "restricted-route", destRange="199.36.153.8/30"), {"gcp-route-internet-gateway": {"restricted-route"}}),
        (lambda r: change(r, "restricted-route", destRange="8.8.8.0/24",
                          nextHopGateway="https://www.googleapis.com/compute/v1/projects/p/global/gateways/default-internet-gateway"),
         {"gcp-route-internet-gateway": {"restricted-route"}}),
        (lambda r: change(without(r, "restricted-route", "nextHopGateway"), "restricted-route", destRange="0.0.0.0/0", nextHopIp="10.130.0.5"),
         {"gcp-route-internet-gateway": {"restricted-route"}}),
        (lambda r: drop(r, "deny-all-egress"), {"gcp-egress-default-deny": {"vpc"}}),
        (lambda r: change(r, "deny-all-egress", targetTags=["gpu"]), {"gcp-egress-default-deny": {"vpc"}}),
        (lambda r: change(r, "deny-all-egress", denies=[{"protocol": "tcp"}]), {"gcp-egress-default-deny": {"vpc"}}),
        (lambda r: change(r, "deny-all-egress", disabled=True), {"gcp-egress-default-deny": {"vpc"}}),
        (lambda r: without(r, "deny-all-egress", "direction"), {"gcp-egress-default-deny": {"vpc"}}),  # INGRESS by default
        (lambda r: change(r, "allow-google-apis", destinationRanges=["0.0.0.0/0"]), {"gcp-firewall-egress-open": {"allow-google-apis"}}),
        (lambda r: without(r, "allow-google-apis", "destinationRanges"), {"gcp-firewall-egress-open": {"allow-google-apis"}}),
        (lambda r: change(r, "allow-internal", destinationRanges=["10.140.0.0/16"]), {"gcp-firewall-outside-zone": {"allow-internal"}}),
        (lambda r: change(r, "allow-internal", destinationRanges=["not-a-cidr"]), {"gcp-firewall-outside-zone": {"allow-internal"}}),
        (lambda r: change(r, "allow-internal", direction="INGRESS", sourceRanges=["0.0.0.0/0"]), {"gcp-firewall-ingress-open": {"allow-internal"}}),
        (lambda r: change(r, "allow-internal", direction="INGRESS", sourceRanges=["35.235.240.0/20"]), {"gcp-firewall-outside-zone": {"allow-internal"}}),
        (lambda r: change(r, "nodes", privateIpGoogleAccess=False), {"gcp-subnet-private": {"nodes"}}),
        (lambda r: without(r, "nodes", "logConfig"), {"gcp-subnet-private": {"nodes"}}),
        (lambda r: change(r, "nodes", logConfig={"metadata": "EXCLUDE_ALL_METADATA"}), {"gcp-subnet-private": {"nodes"}}),
        (lambda r: drop(r, "googleapis", "restricted-a", "storage-cname"), {"gcp-dns-restricted-google-apis": {"vpc"}}),
        (lambda r: without(r, "googleapis", "privateVisibilityConfig"), {"gcp-dns-restricted-google-apis": {"vpc"}}),
        (lambda r: change(r, "restricted-a", rrdatas=["199.36.153.8"]), {"gcp-dns-restricted-google-apis": {"restricted-a"}}),
        (lambda r: change(r, "storage-cname", rrdatas=["private.googleapis.com."]), {"gcp-dns-restricted-google-apis": {"storage-cname"}}),
        (lambda r: change(r, "googleapis", forwardingConfig={"targetNameServers": [{"ipv4Address": "8.8.8.8"}]}),
         {"gcp-dns-restricted-google-apis": {"googleapis"}}),
        (lambda r: change(r, "dns-policy", enableLogging=False), {"gcp-dns-logged": {"vpc"}}),
        (lambda r: drop(r, "dns-policy"), {"gcp-dns-logged": {"vpc"}}),
        (lambda r: change(r, "dns-policy", alternativeNameServerConfig={"targetNameServers": [{"ipv4Address": "8.8.8.8"}]}),
         {"gcp-dns-logged": {"dns-policy"}}),
        (lambda r: change(r, "dns-policy", enableInboundForwarding=True), {"gcp-dns-logged": {"dns-policy"}}),
        (lambda r: drop(r, "evidence-sink"), {"gcp-evidence-sink": {"vpc"}}),
        (lambda r: change(r, "evidence-sink", disabled=True), {"gcp-evidence-sink": {"vpc"}}),
        (lambda r: change(r, "evidence-sink", filter='resource.type="gce_instance"'), {"gcp-evidence-sink": {"vpc"}}),
        (lambda r: change(r, "evidence-bucket", locked=False),
         {"gcp-evidence-sink": {"vpc"}, "gcp-log-bucket-locked": {"evidence-bucket"}}),
    ],
)
def test_each_missing_network_safeguard_is_flagged(packs, mutate, expected):
    assert violations(packs.get(), mutate(zone_network())) == expected


@pytest.mark.control("NB-02")
def test_references_by_literal_name_and_self_link_count():
    """A program that names the network by its name or self link (an existing network) is judged the same."""
    from modelfort_policy.rules.gcp_common import same_resource

    class Target:
        props = {"id": "projects/p/global/networks/zone-vpc", "name": "zone-vpc"}

    assert same_resource("zone-vpc", Target)
    assert same_resource("https://www.googleapis.com/compute/v1/projects/p/global/networks/zone-vpc", Target)
    assert not same_resource("projects/p/global/networks/other", Target)
    assert not same_resource(None, Target)


def test_a_deny_all_found_by_the_networks_literal_name(packs):
    resources = [{**r, "propertyDependencies": {}, "dependencies": []} if r["name"] == "deny-all-egress" else r for r in zone_network()]
    resources = change(resources, "deny-all-egress", network="zone-vpc")
    assert violations(packs.get(), resources) == {}
    assert violations(packs.get(), change(resources, "deny-all-egress", network="other-vpc")) == {"gcp-egress-default-deny": {"vpc"}}


@pytest.mark.control("NB-01", "NB-09", "NB-10")
@pytest.mark.parametrize(
    "resource,policy,expected",
    [
        (res("gcp:compute/routerNat:RouterNat", "nat", {"router": "r"}), "gcp-no-cloud-nat", {"nat"}),
        (res("gcp:compute/networkPeering:NetworkPeering", "to-testing", {"network": "a", "peerNetwork": "b"}), "gcp-no-cross-zone-link", {"to-testing"}),
        (res("gcp:compute/haVpnGateway:HaVpnGateway", "vpn", {"network": "a"}), "gcp-no-cross-zone-link", {"vpn"}),
        (res("gcp:compute/sharedVPCServiceProject:SharedVPCServiceProject", "shared", {"hostProject": "h", "serviceProject": "s"}),
         "gcp-no-cross-zone-link", {"shared"}),
        (res("gcp:compute/instance:Instance", "vm", {"networkInterfaces": [{"network": "n", "accessConfigs": [{}]}]}), "gcp-no-external-ip", {"vm"}),
        (res("gcp:compute/instanceTemplate:InstanceTemplate", "tpl", {"networkInterfaces": [{"network": "n", "ipv6AccessConfigs": [{"networkTier": "PREMIUM"}]}]}),
         "gcp-no-external-ip", {"tpl"}),
        (res("gcp:compute/instance:Instance", "private-vm", {"networkInterfaces": [{"network": "n"}]}), "gcp-no-external-ip", set()),
        (res("gcp:compute/address:Address", "public-ip", {}), "gcp-no-external-ip", {"public-ip"}),  # EXTERNAL by default
        (res("gcp:compute/address:Address", "internal-ip", {"addressType": "INTERNAL"}), "gcp-no-external-ip", set()),
        (res("gcp:compute/globalAddress:GlobalAddress", "psc", {"addressType": "INTERNAL", "purpose": "PRIVATE_SERVICE_CONNECT"}),
         "gcp-no-external-ip", set()),
        (res(FIREWALL, "ingress-default", {"allows": [{"protocol": "tcp"}], "sourceRanges": ["::/0"]}), "gcp-firewall-ingress-open", {"ingress-default"}),
        (res(FIREWALL, "deny-ingress", {"direction": "INGRESS", "denies": [{"protocol": "all"}], "sourceRanges": ["0.0.0.0/0"]}),
         "gcp-firewall-ingress-open", set()),
        # No source of any kind: GCP fills in 0.0.0.0/0. Tags or service accounts alone name a source.
        (res(FIREWALL, "no-source", {"allows": [{"protocol": "tcp", "ports": ["8080"]}]}), "gcp-firewall-ingress-open", {"no-source"}),
        (res(FIREWALL, "tag-source", {"allows": [{"protocol": "tcp"}], "sourceTags": ["gateway"]}), "gcp-firewall-ingress-open", set()),
        (res(FIREWALL, "sa-source", {"allows": [{"protocol": "tcp"}], "sourceServiceAccounts": ["gw@p.iam.gserviceaccount.com"]}),
         "gcp-firewall-ingress-open", set()),
        # Address sets read literally (addresses.py).
        (res(FIREWALL, "split-in", {"allows": [{"protocol": "tcp"}], "sourceRanges": ["0.0.0.0/1", "128.0.0.0/1"]}),
         "gcp-firewall-ingress-open", {"split-in"}),
        (res(FIREWALL, "half-in", {"allows": [{"protocol": "tcp"}], "sourceRanges": ["128.0.0.0/1"]}), "gcp-firewall-ingress-open", set()),
        (res(FIREWALL, "split-out", {"direction": "EGRESS", "allows": [{"protocol": "all"}], "destinationRanges": ["0.0.0.0/1", "128.0.0.0/1"]}),
         "gcp-firewall-egress-open", {"split-out"}),
        (res(FIREWALL, "vip-out", {"direction": "EGRESS", "allows": [{"protocol": "tcp"}], "destinationRanges": ["199.36.153.4/30"]}),
         "gcp-firewall-egress-open", set()),
    ],
)
def test_paths_out_and_between_zones_are_flagged(packs, resource, policy, expected):
    diagnostics = packs.get().analyze(resource)
    assert {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.policy == policy} == expected


# ============================================================================================================ GKE
GOOD_NODE_CONFIG = {
    "machineType": "g2-standard-8",
    "imageType": "COS_CONTAINERD",
    "serviceAccount": "mf-production-gke-nodes@p.iam.gserviceaccount.com",
    "bootDiskKmsKey": KEY,
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "guestAccelerators": [{"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}],
    "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
    "linuxNodeConfig": {"nodeKernelModuleLoading": {"policy": "ENFORCE_SIGNED_MODULES"}},
}
GOOD_CLUSTER = {
    "removeDefaultNodePool": True,
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True, "masterIpv4CidrBlock": "172.16.0.0/28"},
    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.130.0.0/16"}], "gcpPublicCidrsAccessEnabled": False},
    "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
    "enableLegacyAbac": False,
    "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": KEY},
    "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
    "datapathProvider": "ADVANCED_DATAPATH",
}
GUARDRAILS_FILTERS = {
    "raiSettings": {"raiFilters": [{"filterType": t, "confidenceLevel": "MEDIUM_AND_ABOVE"}
                                   for t in ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")]},
    "piAndJailbreakFilterSettings": {"filterEnforcement": "ENABLED", "confidenceLevel": "MEDIUM_AND_ABOVE"},
    "maliciousUriFilterSettings": {"filterEnforcement": "ENABLED"},
    "sdpSettings": {"basicConfig": {"filterEnforcement": "ENABLED"}},
}


def guardrails() -> list[dict]:
    return [
        res(TEMPLATE, "template", {"filterConfig": GUARDRAILS_FILTERS, "templateMetadata": {"enforcementType": "INSPECT_AND_BLOCK"}}),
        res(FLOOR, "floor", {"filterConfig": GUARDRAILS_FILTERS, "enableFloorSettingEnforcement": True,
                             "aiPlatformFloorSetting": {"inspectAndBlock": True}}),
    ]


def gke(node_config: dict | None = None, **cluster_changes) -> list[dict]:
    cluster = res(CLUSTER, "cluster", {k: v for k, v in {**GOOD_CLUSTER, **cluster_changes}.items() if v is not None})
    pool = res(POOL, "gpu-pool", {"cluster": "c", "nodeConfig": node_config or GOOD_NODE_CONFIG}, {"cluster": [cluster]})
    return [cluster, pool, *guardrails(), *evidence()]


def test_a_hardened_gke_cluster_passes(packs):
    assert violations(packs.get(), gke()) == {}


def nodes(**changes) -> dict:
    return {k: v for k, v in {**GOOD_NODE_CONFIG, **changes}.items() if v is not None}


@pytest.mark.control("NB-01", "NB-02", "NB-05", "NB-06", "RI-01", "RI-06", "RI-07", "RI-09", "RI-11", "SC-03", "ST-05")
@pytest.mark.parametrize(
    "resources,expected",
    [
        (gke(privateClusterConfig=None), {"gke-private-cluster": {"cluster"}}),
        (gke(privateClusterConfig={"enablePrivateNodes": True, "enablePrivateEndpoint": False}), {"gke-private-cluster": {"cluster"}}),
        (gke(masterAuthorizedNetworksConfig=None), {"gke-private-cluster": {"cluster"}}),
        (gke(masterAuthorizedNetworksConfig={"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]}), {"gke-private-cluster": {"cluster"}}),
        (gke(masterAuthorizedNetworksConfig={"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]}), {"gke-private-cluster": {"cluster"}}),
        (gke(masterAuthorizedNetworksConfig={"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": True}), {"gke-private-cluster": {"cluster"}}),
        (gke(controlPlaneEndpointsConfig={"dnsEndpointConfig": {"allowExternalTraffic": True}}), {"gke-private-cluster": {"cluster"}}),
        (gke(enableLegacyAbac=True), {"gke-no-legacy-auth": {"cluster"}}),
        (gke(masterAuth={"clientCertificateConfig": {"issueClientCertificate": True}}), {"gke-no-legacy-auth": {"cluster"}}),
        (gke(workloadIdentityConfig=None), {"gke-workload-identity": {"cluster"}}),
        (gke(databaseEncryption=None), {"gke-secrets-encrypted": {"cluster"}}),
        (gke(databaseEncryption={"state": "DECRYPTED"}), {"gke-secrets-encrypted": {"cluster"}}),
        (gke(binaryAuthorization=None), {"gke-binary-authorization": {"cluster"}}),
        (gke(binaryAuthorization={"evaluationMode": "DISABLED"}), {"gke-binary-authorization": {"cluster"}}),
        (gke(datapathProvider=None), {"gke-network-policy": {"cluster"}}),
        (gke(datapathProvider=None, networkPolicy={"enabled": True}), {}),
        # A cluster that keeps its default pool and states no node config runs Google's defaults.
        (gke(removeDefaultNodePool=None), {"gke-nodes-hardened": {"cluster"}}),
        (gke(removeDefaultNodePool=None, nodeConfig=nodes(guestAccelerators=None, taints=None, linuxNodeConfig=None)), {}),
        (gke(enableShieldedNodes=False), {"gke-nodes-hardened": {"cluster"}}),
        (gke(nodes(shieldedInstanceConfig={"enableSecureBoot": False})), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(shieldedInstanceConfig=None)), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(workloadMetadataConfig={"mode": "GCE_METADATA"})), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(workloadMetadataConfig=None)), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(serviceAccount="123456789012-compute@developer.gserviceaccount.com")), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(serviceAccount=None)), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(imageType="UBUNTU_CONTAINERD")), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(bootDiskKmsKey=None)), {"gke-nodes-hardened": {"gpu-pool"}}),
        (gke(nodes(guestAccelerators=[{"type": "nvidia-l4", "count": 1, "gpuDriverInstallationConfig": {"gpuDriverVersion": "INSTALLATION_DISABLED"}}])),
         {"gke-gpu-nodes": {"gpu-pool"}}),
        (gke(nodes(guestAccelerators=[{"type": "nvidia-l4", "count": 1}])), {"gke-gpu-nodes": {"gpu-pool"}}),
        (gke(nodes(taints=None)), {"gke-gpu-nodes": {"gpu-pool"}}),
        (gke(nodes(linuxNodeConfig={"nodeKernelModuleLoading": {"policy": "DO_NOT_ENFORCE_SIGNED_MODULES"}})), {"gke-gpu-nodes": {"gpu-pool"}}),
        (gke(nodes(linuxNodeConfig=None)), {"gke-gpu-nodes": {"gpu-pool"}}),
        (drop(gke(), "template"), {"gcp-model-armor-present": {"cluster"}}),
        (drop(gke(), "evidence-sink"), {"gcp-evidence-sink": {"cluster"}}),
    ],
)
def test_each_missing_gke_safeguard_is_flagged(packs, resources, expected):
    assert violations(packs.get(), resources) == expected


def test_a_node_pool_without_node_config_or_with_public_nodes_is_flagged(packs):
    pool = res(POOL, "bare-pool", {"cluster": "c"})
    assert {d.policy for d in packs.get().analyze(pool)} >= {"gke-nodes-hardened"}
    public = res(POOL, "public-pool", {"cluster": "c", "nodeConfig": GOOD_NODE_CONFIG, "networkConfig": {"enablePrivateNodes": False}})
    assert [d.policy for d in packs.get().analyze(public) if d.policy.startswith("gke")] == ["gke-nodes-hardened"]


@pytest.mark.control("RI-09", "WP-01")
def test_the_critical_tier_needs_confidential_nodes(packs):
    confidential = {"enabled": True, "confidentialInstanceType": "TDX"}
    keyed = [change(r, "evidence-bucket", retentionDays=1096) for r in [gke(nodes(confidentialNodes=confidential))]][0]
    assert violations(packs.get(CRITICAL), keyed) == {}
    plain = change(gke(), "evidence-bucket", retentionDays=1096)
    assert violations(packs.get(CRITICAL), plain) == {"gke-confidential-nodes": {"gpu-pool"}}
    # A cluster-wide setting covers its pools.
    assert violations(packs.get(CRITICAL), change(plain, "cluster", confidentialNodes={"enabled": True})) == {}
    # Below the critical tier the rule advises and does not block.
    diagnostics = [d for d in judge_all(packs.get(), gke()) if d.policy == "gke-confidential-nodes"]
    assert diagnostics and {d.enforcement.lower() for d in diagnostics} == {"advisory"}


# ============================================================================================================ data
def model_buckets(signature_days: int = 365) -> list[dict]:
    common = {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True, "encryption": {"defaultKmsKeyName": KEY}}
    weights = res(BUCKET, "weights", {**common, "labels": {"modelfort-data-class": "model-weights"}, "versioning": {"enabled": True},
                                     "ipFilter": {"mode": "Enabled", "vpcNetworkSources": [{"network": "n", "allowedIpCidrRanges": ["10.130.0.0/16"]}]}})
    signatures = res(BUCKET, "signatures", {**common, "labels": {"modelfort-data-class": "model-signatures"},
                                            "retentionPolicy": {"retentionPeriod": str(signature_days * DAY), "isLocked": True}})
    audit = res(AUDIT, "storage-audit", {"service": "storage.googleapis.com",
                                         "auditLogConfigs": [{"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}]})
    return [weights, signatures, audit]


def test_hardened_model_buckets_pass(packs):
    assert violations(packs.get(), model_buckets()) == {}


POD = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/models/sa/m"
RELEASE_ONLY = {"title": "one release", "expression": 'resource.name.startsWith("projects/_/buckets/weights/objects/models/m/1/")'}


@pytest.mark.control("WP-03", "NB-06")
@pytest.mark.parametrize(
    "bucket,props,flagged_",
    [
        ("weights", {"role": "roles/storage.objectViewer", "member": POD, "condition": RELEASE_ONLY}, False),
        ("weights", {"role": "roles/storage.objectViewer", "member": POD}, True),
        ("signatures", {"role": "roles/storage.objectViewer", "member": "serviceAccount:p.svc.id.goog[models/m]"}, True),
        ("weights", {"role": "roles/storage.objectAdmin", "member": POD, "condition": RELEASE_ONLY}, True),
        ("weights", {"role": "roles/storage.objectViewer",
                     "members": ["principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/namespace/models"]}, True),
        # Service accounts (pipelines, readers) are judged by the other rules; only pods' own identities here.
        ("weights", {"role": "roles/storage.objectViewer", "member": "serviceAccount:reader@p.iam.gserviceaccount.com"}, False),
        # A bucket that holds no model data is not this rule's business.
        ("logs", {"role": "roles/storage.objectViewer", "member": POD}, False),
    ],
)
def test_pods_read_model_buckets_only_through_grants_narrowed_to_their_release(packs, bucket, props, flagged_):
    buckets = [*model_buckets(), res(BUCKET, "logs", {})]
    target = next(b for b in buckets if b["name"] == bucket)
    grant = res("gcp:storage/bucketIAMMember:BucketIAMMember", "grant", {"bucket": "x", **props}, deps={"bucket": [target]})
    assert flagged(judge_all(packs.get(), [*buckets, grant]), "gcs-workload-read-scoped") == ({"grant"} if flagged_ else set())


def test_a_policy_document_binding_without_a_condition_is_flagged(packs):
    weights = model_buckets()[0]
    document = {"bindings": [{"role": "roles/storage.objectViewer", "members": [POD], "condition": RELEASE_ONLY},
                             {"role": "roles/storage.objectViewer", "members": [POD]}]}
    policy = res("gcp:storage/bucketIAMPolicy:BucketIAMPolicy", "policy", {"bucket": "x", "policyData": json.dumps(document)},
                 deps={"bucket": [weights]})
    assert flagged(judge_all(packs.get(), [weights, policy]), "gcs-workload-read-scoped") == {"policy"}


@pytest.mark.control("WP-01", "WP-02", "WP-03", "WP-06", "DP-09", "OB-03")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: change(r, "weights", publicAccessPrevention="inherited"), {"gcs-bucket-private": {"weights"}}),
        (lambda r: without(r, "weights", "publicAccessPrevention"), {"gcs-bucket-private": {"weights"}}),
        (lambda r: without(r, "weights", "uniformBucketLevelAccess"), {"gcs-bucket-private": {"weights"}}),
        (lambda r: change(r, "weights", website={"mainPageSuffix": "index.html"}), {"gcs-bucket-private": {"weights"}}),
        (lambda r: without(r, "weights", "encryption"), {"gcs-bucket-cmek": {"weights"}}),
        (lambda r: change(r, "signatures", encryption={}), {"gcs-bucket-cmek": {"signatures"}}),
        (lambda r: change(r, "weights", versioning={"enabled": False}), {"gcs-model-bucket-immutable": {"weights"}}),
        (lambda r: without(r, "weights", "versioning"), {"gcs-model-bucket-immutable": {"weights"}}),
        (lambda r: without(r, "weights", "ipFilter"), {"gcs-weights-zone-network-only": {"weights"}}),
        (lambda r: change(r, "weights", ipFilter={"mode": "Disabled"}), {"gcs-weights-zone-network-only": {"weights"}}),
        (lambda r: change(r, "weights", ipFilter={"mode": "Enabled", "vpcNetworkSources": [{"network": "n", "allowedIpCidrRanges": ["10.0.0.0/8"]}],
                                                  "publicNetworkSource": {"allowedIpCidrRanges": ["0.0.0.0/0"]}}),
         {"gcs-weights-zone-network-only": {"weights"}}),
        (lambda r: change(r, "signatures", retentionPolicy={"retentionPeriod": str(365 * DAY), "isLocked": False}),
         {"gcs-signature-retention-locked": {"signatures"}, "gcs-model-bucket-immutable": {"signatures"}}),
        (lambda r: without(r, "signatures", "retentionPolicy"),
         {"gcs-signature-retention-locked": {"signatures"}, "gcs-model-bucket-immutable": {"signatures"}}),
        (lambda r: change(r, "signatures", retentionPolicy={"retentionPeriod": str(30 * DAY), "isLocked": True}),
         {"gcs-signature-retention-locked": {"signatures"}}),
        (lambda r: drop(r, "storage-audit"), {"gcs-data-access-logged": {"weights", "signatures"}}),
        (lambda r: change(r, "storage-audit", auditLogConfigs=[{"logType": "DATA_READ", "exemptedMembers": ["user:x@example.com"]},
                                                               {"logType": "DATA_WRITE"}]), {"gcs-data-access-logged": {"weights", "signatures"}}),
        (lambda r: change(r, "storage-audit", service="allServices"), {}),
    ],
)
def test_each_missing_bucket_safeguard_is_flagged(packs, mutate, expected):
    assert violations(packs.get(), mutate(model_buckets())) == expected


@pytest.mark.control("WP-06")
def test_signature_retention_follows_the_tier(packs):
    short = model_buckets(signature_days=90)
    assert violations(packs.get(TESTING), short) == {}
    assert violations(packs.get(), short) == {"gcs-signature-retention-locked": {"signatures"}}
    # Retention written as a bare number of seconds, as some programs do.
    numeric = change(model_buckets(), "signatures", retentionPolicy={"retentionPeriod": 365 * DAY, "isLocked": True})
    assert violations(packs.get(), numeric) == {}


@pytest.mark.control("WP-01")
@pytest.mark.parametrize(
    "props,config,flagged_key",
    [
        ({"purpose": "ENCRYPT_DECRYPT", "rotationPeriod": f"{90 * DAY}s"}, PRODUCTION, False),
        ({"rotationPeriod": f"{365 * DAY}s"}, PRODUCTION, False),  # purpose defaults to ENCRYPT_DECRYPT
        ({"rotationPeriod": f"{366 * DAY}s"}, PRODUCTION, True),
        ({"rotationPeriod": f"{365 * DAY}s"}, CRITICAL, True),
        ({"rotationPeriod": f"{180 * DAY}s"}, CRITICAL, False),
        ({"rotationPeriod": "7776000.5s"}, PRODUCTION, False),
        ({"purpose": "ENCRYPT_DECRYPT"}, PRODUCTION, True),  # never rotates
        ({"rotationPeriod": "every year"}, PRODUCTION, True),
        ({"purpose": "ASYMMETRIC_SIGN", "versionTemplate": {"algorithm": "EC_SIGN_P256_SHA256"}}, PRODUCTION, False),
    ],
)
def test_kms_keys_rotate_as_the_tier_requires(packs, props, config, flagged_key):
    diagnostics = packs.get(config).analyze(res(CRYPTO_KEY, "key", props))
    assert any(d.policy == "gcp-kms-key-rotation" for d in diagnostics) is flagged_key


@pytest.mark.control("WP-06", "ST-05")
@pytest.mark.parametrize(
    "template,flagged_key",
    [
        ({"algorithm": "EC_SIGN_P256_SHA256", "protectionLevel": "HSM"}, False),
        ({"algorithm": "EC_SIGN_P256_SHA256", "protectionLevel": "SOFTWARE"}, True),
        ({"algorithm": "EC_SIGN_P256_SHA256"}, True),  # SOFTWARE by default
        (None, True),
    ],
)
def test_critical_tier_signing_keys_live_in_an_hsm(packs, template, flagged_key):
    props = {"purpose": "ASYMMETRIC_SIGN", **({"versionTemplate": template} if template else {})}
    diagnostics = [d for d in packs.get(CRITICAL).analyze(res(CRYPTO_KEY, "signer", props)) if d.policy == "gcp-signing-key-hsm"]
    assert bool(diagnostics) is flagged_key
    if diagnostics:
        assert diagnostics[0].enforcement.lower() == "mandatory"


# ============================================================================================================ secrets
GOOD_SECRET = {
    "secretId": "agent-key",
    "replication": {"userManaged": {"replicas": [{"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": KEY}}]}},
    "rotation": {"rotationPeriod": f"{30 * DAY}s", "nextRotationTime": "2030-01-01T00:00:00Z"},
    "topics": [{"name": "projects/p/topics/rotations"}],
}


@pytest.mark.control("SC-03", "SC-04")
@pytest.mark.parametrize(
    "changes,config,expected",
    [
        ({}, PRODUCTION, set()),
        ({"rotation": None}, PRODUCTION, {"gcp-secret-rotation"}),
        ({"rotation": {"rotationPeriod": f"{31 * DAY}s"}}, PRODUCTION, {"gcp-secret-rotation"}),
        ({"rotation": {"rotationPeriod": f"{30 * DAY}s"}}, CRITICAL, {"gcp-secret-rotation"}),
        ({"rotation": {"rotationPeriod": f"{90 * DAY}s"}}, TESTING, set()),
        ({"topics": None}, PRODUCTION, {"gcp-secret-rotation"}),
        ({"replication": None}, PRODUCTION, {"gcp-secret-cmek"}),
        ({"replication": {"auto": {}}}, PRODUCTION, {"gcp-secret-cmek"}),
        ({"replication": {"auto": {"customerManagedEncryption": {"kmsKeyName": KEY}}}}, PRODUCTION, set()),
        ({"replication": {"userManaged": {"replicas": [{"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": KEY}},
                                                       {"location": "us-east1"}]}}}, PRODUCTION, {"gcp-secret-cmek"}),
    ],
)
def test_secrets_are_customer_encrypted_and_rotated(packs, changes, config, expected):
    props = {k: v for k, v in {**GOOD_SECRET, **changes}.items() if v is not None}
    found = {d.policy for d in packs.get(config).analyze(res(SECRET, "secret", props)) if d.policy in GCP_POLICIES}
    assert found == expected


@pytest.mark.control("SC-03", "WP-02", "WP-03")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res("gcp:storage/bucketIAMMember:BucketIAMMember", "public-read", {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"}),
         {"gcp-no-public-members"}),
        (res("gcp:secretmanager/secretIamBinding:SecretIamBinding", "anyone-with-google", {"secretId": "s", "role": "roles/secretmanager.secretAccessor",
                                                                                          "members": ["user:a@example.com", "allAuthenticatedUsers"]}),
         {"gcp-no-public-members"}),
        (res("gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy", "policy", {"cryptoKeyId": "k", "policyData": json.dumps(
            {"bindings": [{"role": "roles/cloudkms.cryptoKeyDecrypter", "members": ["allUsers"]}]})}), {"gcp-no-public-members"}),
        (res("gcp:kms/cryptoKeyIAMPolicy:CryptoKeyIAMPolicy", "garbled", {"cryptoKeyId": "k", "policyData": "{not json"}), {"gcp-no-public-members"}),
        (res("gcp:storage/bucketACL:BucketACL", "acl", {"bucket": "b", "roleEntities": ["READER:allUsers"]}), {"gcp-no-public-members"}),
        (res("gcp:storage/bucketACL:BucketACL", "canned-public", {"bucket": "b", "predefinedAcl": "publicRead"}), {"gcp-no-public-members"}),
        (res("gcp:storage/objectACL:ObjectACL", "public-object", {"bucket": "b", "object": "model.safetensors", "predefinedAcl": "publicRead"}),
         {"gcp-no-public-members"}),
        (res("gcp:storage/bucketACL:BucketACL", "canned-private", {"bucket": "b", "predefinedAcl": "private"}), set()),
        (res("gcp:storage/objectACL:ObjectACL", "no-acl-object", {"bucket": "b", "object": "model.safetensors"}), set()),
        (res("gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl", "doac", {"bucket": "b", "entity": "allAuthenticatedUsers", "role": "READER"}),
         {"gcp-no-public-members"}),
        (res("gcp:storage/bucketIAMMember:BucketIAMMember", "named", {"bucket": "b", "role": "roles/storage.objectViewer",
                                                                      "member": "serviceAccount:reader@p.iam.gserviceaccount.com"}), set()),
        (res("gcp:projects/iAMMember:IAMMember", "project-accessor", {"project": "p", "role": "roles/secretmanager.secretAccessor",
                                                                      "member": "serviceAccount:a@p.iam.gserviceaccount.com"}),
         {"gcp-secret-access-scoped"}),
        (res("gcp:organizations/iAMBinding:IAMBinding", "org-admin", {"orgId": "1", "role": "roles/secretmanager.admin", "members": ["group:ops@example.com"]}),
         {"gcp-secret-access-scoped"}),
        (res("gcp:projects/iAMMember:IAMMember", "log-writer", {"project": "p", "role": "roles/logging.logWriter",
                                                                "member": "serviceAccount:a@p.iam.gserviceaccount.com"}), set()),
        (res("gcp:secretmanager/secretIamMember:SecretIamMember", "one-secret", {"secretId": "s", "role": "roles/secretmanager.secretAccessor",
                                                                                  "member": "serviceAccount:a@p.iam.gserviceaccount.com"}), set()),
    ],
)
def test_nothing_is_granted_to_everyone_and_secrets_one_at_a_time(packs, resource, expected):
    assert {d.policy for d in judge_all(packs.get(), [resource]) if d.policy in GCP_POLICIES} == expected


# ============================================================================================================ evidence
@pytest.mark.control("OB-03")
@pytest.mark.parametrize(
    "changes,config,flagged_bucket",
    [
        ({}, PRODUCTION, False),
        ({"locked": False}, PRODUCTION, True),
        ({"locked": None}, PRODUCTION, True),
        ({"retentionDays": 30}, PRODUCTION, True),
        ({"retentionDays": None}, PRODUCTION, True),  # Cloud Logging's default is 30 days
        ({"retentionDays": 365}, CRITICAL, True),
        ({"cmekSettings": None}, PRODUCTION, True),
    ],
)
def test_log_buckets_are_locked_encrypted_and_kept(packs, changes, config, flagged_bucket):
    props = {k: v for k, v in {"bucketId": "b", "locked": True, "retentionDays": 365, "cmekSettings": {"kmsKeyName": KEY}, **changes}.items() if v is not None}
    found = [d for d in packs.get(config).analyze(res(LOG_BUCKET, "logs", props)) if d.policy == "gcp-log-bucket-locked"]
    assert bool(found) is flagged_bucket


@pytest.mark.control("WP-02", "WP-03")
def test_the_critical_tier_keeps_model_buckets_inside_an_enforced_perimeter(packs):
    buckets = change(model_buckets(signature_days=1096), "weights")
    services = ["storage.googleapis.com", "cloudkms.googleapis.com", "secretmanager.googleapis.com", "artifactregistry.googleapis.com"]
    enforced = res(PERIMETER, "perimeter", {"status": {"resources": ["projects/1"], "restrictedServices": services}})
    assert violations(packs.get(CRITICAL), [*buckets, enforced]) == {}
    assert violations(packs.get(CRITICAL), buckets) == {"gcp-vpc-sc-perimeter": {"weights", "signatures"}}
    dry_run = res(PERIMETER, "perimeter", {"spec": {"resources": ["projects/1"], "restrictedServices": services}, "useExplicitDryRunSpec": True})
    assert violations(packs.get(CRITICAL), [*buckets, dry_run]) == {"gcp-vpc-sc-perimeter": {"perimeter", "weights", "signatures"}}
    partial = res(PERIMETER, "perimeter", {"status": {"resources": ["projects/1"], "restrictedServices": services[:1]}})
    assert violations(packs.get(CRITICAL), [*buckets, partial]) == {"gcp-vpc-sc-perimeter": {"perimeter", "weights", "signatures"}}


# ============================================================================================================ supply chain
GOOD_BINAUTHZ = {
    "globalPolicyEvaluationMode": "ENABLE",
    "defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                             "requireAttestationsBies": ["projects/p/attestors/release"]},
}


@pytest.mark.control("ST-05", "ST-07")
@pytest.mark.parametrize(
    "changes,flagged_policy",
    [
        ({}, False),
        ({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_ALLOW", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}, True),
        ({"defaultAdmissionRule": {**GOOD_BINAUTHZ["defaultAdmissionRule"], "enforcementMode": "DRYRUN_AUDIT_LOG_ONLY"}}, True),
        ({"defaultAdmissionRule": {"evaluationMode": "REQUIRE_ATTESTATION", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}, True),
        ({"defaultAdmissionRule": {"evaluationMode": "ALWAYS_DENY", "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}}, False),
        ({"defaultAdmissionRule": None}, True),
        ({"clusterAdmissionRules": [{"cluster": "us-central1.dev", "evaluationMode": "ALWAYS_ALLOW",
                                     "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG"}]}, True),
        ({"admissionWhitelistPatterns": [{"namePattern": "docker.io/library/*"}]}, True),
    ],
)
def test_binary_authorization_requires_attestation_and_blocks(packs, changes, flagged_policy):
    props = {k: v for k, v in {**GOOD_BINAUTHZ, **changes}.items() if v is not None}
    found = [d for d in packs.get().analyze(res(BINAUTHZ, "policy", props)) if d.policy == "gcp-binauthz-enforced"]
    assert bool(found) is flagged_policy


@pytest.mark.control("ST-05", "DP-09")
@pytest.mark.parametrize(
    "props,flagged_repository",
    [
        ({"format": "DOCKER", "kmsKeyName": KEY, "dockerConfig": {"immutableTags": True}}, False),
        ({"format": "DOCKER", "kmsKeyName": KEY, "dockerConfig": {"immutableTags": False}}, True),
        ({"format": "DOCKER", "kmsKeyName": KEY}, True),
        ({"format": "DOCKER", "dockerConfig": {"immutableTags": True}}, True),
        ({"format": "PYTHON", "kmsKeyName": KEY}, False),
    ],
)
def test_registries_are_customer_encrypted_with_immutable_tags(packs, props, flagged_repository):
    found = [d for d in packs.get().analyze(res(REPOSITORY, "repository", props)) if d.policy == "gcp-artifact-registry-hardened"]
    assert bool(found) is flagged_repository


# ============================================================================================================ guardrails
def filters(**changes) -> dict:
    return {k: v for k, v in {**GUARDRAILS_FILTERS, **changes}.items() if v is not None}


@pytest.mark.control("GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-07", "GR-08", "RC-08")
@pytest.mark.parametrize(
    "filter_config,enforcement,flagged_template",
    [
        (filters(), "INSPECT_AND_BLOCK", False),
        (filters(), "INSPECT_ONLY", True),
        (filters(), None, True),
        (None, "INSPECT_AND_BLOCK", True),
        (filters(raiSettings={"raiFilters": [{"filterType": "HATE_SPEECH", "confidenceLevel": "LOW_AND_ABOVE"}]}), "INSPECT_AND_BLOCK", True),
        (filters(raiSettings={"raiFilters": [{"filterType": t, "confidenceLevel": "HIGH"}
                                             for t in ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")]}), "INSPECT_AND_BLOCK", True),
        (filters(raiSettings={"raiFilters": [{"filterType": t} for t in ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")]}),
         "INSPECT_AND_BLOCK", True),
        (filters(piAndJailbreakFilterSettings={"filterEnforcement": "DISABLED"}), "INSPECT_AND_BLOCK", True),
        (filters(piAndJailbreakFilterSettings=None), "INSPECT_AND_BLOCK", True),
        (filters(maliciousUriFilterSettings=None), "INSPECT_AND_BLOCK", True),
        (filters(sdpSettings=None), "INSPECT_AND_BLOCK", True),
        (filters(sdpSettings={"advancedConfig": {"inspectTemplate": "projects/p/locations/l/inspectTemplates/pii"}}), "INSPECT_AND_BLOCK", False),
    ],
)
def test_model_armor_templates_cover_every_domain_and_block(packs, filter_config, enforcement, flagged_template):
    props = {k: v for k, v in {"filterConfig": filter_config, "templateMetadata": {"enforcementType": enforcement} if enforcement else None}.items()
             if v is not None}
    found = [d for d in packs.get().analyze(res(TEMPLATE, "template", props)) if d.policy == "gcp-model-armor-template"]
    assert bool(found) is flagged_template


@pytest.mark.control("GR-09", "RC-03")
@pytest.mark.parametrize(
    "changes,flagged_floor",
    [
        ({}, False),
        ({"enableFloorSettingEnforcement": False}, True),
        ({"enableFloorSettingEnforcement": None}, True),
        ({"aiPlatformFloorSetting": {"inspectOnly": True}}, True),
        ({"aiPlatformFloorSetting": None}, False),
        ({"filterConfig": filters(maliciousUriFilterSettings=None)}, True),
    ],
)
def test_model_armor_floor_settings_are_enforced(packs, changes, flagged_floor):
    base = guardrails()[1]["properties"]
    props = {k: v for k, v in {**base, **changes}.items() if v is not None}
    found = [d for d in packs.get().analyze(res(FLOOR, "floor", props)) if d.policy == "gcp-model-armor-floor"]
    assert bool(found) is flagged_floor


def test_every_gcp_rule_has_a_fixture_in_the_policy_tests():
    """A rule without fixtures is a rule nobody has seen fail: every GCP rule is named by a policy test run through
    the analyzer (this file, or the module of its own, such as test_gcp_telemetry_rules.py)."""
    from pathlib import Path

    text = "\n".join(path.read_text() for path in sorted(Path(__file__).parent.glob("test_gcp*.py")))
    untested = [name for name in GCP_POLICIES if f'"{name}"' not in text]
    assert untested == []


def all_diagnostics(pack, resources) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for d in judge_all(pack, resources):
        if d.policy in GCP_POLICIES:
            found.setdefault(d.policy, set()).add(d.urn.rsplit("::", 1)[-1])
    return found


def test_references_unknown_during_preview_are_neither_failures_nor_unknown_reads(packs):
    """During a real preview, every id of a new resource is unknown. Checks that need only "is it set" and "what was it
    computed from" must judge such stacks fully (no advisory "can't be known" downgrade of a mandatory policy)."""
    from fixtures import UNKNOWN

    network = zone_network()
    network = change(network, "googleapis", privateVisibilityConfig={"networks": [{"networkUrl": UNKNOWN}]})
    network = change(network, "dns-policy", networks=[{"networkUrl": UNKNOWN}])
    network = change(network, "deny-all-egress", network=UNKNOWN)
    network = change(network, "evidence-bucket", cmekSettings={"kmsKeyName": UNKNOWN})
    buckets = change(model_buckets(), "weights", encryption={"defaultKmsKeyName": UNKNOWN},
                     ipFilter={"mode": "Enabled", "vpcNetworkSources": [{"network": UNKNOWN, "allowedIpCidrRanges": ["10.130.0.0/16"]}]})
    cluster = change(gke(nodes(serviceAccount=UNKNOWN, bootDiskKmsKey=UNKNOWN)), "cluster", databaseEncryption={"state": "ENCRYPTED", "keyName": UNKNOWN})
    secret = res(SECRET, "secret", {**GOOD_SECRET, "topics": [{"name": UNKNOWN}],
                                    "replication": {"userManaged": {"replicas": [{"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": UNKNOWN}}]}}})
    binauthz = res(BINAUTHZ, "policy", {**GOOD_BINAUTHZ, "defaultAdmissionRule": {**GOOD_BINAUTHZ["defaultAdmissionRule"], "requireAttestationsBies": [UNKNOWN]}})
    repository = res(REPOSITORY, "repository", {"format": "DOCKER", "kmsKeyName": UNKNOWN, "dockerConfig": {"immutableTags": True}})
    resources = [*network, *buckets, *[r for r in cluster if r["name"] not in ("evidence-bucket", "evidence-sink")], secret, binauthz, repository]
    assert all_diagnostics(packs.get(), resources) == {
        # advisory below the critical tier, and about settings, not unknowns
        "gcp-vpc-sc-perimeter": {"weights", "signatures"}, "gke-confidential-nodes": {"gpu-pool"},
    }


# ============================================================================================================ Cloud Run
# Not internet-facing: ingress internal (or through the zone's load balancer), invoker IAM check on.
CLOUD_RUN_POLICY = "gcp-cloud-run-private"
RUN_V2 = "gcp:cloudrunv2/service:Service"
RUN_V1 = "gcp:cloudrun/service:Service"
RUN_TEMPLATE = {"containers": [{"image": "us-docker.pkg.dev/p/r/server@sha256:" + "a" * 64}]}
GCP_ZONE = {"modelfort:zone": "production", "modelfort:cloud": "gcp"}


@pytest.mark.control("NB-05", "NB-09")
@pytest.mark.parametrize(
    "resource,expected",
    [
        (res(RUN_V2, "open", {"location": "us-central1", "template": RUN_TEMPLATE, "ingress": "INGRESS_TRAFFIC_ALL"}), {"open"}),
        (res(RUN_V2, "defaulted", {"location": "us-central1", "template": RUN_TEMPLATE}), {"defaulted"}),
        (res(RUN_V2, "no-invoker-check", {"location": "us-central1", "template": RUN_TEMPLATE, "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
                                      "invokerIamDisabled": True}), {"no-invoker-check"}),
        (res(RUN_V2, "internal", {"location": "us-central1", "template": RUN_TEMPLATE, "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY"}), set()),
        (res(RUN_V2, "behind-lb", {"location": "us-central1", "template": RUN_TEMPLATE, "ingress": "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
                               "invokerIamDisabled": False}), set()),
        (res(RUN_V1, "v1-default", {"location": "us-central1", "template": {}}), {"v1-default"}),
        (res(RUN_V1, "v1-all", {"location": "us-central1", "metadata": {"annotations": {"run.googleapis.com/ingress": "all"}}}), {"v1-all"}),
        (res(RUN_V1, "v1-internal", {"location": "us-central1", "metadata": {"annotations": {"run.googleapis.com/ingress": "internal"}}}), set()),
    ],
)
def test_cloud_run_is_not_internet_facing(packs, resource, expected):
    assert flagged(packs.get(GCP_ZONE).analyze(resource), CLOUD_RUN_POLICY) == expected
