"""Mutation tests: turn off one hardening default at a time; the gate must block every one.

A hardening knob that no policy catches is a bug. The list of knobs comes from the component's own escape hatches
plus what a program could add beside it; `test_every_escape_hatch_is_mutated` keeps the list honest.
"""

from __future__ import annotations

import dataclasses

import pytest

from components.aws.access_logs import AccessLogBucketArgs
from components.aws.gpu_cluster import GpuClusterArgs
from components.aws.gpu_node_pool import GpuNodePoolArgs
from components.aws.network import SegmentedNetworkArgs
from components.aws.reference_store import ModelReferenceStoreArgs
from components.aws.telemetry_shipping import TelemetryShippingArgs
from components.aws.weights import WeightsBucketArgs
from modelfort.gate.engine import GateOptions, run_gate

PRODUCTION = {"aws:region": "us-east-1", "modelfort:zone": "production"}

# mutation -> (policy that must block, resource name it must flag)
MUTATIONS = {
    "dns-fail-open": ("dns-firewall-fail-closed", "prod-network-vpc"),
    "no-flow-logs": ("vpc-flow-logs", "prod-network-vpc"),
    "egress-allowlist": ("sg-rule-outside-zone", "prod-network-workload-sg"),
    "extra-dns-domain": ("dns-allowlist-aws-only", "prod-network-dns-allowed"),
    "endpoint-admits-other-zone": ("sg-rule-outside-zone", "prod-network-endpoint-sg"),
    "short-log-retention": ("vpc-flow-logs", "prod-network-flow-logs"),
    "slow-key-rotation": ("kms-key-rotation", "prod-network-logs-key"),
    "internet-gateway": ("no-internet-gateway", "igw"),
    "open-security-group": ("sg-egress-open-internet", "open-sg"),
    "open-egress-rule-v6": ("sg-egress-open-internet", "open-v6"),
    "open-nacl-rule": ("nacl-egress-open-internet", "open-nacl"),
    "public-subnet": ("subnet-private", "public"),
    "peering": ("no-cross-zone-link", "to-testing"),
    "transit-gateway": ("no-cross-zone-link", "tgw"),
    "bare-vpc": ("default-security-group-closed", "shadow-vpc"),
    "endpoint-without-private-dns": ("interface-endpoint-private", "sagemaker"),
    "weights-outside-endpoint": ("weights-bucket-endpoint-only", "prod-weights-bucket"),
    "weights-slow-key-rotation": ("kms-key-rotation", "prod-weights-key"),
    "short-signature-retention": ("reference-store-compliance-lock", "prod-reference-store-bucket"),
    "reference-slow-key-rotation": ("kms-key-rotation", "prod-reference-store-bucket-key"),
    "website": ("s3-no-website", "weights-site"),
    "public-acl": ("s3-no-public-grants", "weights-acl"),
    "public-bucket-policy": ("s3-no-public-grants", "open-policy"),
    "unprotected-bucket": ("s3-public-access-blocked", "scratch"),
    "weights-bucket-bare": ("model-bucket-encrypted", "side-weights"),
    "short-access-log-retention": ("access-log-retention", "prod-access-logs-bucket"),
    "public-cluster-endpoint": ("eks-private-endpoint", "prod-gpu-cluster"),
    "creator-admin": ("eks-no-implicit-admin", "prod-gpu-cluster"),
    "short-control-plane-logs": ("log-group-encrypted-retained", "prod-gpu-control-plane-logs"),
    "cluster-slow-key-rotation": ("kms-key-rotation", "prod-gpu-key"),
    "imds-hop-limit-2": ("launch-template-hardened", "prod-gpu-nodes-launch-template"),
    "ssh-node-group": ("eks-node-group-hardened", "ssh-nodes"),
    "untainted-gpu-nodes": ("eks-node-group-hardened", "bare-gpu-nodes"),
    "imdsv1-template": ("launch-template-hardened", "legacy-template"),
    "unencrypted-log-group": ("log-group-encrypted-retained", "app-logs"),
    "open-s3-endpoint": ("gateway-endpoint-policy-scoped", "side-door"),
    "unencrypted-detection-stream": ("kinesis-stream-encrypted", "caller-events"),
    "aws-managed-stream-key": ("kinesis-stream-encrypted", "caller-events-managed"),
    "unencrypted-state-table": ("dynamodb-table-encrypted", "caller-state"),
    "aws-managed-state-key": ("dynamodb-table-encrypted", "caller-state-managed"),
    "shipping-short-log-retention": ("log-group-encrypted-retained", "prod-telemetry-shipping-diagnostics"),
    "telemetry-default-agent": ("eks-telemetry-shipped-guard-only", "cloudwatch-agent"),
    "telemetry-ships-every-container": ("eks-telemetry-shipped-guard-only", "every-container-agent"),
}

# Arguments that are not hardening knobs (identity, wiring, sizing, who may do what), so need no mutation.
NOT_KNOBS = {
    "zone", "region", "cidr_block", "availability_zones", "tags", "interface_services", "kms_key_arn",
    "s3_endpoint_id", "access_log_bucket", "publisher_role_arns", "publisher_principals", "reader_principals",
    "vpc_id", "subnet_ids", "vpc_cidr", "kubernetes_version", "admin_role_arns", "cluster_name",
    "node_security_group_id", "instance_types", "ami_type", "min_size", "desired_size", "max_size", "disk_gib",
    # TelemetryShipping: wiring to the cluster, the evidence store, the on-call topic and the API; the pods' namespace
    # (a wrong one is caught by eks-guard-telemetry-leaves-the-node); the delivery alarm's patience, bounded to an
    # hour at construction.
    "oidc_provider_arn", "oidc_issuer", "telemetry_log_group_name", "telemetry_log_group_arn", "alarm_topic_arn",
    "namespace", "api_name", "api_stage", "silent_delivery_periods",
}


def test_the_unmutated_program_passes(program):
    directory = program("mutant", config={**PRODUCTION, "mutant:mutation": "none"})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.exit_code == 0, [v.message for v in report.verdict.blocking]


@pytest.mark.control("NB-01", "NB-02", "NB-03", "NB-04", "NB-09", "NB-10", "WP-01", "OB-03")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_is_blocked(program, mutation):
    policy, resource = MUTATIONS[mutation]
    directory = program("mutant", config={**PRODUCTION, "mutant:mutation": mutation})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert (policy, resource) in {(v.policy, v.resource_name) for v in report.verdict.blocking}, report.verdict.blocking


def test_a_waiver_lets_exactly_the_waived_hatch_through(program):
    waiver = {
        "policy": "sg-rule-outside-zone",
        "resource": "urn:pulumi:test::mutant::*::prod-network-workload-sg",
        "reason": "Red-team lab range reached over HTTPS (SEC-1042).",
        "owner": "redteam-leads@example.com",
        "expires": "2027-06-30",
    }
    waived = program("mutant", config={**PRODUCTION, "mutant:mutation": "egress-allowlist", "modelfort:waivers": [waiver]})
    assert run_gate(GateOptions(program_dir=str(waived), stack="test")).exit_code == 0
    # The same waiver does not cover a different hatch on a different resource.
    other = program("mutant", config={**PRODUCTION, "mutant:mutation": "endpoint-admits-other-zone", "modelfort:waivers": [waiver]})
    report = run_gate(GateOptions(program_dir=str(other), stack="test"))
    assert report.exit_code == 1


@pytest.mark.parametrize(
    "args_class,mutated",
    [
        (WeightsBucketArgs, {"allow_access_outside_vpc_endpoint": "weights-outside-endpoint", "key_rotation_days": "weights-slow-key-rotation"}),
        (ModelReferenceStoreArgs, {"retention_days": "short-signature-retention", "key_rotation_days": "reference-slow-key-rotation"}),
        (AccessLogBucketArgs, {"retention_days": "short-access-log-retention"}),
        (GpuClusterArgs, {"allow_public_endpoint": "public-cluster-endpoint", "grant_creator_admin": "creator-admin",
                          "log_retention_days": "short-control-plane-logs", "key_rotation_days": "cluster-slow-key-rotation"}),
        (GpuNodePoolArgs, {"imds_hop_limit": "imds-hop-limit-2"}),
        (TelemetryShippingArgs, {"log_retention_days": "shipping-short-log-retention"}),
    ],
)
def test_every_component_knob_is_mutated(args_class, mutated):
    knobs = {f.name for f in dataclasses.fields(args_class)} - NOT_KNOBS
    assert knobs == set(mutated), f"add a mutation for: {sorted(knobs - set(mutated))}"
    assert set(mutated.values()) <= set(MUTATIONS)


def test_every_escape_hatch_is_mutated():
    knobs = {f.name for f in dataclasses.fields(SegmentedNetworkArgs)} - NOT_KNOBS
    mutated = {
        "allow_dns_firewall_fail_open": "dns-fail-open",
        "enable_flow_logs": "no-flow-logs",
        "egress_allowlist_cidrs": "egress-allowlist",
        "dns_allowed_domains": "extra-dns-domain",
        "endpoint_allowed_cidrs": "endpoint-admits-other-zone",
        "log_retention_days": "short-log-retention",
        "key_rotation_days": "slow-key-rotation",
    }
    assert knobs == set(mutated), f"add a mutation for: {sorted(knobs - set(mutated))}"
    assert set(mutated.values()) <= set(MUTATIONS)
