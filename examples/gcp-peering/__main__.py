"""The testing zone peered with production 'to share a cache'.

`modelfort gate examples/gcp-peering --stack dev` exits 1: `gcp-no-cross-zone-link` on `testing-to-production`.
"""

import pulumi_gcp as gcp

production = gcp.compute.Network("production", auto_create_subnetworks=False, delete_default_routes_on_create=True)
testing = gcp.compute.Network("testing", auto_create_subnetworks=False, delete_default_routes_on_create=True)
gcp.compute.NetworkPeering("testing-to-production", network=testing.self_link, peer_network=production.self_link)
