"""ModelEndpoint under mocks: private, authenticated, throttled per stage and per client, size-limited, behind a logged
WAF, access-logged as JSON, and watched by alarms that page on-call."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from components.aws.model_endpoint import (
    ACCESS_LOG_FORMAT,
    DEFAULT_MAX_REQUEST_BYTES,
    ENDPOINT_ALARMS,
    MANAGED_RULE_GROUPS,
    ClientLimits,
    CognitoJwtAuth,
    IamAuth,
    LambdaJwtAuth,
    ModelEndpointArgs,
    inspection_limit,
)
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project
from modelfort_policy.rules.endpoint import MAX_REQUEST_BYTES_BY_TIER, MAX_STAGE_BURST, MAX_STAGE_RATE, MAX_WAF_RATE_PER_5_MIN

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "observability-mutant"


def run(auth: str) -> list[dict]:
    project = read_project(str(PROGRAM))
    config = {"aws:region": "us-east-1", "observability-mutant:mutation": "none", "observability-mutant:auth": auth}
    result = run_program_under_mocks(project, StackFile(stack="test", path=None, config=config))
    assert result["error"] is None, result["error"]
    return result["resources"]


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return run("iam")


def named(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match["properties"]


def record(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match


def statements(document: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(document)["Statement"]}


@pytest.mark.control("NB-05", "NB-09")
def test_the_api_is_private_to_the_zones_execute_api_endpoint(resources):
    api = named(resources, "prod-endpoint-api")
    endpoint_id = record(resources, "prod-execute-api-endpoint")["id"]
    assert api["endpointConfiguration"] == {"types": "PRIVATE", "vpcEndpointIds": [endpoint_id]}
    policy = statements(api["policy"])
    assert policy["DenyOutsideZoneEndpoint"]["Condition"] == {"StringNotEquals": {"aws:SourceVpce": [endpoint_id]}}
    # IAM authentication: principals of other accounts are refused even when they sign correctly.
    assert policy["DenyPrincipalsOfOtherAccounts"]["Condition"] == {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}
    assert api["apiKeySource"] == "HEADER"


@pytest.mark.control("NB-05", "NB-06", "NB-07", "RC-05", "RC-10")
def test_the_only_route_is_an_authenticated_keyed_validated_post_to_the_model_over_tls(resources):
    methods = [r["properties"] for r in resources if r["type"] == "aws:apigateway/method:Method"]
    assert len(methods) == 1
    (method,) = methods
    assert method["httpMethod"] == "POST"
    assert method["authorization"] == "AWS_IAM"
    assert method["apiKeyRequired"] is True
    assert method["requestValidatorId"] == record(resources, "prod-endpoint-validator")["id"]
    assert method["requestModels"] == {"application/json": "InferenceRequest"}
    validator = named(resources, "prod-endpoint-validator")
    assert validator["validateRequestBody"] is True and validator["validateRequestParameters"] is True
    schema = json.loads(named(resources, "prod-endpoint-request-model")["schema"])
    assert schema["additionalProperties"] is False and schema["properties"]["max_tokens"]["maximum"] == 4096
    integration = named(resources, "prod-endpoint-invoke-integration")
    assert (integration["type"], integration["connectionType"]) == ("HTTP_PROXY", "VPC_LINK")
    assert re.fullmatch(r"https://model-nlb-[0-9a-f]+-[0-9a-f]+\.elb\.us-east-1\.amazonaws\.com/invoke", integration["uri"])
    assert integration["timeoutMilliseconds"] == 29_000
    assert integration["tlsConfig"] == {"insecureSkipVerification": False}
    assert integration["passthroughBehavior"] == "NEVER"
    assert named(resources, "prod-endpoint-vpc-link")["targetArn"].startswith("arn:aws:elasticloadbalancing:")


@pytest.mark.control("NB-07")
def test_the_stage_and_each_client_are_throttled_and_nothing_is_cached_or_traced(resources):
    settings = named(resources, "prod-endpoint-stage-settings")
    assert settings["methodPath"] == "*/*"
    assert settings["settings"] == {
        "throttlingRateLimit": 50, "throttlingBurstLimit": 100, "metricsEnabled": True,
        "loggingLevel": "OFF", "dataTraceEnabled": False, "cachingEnabled": False,
    }
    plan = named(resources, "prod-endpoint-chat-plan")
    assert plan["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert plan["quotaSettings"] == {"limit": 100_000, "period": "DAY"}
    assert plan["apiStages"] == [{"apiId": record(resources, "prod-endpoint-api")["id"], "stage": "v1"}]
    plan_key = named(resources, "prod-endpoint-chat-plan-key")
    assert plan_key["keyId"] == record(resources, "prod-endpoint-chat-key")["id"]
    assert "value" not in named(resources, "prod-endpoint-chat-key")  # generated by API Gateway, never in the program


@pytest.mark.control("NB-07", "NB-08", "RC-05")
def test_waf_blocks_oversized_bodies_floods_and_known_bad_input_and_logs_without_credentials(resources):
    acl = named(resources, "prod-endpoint-waf")
    assert acl["scope"] == "REGIONAL" and acl["defaultAction"] == {"allow": {}}
    rules = {r["name"]: r for r in acl["rules"]}
    size = rules["request-body-size"]
    assert size["action"] == {"block": {}}
    assert size["statement"]["sizeConstraintStatement"] == {
        "comparisonOperator": "GT", "size": DEFAULT_MAX_REQUEST_BYTES,
        "fieldToMatch": {"body": {"oversizeHandling": "MATCH"}}, "textTransformations": [{"priority": 0, "type": "NONE"}],
    }
    assert acl["associationConfig"] == {"requestBodies": [{"apiGateway": {"defaultSizeInspectionLimit": "KB_32"}}]}
    rate = rules["rate-per-source-ip"]
    assert rate["action"] == {"block": {}}
    assert rate["statement"]["rateBasedStatement"] == {"limit": 3000, "aggregateKeyType": "IP", "evaluationWindowSec": 300}
    for group in MANAGED_RULE_GROUPS:
        assert rules[group]["overrideAction"] == {"none": {}}
        assert rules[group]["statement"]["managedRuleGroupStatement"]["vendorName"] == "AWS"
    # Only the common rule set's fixed 8 KiB body rule counts; our own size rule replaces it.
    overrides = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"]
    assert overrides == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert all(r["visibilityConfig"]["cloudwatchMetricsEnabled"] for r in acl["rules"])
    association = named(resources, "prod-endpoint-waf-association")
    api_id = record(resources, "prod-endpoint-api")["id"]
    assert association["resourceArn"] == f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/v1"
    logging = named(resources, "prod-endpoint-waf-logging")
    assert logging["logDestinationConfigs"] == ["arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-modelfort-production-prod-endpoint"]
    assert {f["singleHeader"]["name"] for f in logging["redactedFields"]} == {"authorization", "x-api-key"}


@pytest.mark.control("OB-01", "OB-02", "OB-03")
def test_access_logs_are_one_json_object_per_request_in_an_encrypted_retained_group(resources):
    stage = named(resources, "prod-endpoint-stage")
    assert stage["xrayTracingEnabled"] is True
    assert stage["accessLogSettings"]["destinationArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/modelfort/production/api/prod-endpoint/access"
    fields = json.loads(stage["accessLogSettings"]["format"])
    # Joinable with the telemetry event of the same request.
    assert fields["request_id"] == "$context.requestId" and fields["latency_ms"] == "$context.responseLatency"
    assert {"caller_arn", "principal_id", "api_key_id", "error_type", "waf_response", "vpce_id"} <= set(fields)
    for role in ("access-logs", "waf-logs"):
        group = named(resources, f"prod-endpoint-{role}")
        assert group["kmsKeyId"].startswith("arn:aws:kms:")
        assert group["retentionInDays"] == 365 and group["deletionProtectionEnabled"] is True
    key = statements(named(resources, "prod-endpoint-logs-key")["policy"])["CloudWatchLogsOfThisEndpointOnly"]
    assert sorted(key["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/modelfort/production/api/prod-endpoint/access",
        "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-modelfort-production-prod-endpoint",
    ]


@pytest.mark.control("NB-05", "NB-06", "NB-07", "NB-08")
def test_alarms_watch_errors_latency_auth_failures_throttling_and_waf_blocks_and_page_on_call(resources):
    topic = next(r for r in resources if r["type"] == "aws:sns/topic:Topic")["properties"]["name"]
    topic_arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
    alarms = {r["name"]: r["properties"] for r in resources
              if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm" and r["name"].startswith("prod-endpoint-")}
    assert set(alarms) == {f"prod-endpoint-{a.name}" for a in ENDPOINT_ALARMS}
    for alarm in alarms.values():
        assert alarm["alarmActions"] == [topic_arn] and alarm["okActions"] == [topic_arn]
    for name in ("4xx-anomaly", "latency-anomaly"):
        queries = {q["id"]: q for q in alarms[f"prod-endpoint-{name}"]["metricQueries"]}
        assert queries["band"]["expression"] == "ANOMALY_DETECTION_BAND(m1, 3)"
        assert alarms[f"prod-endpoint-{name}"]["thresholdMetricId"] == "band"
    assert alarms["prod-endpoint-latency-anomaly"]["metricQueries"][0]["metric"]["stat"] == "p99"
    waf = alarms["prod-endpoint-waf-blocks"]
    assert (waf["namespace"], waf["metricName"]) == ("AWS/WAFV2", "BlockedRequests")
    assert waf["dimensions"] == {"WebACL": "modelfort-production-prod-endpoint", "Region": "us-east-1", "Rule": "ALL"}
    assert alarms["prod-endpoint-auth-failures"]["dimensions"] == {"ApiId": record(resources, "prod-endpoint-api")["id"]}


@pytest.mark.control("NB-05", "OB-02")
def test_auth_failures_and_throttling_are_counted_from_the_access_log_fields(resources):
    fields = json.loads(ACCESS_LOG_FORMAT)
    filters = {r["name"]: r["properties"] for r in resources if r["type"] == "aws:cloudwatch/logMetricFilter:LogMetricFilter"
               and r["name"].startswith("prod-endpoint-")}
    assert set(filters) == {"prod-endpoint-apiauthfailures-filter", "prod-endpoint-apithrottled-filter"}
    for metric_filter in filters.values():
        assert metric_filter["logGroupName"] == "/modelfort/production/api/prod-endpoint/access"
        for path in re.findall(r"\$\.([a-z_]+)", metric_filter["pattern"]):
            assert path in fields, f"{path} is not written by the access log format"
        assert metric_filter["metricTransformation"]["dimensions"] == {"ApiId": "$.api_id"}
    assert '($.error_type = "INVALID_API_KEY")' in filters["prod-endpoint-apiauthfailures-filter"]["pattern"]
    assert '($.error_type = "QUOTA_EXCEEDED")' in filters["prod-endpoint-apithrottled-filter"]["pattern"]


@pytest.mark.control("NB-06")
def test_cognito_jwts_are_checked_by_api_gateway_with_the_required_scopes():
    resources = run("cognito")
    authorizer = named(resources, "prod-endpoint-jwt-authorizer")
    assert authorizer["type"] == "COGNITO_USER_POOLS"
    assert authorizer["providerArns"] == ["arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example1"]
    method = named(resources, "prod-endpoint-invoke-post")
    assert method["authorization"] == "COGNITO_USER_POOLS"
    assert method["authorizerId"] == record(resources, "prod-endpoint-jwt-authorizer")["id"]
    assert method["authorizationScopes"] == ["models/invoke"]
    # No IAM principal exists to restrict by account; the VPC endpoint restriction remains.
    assert set(statements(named(resources, "prod-endpoint-api")["policy"])) == {"InvokeThroughTheZone", "DenyOutsideZoneEndpoint"}


@pytest.mark.control("NB-06")
def test_oidc_jwts_go_to_the_lambda_authorizer_with_issuer_and_audience_pinned_in_the_stack():
    resources = run("lambda")
    authorizer = named(resources, "prod-endpoint-jwt-authorizer")
    assert authorizer["type"] == "REQUEST"
    assert authorizer["authorizerUri"] == (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:oidc-authorizer/invocations"
    )
    assert authorizer["identitySource"] == "method.request.header.Authorization,stageVariables.jwtIssuer,stageVariables.jwtAudience"
    assert authorizer["authorizerResultTtlInSeconds"] == 300
    assert named(resources, "prod-endpoint-stage")["variables"] == {"jwtIssuer": "https://login.example.com/", "jwtAudience": "model-api"}
    assert named(resources, "prod-endpoint-invoke-post")["authorization"] == "CUSTOM"
    permission = named(resources, "prod-endpoint-authorizer-invoke")
    api_id = record(resources, "prod-endpoint-api")["id"]
    authorizer_id = record(resources, "prod-endpoint-jwt-authorizer")["id"]
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/authorizers/{authorizer_id}"


def test_inspection_limit_covers_the_configured_body_size():
    assert [inspection_limit(n) for n in (1, 16 * 1024, 16 * 1024 + 1, 32 * 1024, 48 * 1024, 64 * 1024)] == [
        "KB_16", "KB_16", "KB_32", "KB_32", "KB_48", "KB_64"]


@pytest.mark.control("NB-07", "NB-08", "RC-05")
def test_defaults_meet_the_packs_ceilings_at_every_tier():
    defaults = ModelEndpointArgs(zone="z", region="us-east-1", target_nlb_arn="arn", target_url="https://m", vpc_endpoint_ids=["vpce-1"],
                                 alarm_topic_arn="arn", clients={"c": ClientLimits(rate_limit=1, burst_limit=1, daily_quota=1)},
                                 log_retention_days=365)
    assert defaults.max_request_bytes <= min(MAX_REQUEST_BYTES_BY_TIER.values())
    assert defaults.throttle_rate_limit <= MAX_STAGE_RATE and defaults.throttle_burst_limit <= MAX_STAGE_BURST
    assert defaults.waf_rate_limit <= MAX_WAF_RATE_PER_5_MIN
    assert isinstance(defaults.auth, IamAuth)


def _args(**changes) -> ModelEndpointArgs:
    base = dict(zone="production", region="us-east-1", target_nlb_arn="arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/m/1",
                target_url="https://model.internal", vpc_endpoint_ids=["vpce-1"], alarm_topic_arn="arn:aws:sns:us-east-1:1:t",
                clients={"chat": ClientLimits(rate_limit=10, burst_limit=20, daily_quota=1000)}, log_retention_days=365)
    return ModelEndpointArgs(**{**base, **changes})


@pytest.mark.parametrize(
    "changes,arg",
    [
        ({"auth": None}, "auth"),
        ({"auth": "NONE"}, "auth"),
        ({"allow_public_endpoint": True}, "allow_public_endpoint"),
        ({"vpc_endpoint_ids": []}, "vpc_endpoint_ids"),
        ({"clients": {}}, "clients"),
        ({"clients": {"no spaces": ClientLimits(rate_limit=1, burst_limit=1, daily_quota=1)}}, "clients"),
        ({"paths": ["v1/invoke"]}, "paths"),
        ({"paths": []}, "paths"),
        ({"stage_name": "v-1"}, "stage_name"),
        ({"request_schema": {"type": "string"}}, "request_schema"),
        ({"max_request_bytes": 64 * 1024 + 1}, "max_request_bytes"),
        ({"max_request_bytes": 0}, "max_request_bytes"),
        ({"throttle_rate_limit": 0}, "throttle_rate_limit"),
        ({"waf_rate_limit": 5}, "waf_rate_limit"),
        ({"integration_timeout_ms": 60_000}, "integration_timeout_ms"),
        ({"log_retention_days": 100}, "log_retention_days"),
        ({"target_url": "http://model.internal"}, "target_url"),
    ],
)
def test_unsafe_or_contradictory_args_fail_at_construction_naming_the_arg(changes, arg):
    with pytest.raises(ValueError, match=f"ModelEndpointArgs.{arg}"):
        _args(**changes)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: CognitoJwtAuth(user_pool_arns=[]), "CognitoJwtAuth.user_pool_arns"),
        (lambda: LambdaJwtAuth(function_arn="arn", issuer="http://idp", audience="a"), "LambdaJwtAuth.issuer"),
        (lambda: LambdaJwtAuth(function_arn="arn", issuer="https://idp", audience=" "), "LambdaJwtAuth.audience"),
        (lambda: LambdaJwtAuth(function_arn="arn", issuer="https://idp", audience="a", result_ttl_seconds=7200), "LambdaJwtAuth.result_ttl_seconds"),
        (lambda: ClientLimits(rate_limit=0, burst_limit=1, daily_quota=1), "ClientLimits"),
    ],
)
def test_auth_and_client_choices_refuse_unsafe_values(build, message):
    with pytest.raises(ValueError, match=message):
        build()
