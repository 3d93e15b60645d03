"""Model endpoint rules (NB-05..NB-08, RC-05, OB-02): every API Gateway API in front of a model is private,
authenticated, throttled per stage and per client, behind a logged WAF with a body-size limit, and access-logged.

Judged on the resources any program creates (REST APIs, their methods and stages, usage plans, WAF web ACLs and their
associations), correlated through property dependencies so the checks hold at preview, when ids are unknown. HTTP and
WebSocket APIs (apigatewayv2) are always public and cannot carry a WAF: they are flagged, and can be waived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_int, as_list, as_mappings, referenced, refers_to
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

REST_API = "aws:apigateway/restApi:RestApi"
REST_API_POLICY = "aws:apigateway/restApiPolicy:RestApiPolicy"
STAGE = "aws:apigateway/stage:Stage"
METHOD = "aws:apigateway/method:Method"
METHOD_SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
V2_API = "aws:apigatewayv2/api:Api"
V2_ROUTE = "aws:apigatewayv2/route:Route"
V2_STAGE = "aws:apigatewayv2/stage:Stage"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"

AUTHENTICATED_REST = frozenset({"AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"})
AUTHENTICATED_V2 = frozenset({"AWS_IAM", "JWT", "CUSTOM"})
OPENAPI_OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method")

# Ceilings. A model endpoint throttled above these is, for GPU inference, not throttled at all.
MAX_STAGE_RATE = 1000.0
"""Requests per second, stage-wide or per client."""
MAX_STAGE_BURST = 2000
MAX_WAF_RATE_PER_5_MIN = 30_000
"""Requests per source IP per 5 minutes (100/s sustained)."""
MAX_REQUEST_BYTES_BY_TIER = {"standard": 64 * 1024, "elevated": 64 * 1024, "high": 32 * 1024, "critical": 32 * 1024}
"""RC-05 maximum request (prompt) size per tier. 64 KiB is also the most WAF can inspect of an API Gateway body."""
REQUIRED_MANAGED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
_SOURCE_KEYS = ("aws:SourceVpce", "aws:sourceVpce", "aws:SourceVpc", "aws:sourceVpc")


# ------------------------------------------------------------------------------------------------ helpers
def _known(props: Any, key: str) -> Any:
    try:
        return props.get(key)
    except UnknownValueError:
        return None


def _present(props: Any, key: str) -> bool:
    """Set to something: at preview a new resource's id or ARN is unknown, but it will exist."""
    try:
        return bool(props.get(key))
    except UnknownValueError:
        return True


def _of_type(resources: Sequence[StackResource], kind: str) -> list[StackResource]:
    return [r for r in resources if r.resource_type == kind]


def _depends_on(resource: StackResource, prop: str, target: StackResource) -> bool:
    return any(dep.urn == target.urn for dep in referenced(resource, prop))


def _points_at(resource: StackResource, prop: str, target: StackResource, target_prop: str = "arn") -> bool:
    """`resource.prop` was computed from `target`, or equals `target.target_prop` literally."""
    if _depends_on(resource, prop, target):
        return True
    value, wanted = _known(resource.props, prop), _known(target.props, target_prop)
    return isinstance(value, str) and isinstance(wanted, str) and value == wanted


def _apis_of(resource: StackResource, apis: Sequence[StackResource], prop: str = "restApi") -> list[StackResource]:
    return [api for api in apis if refers_to(resource, prop, api)]


def _same_stage(resource: StackResource, stage: StackResource, apis: Sequence[StackResource]) -> bool:
    """`resource` (MethodSettings) names `stage`: through its stageName, or by the same literal name on the same API."""
    if _depends_on(resource, "stageName", stage):
        return True
    name = _known(stage.props, "stageName")
    if not isinstance(name, str) or _known(resource.props, "stageName") != name:
        return False
    return any(refers_to(resource, "restApi", api) for api in _apis_of(stage, apis))


def _plan_covers(plan: StackResource, stage: StackResource, apis: Sequence[StackResource]) -> bool:
    if _depends_on(plan, "apiStages", stage):
        return True
    name = _known(stage.props, "stageName")
    stage_apis = _apis_of(stage, apis)
    for entry in as_mappings(_known(plan.props, "apiStages")):
        if entry.get("stage") != name:
            continue
        if any(_depends_on(plan, "apiStages", api) or entry.get("apiId") == _known(api.props, "id") for api in stage_apis):
            return True
    return False


def _document(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) else None


def _camel(value: Any) -> Any:
    """WAF rules given as `rule_json` use the API's PascalCase; judge them like `rules` (camelCase)."""
    if isinstance(value, Mapping):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _camel(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_camel(v) for v in value]
    return value


def _acl_rules(acl: StackResource) -> list[Mapping[str, Any]] | None:
    """The ACL's rules, from `rules` or `ruleJson`; None when they cannot be read."""
    rules = as_mappings(_known(acl.props, "rules"))
    raw = _known(acl.props, "ruleJson")
    if raw:
        try:
            decoded = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, list):
            return None
        rules += [r for r in _camel(decoded) if isinstance(r, Mapping)]
    return rules


def _blocks(rule: Mapping[str, Any]) -> bool:
    action = rule.get("action") or {}
    return hasattr(action, "get") and action.get("block") is not None


def _statement(rule: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    statement = rule.get("statement") or {}
    found = statement.get(kind) if hasattr(statement, "get") else None
    return found if hasattr(found, "get") else None


def _stage_acls(stage: StackResource, resources: Sequence[StackResource]) -> tuple[list[StackResource], bool]:
    """The web ACLs associated with `stage`, and whether some association names an ACL outside the stack."""
    acls = _of_type(resources, WEB_ACL)
    found: list[StackResource] = []
    external = False
    for association in _of_type(resources, WEB_ACL_ASSOCIATION):
        if not _points_at(association, "resourceArn", stage):
            continue
        matched = [acl for acl in acls if _points_at(association, "webAclArn", acl)]
        found += matched
        external = external or not matched
    return found, external


def _rest_stages(resources: Sequence[StackResource]) -> list[StackResource]:
    return _of_type(resources, STAGE)


# ------------------------------------------------------------------------------------------------ NB-05/06: authentication
def check_authenticated(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == METHOD:
        authorization = str(props.get("authorization") or "NONE").upper()
        if authorization not in AUTHENTICATED_REST:
            yield (f"method '{resource.name}' ({props.get('httpMethod')}) accepts unauthenticated requests "
                   f"(authorization {authorization}): use AWS_IAM, COGNITO_USER_POOLS or a CUSTOM JWT authorizer.")
        elif authorization != "AWS_IAM" and not _present(props, "authorizerId"):
            yield f"method '{resource.name}' uses {authorization} authorization without an authorizer."
    elif resource.resource_type == V2_ROUTE:
        kind = str(props.get("authorizationType") or "NONE").upper()
        if kind not in AUTHENTICATED_V2:
            yield f"route '{resource.name}' ({props.get('routeKey')}) accepts unauthenticated requests (authorization_type {kind})."
    elif resource.resource_type == REST_API and props.get("body"):
        yield from _openapi_unauthenticated(resource.name, props.get("body"))


def _openapi_unauthenticated(name: str, body: Any) -> Iterable[str]:
    try:
        document = yaml.safe_load(body) if isinstance(body, str) else None
    except yaml.YAMLError:
        document = None
    if not isinstance(document, Mapping):
        yield f"REST API '{name}' is defined by an OpenAPI body that cannot be read, so its authentication cannot be judged."
        return
    default_security = document.get("security")
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for verb in OPENAPI_OPERATIONS:
            operation = item.get(verb)
            if not isinstance(operation, Mapping):
                continue
            security = operation.get("security", default_security)
            iam = (operation.get("x-amazon-apigateway-auth") or {}).get("type", "NONE")
            if str(iam).upper() == "AWS_IAM":
                continue
            if not security or not any(isinstance(req, Mapping) and req for req in security):
                yield f"REST API '{name}': {verb.upper()} {path} in the OpenAPI body requires no authentication."


# ------------------------------------------------------------------------------------------------ private endpoint
def check_private(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    policies = _of_type(resources, REST_API_POLICY)
    for api in _of_type(resources, REST_API):
        configuration = _known(api.props, "endpointConfiguration") or {}
        types = [str(t).upper() for t in as_list(configuration.get("types") if hasattr(configuration, "get") else None)]
        if types != ["PRIVATE"]:
            shown = ", ".join(types) or "EDGE (the default)"
            yield Finding(
                f"REST API '{api.name}' is reachable from the internet (endpoint type {shown}): model endpoints are "
                "PRIVATE, reachable only through the zone's execute-api VPC endpoint.",
                api.urn,
            )
            continue
        # Read directly: a policy computed at deploy time raises, and the SDK reports that this could not be judged
        # yet, instead of this rule claiming there is no policy.
        documents = [_document(api.props.get("policy"))] + [
            _document(p.props.get("policy")) for p in policies if refers_to(p, "restApiId", api)
        ]
        documents = [d for d in documents if d is not None]
        if not documents:
            yield Finding(f"private REST API '{api.name}' has no resource policy limiting it to the zone's VPC endpoint.", api.urn)
        elif not any(_limits_source(d) for d in documents):
            yield Finding(
                f"private REST API '{api.name}': its resource policy admits any VPC endpoint, in any account; deny "
                "requests whose aws:SourceVpce is not the zone's endpoint.",
                api.urn,
            )
    for api in _of_type(resources, V2_API):
        yield Finding(
            f"{_known(api.props, 'protocolType') or 'HTTP'} API '{api.name}' is always public and cannot carry a WAF: "
            "serve models through a private REST API (ModelEndpoint).",
            api.urn,
        )


def _limits_source(document: Mapping[str, Any]) -> bool:
    statements = [s for s in as_list(document.get("Statement")) if hasattr(s, "get")]
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    denies_outside = any(
        s.get("Effect") == "Deny" and any(key in ((s.get("Condition") or {}).get("StringNotEquals") or {}) for key in _SOURCE_KEYS)
        for s in statements
    )
    every_allow_conditioned = bool(allows) and all(
        any(key in ((s.get("Condition") or {}).get("StringEquals") or {}) for key in _SOURCE_KEYS) for s in allows
    )
    return denies_outside or every_allow_conditioned


# ------------------------------------------------------------------------------------------------ NB-07: throttling
def check_throttled(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    apis = _of_type(resources, REST_API)
    settings = _of_type(resources, METHOD_SETTINGS)
    plans = _of_type(resources, USAGE_PLAN)
    for stage in _rest_stages(resources):
        stage_wide = [s for s in settings if _same_stage(s, stage, apis) and _known(s.props, "methodPath") == "*/*"]
        problem = _throttle_problem([(s.props.get("settings") or {}) for s in stage_wide], "throttlingRateLimit", "throttlingBurstLimit")
        if problem:
            yield Finding(f"stage '{stage.name}': {problem} (aws.apigateway.MethodSettings, method_path '*/*').", stage.urn)
        covering = [p for p in plans if _plan_covers(p, stage, apis)]
        if not covering:
            yield Finding(f"stage '{stage.name}' has no usage plan: clients are not throttled one by one (API keys and usage plans).", stage.urn)
        for plan in covering:
            problem = _throttle_problem([plan.props.get("throttleSettings") or {}], "rateLimit", "burstLimit")
            if problem:
                yield Finding(f"usage plan '{plan.name}': {problem}.", plan.urn)
        for api in _apis_of(stage, apis):
            for method in (m for m in _of_type(resources, METHOD) if refers_to(m, "restApi", api)):
                if method.props.get("apiKeyRequired") is not True:
                    yield Finding(
                        f"method '{method.name}' does not require an API key, so no client's usage plan limits it (api_key_required=True).",
                        method.urn,
                    )
    for stage in _of_type(resources, V2_STAGE):
        problem = _throttle_problem([stage.props.get("defaultRouteSettings") or {}], "throttlingRateLimit", "throttlingBurstLimit")
        if problem:
            yield Finding(f"HTTP API stage '{stage.name}': {problem} (default_route_settings).", stage.urn)


def _throttle_problem(candidates: list[Any], rate_key: str, burst_key: str) -> str | None:
    set_ones = [c for c in candidates if hasattr(c, "get") and _positive(c.get(rate_key)) and _positive(c.get(burst_key))]
    if not set_ones:
        return "no throttling rate and burst limit"
    rate = min(float(c.get(rate_key)) for c in set_ones)
    burst = min(float(c.get(burst_key)) for c in set_ones)
    over = ([f"rate {rate:g}/s exceeds the ceiling of {MAX_STAGE_RATE:g}/s"] if rate > MAX_STAGE_RATE else []) + (
        [f"burst {burst:g} exceeds the ceiling of {MAX_STAGE_BURST}"] if burst > MAX_STAGE_BURST else [])
    return "; ".join(over) or None


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


# ------------------------------------------------------------------------------------------------ WAF
def check_waf_protected(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    loggings = _of_type(resources, WEB_ACL_LOGGING)
    for stage in _rest_stages(resources):
        acls, external = _stage_acls(stage, resources)
        if not acls:
            reason = "is associated with a web ACL outside this stack, which cannot be judged" if external else "has no WAF web ACL"
            yield Finding(f"stage '{stage.name}' {reason} (rate limit, managed rule groups, logging).", stage.urn)
            continue
        for acl in acls:
            for problem in _acl_problems(acl):
                yield Finding(f"web ACL '{acl.name}' guarding stage '{stage.name}': {problem}.", acl.urn)
            if not any(_points_at(log, "resourceArn", acl) for log in loggings):
                yield Finding(f"web ACL '{acl.name}' does not log its decisions (aws.wafv2.WebAclLoggingConfiguration).", acl.urn)
    for stage in _of_type(resources, V2_STAGE):
        yield Finding(f"HTTP API stage '{stage.name}' cannot be protected by WAF; use a private REST API.", stage.urn)


def _acl_problems(acl: StackResource) -> Iterable[str]:
    rules = _acl_rules(acl)
    if rules is None:
        yield "its rule_json cannot be read"
        return
    rates = [s for r in rules if _blocks(r) and (s := _statement(r, "rateBasedStatement")) is not None]
    if not rates:
        yield "no blocking rate-based rule"
    else:
        per_5_min = min((as_int(s.get("limit")) or 0) * 300 // (as_int(s.get("evaluationWindowSec")) or 300) for s in rates)
        if per_5_min > MAX_WAF_RATE_PER_5_MIN:
            yield f"its rate limit allows {per_5_min} requests per 5 minutes, above the ceiling of {MAX_WAF_RATE_PER_5_MIN}"
    groups: dict[str, Mapping[str, Any]] = {}
    for rule in rules:
        statement = _statement(rule, "managedRuleGroupStatement")
        if statement is not None and statement.get("vendorName") == "AWS":
            groups[str(statement.get("name"))] = rule
    for name in REQUIRED_MANAGED_GROUPS:
        rule = groups.get(name)
        if rule is None:
            yield f"missing the AWS managed rule group {name}"
            continue
        override = rule.get("overrideAction") or {}
        if not hasattr(override, "get") or override.get("none") is None:
            yield f"the managed rule group {name} only counts (override_action must be none)"
        statement = _statement(rule, "managedRuleGroupStatement") or {}
        for change in as_mappings(statement.get("ruleActionOverrides")):
            action = change.get("actionToUse") or {}
            weakened = hasattr(action, "get") and (action.get("count") is not None or action.get("allow") is not None)
            # Only the managed body-size rules may count: the ACL's own size rule replaces them (checked separately).
            if weakened and not str(change.get("name", "")).startswith("SizeRestrictions_"):
                yield f"rule {change.get('name')} of {name} is overridden to count or allow"
    visibility = _known(acl.props, "visibilityConfig") or {}
    if not hasattr(visibility, "get") or visibility.get("cloudwatchMetricsEnabled") is not True:
        yield "CloudWatch metrics are off, so blocks raise no alarm"


# ------------------------------------------------------------------------------------------------ NB-08 / RC-05: size
def check_request_size_limited(resources: Sequence[StackResource], ctx: Context) -> Iterable[Finding]:
    maximum = MAX_REQUEST_BYTES_BY_TIER.get(ctx.tier.name, min(MAX_REQUEST_BYTES_BY_TIER.values()))
    for stage in _rest_stages(resources):
        acls, _ = _stage_acls(stage, resources)
        limits = [limit for acl in acls for limit in _body_limits(acl)]
        if not limits:
            yield Finding(
                f"stage '{stage.name}' has no request size limit: a WAF size-constraint rule must block bodies over "
                f"{maximum} bytes, counting bodies too large to inspect (oversize_handling MATCH).",
                stage.urn,
            )
        elif min(limits) > maximum:
            yield Finding(f"stage '{stage.name}' admits request bodies up to {min(limits)} bytes; the {ctx.tier.name} tier allows {maximum}.", stage.urn)


def _body_limits(acl: StackResource) -> list[int]:
    limits = []
    for rule in _acl_rules(acl) or []:
        statement = _statement(rule, "sizeConstraintStatement")
        if statement is None or not _blocks(rule):
            continue
        target = statement.get("fieldToMatch") or {}
        body = target.get("body") if hasattr(target, "get") else None
        if body is None:
            body = target.get("jsonBody") if hasattr(target, "get") else None
        # CONTINUE would judge only the inspected first part of a large body, and NO_MATCH would wave it through.
        if not hasattr(body, "get") or body.get("oversizeHandling") != "MATCH":
            continue
        size = as_int(statement.get("size"))
        operator = statement.get("comparisonOperator")
        if size is None or operator not in ("GT", "GE"):
            continue
        limits.append(size if operator == "GT" else size - 1)
    return limits


# ------------------------------------------------------------------------------------------------ OB-02: access logs
def check_access_logged(resource: Resource, _ctx: Context) -> Iterable[str]:
    settings = resource.props.get("accessLogSettings") or {}
    log_format = settings.get("format") if hasattr(settings, "get") else None
    if not hasattr(settings, "get") or not _present(settings, "destinationArn"):
        yield f"stage '{resource.name}' keeps no access logs (access_log_settings)."
        return
    try:
        structured = isinstance(json.loads(re.sub(r"\$context\.[A-Za-z0-9_.]+", "0", str(log_format))), Mapping)
    except json.JSONDecodeError:
        structured = False
    if not structured:
        yield f"stage '{resource.name}' writes access logs that are not one JSON object per request."


def _rule(name: str, description: str, controls: tuple[str, ...], remediation: str, severity: str = "high", *,
          types: frozenset[str] | None = None, check: Any = None, stack_check: Any = None) -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=types or frozenset(), resource_check=check, stack_check=stack_check)


RULES = (
    _rule("api-authenticated", "Every API method and route authenticates its callers (IAM, JWT or a custom authorizer).",
          ("NB-05", "NB-06"), "Use ModelEndpoint, or set authorization to AWS_IAM, COGNITO_USER_POOLS or CUSTOM with an authorizer.",
          "critical", types=frozenset({METHOD, V2_ROUTE, REST_API}), check=check_authenticated),
    _rule("api-private-endpoint", "REST APIs are PRIVATE and their resource policy admits only the zone's VPC endpoint; HTTP APIs are not used.",
          ("NB-05", "NB-09", "NB-01"), "Keep ModelEndpoint's allow_public_endpoint=False, or waive with a reason.",
          "critical", stack_check=check_private),
    _rule("api-throttled", "Every stage is throttled stage-wide and per client (usage plans), within the pack's ceilings.",
          ("NB-07",), "Use ModelEndpoint, or add MethodSettings '*/*' throttling, usage plans with throttle settings, and api_key_required.",
          stack_check=check_throttled),
    _rule("api-waf-protected", "Every stage sits behind a logged WAF web ACL with a rate limit and AWS managed rule groups.",
          ("NB-07", "NB-08"), "Use ModelEndpoint, or associate a web ACL with a blocking rate rule, the common and known-bad-inputs groups, and logging.",
          stack_check=check_waf_protected),
    _rule("api-request-size-limited", "Every stage blocks request bodies above the tier's maximum, including bodies too large to inspect.",
          ("NB-08", "RC-05"), "Add a WAF size constraint on the body (GT the limit, oversize_handling MATCH, action block).",
          stack_check=check_request_size_limited),
    _rule("api-access-logged", "Every API stage writes one JSON access-log object per request.", ("OB-01", "OB-02"),
          "Set access_log_settings with a JSON format to an encrypted log group (ModelEndpoint does).", "medium",
          types=frozenset({STAGE, V2_STAGE}), check=check_access_logged),
)
