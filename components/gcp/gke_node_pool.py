"""GpuNodePool (GKE): hardened NVIDIA GPU nodes for model servers (RI-01, RI-06, RI-07, RI-11, WP-01).

Every node: Container-Optimized OS (minimal, read-only root, RI-01), Shielded VM with secure boot and integrity
monitoring, the GKE metadata server in front of the instance metadata (pods see only their own Workload Identity,
never the node's credentials), a least-privilege node service account, boot disks encrypted with the zone's key,
no project SSH keys (RI-11). GPU nodes add: drivers installed and patched by GKE, the GPU taint so only GPU workloads
land there, and kernel modules limited to Google-signed ones (a container escape cannot load its own driver, RI-07).
Confidential nodes (memory encrypted in use) and GKE Sandbox (gVisor) are available and off by default; the zone
turns confidential nodes on for the critical tier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import check_zone_and_project, child_options, zone_labels

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
NODE_OS = "COS_CONTAINERD"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""With a dedicated service account, access is decided by its IAM roles; the scope only stops being a second gate."""
GPU_DRIVER_VERSIONS = ("DEFAULT", "LATEST")
"""GKE installs and patches the driver (RI-07: a patched NVIDIA stack); INSTALLATION_DISABLED is refused."""
GPU_MACHINES = {
    "nvidia-l4": re.compile(r"^g2-standard-\d+$"),
    "nvidia-tesla-a100": re.compile(r"^a2-highgpu-\d+g$"),
    "nvidia-a100-80gb": re.compile(r"^a2-ultragpu-\d+g$"),
    "nvidia-h100-80gb": re.compile(r"^a3-highgpu-\d+g$"),
    "nvidia-h100-mega-80gb": re.compile(r"^a3-megagpu-8g$"),
    "nvidia-tesla-t4": re.compile(r"^n1-(standard|highmem)-\d+$"),
}
CONFIDENTIAL_GPU_MACHINES = re.compile(r"^a3-highgpu-1g$")
"""Confidential GKE Nodes with GPUs run on Intel TDX A3 machines with one H100."""


def hardened_node_config(
    *,
    service_account_email: pulumi.Input[str],
    boot_disk_kms_key: pulumi.Input[str],
    machine_type: str,
    disk_size_gb: int,
    labels: Mapping[str, str],
    confidential_instance_type: str | None = None,
    expose_node_metadata: bool = False,
    allow_unverified_boot: bool = False,
) -> dict:
    """The node settings every ModelFort pool shares (system and GPU)."""
    config: dict = {
        "machine_type": machine_type,
        "image_type": NODE_OS,
        "service_account": service_account_email,
        "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
        "boot_disk_kms_key": boot_disk_kms_key,
        "disk_type": "pd-balanced",
        "disk_size_gb": disk_size_gb,
        "shielded_instance_config": {"enable_secure_boot": not allow_unverified_boot, "enable_integrity_monitoring": True},
        # GKE_METADATA: pods reach a metadata server that serves only their Workload Identity; GCE_METADATA would hand
        # every pod the node's service account token.
        "workload_metadata_config": {"mode": "GCE_METADATA" if expose_node_metadata else "GKE_METADATA"},
        "metadata": {"disable-legacy-endpoints": "true", "block-project-ssh-keys": "true"},
        "labels": dict(labels),
    }
    if confidential_instance_type is not None:
        config["confidential_nodes"] = {"enabled": True, "confidential_instance_type": confidential_instance_type}
    return config


@dataclass(frozen=True, kw_only=True)
class GpuNodePoolArgs:
    zone: str
    project: str
    cluster_id: pulumi.Input[str]
    location: str
    """The cluster's location (its region, for a regional cluster)."""
    node_locations: Sequence[str]
    """The zones nodes run in."""
    service_account_email: pulumi.Input[str]
    """The cluster's least-privilege node service account."""
    boot_disk_kms_key: pulumi.Input[str]
    """The zone key that encrypts the nodes' boot disks."""
    machine_type: str = "g2-standard-8"
    """A machine that carries `accelerator_type`. Defaults to g2-standard-8."""
    accelerator_type: str = "nvidia-l4"
    """One of GPU_MACHINES. Defaults to nvidia-l4."""
    accelerator_count: int = 1
    """GPUs per node, 1 to 16. Defaults to 1."""
    gpu_driver_version: str = "LATEST"
    """How GKE installs the NVIDIA driver: DEFAULT or LATEST. Defaults to LATEST (the most recent patches)."""
    min_nodes: int = 1
    """Fewest nodes, in total across node locations. Defaults to 1."""
    max_nodes: int = 4
    """Most nodes, in total across node locations. Defaults to 4."""
    disk_size_gb: int = 200
    """Boot disk size (images and the weights' emptyDir). Defaults to 200."""
    confidential_nodes: bool = False
    """Encrypt node memory in use (Intel TDX; needs an a3-highgpu-1g machine). Defaults to False; the zone turns it
    on for the critical tier, where a policy requires it."""
    sandbox: bool = False
    """Run pods in GKE Sandbox (gVisor), a second kernel between the model server and the node. Defaults to False: a
    stronger setting (not an escape hatch) that costs GPU throughput; check the server supports it."""
    expose_node_metadata: bool = False
    """Escape hatch (weakens RI-09, SC-02): let pods reach the node's instance metadata and its service account.
    Defaults to False; a policy blocks it unless waived."""
    allow_unverified_boot: bool = False
    """Escape hatch (weakens RI-01, RI-07): turn secure boot off (for unsigned kernel modules). Defaults to False; a
    policy blocks it unless waived."""
    allow_unsigned_kernel_modules: bool = False
    """Escape hatch (weakens RI-07): let the node load kernel modules Google did not sign. Defaults to False; a policy
    blocks it unless waived."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("GpuNodePoolArgs", self.zone, self.project)
        machines = GPU_MACHINES.get(self.accelerator_type)
        if machines is None:
            raise ValueError(f"GpuNodePoolArgs.accelerator_type: {self.accelerator_type!r} is not allowed (one of: {', '.join(GPU_MACHINES)})")
        if not machines.match(self.machine_type):
            raise ValueError(f"GpuNodePoolArgs.machine_type: {self.machine_type!r} does not carry {self.accelerator_type}")
        if self.gpu_driver_version not in GPU_DRIVER_VERSIONS:
            raise ValueError(f"GpuNodePoolArgs.gpu_driver_version: {self.gpu_driver_version!r} is not allowed (one of: {', '.join(GPU_DRIVER_VERSIONS)})")
        if isinstance(self.accelerator_count, bool) or not 1 <= self.accelerator_count <= 16:
            raise ValueError("GpuNodePoolArgs.accelerator_count: 1 to 16")
        if not 0 < self.min_nodes <= self.max_nodes:
            raise ValueError("GpuNodePoolArgs: sizes must satisfy 0 < min_nodes <= max_nodes")
        if not self.node_locations:
            raise ValueError("GpuNodePoolArgs.node_locations: give at least one zone")
        if self.confidential_nodes and not CONFIDENTIAL_GPU_MACHINES.match(self.machine_type):
            raise ValueError(f"GpuNodePoolArgs.confidential_nodes: confidential GPU nodes need an a3-highgpu-1g machine, not {self.machine_type!r}")


class GpuNodePool(pulumi.ComponentResource):
    CONTROLS = ("RI-01", "RI-06", "RI-07", "RI-09", "RI-11", "WP-01")
    node_pool_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:GpuNodePool", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        node_config = hardened_node_config(
            service_account_email=args.service_account_email,
            boot_disk_kms_key=args.boot_disk_kms_key,
            machine_type=args.machine_type,
            disk_size_gb=args.disk_size_gb,
            labels={**labels, "modelfort-gpu": "true"},
            confidential_instance_type="TDX" if args.confidential_nodes else None,
            expose_node_metadata=args.expose_node_metadata,
            allow_unverified_boot=args.allow_unverified_boot,
        )
        node_config.update(
            guest_accelerators=[{
                "type": args.accelerator_type,
                "count": args.accelerator_count,
                "gpu_driver_installation_config": {"gpu_driver_version": args.gpu_driver_version},
            }],
            taints=[GPU_TAINT],
            linux_node_config={"node_kernel_module_loading": {
                "policy": "DO_NOT_ENFORCE_SIGNED_MODULES" if args.allow_unsigned_kernel_modules else "ENFORCE_SIGNED_MODULES"}},
        )
        if args.sandbox:
            node_config["sandbox_config"] = {"type": "GVISOR"}
        pool = gcp.container.NodePool(
            f"{name}-pool",
            cluster=args.cluster_id,
            location=args.location,
            node_locations=list(args.node_locations),
            autoscaling={"total_min_node_count": args.min_nodes, "total_max_node_count": args.max_nodes,
                         "location_policy": "ANY"},
            management={"auto_repair": True, "auto_upgrade": True},
            # Surge one node at a time: a model keeps serving while its nodes are patched.
            upgrade_settings={"max_surge": 1, "max_unavailable": 0, "strategy": "SURGE"},
            node_config=node_config,
            opts=child,
        )
        self.node_pool_name = pool.name
        self.register_outputs({"node_pool_name": self.node_pool_name})
