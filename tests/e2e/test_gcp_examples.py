"""Every insecure GCP pattern the pack knows, written as a plain pulumi-gcp program (no ModelFort components) under
examples/gcp-*, is blocked by the gate, naming the resource. Platform teams gate their own programs; these are theirs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from modelfort.gate.engine import GateOptions, run_gate

REPO = Path(__file__).resolve().parents[2]

# example -> the (policy, resource) pairs that must block it (a plain program usually has more problems than its
# headline one; those may block too)
EXAMPLES = {
    "gcp-public-bucket": {("gcp-no-public-members", "artifacts-public-read"), ("gcs-bucket-private", "model-artifacts")},
    "gcp-bucket-without-cmek": {("gcs-bucket-cmek", "model-weights")},
    "gcp-unrotated-key": {("gcp-kms-key-rotation", "weights-key")},
    "gcp-open-egress-firewall": {("gcp-firewall-egress-open", "models-egress")},
    "gcp-internet-route": {("gcp-route-internet-gateway", "models-internet")},
    "gcp-private-vip-route": {("gcp-route-internet-gateway", "private-googleapis")},
    "gcp-default-network": {("gcp-network-custom-mode", "models")},
    "gcp-peering": {("gcp-no-cross-zone-link", "testing-to-production")},
    "gcp-cloud-nat": {("gcp-no-cloud-nat", "models-nat")},
    "gcp-public-gke": {("gke-private-cluster", "models")},
    "gcp-gke-exposed-metadata": {("gke-nodes-hardened", "gpu-pool")},
    "gcp-gke-legacy-abac": {("gke-no-legacy-auth", "models")},
    "gcp-binauthz-allow-all": {("gcp-binauthz-enforced", "admission")},
    "gcp-binauthz-dry-run": {("gcp-binauthz-enforced", "admission")},
    "gcp-unrotated-secret": {("gcp-secret-rotation", "agent-api-key"), ("gcp-secret-cmek", "agent-api-key")},
    "gcp-project-secret-accessor": {("gcp-secret-access-scoped", "agent-reads-secrets")},
    "gcp-unlocked-signatures": {("gcs-signature-retention-locked", "signatures"), ("gcs-model-bucket-immutable", "signatures")},
    "gcp-weak-model-armor": {("gcp-model-armor-template", "prompt-screen")},
    "gcp-unlocked-log-bucket": {("gcp-log-bucket-locked", "audit-logs")},
}


@pytest.mark.control("NB-01", "NB-02", "NB-04", "NB-10", "WP-01", "WP-02", "WP-03", "WP-06", "SC-03", "SC-04", "ST-05", "OB-03",
                     "RI-09", "RI-11", "GR-01", "GR-09")
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_insecure_gcp_program_is_blocked_naming_the_resource(example):
    report = run_gate(GateOptions(program_dir=str(REPO / "examples" / example), stack="dev"))
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert report.zone == "testing"  # blocked even at the most lenient tier
    assert EXAMPLES[example] <= {(v.policy, v.resource_name) for v in report.verdict.blocking}


def test_every_gcp_example_is_tested_and_says_what_blocks_it():
    directories = sorted(p.name for p in (REPO / "examples").glob("gcp-*") if p.is_dir())
    assert directories == sorted(EXAMPLES)
    for example, expected in EXAMPLES.items():
        docstring = ast.get_docstring(ast.parse((REPO / "examples" / example / "__main__.py").read_text())) or ""
        for policy, resource in expected:
            assert f"`{policy}` on `{resource}`" in docstring, example
