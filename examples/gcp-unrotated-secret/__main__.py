"""An agent's API key in Secret Manager that never rotates and uses Google-managed encryption.

`modelfort gate examples/gcp-unrotated-secret --stack dev` exits 1: `gcp-secret-rotation` on `agent-api-key`, `gcp-secret-cmek` on `agent-api-key`.
"""

import pulumi_gcp as gcp

gcp.secretmanager.Secret("agent-api-key", secret_id="agent-api-key", replication={"auto": {}})
