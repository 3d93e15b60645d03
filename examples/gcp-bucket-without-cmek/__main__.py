"""Private, but encrypted only with Google-managed keys: nobody in the company can revoke access to the data.

`modelfort gate examples/gcp-bucket-without-cmek --stack dev` exits 1: `gcs-bucket-cmek` on `model-weights`.
"""

import pulumi_gcp as gcp

gcp.storage.Bucket(
    "model-weights",
    location="us-central1",
    uniform_bucket_level_access=True,
    public_access_prevention="enforced",
    versioning={"enabled": True},
)
