"""A GPU node pool whose pods can read the node's metadata and credentials, without secure boot, as the default Compute
Engine service account.

`modelfort gate examples/gcp-gke-exposed-metadata --stack dev` exits 1: `gke-nodes-hardened` on `gpu-pool`.
"""

import pulumi_gcp as gcp

gcp.container.NodePool(
    "gpu-pool",
    cluster="projects/acme-ml/locations/us-central1/clusters/models",
    location="us-central1",
    node_count=1,
    node_config={
        "machine_type": "g2-standard-8",
        "guest_accelerators": [{"type": "nvidia-l4", "count": 1, "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"}}],
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}],
        "linux_node_config": {"node_kernel_module_loading": {"policy": "ENFORCE_SIGNED_MODULES"}},
        "workload_metadata_config": {"mode": "GCE_METADATA"},
        "boot_disk_kms_key": "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/gke",
    },
)
