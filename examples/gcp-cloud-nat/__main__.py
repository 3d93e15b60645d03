"""Cloud NAT in front of model nodes, so they can reach the internet without external IPs.

`modelfort gate examples/gcp-cloud-nat --stack dev` exits 1: `gcp-no-cloud-nat` on `models-nat`.
"""

import pulumi_gcp as gcp

network = gcp.compute.Network("models", auto_create_subnetworks=False, delete_default_routes_on_create=True)
router = gcp.compute.Router("models-router", network=network.id, region="us-central1")
gcp.compute.RouterNat(
    "models-nat",
    router=router.name,
    region="us-central1",
    nat_ip_allocate_option="AUTO_ONLY",
    source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
)
