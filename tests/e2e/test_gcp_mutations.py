"""GCP mutation tests: turn off one hardening default at a time; the gate must block every one, and nothing else.

Each mutation names exactly the (policy, resource) pairs that must block it: the mutated program is blocked for the
mutation and for no other reason, so the unmutated part of its group is proven clean at the same time. The list of
knobs comes from the components' own args; `test_every_gcp_component_knob_is_mutated` keeps it honest.
"""

from __future__ import annotations

import dataclasses

import pytest

from components.gcp.evidence import EvidenceLogArgs
from components.gcp.gke_cluster import GpuClusterArgs
from components.gcp.gke_node_pool import GpuNodePoolArgs
from components.gcp.model_armor import ModelGuardrailsArgs
from components.gcp.network import SegmentedNetworkArgs
from components.gcp.perimeter import ModelPerimeterArgs
from components.gcp.reference_store import ModelReferenceStoreArgs
from components.gcp.secrets import RotatedSecretArgs, SecretRotationArgs
from components.gcp.supply_chain import ImageTrustArgs
from components.gcp.weights import WeightsBucketArgs
from modelfort.gate.engine import GateOptions, run_gate

BASE = {"gcp:project": "modelfort-production", "gcp:region": "us-central1"}
PRODUCTION = {**BASE, "modelfort:zone": "production"}
CRITICAL = {**BASE, "modelfort:zone": "high-sensitivity"}
CRITICAL_ONLY = {"signing-key-software", "attestor-key-software", "perimeter-dry-run", "cluster-not-confidential", "gpu-pool-not-confidential"}

# mutation -> the (policy, resource) pairs that block it, and nothing else
MUTATIONS = {
    # SegmentedNetwork
    "egress-allowlist": {("gcp-firewall-outside-zone", "prod-network-allow-egress-allowlist")},
    "no-flow-logs": {("gcp-subnet-private", "prod-network-nodes")},
    "no-dns-logging": {("gcp-dns-logged", "prod-network-vpc")},
    # EvidenceLog
    "evidence-short-retention": {("gcp-log-bucket-locked", "prod-evidence-bucket")},
    "evidence-slow-key-rotation": {("gcp-kms-key-rotation", "prod-evidence-key")},
    # WeightsBucket
    "weights-slow-key-rotation": {("gcp-kms-key-rotation", "prod-weights-key")},
    "weights-outside-network": {("gcs-weights-zone-network-only", "prod-weights-bucket")},
    # ModelReferenceStore
    "short-signature-retention": {("gcs-signature-retention-locked", "prod-reference-store-bucket")},
    "reference-slow-key-rotation": {("gcp-kms-key-rotation", "prod-reference-store-bucket-key")},
    "signing-key-software": {("gcp-signing-key-hsm", "prod-reference-store-signing-key")},
    # ImageTrust
    "images-slow-key-rotation": {("gcp-kms-key-rotation", "prod-images-repository-key")},
    "binauthz-dry-run": {("gcp-binauthz-enforced", "prod-images-policy")},
    "binauthz-exemption": {("gcp-binauthz-enforced", "prod-images-policy")},
    "mutable-tags": {("gcp-artifact-registry-hardened", "prod-images-repository")},
    "attestor-key-software": {("gcp-signing-key-hsm", "prod-images-attestor-key")},
    # ModelGuardrails: the template and the floor setting share the filters
    "guardrails-high-confidence-only": {("gcp-model-armor-template", "prod-guardrails-template"), ("gcp-model-armor-floor", "prod-guardrails-floor")},
    "guardrails-inspect-only": {("gcp-model-armor-template", "prod-guardrails-template"), ("gcp-model-armor-floor", "prod-guardrails-floor")},
    # ModelPerimeter
    "perimeter-dry-run": {("gcp-vpc-sc-perimeter", "prod-perimeter-perimeter"), ("gcp-vpc-sc-perimeter", "prod-weights-bucket")},
    # GpuCluster
    "cluster-slow-key-rotation": {("gcp-kms-key-rotation", "prod-gpu-key")},
    "public-authorized-network": {("gke-private-cluster", "prod-gpu-cluster")},
    "public-cluster-endpoint": {("gke-private-cluster", "prod-gpu-cluster")},
    "cluster-without-binauthz": {("gke-binary-authorization", "prod-gpu-cluster")},
    "cluster-not-confidential": {("gke-confidential-nodes", "prod-gpu-cluster"), ("gke-confidential-nodes", "prod-gpu-system")},
    # GpuNodePool
    "node-metadata-exposed": {("gke-nodes-hardened", "prod-gpu-nodes-pool")},
    "no-secure-boot": {("gke-nodes-hardened", "prod-gpu-nodes-pool")},
    "unsigned-kernel-modules": {("gke-gpu-nodes", "prod-gpu-nodes-pool")},
    "gpu-pool-not-confidential": {("gke-confidential-nodes", "prod-gpu-nodes-pool")},
    # SecretRotation, RotatedSecret
    "rotation-slow-key-rotation": {("gcp-kms-key-rotation", "prod-rotation-key")},
    "slow-secret-rotation": {("gcp-secret-rotation", "prod-agent-key-secret")},
    # What a program could add beside the components
    "default-route": {("gcp-route-internet-gateway", "to-internet")},
    "private-vip-route": {("gcp-route-internet-gateway", "to-private-vip")},
    "peering": {("gcp-no-cross-zone-link", "to-testing")},
    "cloud-nat": {("gcp-no-cloud-nat", "egress-nat")},
    "open-egress-firewall": {("gcp-firewall-egress-open", "open-egress")},
    "dns-record-elsewhere": {("gcp-dns-restricted-google-apis", "aiplatform-to-private-vip")},
    "dns-forwarding": {("gcp-dns-logged", "forward-everything")},
    "public-bucket-member": {("gcp-no-public-members", "weights-for-everyone")},
    "weights-without-audit-logs": {("gcs-data-access-logged", "prod-weights-bucket")},
    "weights-for-every-pod": {("gcs-workload-read-scoped", "weights-for-every-pod")},
    "project-wide-secret-accessor": {("gcp-secret-access-scoped", "every-secret")},
    "default-node-pool": {("gke-nodes-hardened", "defaults-pool")},
    "cluster-without-guardrails": {("gcp-model-armor-present", "prod-gpu-cluster")},
    # Beside TelemetryWatch: a telemetry topic or a detection state bucket without the customer key
    "telemetry-topic-unencrypted": {("gcp-pubsub-topic-cmek", "telemetry-unencrypted")},
    "detection-state-unencrypted": {("gcs-bucket-cmek", "detection-state-unencrypted")},
}

# Arguments that are not hardening knobs: identity and wiring, sizing, who may do what, bring-your-own keys, and
# opt-in strengthenings whose default is the weaker-but-accepted setting below the critical tier (gke `sandbox`).
NOT_KNOBS = {
    "zone", "project", "region", "cidr_block", "labels", "key_ring_id", "kms_key_id", "network_id", "subnetwork_id",
    "zone_cidr", "google_api_names", "psc_address", "extra_data_access_services", "publisher_ip_ranges",
    "publisher_members", "reader_members", "attestation_signers", "project_number", "access_policy",
    "extra_restricted_services", "pods_range_name", "services_range_name", "node_locations", "master_cidr",
    "release_channel", "system_machine_type", "cluster_id", "location", "service_account_email", "boot_disk_kms_key",
    "machine_type", "accelerator_type", "accelerator_count", "gpu_driver_version", "min_nodes", "max_nodes",
    "disk_size_gb", "sandbox", "secret_id", "kind", "rotation", "first_rotation",
}
KNOBS = {
    SegmentedNetworkArgs: {"egress_allowlist_cidrs": "egress-allowlist", "enable_flow_logs": "no-flow-logs", "enable_dns_logging": "no-dns-logging"},
    EvidenceLogArgs: {"retention_days": "evidence-short-retention", "key_rotation_days": "evidence-slow-key-rotation"},
    WeightsBucketArgs: {"key_rotation_days": "weights-slow-key-rotation", "allow_access_outside_zone_network": "weights-outside-network"},
    ModelReferenceStoreArgs: {"retention_days": "short-signature-retention", "key_rotation_days": "reference-slow-key-rotation",
                              "hsm": "signing-key-software"},
    ImageTrustArgs: {"key_rotation_days": "images-slow-key-rotation", "audit_only": "binauthz-dry-run",
                     "unattested_image_patterns": "binauthz-exemption", "allow_mutable_tags": "mutable-tags", "hsm": "attestor-key-software"},
    ModelGuardrailsArgs: {"confidence_level": "guardrails-high-confidence-only", "inspect_only": "guardrails-inspect-only"},
    ModelPerimeterArgs: {"dry_run": "perimeter-dry-run"},
    GpuClusterArgs: {"key_rotation_days": "cluster-slow-key-rotation", "master_authorized_cidrs": "public-authorized-network",
                     "allow_public_endpoint": "public-cluster-endpoint", "allow_unattested_images": "cluster-without-binauthz",
                     "confidential_nodes": "cluster-not-confidential"},
    GpuNodePoolArgs: {"expose_node_metadata": "node-metadata-exposed", "allow_unverified_boot": "no-secure-boot",
                      "allow_unsigned_kernel_modules": "unsigned-kernel-modules", "confidential_nodes": "gpu-pool-not-confidential"},
    SecretRotationArgs: {"key_rotation_days": "rotation-slow-key-rotation"},
    RotatedSecretArgs: {"rotation_days": "slow-secret-rotation"},
}


def gate(program, mutation: str, zone_config: dict, **extra):
    directory = program("gcp-mutant", config={**zone_config, "mutant:mutation": mutation, **extra})
    return run_gate(GateOptions(program_dir=str(directory), stack="test"))


@pytest.mark.parametrize("zone_config", [PRODUCTION, CRITICAL], ids=["production", "high-sensitivity"])
@pytest.mark.parametrize("variant", ["none", "psc-endpoint"])  # mutations.PASSING
def test_the_unmutated_components_pass(program, zone_config, variant):
    report = gate(program, variant, zone_config)
    assert report.error is None, report.error
    assert report.exit_code == 0, [v.message for v in report.verdict.blocking]


@pytest.mark.control("NB-01", "NB-02", "NB-03", "NB-04", "NB-09", "NB-10", "WP-01", "WP-02", "WP-03", "WP-06", "SC-03",
                     "SC-04", "ST-05", "OB-01", "OB-03", "RI-01", "RI-07", "RI-09", "GR-09")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_gcp_mutation_is_blocked_for_that_reason_alone(program, mutation):
    report = gate(program, mutation, CRITICAL if mutation in CRITICAL_ONLY else PRODUCTION)
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert {(v.policy, v.resource_name) for v in report.verdict.blocking} == MUTATIONS[mutation]


@pytest.mark.control("DP-07")
def test_a_waiver_lets_exactly_the_waived_hatch_through(program):
    waiver = {
        "policy": "gcs-weights-zone-network-only",
        "resource": "urn:pulumi:test::gcp-mutant::*::prod-weights-bucket",
        "reason": "Migration window: the old serving fleet reads weights from outside the zone (SEC-2210).",
        "owner": "platform@example.com",
        "expires": "2027-06-30",
    }
    assert gate(program, "weights-outside-network", PRODUCTION, **{"modelfort:waivers": [waiver]}).exit_code == 0
    # The same waiver does not cover another hatch on the same bucket's stack.
    report = gate(program, "weights-slow-key-rotation", PRODUCTION, **{"modelfort:waivers": [waiver]})
    assert report.exit_code == 1


@pytest.mark.parametrize("args_class", list(KNOBS), ids=lambda c: c.__name__)
def test_every_gcp_component_knob_is_mutated(args_class):
    knobs = {f.name for f in dataclasses.fields(args_class)} - NOT_KNOBS
    mutated = KNOBS[args_class]
    assert knobs == set(mutated), f"add a mutation for: {sorted(knobs - set(mutated))}"
    assert set(mutated.values()) <= set(MUTATIONS)


def test_the_mutant_program_knows_exactly_these_mutations():
    """The program and this table describe the same mutations: one only the program knows would never be tested."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "programs" / "gcp-mutant" / "mutations.py"
    spec = importlib.util.spec_from_file_location("gcp_mutant_mutations", path)
    mutations = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutations)
    assert mutations.KNOWN - set(mutations.PASSING) == set(MUTATIONS)
