"""A firewall rule that lets model hosts reach any address (to 'download dependencies').

`modelfort gate examples/gcp-open-egress-firewall --stack dev` exits 1: `gcp-firewall-egress-open` on `models-egress`.
"""

import pulumi_gcp as gcp

network = gcp.compute.Network("models", auto_create_subnetworks=False, delete_default_routes_on_create=True)
gcp.compute.Firewall(
    "models-egress",
    network=network.id,
    direction="EGRESS",
    allows=[{"protocol": "tcp", "ports": ["443"]}],
    destination_ranges=["0.0.0.0/0"],
)
