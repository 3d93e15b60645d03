"""Mutation tests for secrets and supply-chain trust: turn off one hardening default at a time (tests/programs/
secrets-mutant); the gate must block every one. A hardening knob that no policy catches is a bug, so the "every knob
is mutated" tests below fail when an Args dataclass grows a field nobody decided about."""

from __future__ import annotations

import dataclasses

import pytest

from components.aws.credential_janitor import CredentialJanitorArgs
from components.aws.image_trust import ImageTrustArgs
from components.aws.secrets import RotatedSecretArgs
from components.k8s.image_admission import ImageAdmissionArgs
from modelfort.gate.engine import GateOptions, run_gate

PRODUCTION = {"aws:region": "us-east-1", "modelfort:zone": "production"}

# mutation -> (policy that must block, resource name it must flag)
MUTATIONS = {
    # RotatedSecret
    "rotation-slower-than-tier": ("secret-rotation-within-tier", "prod-agent-token-rotation-schedule"),
    "rotation-short-log-retention": ("log-group-encrypted-retained", "prod-agent-token-rotation-logs"),
    "secret-slow-key-rotation": ("kms-key-rotation", "prod-agent-token-key"),
    "rotation-no-subnets": ("rotation-function-in-vpc", "prod-agent-token-rotation"),
    # CredentialJanitor
    "janitor-dry-run": ("credential-janitor-enforcing", "prod-janitor-function"),
    "janitor-idle-limit": ("credential-janitor-enforcing", "prod-janitor-function"),
    "janitor-short-log-retention": ("log-group-encrypted-retained", "prod-janitor-logs"),
    "janitor-slow-key-rotation": ("kms-key-rotation", "prod-janitor-logs-key"),
    # ImageTrust
    "ecr-mutable-tags": ("ecr-immutable-tags", "prod-images-model-server"),
    "registry-scanning-unmanaged": ("ecr-registry-scanning-enhanced", "prod-images-model-server"),
    "images-slow-key-rotation": ("kms-key-rotation", "prod-images-key"),
    # ImageAdmission
    "admission-audit-only": ("kyverno-verify-images-enforced", "prod-admission-verify-images"),
    # What a program could write without the components
    "secret-aws-managed-key": ("secret-customer-key", "plain-secret"),
    "secret-not-rotated": ("secret-rotation-within-tier", "unrotated"),
    "secret-rotation-cron-monthly": ("secret-rotation-within-tier", "monthly-rotation"),
    "rotation-lambda-outside-vpc": ("rotation-function-in-vpc", "raw-rotation"),
    "public-secret-policy": ("secret-policy-not-public", "open-secret-policy"),
    "secret-force-delete": ("secret-recoverable-deletion", "doomed-secret"),
    "credential-in-function-env": ("no-credentials-in-function-env", "leaky-function"),
    "credential-in-stack-config": ("no-credentials-in-stack-config", "secrets-mutant-test"),
    "janitor-weekly-schedule": ("credential-janitor-scheduled", "raw-janitor"),
    "ecr-no-scan-on-push": ("ecr-scan-on-push", "unscanned-repo"),
    "ecr-aes256": ("ecr-customer-key", "aes-repo"),
    "registry-scanning-basic": ("ecr-registry-scanning-enhanced", "basic-scanning"),
    "kyverno-failure-ignore": ("kyverno-verify-images-enforced", "lenient-policy"),
    "kyverno-not-required": ("kyverno-verify-images-enforced", "optional-signatures"),
    "kyverno-force-ignore": ("kyverno-fail-closed", "raw-kyverno"),
    "kyverno-old-chart": ("kyverno-fail-closed", "old-kyverno"),
}
CONTROLS_BY_POLICY = {
    "secret-rotation-within-tier": "SC-04", "rotation-function-in-vpc": "SC-04", "secret-customer-key": "SC-03",
    "secret-policy-not-public": "SC-03", "secret-recoverable-deletion": "SC-03", "credential-janitor-enforcing": "SC-05",
    "credential-janitor-scheduled": "SC-05", "no-credentials-in-function-env": "SC-02", "no-credentials-in-stack-config": "SC-01",
    "ecr-immutable-tags": "ST-05", "ecr-scan-on-push": "DP-01", "ecr-customer-key": "ST-05", "ecr-registry-scanning-enhanced": "DP-01",
    "kyverno-verify-images-enforced": "ST-05", "kyverno-fail-closed": "ST-07",
    # Shared rules that also guard these components' keys and logs.
    "kms-key-rotation": "WP-01", "log-group-encrypted-retained": "OB-03",
}
# Plain-text credentials the stack-config mutation adds (fake, but shaped like the real thing).
LEAKED_CONFIG = {
    "secrets-mutant:hfToken": "hf_EXAMPLEonlyNOTaREALtokenABCDEFGHIJKLMNOP",
    "secrets-mutant:searchApi": {"endpoint": "https://search.example.com", "apiKey": "9fK2xQ7pLm4Vt8Rz1Wb6Yc3Nd5Hg0Js"},
}

# Arguments that are not hardening knobs, each with the reason it needs no mutation.
NOT_KNOBS = {
    "zone", "region", "tags", "labels",  # identity
    "kms_key_arn",  # bring-your-own: the key is judged by kms-key-rotation wherever it is declared
    "token_kind", "description",  # what the token is for
    "security_group_ids",  # wiring; an empty list is refused at construction, subnets carry the VPC mutation
    "reader_role_arns", "service_account_role_arn", "signing_key_arn",  # who may do what
    "alarm_actions",  # required and non-empty at construction; alarm-has-actions guards alarms written by hand
    "secrets_manager_endpoint",  # only https:// is accepted at construction, and it is the same endpoint either way
    "recovery_window_days",  # every value the runtime accepts (7-30) still lets an owner restore the secret
    "repositories", "repository_prefix", "keep_images", "untagged_expiry_days",  # inventory and lifecycle sizing
    "model_namespaces", "namespace", "image_registry",  # where things live
    "admission_replicas", "webhook_timeout_seconds",  # availability; both stay fail-closed whatever their value
}


def gate(program, mutation: str, extra: dict | None = None):
    config = {**PRODUCTION, "secrets-mutant:mutation": mutation, **(extra or {})}
    if mutation == "credential-in-stack-config":
        config.update(LEAKED_CONFIG)
    return run_gate(GateOptions(program_dir=str(program("secrets-mutant", config=config)), stack="test"))


def test_the_unmutated_program_passes(program):
    report = gate(program, "none")
    assert report.error is None, report.error
    assert report.exit_code == 0, [(v.policy, v.resource_name, v.message) for v in report.verdict.blocking]
    assert report.verdict.advisory == [], "the hardened plan should not even raise advisories"


@pytest.mark.control("SC-01", "SC-02", "SC-03", "SC-04", "SC-05", "ST-05", "ST-07", "DP-01")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_is_blocked(program, mutation):
    policy, resource = MUTATIONS[mutation]
    report = gate(program, mutation)
    assert report.error is None, report.error
    assert report.exit_code == 1
    blocking = {(v.policy, v.resource_name): v for v in report.verdict.blocking}
    assert (policy, resource) in blocking, sorted(blocking)
    assert CONTROLS_BY_POLICY[policy] in blocking[(policy, resource)].controls


@pytest.mark.control("SC-01")
def test_a_leaked_credential_is_named_by_key_but_never_echoed(program):
    report = gate(program, "credential-in-stack-config")
    messages = [v.message for v in report.verdict.blocking if v.policy == "no-credentials-in-stack-config"]
    assert len(messages) == 2
    assert any("'secrets-mutant:hfToken' holds a Hugging Face token" in m for m in messages)
    assert any("'secrets-mutant:searchApi.apiKey' holds a high-entropy value" in m for m in messages)
    for secret in ("hf_EXAMPLEonlyNOTaREALtokenABCDEFGHIJKLMNOP", "9fK2xQ7pLm4Vt8Rz1Wb6Yc3Nd5Hg0Js"):
        assert not any(secret in v.message for v in report.verdict.violations)


@pytest.mark.control("SC-05")
def test_a_waiver_lets_exactly_the_waived_dry_run_through(program):
    waiver = {
        "policy": "credential-janitor-enforcing",
        "resource": "urn:pulumi:test::secrets-mutant::*::prod-janitor-function",
        "reason": "First week in this account: observe what the janitor would revoke (SEC-2211).",
        "owner": "platform-security@example.com",
        "expires": "2027-06-30",
    }
    waived = gate(program, "janitor-dry-run", {"modelfort:waivers": [waiver]})
    assert waived.exit_code == 0, [(v.policy, v.resource_name) for v in waived.verdict.blocking]
    # The same waiver does not cover raising the idle limit (another message on the same policy and resource would
    # be waived too, which is why waivers are short-lived and reviewed), nor any other resource.
    other = gate(program, "janitor-weekly-schedule", {"modelfort:waivers": [waiver]})
    assert other.exit_code == 1


@pytest.mark.parametrize(
    "args_class,mutated",
    [
        (RotatedSecretArgs, {
            "rotation_days": "rotation-slower-than-tier", "log_retention_days": "rotation-short-log-retention",
            "key_rotation_days": "secret-slow-key-rotation", "subnet_ids": "rotation-no-subnets",
        }),
        (CredentialJanitorArgs, {
            "dry_run": "janitor-dry-run", "max_idle_days": "janitor-idle-limit", "log_retention_days": "janitor-short-log-retention",
            "key_rotation_days": "janitor-slow-key-rotation",
            # The component refuses a schedule slower than daily at construction; the mutation writes one by hand.
            "schedule_expression": "janitor-weekly-schedule",
        }),
        (ImageTrustArgs, {
            "allow_mutable_tags": "ecr-mutable-tags", "manage_registry_scanning": "registry-scanning-unmanaged",
            "key_rotation_days": "images-slow-key-rotation",
        }),
        (ImageAdmissionArgs, {
            "audit_only": "admission-audit-only",
            # The component refuses a chart older than 3.4.0 and inexact versions; the mutation installs one by hand.
            "chart_version": "kyverno-old-chart",
        }),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_every_knob_is_mutated(args_class, mutated):
    knobs = {f.name for f in dataclasses.fields(args_class)} - NOT_KNOBS
    assert knobs == set(mutated), f"add a mutation for: {sorted(knobs - set(mutated))}"
    assert set(mutated.values()) <= set(MUTATIONS)
