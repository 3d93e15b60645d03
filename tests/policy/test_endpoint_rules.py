"""Model endpoint rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service:
private, authenticated, throttled, WAF-protected, size-limited and access-logged API Gateway stages."""

from __future__ import annotations

import copy
import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

REST_API = "aws:apigateway/restApi:RestApi"
METHOD = "aws:apigateway/method:Method"
STAGE = "aws:apigateway/stage:Stage"
SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
PLAN = "aws:apigateway/usagePlan:UsagePlan"
ACL = "aws:wafv2/webAcl:WebAcl"
ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"

ENDPOINT_POLICIES = ("api-authenticated", "api-private-endpoint", "api-throttled", "api-waf-protected", "api-request-size-limited", "api-access-logged")

PRIVATE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
    {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
     "Condition": {"StringNotEquals": {"aws:SourceVpce": ["vpce-0123456789abcdef0"]}}},
]}


def visibility(name: str) -> dict:
    return {"cloudwatchMetricsEnabled": True, "metricName": name, "sampledRequestsEnabled": True}


def waf_rules(size: int = 32768, oversize: str = "MATCH", rate: int = 3000) -> list[dict]:
    return [
        {"name": "size", "priority": 0, "action": {"block": {}}, "visibilityConfig": visibility("size"),
         "statement": {"sizeConstraintStatement": {"comparisonOperator": "GT", "size": size,
                                                    "fieldToMatch": {"body": {"oversizeHandling": oversize}},
                                                    "textTransformations": [{"priority": 0, "type": "NONE"}]}}},
        {"name": "rate", "priority": 1, "action": {"block": {}}, "visibilityConfig": visibility("rate"),
         "statement": {"rateBasedStatement": {"limit": rate, "aggregateKeyType": "IP"}}},
        {"name": "common", "priority": 10, "overrideAction": {"none": {}}, "visibilityConfig": visibility("common"),
         "statement": {"managedRuleGroupStatement": {"name": "AWSManagedRulesCommonRuleSet", "vendorName": "AWS",
                                                      "ruleActionOverrides": [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]}}},
        {"name": "bad-inputs", "priority": 11, "overrideAction": {"none": {}}, "visibilityConfig": visibility("bad"),
         "statement": {"managedRuleGroupStatement": {"name": "AWSManagedRulesKnownBadInputsRuleSet", "vendorName": "AWS"}}},
    ]


def endpoint(rules: list[dict] | None = None, **acl_props) -> dict[str, dict]:
    """A hardened endpoint as ModelEndpoint builds it, by fixture name."""
    api = res(REST_API, "api", {"name": "models", "endpointConfiguration": {"types": "PRIVATE", "vpcEndpointIds": ["vpce-0123456789abcdef0"]},
                                "policy": json.dumps(PRIVATE_POLICY)})
    method = res(METHOD, "post", {"httpMethod": "POST", "authorization": "AWS_IAM", "apiKeyRequired": True}, {"restApi": [api]})
    stage = res(STAGE, "stage", {"stageName": "v1", "accessLogSettings": {
        "destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:/modelfort/production/api/models/access",
        "format": '{"request_id":"$context.requestId","status":"$context.status"}'}}, {"restApi": [api]})
    settings = res(SETTINGS, "settings", {"methodPath": "*/*", "stageName": "v1",
                                          "settings": {"throttlingRateLimit": 50, "throttlingBurstLimit": 100}},
                   {"restApi": [api], "stageName": [stage]})
    plan = res(PLAN, "plan", {"apiStages": [{"apiId": UNKNOWN, "stage": "v1"}], "throttleSettings": {"rateLimit": 20, "burstLimit": 40},
                              "quotaSettings": {"limit": 1000, "period": "DAY"}}, {"apiStages": [api, stage]})
    acl = res(ACL, "waf", {"scope": "REGIONAL", "defaultAction": {"allow": {}}, "rules": rules if rules is not None else waf_rules(),
                           "visibilityConfig": visibility("acl"), **acl_props})
    association = res(ASSOCIATION, "association", {"resourceArn": UNKNOWN, "webAclArn": UNKNOWN}, {"resourceArn": [stage], "webAclArn": [acl]})
    logging = res(LOGGING, "waf-logging", {"resourceArn": UNKNOWN, "logDestinationConfigs": ["arn:aws:logs:us-east-1:1:log-group:aws-waf-logs-x"]},
                  {"resourceArn": [acl]})
    return {r["name"]: r for r in (api, method, stage, settings, plan, acl, association, logging)}


def with_props(resources: dict[str, dict], name: str, **props) -> dict[str, dict]:
    changed = copy.deepcopy(resources)
    changed[name]["properties"].update(props)
    changed[name]["properties"] = {k: v for k, v in changed[name]["properties"].items() if v is not None}
    return changed


def without(resources: dict[str, dict], *names: str) -> dict[str, dict]:
    return {k: v for k, v in resources.items() if k not in names}


def violations(pack, resources: dict[str, dict] | list[dict]) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, list(resources.values()) if isinstance(resources, dict) else resources)
    return {policy: flagged(diagnostics, policy) for policy in ENDPOINT_POLICIES if flagged(diagnostics, policy)}


def test_a_hardened_endpoint_passes(packs):
    assert violations(packs.get(), endpoint()) == {}


@pytest.mark.control("NB-05", "NB-06")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"authorization": "NONE"}, {"post"}),
        ({"authorization": None}, {"post"}),
        ({"authorization": "CUSTOM"}, {"post"}),  # an authorizer type without an authorizer
        ({"authorization": "COGNITO_USER_POOLS", "authorizerId": "abc123"}, set()),
        ({"authorization": "CUSTOM", "authorizerId": UNKNOWN}, set()),
    ],
)
def test_methods_authenticate_their_callers(packs, props, expected):
    assert violations(packs.get(), with_props(endpoint(), "post", **props)).get("api-authenticated", set()) == expected


@pytest.mark.control("NB-05", "NB-06")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"routeKey": "POST /invoke", "authorizationType": "JWT", "authorizerId": "a1"}, set()),
        ({"routeKey": "POST /invoke", "authorizationType": "NONE"}, {"route"}),
        ({"routeKey": "POST /invoke"}, {"route"}),
    ],
)
def test_http_api_routes_authenticate_their_callers(packs, props, expected):
    route = res("aws:apigatewayv2/route:Route", "route", props)
    assert flagged(packs.get().analyze(route), "api-authenticated") == expected


def _openapi(operation: dict, root_security: list | None = None) -> str:
    document = {"openapi": "3.0.1", "paths": {"/invoke": {"post": operation}}}
    if root_security is not None:
        document["security"] = root_security
    return json.dumps(document)


@pytest.mark.control("NB-05")
@pytest.mark.parametrize(
    "body,expected",
    [
        (_openapi({"security": [{"jwt": []}]}), set()),
        (_openapi({}, root_security=[{"sigv4": []}]), set()),
        (_openapi({"x-amazon-apigateway-auth": {"type": "AWS_IAM"}}), set()),
        (_openapi({}), {"openapi-api"}),
        (_openapi({"security": []}, root_security=[{"jwt": []}]), {"openapi-api"}),
        ("paths:\n  /invoke:\n    post:\n      responses: {}\n", {"openapi-api"}),  # YAML is read too
        ("{not an api", {"openapi-api"}),
    ],
)
def test_openapi_defined_apis_are_judged_by_their_operations(packs, body, expected):
    api = res(REST_API, "openapi-api", {"body": body})
    assert flagged(packs.get().analyze(api), "api-authenticated") == expected


@pytest.mark.control("NB-05", "NB-09")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"endpointConfiguration": {"types": "REGIONAL"}}, {"api"}),
        ({"endpointConfiguration": {"types": ["EDGE"]}}, {"api"}),
        ({"endpointConfiguration": None}, {"api"}),  # AWS's default is EDGE: public
        ({"endpointConfiguration": {"types": ["PRIVATE"], "vpcEndpointIds": ["vpce-1"]}}, set()),
        ({"policy": None}, {"api"}),
        ({"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}]})}, {"api"}),
        ({"policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*",
                                               "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]})}, set()),
    ],
)
def test_rest_apis_are_private_to_the_zones_endpoint(packs, props, expected):
    assert violations(packs.get(), with_props(endpoint(), "api", **props)).get("api-private-endpoint", set()) == expected


def test_a_separate_rest_api_policy_resource_counts(packs):
    resources = with_props(endpoint(), "api", policy=None)
    api = resources["api"]
    resources["api-policy"] = res("aws:apigateway/restApiPolicy:RestApiPolicy", "api-policy",
                                  {"restApiId": UNKNOWN, "policy": json.dumps(PRIVATE_POLICY)}, {"restApiId": [api]})
    assert violations(packs.get(), resources) == {}


@pytest.mark.control("NB-05")
def test_http_and_websocket_apis_are_flagged_as_public(packs):
    api = res("aws:apigatewayv2/api:Api", "chat-http", {"protocolType": "HTTP"})
    stage = res("aws:apigatewayv2/stage:Stage", "chat-http-stage", {"name": "$default", "defaultRouteSettings": {"throttlingRateLimit": 10, "throttlingBurstLimit": 20},
                                                                     "accessLogSettings": {"destinationArn": "arn:x", "format": '{"id":"$context.requestId"}'}},
                {"apiId": [api]})
    found = violations(packs.get(), [api, stage])
    assert found == {"api-private-endpoint": {"chat-http"}, "api-waf-protected": {"chat-http-stage"}}
    unthrottled = with_props({"s": stage}, "s", defaultRouteSettings=None)["s"]
    assert violations(packs.get(), [api, unthrottled])["api-throttled"] == {"chat-http-stage"}


@pytest.mark.control("NB-07")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: without(r, "settings"), {"stage"}),
        (lambda r: with_props(r, "settings", settings={"metricsEnabled": True}), {"stage"}),
        (lambda r: with_props(r, "settings", settings={"throttlingRateLimit": 5000, "throttlingBurstLimit": 100}), {"stage"}),
        (lambda r: with_props(r, "settings", settings={"throttlingRateLimit": 50, "throttlingBurstLimit": 5000}), {"stage"}),
        (lambda r: with_props(r, "settings", settings={"throttlingRateLimit": -1, "throttlingBurstLimit": -1}), {"stage"}),
        (lambda r: with_props(r, "settings", methodPath="invoke/POST"), {"stage"}),
        (lambda r: without(r, "plan"), {"stage"}),
        (lambda r: with_props(r, "plan", throttleSettings=None), {"plan"}),
        (lambda r: with_props(r, "plan", throttleSettings={"rateLimit": 2000, "burstLimit": 40}), {"plan"}),
        (lambda r: with_props(r, "post", apiKeyRequired=False), {"post"}),
        (lambda r: with_props(r, "post", apiKeyRequired=None), {"post"}),
    ],
)
def test_stages_are_throttled_stage_wide_and_per_client(packs, mutate, expected):
    assert violations(packs.get(), mutate(endpoint())) == {"api-throttled": expected}


def test_stages_are_matched_by_literal_names_when_there_are_no_dependencies(packs):
    resources = endpoint()
    api = resources["api"]
    resources["settings"]["propertyDependencies"] = {"restApi": [api["urn"]]}
    resources["plan"] = res(PLAN, "plan", {"apiStages": [{"apiId": "abc123", "stage": "v1"}], "throttleSettings": {"rateLimit": 20, "burstLimit": 40}},
                            {"apiStages": [api]})
    assert violations(packs.get(), resources) == {}
    resources["plan"]["properties"]["apiStages"] = [{"apiId": "abc123", "stage": "v2"}]
    assert violations(packs.get(), resources) == {"api-throttled": {"stage"}}


@pytest.mark.control("NB-07", "NB-08")
@pytest.mark.parametrize(
    "mutate,expected",
    [
        (lambda r: without(r, "association", "waf-logging"), {"api-waf-protected": {"stage"}, "api-request-size-limited": {"stage"}}),
        (lambda r: without(r, "waf-logging"), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint([x for x in waf_rules() if x["name"] != "rate"]), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint([{**x, "action": {"count": {}}} if x["name"] == "rate" else x for x in waf_rules()]), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint(waf_rules(rate=100_000)), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint([x for x in waf_rules() if x["name"] != "bad-inputs"]), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint([{**x, "overrideAction": {"count": {}}} if x["name"] == "common" else x for x in waf_rules()]), {"api-waf-protected": {"waf"}}),
        (lambda r: endpoint(visibilityConfig={"cloudwatchMetricsEnabled": False, "metricName": "acl", "sampledRequestsEnabled": True}),
         {"api-waf-protected": {"waf"}}),
    ],
)
def test_stages_sit_behind_a_logged_waf_with_rate_limits_and_managed_rules(packs, mutate, expected):
    assert violations(packs.get(), mutate(endpoint())) == expected


def test_managed_rules_may_not_be_turned_to_count_except_the_replaced_size_rule(packs):
    rules = waf_rules()
    rules[3]["statement"]["managedRuleGroupStatement"]["ruleActionOverrides"] = [{"name": "Log4JRCE_BODY", "actionToUse": {"count": {}}}]
    assert violations(packs.get(), endpoint(rules)) == {"api-waf-protected": {"waf"}}


def test_an_acl_outside_the_stack_cannot_be_judged(packs):
    resources = without(endpoint(), "waf", "waf-logging")
    resources["association"] = res(ASSOCIATION, "association", {"resourceArn": UNKNOWN, "webAclArn": "arn:aws:wafv2:us-east-1:1:regional/webacl/central/1"},
                                   {"resourceArn": [resources["stage"]]})
    found = violations(packs.get(), resources)
    assert found == {"api-waf-protected": {"stage"}, "api-request-size-limited": {"stage"}}


def _pascal(value):
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def test_rules_given_as_rule_json_are_judged_the_same(packs):
    assert violations(packs.get(), endpoint([], ruleJson=json.dumps(_pascal(waf_rules())))) == {}
    no_size = [r for r in waf_rules() if r["name"] != "size"]
    assert violations(packs.get(), endpoint([], ruleJson=json.dumps(_pascal(no_size)))) == {"api-request-size-limited": {"stage"}}
    assert violations(packs.get(), endpoint([], ruleJson="not json")) == {"api-waf-protected": {"waf"}, "api-request-size-limited": {"stage"}}


@pytest.mark.control("NB-08", "RC-05")
@pytest.mark.parametrize(
    "rules,zone,expected",
    [
        (waf_rules(size=65536), "production", {"stage"}),
        (waf_rules(size=65536), "testing", set()),
        (waf_rules(oversize="CONTINUE"), "production", {"stage"}),
        (waf_rules(oversize="NO_MATCH"), "production", {"stage"}),
        ([{**x, "action": {"count": {}}} if x["name"] == "size" else x for x in waf_rules()], "production", {"stage"}),
        ([x for x in waf_rules() if x["name"] != "size"], "production", {"stage"}),
        ([{**x, "statement": {"sizeConstraintStatement": {**x["statement"]["sizeConstraintStatement"], "comparisonOperator": "GE", "size": 32769}}}
          if x["name"] == "size" else x for x in waf_rules()], "production", set()),
    ],
)
def test_request_bodies_are_limited_to_the_tiers_maximum(packs, rules, zone, expected):
    found = violations(packs.get({"modelfort:zone": zone}), endpoint(rules))
    assert found.get("api-request-size-limited", set()) == expected


@pytest.mark.control("OB-01", "OB-02")
@pytest.mark.parametrize(
    "settings,expected",
    [
        (None, {"stage"}),
        ({"destinationArn": "arn:aws:logs:us-east-1:1:log-group:x", "format": "$context.requestId $context.status"}, {"stage"}),
        ({"destinationArn": "arn:aws:logs:us-east-1:1:log-group:x", "format": '{"status":$context.status,"id":"$context.requestId"}'}, set()),
    ],
)
def test_stages_write_one_json_access_log_object_per_request(packs, settings, expected):
    resources = with_props(endpoint(), "stage", accessLogSettings=settings)
    assert violations(packs.get(), resources).get("api-access-logged", set()) == expected


def test_a_resource_policy_computed_at_deploy_time_is_reported_as_not_yet_judged_not_as_missing(packs):
    diagnostics = [d for d in judge_all(packs.get(), list(with_props(endpoint(), "api", policy=UNKNOWN).values()))
                   if d.policy == "api-private-endpoint"]
    assert diagnostics and all(d.enforcement == "advisory" for d in diagnostics), diagnostics
    assert not any("no resource policy" in d.message for d in diagnostics)


def test_an_access_log_group_created_in_the_same_update_counts(packs):
    settings = {"destinationArn": UNKNOWN, "format": '{"id":"$context.requestId"}'}
    assert violations(packs.get(), with_props(endpoint(), "stage", accessLogSettings=settings)) == {}
