"""A Binary Authorization policy that requires attestations but only logs the unattested images it lets run.

`modelfort gate examples/gcp-binauthz-dry-run --stack dev` exits 1: `gcp-binauthz-enforced` on `admission`.
"""

import pulumi_gcp as gcp

gcp.binaryauthorization.Policy(
    "admission",
    default_admission_rule={
        "evaluation_mode": "REQUIRE_ATTESTATION",
        "enforcement_mode": "DRYRUN_AUDIT_LOG_ONLY",
        "require_attestations_bies": ["projects/acme-ml/attestors/release"],
    },
)
