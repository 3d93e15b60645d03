"""Google APIs through the *private* VIP (199.36.153.8/30), which also serves APIs outside VPC Service Controls.

`modelfort gate examples/gcp-private-vip-route --stack dev` exits 1: `gcp-route-internet-gateway` on `private-googleapis`.
"""

import pulumi_gcp as gcp

network = gcp.compute.Network("models", auto_create_subnetworks=False, delete_default_routes_on_create=True)
gcp.compute.Route("private-googleapis", network=network.id, dest_range="199.36.153.8/30", next_hop_gateway="default-internet-gateway")
