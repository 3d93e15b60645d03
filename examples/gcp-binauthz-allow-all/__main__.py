"""A Binary Authorization policy that admits every image.

`modelfort gate examples/gcp-binauthz-allow-all --stack dev` exits 1: `gcp-binauthz-enforced` on `admission`.
"""

import pulumi_gcp as gcp

gcp.binaryauthorization.Policy(
    "admission",
    default_admission_rule={"evaluation_mode": "ALWAYS_ALLOW", "enforcement_mode": "ENFORCED_BLOCK_AND_AUDIT_LOG"},
)
