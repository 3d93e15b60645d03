"""A private cluster that still turns on legacy ABAC and issues a client certificate.

`modelfort gate examples/gcp-gke-legacy-abac --stack dev` exits 1: `gke-no-legacy-auth` on `models`.
"""

import pulumi_gcp as gcp

gcp.container.Cluster(
    "models",
    location="us-central1",
    remove_default_node_pool=True,
    initial_node_count=1,
    enable_legacy_abac=True,
    master_auth={"client_certificate_config": {"issue_client_certificate": True}},
    private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": True, "master_ipv4_cidr_block": "172.16.0.0/28"},
    master_authorized_networks_config={"cidr_blocks": [{"cidr_block": "10.0.0.0/16"}]},
    workload_identity_config={"workload_pool": "acme-ml.svc.id.goog"},
    database_encryption={"state": "ENCRYPTED", "key_name": "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/gke"},
    binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
    datapath_provider="ADVANCED_DATAPATH",
)
