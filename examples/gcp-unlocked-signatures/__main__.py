"""Model signatures kept under a retention policy nobody locked, so it can be lifted and signatures replaced.

`modelfort gate examples/gcp-unlocked-signatures --stack dev` exits 1: `gcs-signature-retention-locked` on `signatures`, `gcs-model-bucket-immutable` on `signatures`.
"""

import pulumi_gcp as gcp

gcp.storage.Bucket(
    "signatures",
    location="us-central1",
    labels={"modelfort-data-class": "model-signatures"},
    uniform_bucket_level_access=True,
    public_access_prevention="enforced",
    encryption={"default_kms_key_name": "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/signatures"},
    retention_policy={"retention_period": str(365 * 86400), "is_locked": False},
)
gcp.projects.IAMAuditConfig(
    "storage-data-access",
    project="acme-ml",
    service="storage.googleapis.com",
    audit_log_configs=[{"log_type": "DATA_READ"}, {"log_type": "DATA_WRITE"}],
)
