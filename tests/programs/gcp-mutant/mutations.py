"""The GCP mutations, as data: the mutant program builds them and tests/e2e/test_gcp_mutations.py checks that it
tests exactly these (importing this module runs no Pulumi code)."""

# Knobs of each component: group -> {mutation: arg changes}.
NETWORK = {"egress-allowlist": {"egress_allowlist_cidrs": ["198.51.100.0/24"]}, "no-flow-logs": {"enable_flow_logs": False},
           "no-dns-logging": {"enable_dns_logging": False}, "psc-endpoint": {"psc_address": "10.130.64.10"}}
EVIDENCE = {"evidence-short-retention": {"retention_days": 30}, "evidence-slow-key-rotation": {"key_rotation_days": 730}}
WEIGHTS = {"weights-slow-key-rotation": {"key_rotation_days": 730}, "weights-outside-network": {"allow_access_outside_zone_network": True}}
REFERENCE = {"short-signature-retention": {"retention_days": 30}, "reference-slow-key-rotation": {"key_rotation_days": 730},
             "signing-key-software": {"hsm": False}}
IMAGES = {"images-slow-key-rotation": {"key_rotation_days": 730}, "binauthz-dry-run": {"audit_only": True},
          "binauthz-exemption": {"unattested_image_patterns": ["docker.io/library/*"]}, "mutable-tags": {"allow_mutable_tags": True},
          "attestor-key-software": {"hsm": False}}
GUARDRAILS = {"guardrails-high-confidence-only": {"confidence_level": "HIGH"}, "guardrails-inspect-only": {"inspect_only": True}}
PERIMETER = {"perimeter-dry-run": {"dry_run": True}}
CLUSTER = {"cluster-slow-key-rotation": {"key_rotation_days": 730}, "public-authorized-network": {"master_authorized_cidrs": ["203.0.113.0/24"]},
           "public-cluster-endpoint": {"allow_public_endpoint": True}, "cluster-without-binauthz": {"allow_unattested_images": True},
           "cluster-not-confidential": {"confidential_nodes": False}}
NODES = {"node-metadata-exposed": {"expose_node_metadata": True}, "no-secure-boot": {"allow_unverified_boot": True},
         "unsigned-kernel-modules": {"allow_unsigned_kernel_modules": True}, "gpu-pool-not-confidential": {"confidential_nodes": False}}
ROTATION = {"rotation-slow-key-rotation": {"key_rotation_days": 730}}
SECRET = {"slow-secret-rotation": {"rotation_days": 90}}
# What a program could add beside the components (the pack judges programs, not just components).
BESIDE = {"network": ("default-route", "private-vip-route", "peering", "cloud-nat", "open-egress-firewall", "dns-record-elsewhere",
                      "dns-forwarding"),
          "weights": ("public-bucket-member", "weights-without-audit-logs", "weights-for-every-pod"),
          "secrets": ("project-wide-secret-accessor",),
          "cluster": ("default-node-pool", "cluster-without-guardrails"),
          "detection": ("telemetry-topic-unencrypted", "detection-state-unencrypted")}
GROUPS = {
    "network": {**NETWORK, **EVIDENCE}, "weights": WEIGHTS, "reference": REFERENCE, "images": IMAGES, "guardrails": GUARDRAILS,
    "perimeter": PERIMETER, "cluster": {**CLUSTER, **NODES}, "secrets": {**ROTATION, **SECRET}, "detection": {},
}
PASSING = ("none", "psc-endpoint")
"""Variants that must pass: everything unmutated, and the network with a PSC endpoint instead of the VIP route."""
KNOWN = {"none", *(m for g in GROUPS.values() for m in g), *(m for b in BESIDE.values() for m in b)}
