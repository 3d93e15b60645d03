"""GCP components with one hardening default turned off, chosen by config `mutant:mutation`.

Every mutation must be blocked by the gate: a hardening knob that no policy catches is a bug. To keep each run light,
a mutation builds only the components it needs (its group), plus what the group's rules require to pass unmutated
(a network needs its evidence sink; a bucket with weights needs Data Access logs). `none` builds every group.
"""

import dataclasses

import pulumi
import pulumi_gcp as gcp

from components.gcp.evidence import EvidenceLog, EvidenceLogArgs
from components.gcp.gke_cluster import GpuCluster, GpuClusterArgs
from components.gcp.gke_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gcp.model_armor import ModelGuardrails, ModelGuardrailsArgs
from components.gcp.network import SegmentedNetwork, SegmentedNetworkArgs
from components.gcp.perimeter import ModelPerimeter, ModelPerimeterArgs
from components.gcp.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.gcp.secrets import RotatedSecret, RotatedSecretArgs, SecretRotation, SecretRotationArgs
from components.gcp.supply_chain import ImageTrust, ImageTrustArgs
from components.gcp.telemetry_routing import STDOUT_LOG, guard_logs_filter
from components.gcp.telemetry_watch import TelemetryWatch, TelemetryWatchArgs
from components.gcp.weights import WeightsBucket, WeightsBucketArgs
from mutations import (
    BESIDE, CLUSTER, EVIDENCE, GROUPS, GUARDRAILS, IMAGES, KNOWN, NETWORK, NODES, PERIMETER, REFERENCE, ROTATION, SECRET, WEIGHTS,
)

PROJECT = pulumi.Config("gcp").require("project")
REGION = "us-central1"
ZONE = pulumi.Config("modelfort").require("zone")
CRITICAL = ZONE == "high-sensitivity"
KEYS = {"key_rotation_days": 180 if CRITICAL else 365}  # the tier's rotation, as GcpZone passes it
CIDR = "10.130.0.0/16"
NETWORK_ID = f"projects/{PROJECT}/global/networks/prod-network-vpc"
SUBNET_ID = f"projects/{PROJECT}/regions/{REGION}/subnetworks/prod-network-nodes"
NODE_LOCATIONS = [f"{REGION}-a", f"{REGION}-b", f"{REGION}-c"]
EVIDENCE_BUCKET_ID = f"projects/{PROJECT}/locations/{REGION}/buckets/modelfort-{ZONE}-evidence"

mutation = pulumi.Config("mutant").require("mutation")
if mutation not in KNOWN:
    raise ValueError(f"mutant:mutation: unknown mutation {mutation!r}")


def wanted(group: str) -> bool:
    return mutation == "none" or mutation in GROUPS.get(group, {}) or mutation in BESIDE.get(group, ())


def changed(base, knobs: dict):
    return dataclasses.replace(base, **knobs.get(mutation, {}))


key_ring = gcp.kms.KeyRing("prod-keys", location=REGION)


def evidence() -> None:
    EvidenceLog("prod-evidence", changed(EvidenceLogArgs(zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id,
                                                          retention_days=1096 if CRITICAL else 365, **KEYS), EVIDENCE))


needs_evidence = any(wanted(g) for g in ("network", "reference", "perimeter", "cluster")) or (wanted("weights") and mutation != "weights-without-audit-logs")
if needs_evidence:
    evidence()

if wanted("network"):
    network = SegmentedNetwork("prod-network", changed(SegmentedNetworkArgs(zone=ZONE, project=PROJECT, region=REGION, cidr_block=CIDR), NETWORK))
    if mutation == "default-route":
        gcp.compute.Route("to-internet", network=network.network_id, dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway")
    elif mutation == "private-vip-route":
        gcp.compute.Route("to-private-vip", network=network.network_id, dest_range="199.36.153.8/30", next_hop_gateway="default-internet-gateway")
    elif mutation == "peering":
        gcp.compute.NetworkPeering("to-testing", network=network.network_self_link,
                                   peer_network=f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/global/networks/testing")
    elif mutation == "cloud-nat":
        router = gcp.compute.Router("egress-router", network=network.network_id, region=REGION)
        gcp.compute.RouterNat("egress-nat", router=router.name, region=REGION, nat_ip_allocate_option="AUTO_ONLY",
                              source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES")
    elif mutation == "open-egress-firewall":
        gcp.compute.Firewall("open-egress", network=network.network_id, direction="EGRESS", allows=[{"protocol": "all"}],
                             destination_ranges=["0.0.0.0/0"])
    elif mutation == "dns-record-elsewhere":
        gcp.dns.RecordSet("aiplatform-to-private-vip", managed_zone=network.google_apis_zone, name="aiplatform.googleapis.com.",
                          type="CNAME", ttl=300, rrdatas=["private.googleapis.com."])
    elif mutation == "dns-forwarding":
        gcp.dns.Policy("forward-everything", networks=[{"network_url": network.network_id}],
                       alternative_name_server_config={"target_name_servers": [{"ipv4_address": "8.8.8.8"}]})

if wanted("weights") or wanted("perimeter"):
    weights = WeightsBucket("prod-weights", changed(WeightsBucketArgs(zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id,
                                                                      network_id=NETWORK_ID, zone_cidr=CIDR, **KEYS), WEIGHTS))
    weights.grant_read("serving", f"serviceAccount:{PROJECT}.svc.id.goog[llama-guard/model-server]", "models/llama-guard/3.1.0")
    if mutation == "public-bucket-member":
        gcp.storage.BucketIAMMember("weights-for-everyone", bucket=weights.bucket_name, role="roles/storage.objectViewer", member="allUsers")
    if mutation == "weights-for-every-pod":
        # Every pod of a namespace reads every model: no condition narrows the grant to one release.
        gcp.storage.BucketIAMMember("weights-for-every-pod", bucket=weights.bucket_name, role="roles/storage.objectViewer",
                                    member=f"principalSet://iam.googleapis.com/projects/123456789012/locations/global/"
                                           f"workloadIdentityPools/{PROJECT}.svc.id.goog/namespace/models")

# The critical tier keeps weights and signatures inside an enforced perimeter.
if wanted("perimeter") or (CRITICAL and (wanted("weights") or wanted("reference"))):
    ModelPerimeter("prod-perimeter", changed(ModelPerimeterArgs(zone=ZONE, project_number="123456789012",
                                                                access_policy="accessPolicies/123456789"), PERIMETER))

if wanted("reference"):
    ModelReferenceStore("prod-reference-store", changed(ModelReferenceStoreArgs(
        zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id, retention_days=1096 if CRITICAL else 365, hsm=CRITICAL, **KEYS), REFERENCE))

if wanted("images"):
    ImageTrust("prod-images", changed(ImageTrustArgs(zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id, hsm=CRITICAL, **KEYS), IMAGES))

if wanted("guardrails") or (wanted("cluster") and mutation != "cluster-without-guardrails"):
    ModelGuardrails("prod-guardrails", changed(ModelGuardrailsArgs(zone=ZONE, project=PROJECT, region=REGION), GUARDRAILS))

if wanted("cluster"):
    cluster = GpuCluster("prod-gpu", changed(GpuClusterArgs(
        zone=ZONE, project=PROJECT, region=REGION, network_id=NETWORK_ID, subnetwork_id=SUBNET_ID, pods_range_name="pods",
        services_range_name="services", zone_cidr=CIDR, node_locations=NODE_LOCATIONS, key_ring_id=key_ring.id,
        confidential_nodes=CRITICAL, **KEYS), CLUSTER))
    machine, accelerator = ("a3-highgpu-1g", "nvidia-h100-80gb") if CRITICAL else ("g2-standard-8", "nvidia-l4")
    GpuNodePool("prod-gpu-nodes", changed(GpuNodePoolArgs(
        zone=ZONE, project=PROJECT, cluster_id=cluster.cluster_id, location=REGION, node_locations=NODE_LOCATIONS,
        service_account_email=cluster.node_service_account_email, boot_disk_kms_key=cluster.kms_key_id,
        machine_type=machine, accelerator_type=accelerator, confidential_nodes=CRITICAL), NODES))
    if mutation == "default-node-pool":
        gcp.container.NodePool("defaults-pool", cluster=cluster.cluster_id, location=REGION, node_count=1)

if wanted("secrets"):
    rotation = SecretRotation("prod-rotation", changed(SecretRotationArgs(zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id,
                                                                          network_id=NETWORK_ID, subnetwork_id=SUBNET_ID, **KEYS), ROTATION))
    secret = RotatedSecret("prod-agent-key", changed(RotatedSecretArgs(zone=ZONE, secret_id="prod-agent-key", kind="agent", rotation=rotation,
                                                                       rotation_days=7 if CRITICAL else 30), SECRET))
    secret.grant_access("search-tool", f"serviceAccount:{PROJECT}.svc.id.goog[agents/search-tool]")
    if mutation == "project-wide-secret-accessor":
        gcp.projects.IAMMember("every-secret", project=PROJECT, role="roles/secretmanager.secretAccessor",
                               member=f"serviceAccount:{PROJECT}.svc.id.goog[agents/search-tool]")

if wanted("detection"):
    TelemetryWatch("prod-detection", TelemetryWatchArgs(zone=ZONE, project=PROJECT, region=REGION, key_ring_id=key_ring.id,
                                                         network_id=NETWORK_ID, subnetwork_id=SUBNET_ID,
                                                         evidence_log_bucket_id=EVIDENCE_BUCKET_ID,
                                                         telemetry_filter=guard_logs_filter(PROJECT, f"modelfort-{ZONE}", "models",
                                                                                            "guard", STDOUT_LOG), **KEYS))
    # The same stages' stores made by hand beside the component, without its customer key.
    if mutation == "telemetry-topic-unencrypted":
        gcp.pubsub.Topic("telemetry-unencrypted", message_retention_duration="604800s")
    elif mutation == "detection-state-unencrypted":
        gcp.storage.Bucket("detection-state-unencrypted", location=REGION, uniform_bucket_level_access=True,
                           public_access_prevention="enforced", versioning={"enabled": False},
                           lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"days_since_custom_time": 1}}])
