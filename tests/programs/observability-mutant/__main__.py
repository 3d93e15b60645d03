"""A production zone's evidence store, model endpoint, guardrail and alerts, with one hardening default turned off,
chosen by config `observability-mutant:mutation` ("none" for the hardened program).

Every mutation must be blocked by the gate: a hardening knob that no policy catches is a bug.
"""

import dataclasses

import pulumi
import pulumi_aws as aws

from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.aws.alerts import SecurityAlerts, SecurityAlertsArgs
from components.aws.evidence_store import EvidenceStore, EvidenceStoreArgs
from components.aws.guardrails import Guardrails, GuardrailsArgs, guardrail_defaults_for_tier
from components.aws.model_endpoint import (
    ClientLimits,
    CognitoJwtAuth,
    IamAuth,
    LambdaJwtAuth,
    ModelEndpoint,
    ModelEndpointArgs,
)
from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs
from components.aws.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.aws.weights import WeightsBucket, WeightsBucketArgs

ZONE, REGION, RETENTION = "production", "us-east-1", 365

EVIDENCE_MUTATIONS = {
    "evidence-short-retention": {"retention_days": 30},
    "evidence-short-log-retention": {"log_retention_days": 30},
    "evidence-slow-key-rotation": {"key_rotation_days": 730},
    "evidence-unwatched-weights": {"watched": "reference-only"},
}
ENDPOINT_MUTATIONS = {
    "public-endpoint": {"allow_public_endpoint": True, "vpc_endpoint_ids": ()},
    "large-request-body": {"max_request_bytes": 64 * 1024},
    "fast-stage-throttle": {"throttle_rate_limit": 5000.0},
    "big-stage-burst": {"throttle_burst_limit": 10_000},
    "loose-waf-rate": {"waf_rate_limit": 100_000},
    "client-unthrottled": {"clients": {"chat": ClientLimits(rate_limit=5000.0, burst_limit=100, daily_quota=100_000)}},
    "client-big-burst": {"clients": {"chat": ClientLimits(rate_limit=20.0, burst_limit=50_000, daily_quota=100_000)}},
    "endpoint-short-log-retention": {"log_retention_days": 30},
    "endpoint-slow-key-rotation": {"key_rotation_days": 730},
}
GUARDRAIL_MUTATIONS = {
    "weak-filters": {"filter_strength": "MEDIUM"},
    "loose-grounding": {"grounding_threshold": 0.5},
    "loose-relevance": {"relevance_threshold": 0.5},
    "guardrail-slow-key-rotation": {"key_rotation_days": 730},
}
ALERT_MUTATIONS = {"alerts-slow-key-rotation": {"key_rotation_days": 730}}
# What a program could add beside the components (the pack judges programs, not just components).
PROGRAM_MUTATIONS = (
    "trail-no-validation", "trail-unencrypted", "trail-single-region", "trail-to-plain-bucket", "evidence-bucket-governance",
    "evidence-log-group-unprotected", "unencrypted-topic", "aws-managed-topic-key", "silent-alarm",
    "unauthenticated-method", "http-api", "stage-without-waf", "unpinned-guardrail",
)
KNOWN = {"none", *EVIDENCE_MUTATIONS, *ENDPOINT_MUTATIONS, *GUARDRAIL_MUTATIONS, *ALERT_MUTATIONS, *PROGRAM_MUTATIONS}

# How callers authenticate (config `observability-mutant:auth`, default iam); every choice must pass the gate.
AUTH = {
    "iam": IamAuth(),
    "cognito": CognitoJwtAuth(user_pool_arns=["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example1"],
                              scopes=["models/invoke"]),
    "lambda": LambdaJwtAuth(function_arn="arn:aws:lambda:us-east-1:123456789012:function:oidc-authorizer",
                            issuer="https://login.example.com/", audience="model-api"),
}

config = pulumi.Config()
mutation = config.require("mutation")
if mutation not in KNOWN:
    raise ValueError(f"observability-mutant:mutation: unknown mutation {mutation!r}")
auth = AUTH[config.get("auth") or "iam"]

network = SegmentedNetwork(
    "prod-network",
    SegmentedNetworkArgs(
        zone=ZONE, region=REGION, cidr_block="10.30.0.0/16", availability_zones=["us-east-1a", "us-east-1b", "us-east-1c"],
        log_retention_days=RETENTION,
        # The execute-api endpoint is created below (SegmentedNetwork does not expose its endpoints' ids yet), so its
        # names are allowed here; AWS service names need no waiver.
        dns_allowed_domains=[f"execute-api.{REGION}.amazonaws.com", f"*.execute-api.{REGION}.amazonaws.com"],
    ),
)
logs = AccessLogBucket("prod-access-logs", AccessLogBucketArgs(zone=ZONE, retention_days=RETENTION))
weights = WeightsBucket(
    "prod-weights",
    WeightsBucketArgs(zone=ZONE, region=REGION, s3_endpoint_id=network.s3_endpoint_id, access_log_bucket=logs.bucket_name),
)
reference = ModelReferenceStore(
    "prod-reference-store",
    ModelReferenceStoreArgs(zone=ZONE, region=REGION, retention_days=RETENTION, access_log_bucket=logs.bucket_name),
)

evidence_changes = dict(EVIDENCE_MUTATIONS.get(mutation, {}))
watched = [reference.bucket_name] if evidence_changes.pop("watched", None) == "reference-only" else [weights.bucket_name, reference.bucket_name]
evidence = EvidenceStore(
    "prod-evidence",
    dataclasses.replace(
        EvidenceStoreArgs(
            zone=ZONE, region=REGION, vpc_id=network.vpc_id, retention_days=RETENTION, log_retention_days=RETENTION,
            access_log_bucket=logs.bucket_name, watched_bucket_names=watched, flow_log_group_name=network.flow_log_group_name,
        ),
        **evidence_changes,
    ),
)
alerts = SecurityAlerts(
    "prod-alerts",
    dataclasses.replace(
        SecurityAlertsArgs(
            zone=ZONE, region=REGION, telemetry_log_group_name=evidence.telemetry_log_group_name,
            findings_log_group_name=evidence.findings_log_group_name,
            subscriptions=[],
        ),
        **ALERT_MUTATIONS.get(mutation, {}),
    ),
)
guardrails = Guardrails(
    "prod-safety",
    dataclasses.replace(GuardrailsArgs(zone=ZONE, **guardrail_defaults_for_tier("high")), **GUARDRAIL_MUTATIONS.get(mutation, {})),
)

# The model server's internal load balancer, and the zone's execute-api endpoint.
balancer = aws.lb.LoadBalancer(
    "model-nlb", internal=True, load_balancer_type="network", subnets=network.subnet_ids,
    security_groups=[network.workload_security_group_id],
)
execute_api = aws.ec2.VpcEndpoint(
    "prod-execute-api-endpoint", vpc_id=network.vpc_id, service_name=f"com.amazonaws.{REGION}.execute-api",
    vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=network.subnet_ids,
    security_group_ids=[network.endpoint_security_group_id],
)
endpoint = ModelEndpoint(
    "prod-endpoint",
    dataclasses.replace(
        ModelEndpointArgs(
            zone=ZONE, region=REGION, target_nlb_arn=balancer.arn, target_url=pulumi.Output.concat("https://", balancer.dns_name),
            vpc_endpoint_ids=[execute_api.id], alarm_topic_arn=alerts.topic_arn,
            clients={"chat": ClientLimits(rate_limit=20.0, burst_limit=40, daily_quota=100_000)},
            log_retention_days=RETENTION, auth=auth,
        ),
        **ENDPOINT_MUTATIONS.get(mutation, {}),
    ),
)

serving_role = aws.iam.Role(
    "serving-role",
    assume_role_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}',
)
evidence.grant_write_telemetry("serving", serving_role)
guardrails.grant_apply("serving", serving_role)

if mutation == "trail-no-validation":
    aws.cloudtrail.Trail("side-trail", s3_bucket_name=evidence.bucket_name, is_multi_region_trail=True, kms_key_id=evidence.kms_key_arn,
                         enable_log_file_validation=False)
elif mutation == "trail-unencrypted":
    aws.cloudtrail.Trail("side-trail", s3_bucket_name=evidence.bucket_name, is_multi_region_trail=True, enable_log_file_validation=True)
elif mutation == "trail-single-region":
    aws.cloudtrail.Trail("side-trail", s3_bucket_name=evidence.bucket_name, is_multi_region_trail=False, kms_key_id=evidence.kms_key_arn,
                         enable_log_file_validation=True)
elif mutation == "trail-to-plain-bucket":
    aws.cloudtrail.Trail("side-trail", s3_bucket_name=logs.bucket_name, is_multi_region_trail=True, kms_key_id=evidence.kms_key_arn,
                         enable_log_file_validation=True)
elif mutation == "evidence-bucket-governance":
    side = aws.s3.Bucket("side-evidence", object_lock_enabled=True, tags={"modelfort:data-class": "evidence"})
    aws.s3.BucketPublicAccessBlock("side-evidence-pab", bucket=side.id, block_public_acls=True, block_public_policy=True,
                                   ignore_public_acls=True, restrict_public_buckets=True)
    aws.s3.BucketObjectLockConfiguration("side-evidence-lock", bucket=side.id, rule={"default_retention": {"mode": "GOVERNANCE", "days": 3650}})
elif mutation == "evidence-log-group-unprotected":
    aws.cloudwatch.LogGroup("side-audit-log", kms_key_id=evidence.kms_key_arn, retention_in_days=RETENTION,
                            tags={"modelfort:data-class": "evidence"})
elif mutation == "unencrypted-topic":
    aws.sns.Topic("side-topic")
elif mutation == "aws-managed-topic-key":
    aws.sns.Topic("side-topic", kms_master_key_id="alias/aws/sns")
elif mutation == "silent-alarm":
    aws.cloudwatch.MetricAlarm("silent-alarm", namespace="AWS/ApiGateway", metric_name="5XXError", statistic="Sum", period=300,
                               evaluation_periods=1, threshold=1, comparison_operator="GreaterThanOrEqualToThreshold")
elif mutation in ("unauthenticated-method", "stage-without-waf"):
    side_api = aws.apigateway.RestApi("side-api", endpoint_configuration={"types": "PRIVATE", "vpc_endpoint_ids": [execute_api.id]})
    path = aws.apigateway.Resource("side-path", rest_api=side_api.id, parent_id=side_api.root_resource_id, path_part="open")
    method = aws.apigateway.Method("open-method", rest_api=side_api.id, resource_id=path.id, http_method="GET",
                                   authorization="NONE" if mutation == "unauthenticated-method" else "AWS_IAM")
    if mutation == "stage-without-waf":
        aws.apigateway.Integration("side-integration", rest_api=side_api.id, resource_id=path.id, http_method=method.http_method, type="MOCK")
        deployment = aws.apigateway.Deployment("side-deployment", rest_api=side_api.id, opts=pulumi.ResourceOptions(depends_on=[method]))
        aws.apigateway.Stage("side-stage", rest_api=side_api.id, deployment=deployment.id, stage_name="v1")
elif mutation == "http-api":
    aws.apigatewayv2.Api("http-api", protocol_type="HTTP")
elif mutation == "unpinned-guardrail":
    aws.bedrock.Guardrail("side-guardrail", blocked_input_messaging="no", blocked_outputs_messaging="no",
                          content_policy_config={"filters_configs": [{"type": "HATE", "input_strength": "HIGH", "output_strength": "HIGH"}]})

pulumi.export("invoke_url", endpoint.invoke_url)
pulumi.export("guardrail_version", guardrails.version)
