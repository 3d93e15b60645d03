"""A network created with Google's defaults: a subnet in every region and a route to the internet.

`modelfort gate examples/gcp-default-network --stack dev` exits 1: `gcp-network-custom-mode` on `models`.
"""

import pulumi_gcp as gcp

gcp.compute.Network("models")
