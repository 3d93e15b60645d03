"""pulumi_eks.Cluster judged on its inputs. Config `remote-eks-cluster:variant`:

- "defaults": `pulumi_eks.Cluster("c")` exactly: public API endpoint, no secrets encryption, no control-plane logs,
  and a default node group.
- "secure": private endpoint only, secrets encrypted with a customer key, control-plane logs on, no default nodes.
- any other value: the secure Cluster with that one input flipped back to pulumi_eks's default.
"""

import pulumi
import pulumi_eks as eks

variant = pulumi.Config().require("variant")

SECURE = {
    "vpc_id": "vpc-0123456789abcdef0",
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    "endpoint_public_access": False,
    "endpoint_private_access": True,
    "encryption_config_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0b8c1f4e-6a52-4d5e-9d7a-2f1e3c4b5a69",
    "enabled_cluster_log_types": ["api", "audit", "authenticator"],
    "skip_default_node_group": True,
}
# Each flip removes one hardening input, so the documented default applies again.
FLIPS = {
    "secure": (),
    "public-endpoint": ("endpoint_public_access",),
    "no-private-endpoint": ("endpoint_private_access",),
    "no-secrets-key": ("encryption_config_key_arn",),
    "no-control-plane-logs": ("enabled_cluster_log_types",),
    "default-node-group": ("skip_default_node_group",),
}

if variant == "defaults":
    eks.Cluster("c")
elif variant in FLIPS:
    eks.Cluster("c", **{key: value for key, value in SECURE.items() if key not in FLIPS[variant]})
else:
    raise ValueError(f"remote-eks-cluster:variant must be 'defaults' or one of {sorted(FLIPS)}, got {variant!r}")
