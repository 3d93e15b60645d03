"""A model artefact bucket shared with everyone: no public access prevention, and allUsers may read.

`modelfort gate examples/gcp-public-bucket --stack dev` exits 1: `gcp-no-public-members` on `artifacts-public-read`, `gcs-bucket-private` on `model-artifacts`.
"""

import pulumi_gcp as gcp

bucket = gcp.storage.Bucket(
    "model-artifacts",
    location="US",
    uniform_bucket_level_access=True,
    encryption={"default_kms_key_name": "projects/acme-ml/locations/us/keyRings/ml/cryptoKeys/artifacts"},
)
gcp.storage.BucketIAMMember("artifacts-public-read", bucket=bucket.name, role="roles/storage.objectViewer", member="allUsers")
