"""A customer-managed key that never rotates (no rotation_period).

`modelfort gate examples/gcp-unrotated-key --stack dev` exits 1: `gcp-kms-key-rotation` on `weights-key`.
"""

import pulumi_gcp as gcp

ring = gcp.kms.KeyRing("ml-keys", location="us-central1")
gcp.kms.CryptoKey("weights-key", key_ring=ring.id, purpose="ENCRYPT_DECRYPT")
