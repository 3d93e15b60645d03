"""Audit logs routed to a log bucket that is neither locked nor kept long enough.

`modelfort gate examples/gcp-unlocked-log-bucket --stack dev` exits 1: `gcp-log-bucket-locked` on `audit-logs`.
"""

import pulumi_gcp as gcp

gcp.logging.ProjectBucketConfig(
    "audit-logs",
    project="acme-ml",
    location="us-central1",
    bucket_id="audit-logs",
    retention_days=30,
    cmek_settings={"kms_key_name": "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/logs"},
)
