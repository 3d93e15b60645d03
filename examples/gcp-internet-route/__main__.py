"""A network whose default route was deleted, and then put back by hand.

`modelfort gate examples/gcp-internet-route --stack dev` exits 1: `gcp-route-internet-gateway` on `models-internet`.
"""

import pulumi_gcp as gcp

network = gcp.compute.Network("models", auto_create_subnetworks=False, delete_default_routes_on_create=True)
gcp.compute.Route("models-internet", network=network.id, dest_range="0.0.0.0/0", next_hop_gateway="default-internet-gateway")
