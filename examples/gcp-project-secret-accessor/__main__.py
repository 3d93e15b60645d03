"""An agent granted secretAccessor on the whole project instead of on its one secret.

`modelfort gate examples/gcp-project-secret-accessor --stack dev` exits 1: `gcp-secret-access-scoped` on `agent-reads-secrets`.
"""

import pulumi_gcp as gcp

gcp.projects.IAMMember(
    "agent-reads-secrets",
    project="acme-ml",
    role="roles/secretmanager.secretAccessor",
    member="serviceAccount:agent@acme-ml.iam.gserviceaccount.com",
)
