"""A GKE cluster with a public endpoint and public nodes (the quick-start settings).

`modelfort gate examples/gcp-public-gke --stack dev` exits 1: `gke-private-cluster` on `models`.
"""

import pulumi_gcp as gcp

gcp.container.Cluster(
    "models",
    location="us-central1",
    remove_default_node_pool=True,
    initial_node_count=1,
    workload_identity_config={"workload_pool": "acme-ml.svc.id.goog"},
    database_encryption={"state": "ENCRYPTED", "key_name": "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/gke"},
    binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
    datapath_provider="ADVANCED_DATAPATH",
)
