"""GpuCluster (GKE): a private, regional GKE control plane for model workloads, and its system node pool.

- Private nodes (no external IPs) and a private endpoint; the API admits only the zone's own addresses (master
  authorized networks, Google's public ranges excluded), and the DNS endpoint refuses traffic from outside Google
  Cloud networks (NB-01, NB-05, RI-11).
- Kubernetes secrets envelope-encrypted in etcd with a rotated customer key; boot disks with the same key (SC-03, WP-01).
- Workload Identity (GKE_METADATA on every pool), no legacy ABAC, no client certificates (NB-06, RI-09).
- Dataplane V2, which enforces Kubernetes NetworkPolicy (NB-02); intranode visibility, so pod-to-pod traffic on one
  node shows up in the zone's flow logs.
- Binary Authorization enforcing the project's policy (ST-05): only images the release pipeline attested run.
- A least-privilege node service account: it writes logs and metrics, and the zone lets it pull from the zone's
  repository; nothing else (the default Compute Engine account has Editor on the project).
- A small hardened system pool: GPU nodes are tainted, so kube-dns and GKE's add-ons need somewhere to run.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.config import is_private_range
from components.gcp.common import (
    account_id,
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    project_number,
    service_agent,
    zone_labels,
)
from components.gcp.gke_node_pool import hardened_node_config

NODE_ROLES = ("roles/logging.logWriter", "roles/monitoring.metricWriter")
"""All a node's own identity needs: write its logs and metrics. Pods get their own identities (Workload Identity)."""
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE")
LOGGED_COMPONENTS = ("SYSTEM_COMPONENTS", "WORKLOADS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER")
ENFORCE_PROJECT_POLICY = "PROJECT_SINGLETON_POLICY_ENFORCE"
CONFIDENTIAL_SYSTEM_MACHINE = "n2d-standard-4"
"""AMD SEV machines: the system pool's confidential variant."""


@dataclass(frozen=True, kw_only=True)
class GpuClusterArgs:
    zone: str
    project: str
    region: str
    network_id: pulumi.Input[str]
    subnetwork_id: pulumi.Input[str]
    pods_range_name: str
    services_range_name: str
    zone_cidr: str
    """The zone's CIDR: the only addresses that may reach the control plane (unless `master_authorized_cidrs` says
    otherwise)."""
    node_locations: Sequence[str]
    """The zones of the region that nodes run in."""
    key_ring_id: pulumi.Input[str]
    key_rotation_days: int = 365
    """Rotation period of the cluster key (etcd secrets and boot disks). Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own key (in `region`); None (the default) creates a rotated one."""
    master_cidr: str = "172.16.0.0/28"
    """The control plane's private /28, outside the zone's CIDR. Defaults to 172.16.0.0/28."""
    master_authorized_cidrs: Sequence[str] | None = None
    """Private CIDRs that may reach the Kubernetes API. Defaults to None: the zone's CIDR only. A policy blocks public
    ranges."""
    release_channel: str = "REGULAR"
    """GKE release channel (RAPID, REGULAR or STABLE): Google patches the control plane and nodes along it. Defaults
    to REGULAR."""
    system_machine_type: str = "e2-standard-4"
    """Machine of the system pool (kube-dns, GKE add-ons); n2d-standard-4 when confidential. Defaults to e2-standard-4."""
    confidential_nodes: bool = False
    """Confidential system nodes (AMD SEV, n2d machines). Defaults to False; the zone turns it on for the critical
    tier, where a policy requires every pool to be confidential."""
    allow_public_endpoint: bool = False
    """Escape hatch (weakens NB-01, RI-11): give the control plane a public endpoint as well. Defaults to False; a
    policy blocks it unless waived."""
    allow_unattested_images: bool = False
    """Escape hatch (weakens ST-05, ST-07): turn Binary Authorization off for this cluster. Defaults to False; a policy
    blocks it unless waived."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("GpuClusterArgs", self.zone, self.project)
        check_rotation_days("GpuClusterArgs", "key_rotation_days", self.key_rotation_days)
        zone = ipaddress.ip_network(self.zone_cidr)
        master = ipaddress.ip_network(self.master_cidr)
        if master.prefixlen != 28 or not is_private_range(master):
            raise ValueError(f"GpuClusterArgs.master_cidr: {self.master_cidr} must be a private /28")
        if master.overlaps(zone):
            raise ValueError(f"GpuClusterArgs.master_cidr: {self.master_cidr} overlaps the zone's CIDR {self.zone_cidr}")
        for cidr in self.master_authorized_cidrs or ():
            if ipaddress.ip_network(cidr).prefixlen == 0:
                raise ValueError(f"GpuClusterArgs.master_authorized_cidrs: {cidr} would admit every address; never allowed")
        if self.release_channel not in RELEASE_CHANNELS:
            raise ValueError(f"GpuClusterArgs.release_channel: {self.release_channel!r} is not allowed (one of: {', '.join(RELEASE_CHANNELS)})")
        if not self.node_locations:
            raise ValueError("GpuClusterArgs.node_locations: give at least one zone")


class GpuCluster(pulumi.ComponentResource):
    CONTROLS = ("NB-01", "NB-02", "NB-05", "NB-06", "RI-11", "SC-03", "ST-05", "OB-01")
    cluster_id: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    """The control plane's private address."""
    location: str
    kms_key_id: pulumi.Output[str]
    """Encrypts etcd secrets and every pool's boot disks."""
    node_service_account_email: pulumi.Output[str]
    node_service_account_member: pulumi.Output[str]
    workload_pool: str
    """`<project>.svc.id.goog`: Kubernetes service accounts are `serviceAccount:<pool>[<namespace>/<name>]`."""
    kubeconfig: pulumi.Output[str]
    """Reaches the private endpoint with short-lived tokens from `gke-gcloud-auth-plugin` (no static credentials)."""

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:GpuCluster", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        number = project_number(args.project, self)
        self.location = args.region
        self.workload_pool = f"{args.project}.svc.id.goog"

        if args.kms_key_id is None:
            self.kms_key_id = customer_key(f"{name}-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                                           guards="gke-secrets-and-disks", labels=labels, opts=child).id
        else:
            self.kms_key_id = pulumi.Output.from_input(args.kms_key_id)
        # GKE's agent encrypts etcd secrets; Compute Engine's agent encrypts the boot disks.
        grants = grant_key_use(
            f"{name}-key-agents", self.kms_key_id,
            [service_agent(number, "container-engine-robot"), service_agent(number, "compute-system")], child,
        )
        nodes = gcp.serviceaccount.Account(
            f"{name}-nodes-sa", account_id=account_id(args.zone, "gke-nodes"),
            display_name=f"ModelFort {args.zone}: GKE nodes (logs and metrics only)", opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(f"{name}-nodes-{role.split('/')[-1]}", project=args.project, role=role,
                                   member=nodes.member, opts=child)
        # The zone denies all egress; nodes still reach their control plane (kubelet to API server).
        gcp.compute.Firewall(
            f"{name}-to-control-plane",
            network=args.network_id,
            description=f"GKE nodes of zone {args.zone} to their private control plane",
            direction="EGRESS",
            priority=1000,
            allows=[{"protocol": "tcp", "ports": ["443"]}],
            destination_ranges=[args.master_cidr],
            target_service_accounts=[nodes.email],
            opts=child,
        )

        authorized = list(args.master_authorized_cidrs) if args.master_authorized_cidrs is not None else [args.zone_cidr]
        system_config = hardened_node_config(
            service_account_email=nodes.email,
            boot_disk_kms_key=self.kms_key_id,
            machine_type=CONFIDENTIAL_SYSTEM_MACHINE if args.confidential_nodes else args.system_machine_type,
            disk_size_gb=100,
            labels=labels,
            confidential_instance_type="SEV" if args.confidential_nodes else None,
        )
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=f"modelfort-{args.zone}",
            location=args.region,
            node_locations=list(args.node_locations),
            network=args.network_id,
            subnetwork=args.subnetwork_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": args.pods_range_name,
                "services_secondary_range_name": args.services_range_name,
            },
            # The default pool is created with the cluster and removed right after; it is hardened all the same.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=system_config,
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": not args.allow_public_endpoint,
                "master_ipv4_cidr_block": args.master_cidr,
                "master_global_access_config": {"enabled": False},
            },
            control_plane_endpoints_config={"dns_endpoint_config": {"allow_external_traffic": False}},
            master_authorized_networks_config={
                "cidr_blocks": [{"cidr_block": cidr, "display_name": f"zone {args.zone}"} for cidr in authorized],
                "gcp_public_cidrs_access_enabled": False,
                "private_endpoint_enforcement_enabled": True,
            },
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            enable_legacy_abac=False,
            enable_shielded_nodes=True,
            enable_intranode_visibility=True,
            datapath_provider="ADVANCED_DATAPATH",
            workload_identity_config={"workload_pool": self.workload_pool},
            database_encryption={"state": "ENCRYPTED", "key_name": self.kms_key_id},
            binary_authorization={"evaluation_mode": "DISABLED" if args.allow_unattested_images else ENFORCE_PROJECT_POLICY},
            release_channel={"channel": args.release_channel},
            logging_config={"enable_components": list(LOGGED_COMPONENTS)},
            monitoring_config={"enable_components": ["SYSTEM_COMPONENTS"]},
            security_posture_config={"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_BASIC"},
            # Weights can be mounted read-only from Cloud Storage (WP-02) instead of copied onto the node.
            addons_config={"gcs_fuse_csi_driver_config": {"enabled": True}},
            resource_labels=labels,
            deletion_protection=True,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )
        gcp.container.NodePool(
            f"{name}-system",
            cluster=cluster.id,
            location=args.region,
            node_locations=list(args.node_locations),
            node_count=1,
            management={"auto_repair": True, "auto_upgrade": True},
            node_config=system_config,
            opts=child,
        )
        self.cluster_id = cluster.id
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self._project_number = number
        self.kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate).apply(
            lambda v: json.dumps(_kubeconfig(v[0], v[1], v[2]))
        )
        self.node_service_account_email = nodes.email
        self.node_service_account_member = nodes.member
        self.register_outputs({"cluster_id": self.cluster_id, "cluster_name": self.cluster_name, "endpoint": self.endpoint})

    def workload_principal(self, namespace: str, service_account: str) -> pulumi.Output[str]:
        """The IAM principal of one Kubernetes service account (Workload Identity Federation for GKE): grant it roles
        directly, with no IAM service account in between. Only pods running as that account in that namespace of this
        project's clusters get its tokens, from the GKE metadata server."""
        return pulumi.Output.concat(
            "principal://iam.googleapis.com/projects/", self._project_number, "/locations/global/workloadIdentityPools/",
            self.workload_pool, f"/subject/ns/{namespace}/sa/{service_account}",
        )


def _kubeconfig(name: str, endpoint: str, ca: str) -> dict:
    """A kubeconfig for the private endpoint that authenticates with `gke-gcloud-auth-plugin`: short-lived tokens of
    whoever runs `pulumi up`, no static credentials."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                  "command": "gke-gcloud-auth-plugin", "provideClusterInfo": True}}}],
    }
