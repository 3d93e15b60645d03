"""Mutation tests for the evidence store, model endpoint, guardrail and alerts: turn off one hardening default at a
time; the gate must block every one. And the two plain pulumi-aws examples the gate must block.

A hardening knob that no policy catches is a bug. Every field of every Args class here is either mutated below,
refuses its unsafe values at construction (`SAFE_CHOICES`, each tested), or is not a hardening knob (`NOT_KNOBS`,
each with its reason); `test_every_knob_is_accounted_for` keeps the lists honest.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from components.aws.alerts import SecurityAlertsArgs
from components.aws.evidence_store import EvidenceStoreArgs
from components.aws.guardrails import DeniedTopic, GuardrailsArgs
from components.aws.model_endpoint import ClientLimits, CognitoJwtAuth, LambdaJwtAuth, ModelEndpointArgs
from modelfort.cli import main as modelfort
from modelfort.gate.engine import GateOptions, run_gate

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {"aws:region": "us-east-1", "modelfort:zone": "production"}
PROGRAM = "observability-mutant"

# mutation -> (policy that must block, resource name it must flag)
MUTATIONS = {
    # EvidenceStore
    "evidence-short-retention": ("evidence-bucket-compliance-lock", "prod-evidence-bucket"),
    "evidence-short-log-retention": ("log-group-encrypted-retained", "prod-evidence-telemetry"),
    "evidence-slow-key-rotation": ("kms-key-rotation", "prod-evidence-key"),
    "evidence-unwatched-weights": ("cloudtrail-model-data-events", "prod-weights-bucket"),
    # ModelEndpoint
    "public-endpoint": ("api-private-endpoint", "prod-endpoint-api"),
    "large-request-body": ("api-request-size-limited", "prod-endpoint-stage"),
    "fast-stage-throttle": ("api-throttled", "prod-endpoint-stage"),
    "big-stage-burst": ("api-throttled", "prod-endpoint-stage"),
    "loose-waf-rate": ("api-waf-protected", "prod-endpoint-waf"),
    "client-unthrottled": ("api-throttled", "prod-endpoint-chat-plan"),
    "client-big-burst": ("api-throttled", "prod-endpoint-chat-plan"),
    "endpoint-short-log-retention": ("log-group-encrypted-retained", "prod-endpoint-access-logs"),
    "endpoint-slow-key-rotation": ("kms-key-rotation", "prod-endpoint-logs-key"),
    # Guardrails
    "weak-filters": ("guardrail-content-filters", "prod-safety-guardrail"),
    "loose-grounding": ("guardrail-grounding", "prod-safety-guardrail"),
    "loose-relevance": ("guardrail-grounding", "prod-safety-guardrail"),
    "guardrail-slow-key-rotation": ("kms-key-rotation", "prod-safety-key"),
    # SecurityAlerts
    "alerts-slow-key-rotation": ("kms-key-rotation", "prod-alerts-key"),
    # What a program could add beside the components.
    "trail-no-validation": ("cloudtrail-log-file-validation", "side-trail"),
    "trail-unencrypted": ("cloudtrail-kms-encrypted", "side-trail"),
    "trail-single-region": ("cloudtrail-all-regions", "side-trail"),
    "trail-to-plain-bucket": ("cloudtrail-evidence-bucket", "side-trail"),
    "evidence-bucket-governance": ("evidence-bucket-compliance-lock", "side-evidence"),
    "evidence-log-group-unprotected": ("evidence-log-group-protected", "side-audit-log"),
    "unencrypted-topic": ("sns-topic-encrypted", "side-topic"),
    "aws-managed-topic-key": ("sns-topic-encrypted", "side-topic"),
    "silent-alarm": ("alarm-has-actions", "silent-alarm"),
    "unauthenticated-method": ("api-authenticated", "open-method"),
    "http-api": ("api-private-endpoint", "http-api"),
    "stage-without-waf": ("api-waf-protected", "side-stage"),
    "unpinned-guardrail": ("guardrail-version-pinned", "side-guardrail"),
}

# Args fields mutated above, by class.
MUTATED_KNOBS = {
    EvidenceStoreArgs: {"retention_days": "evidence-short-retention", "log_retention_days": "evidence-short-log-retention",
                        "key_rotation_days": "evidence-slow-key-rotation", "watched_bucket_names": "evidence-unwatched-weights"},
    ModelEndpointArgs: {"allow_public_endpoint": "public-endpoint", "max_request_bytes": "large-request-body",
                        "throttle_rate_limit": "fast-stage-throttle", "throttle_burst_limit": "big-stage-burst",
                        "waf_rate_limit": "loose-waf-rate", "clients": "client-unthrottled",
                        "log_retention_days": "endpoint-short-log-retention", "key_rotation_days": "endpoint-slow-key-rotation"},
    ClientLimits: {"rate_limit": "client-unthrottled", "burst_limit": "client-big-burst"},
    GuardrailsArgs: {"filter_strength": "weak-filters", "grounding_threshold": "loose-grounding",
                     "relevance_threshold": "loose-relevance", "key_rotation_days": "guardrail-slow-key-rotation"},
    SecurityAlertsArgs: {"key_rotation_days": "alerts-slow-key-rotation"},
    CognitoJwtAuth: {},
    LambdaJwtAuth: {},
}


def _endpoint(**changes) -> ModelEndpointArgs:
    base = dict(zone="production", region="us-east-1", target_nlb_arn="arn:nlb", target_url="https://m", vpc_endpoint_ids=["vpce-1"],
                alarm_topic_arn="arn:sns", clients={"c": ClientLimits(rate_limit=1, burst_limit=1, daily_quota=1)}, log_retention_days=365)
    return ModelEndpointArgs(**{**base, **changes})


# Knobs whose every accepted value is safe: the unsafe values raise at construction (each lambda must raise).
SAFE_CHOICES = {
    ModelEndpointArgs: {
        "auth": lambda: _endpoint(auth=None),
        "integration_timeout_ms": lambda: _endpoint(integration_timeout_ms=120_000),
        "request_schema": lambda: _endpoint(request_schema={"type": "string"}),
    },
    GuardrailsArgs: {"pii_action": lambda: GuardrailsArgs(zone="z", pii_action="NONE")},
    ClientLimits: {"daily_quota": lambda: ClientLimits(rate_limit=1, burst_limit=1, daily_quota=0)},
    LambdaJwtAuth: {
        "issuer": lambda: LambdaJwtAuth(function_arn="arn", issuer="http://idp", audience="a"),
        "audience": lambda: LambdaJwtAuth(function_arn="arn", issuer="https://idp", audience=""),
        "result_ttl_seconds": lambda: LambdaJwtAuth(function_arn="arn", issuer="https://idp", audience="a", result_ttl_seconds=86_400),
    },
    CognitoJwtAuth: {"user_pool_arns": lambda: CognitoJwtAuth(user_pool_arns=[])},
    SecurityAlertsArgs: {},
    EvidenceStoreArgs: {},
}

# Not hardening knobs: identity, wiring, API shape, who gets paged, or lists that can only add protection.
NOT_KNOBS = {
    "zone", "region", "tags", "kms_key_arn",
    # wiring to other components
    "vpc_id", "access_log_bucket", "flow_log_group_name", "target_nlb_arn", "target_url", "vpc_endpoint_ids", "alarm_topic_arn",
    "telemetry_log_group_name", "findings_log_group_name", "function_arn",
    # the API's shape (what is served, not how it is guarded)
    "paths", "stage_name", "upstream_paths",
    # the header the guard reads the principal from: leaving it unset sends none, and the guard then refuses every
    # request (401), so no value weakens anything
    "principal_header",
    # who is paged: subscriptions may be managed out of band (AWS Chatbot, PagerDuty), so the pack cannot judge them
    "subscriptions",
    # only add protection: extra topics and words on top of the defaults, which cannot be removed
    "extra_denied_topics", "denied_words", "scopes",
    # what a refused caller reads
    "blocked_input_message", "blocked_output_message",
}


def _gate(program, mutation: str, extra: dict | None = None):
    directory = program(PROGRAM, config={**PRODUCTION, f"{PROGRAM}:mutation": mutation, **(extra or {})})
    return run_gate(GateOptions(program_dir=str(directory), stack="test"))


@pytest.mark.control("OB-03", "NB-05", "NB-06", "GR-09")
@pytest.mark.parametrize("auth", ["iam", "cognito", "lambda"])
def test_the_unmutated_program_passes_with_every_auth_choice(program, auth):
    report = _gate(program, "none", {f"{PROGRAM}:auth": auth})
    assert report.error is None, report.error
    assert report.exit_code == 0, [(v.policy, v.resource_name, v.message) for v in report.verdict.blocking]


@pytest.mark.control("OB-01", "OB-03", "OB-05", "OB-06", "OB-07", "OB-08", "NB-05", "NB-06", "NB-07", "NB-08", "RC-05",
                     "GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-06", "GR-07", "GR-08", "GR-09", "RC-04")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_is_blocked(program, mutation):
    policy, resource = MUTATIONS[mutation]
    report = _gate(program, mutation)
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert (policy, resource) in {(v.policy, v.resource_name) for v in report.verdict.blocking}, report.verdict.blocking


def test_a_waiver_lets_exactly_the_public_endpoint_through(program):
    waiver = {
        "policy": "api-private-endpoint",
        "resource": f"urn:pulumi:test::{PROGRAM}::*::prod-endpoint-api",
        "reason": "Partner demo endpoint reached from the internet (SEC-2210).",
        "owner": "platform-leads@example.com",
        "expires": "2027-06-30",
    }
    waived = _gate(program, "public-endpoint", {"modelfort:waivers": [waiver]})
    assert waived.exit_code == 0, [(v.policy, v.resource_name) for v in waived.verdict.blocking]
    assert _gate(program, "http-api", {"modelfort:waivers": [waiver]}).exit_code == 1


@pytest.mark.parametrize("args_class", sorted(MUTATED_KNOBS, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_knob_is_accounted_for(args_class):
    fields = {f.name for f in dataclasses.fields(args_class)}
    mutated, safe = MUTATED_KNOBS[args_class], SAFE_CHOICES[args_class]
    unaccounted = fields - NOT_KNOBS - set(mutated) - set(safe)
    assert not unaccounted, f"{args_class.__name__}: add a mutation (or a construction-time refusal) for {sorted(unaccounted)}"
    assert not (set(mutated) | set(safe)) & NOT_KNOBS
    assert set(mutated.values()) <= set(MUTATIONS)


@pytest.mark.parametrize(
    "args_class,knob", [(cls, knob) for cls, knobs in SAFE_CHOICES.items() for knob in knobs], ids=lambda v: getattr(v, "__name__", v),
)
def test_safe_choices_refuse_their_unsafe_values_naming_the_arg(args_class, knob):
    with pytest.raises(ValueError, match=knob):
        SAFE_CHOICES[args_class][knob]()


def test_the_extend_only_lists_cannot_remove_protection():
    # Extra topics and words are added to the defaults; a topic cannot replace a default one under the same name.
    with pytest.raises(ValueError, match="extra_denied_topics"):
        GuardrailsArgs(zone="z", extra_denied_topics=[DeniedTopic(name="Self-harm", definition="nothing", examples=("x",))])


@pytest.mark.control("OB-03")
def test_a_trail_without_log_file_validation_is_blocked(capsys):
    exit_code = modelfort(["gate", str(REPO / "examples" / "trail-without-validation"), "--stack", "dev"])
    out = capsys.readouterr().out
    assert exit_code == 1
    assert "cloudtrail-log-file-validation" in out and "audit-trail" in out


@pytest.mark.control("GR-06", "RC-03")
def test_a_guardrail_missing_a_domain_is_blocked(capsys):
    exit_code = modelfort(["gate", str(REPO / "examples" / "guardrail-missing-domain"), "--stack", "dev"])
    out = capsys.readouterr().out
    assert exit_code == 1
    assert "guardrail-denied-topics" in out and "assistant-guardrail" in out
    assert "medical guidance" in out and "legal guidance" in out


@pytest.mark.parametrize(
    "example,policy,resource",
    [("trail-without-validation", "cloudtrail-log-file-validation", "audit-trail"),
     ("guardrail-missing-domain", "guardrail-denied-topics", "assistant-guardrail")],
)
def test_each_example_is_blocked_for_its_one_mistake_only(example, policy, resource):
    report = run_gate(GateOptions(program_dir=str(REPO / "examples" / example), stack="dev"))
    assert report.error is None, report.error
    assert {(v.policy, v.resource_name) for v in report.verdict.blocking} == {(policy, resource)}
