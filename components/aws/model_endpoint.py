"""ModelEndpoint: the only way into a model (NB-05..NB-08, RC-05, RC-10).

Why an API Gateway REST API and not an HTTP API. Only a REST API can be PRIVATE (reachable solely through the zone's
execute-api VPC endpoint, with a resource policy that says so), be associated with a WAF web ACL, meter each client
with API keys and usage plans (per-client rate, burst and quota), and validate request bodies against a schema. An
HTTP API has a native JWT authorizer, but it is always public and offers none of the rest; JWTs from any OIDC issuer
remain possible here through a Lambda authorizer (`LambdaJwtAuth`), and Cognito-issued JWTs are checked by API
Gateway itself (`CognitoJwtAuth`).

What a request goes through, in order:
1. the resource policy: only through the zone's VPC endpoint (and, with IAM auth, only principals of this account);
2. WAF: bodies over `max_request_bytes` are blocked (including bodies too large for WAF to inspect), then a
   per-source-IP rate limit, then AWS managed rule groups (common exploits, known bad inputs, IP reputation,
   anonymising networks); every decision is logged to an encrypted log group with credentials redacted;
3. authentication: SigV4 with the caller's IAM role (default: service-account credentials through EKS Pod Identity),
   or a JWT; never NONE;
4. an API key naming the client, whose usage plan sets the client's own rate, burst and daily quota;
5. stage-wide throttling;
6. the request validator: a JSON body matching `request_schema`;
7. the model's internal Network Load Balancer, over TLS through a VPC link, with a bounded timeout (RC-10).
Every request is access-logged as one JSON object; alarms (to the on-call topic) watch 5xx, 4xx and latency anomalies,
authentication failures, throttling and WAF blocks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.evidence_store import CLOUDWATCH_RETENTION_DAYS, EVIDENCE_CLASS, vended_log_delivery_policy
from components.aws.s3_hardening import DATA_CLASS_TAG, account_root_statement, policy_document

CONTROLS = ("NB-05", "NB-06", "NB-07", "NB-08", "RC-05", "RC-10")

DEFAULT_MAX_REQUEST_BYTES = 32 * 1024
# WAF sends API Gateway bodies of at most 64 KiB to inspection; a larger limit could not be enforced.
WAF_MAX_INSPECTABLE_BYTES = 64 * 1024
_INSPECTION_LIMITS = ((16 * 1024, "KB_16"), (32 * 1024, "KB_32"), (48 * 1024, "KB_48"), (64 * 1024, "KB_64"))
MAX_INTEGRATION_TIMEOUT_MS = 29_000
"""API Gateway's default integration timeout. A model that needs longer should stream or work asynchronously rather
than hold connections open (RC-10)."""

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
)
# The common rule set blocks bodies over 8 KiB. Our own size rule enforces the configured limit (and blocks what WAF
# cannot inspect), so that one rule counts instead of blocking; every other managed rule blocks.
_SIZE_RULE_REPLACED_BY_OURS = {"AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",)}

DEFAULT_REQUEST_SCHEMA: Mapping[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "InferenceRequest",
    "type": "object",
    "required": ["input"],
    "properties": {
        "input": {"type": "string", "minLength": 1},
        # RC-09: a caller cannot ask for an unbounded completion.
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
    },
    "additionalProperties": False,
}

OPENAI_REQUEST_SCHEMA: Mapping[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "OpenAICompletionRequest",
    "type": "object",
    # Chat completions carry messages, completions a prompt; the inference guard behind the gateway checks which
    # path gets which, and everything about their content.
    "properties": {
        "model": {"type": "string", "maxLength": 256},
        "messages": {"type": "array", "minItems": 1, "maxItems": 256, "items": {"type": "object"}},
        "prompt": {"type": ["string", "array"]},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
        "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": 4096},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "n": {"type": "integer", "minimum": 1, "maximum": 1},
        "stop": {"type": ["string", "array"]},
        "seed": {"type": "integer"},
        "user": {"type": "string", "maxLength": 256},
        "documents": {"type": "array", "maxItems": 64},
    },
    "additionalProperties": False,
}
"""The OpenAI-compatible request bodies the inference guard serves (chat completions and completions)."""

# One JSON object per request. Field names follow the telemetry schema where they mean the same thing (request_id,
# latency_ms), so an access log line and the model's telemetry event of the same request can be joined.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "request_id": "$context.requestId",
        "extended_request_id": "$context.extendedRequestId",
        "timestamp": "$context.requestTime",
        "api_id": "$context.apiId",
        "stage": "$context.stage",
        "http_method": "$context.httpMethod",
        "resource_path": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "response_bytes": "$context.responseLength",
        "latency_ms": "$context.responseLatency",
        "integration_latency_ms": "$context.integrationLatency",
        "integration_status": "$context.integration.status",
        "source_ip": "$context.identity.sourceIp",
        "vpce_id": "$context.identity.vpceId",
        "caller_arn": "$context.identity.userArn",
        "principal_id": "$context.authorizer.principalId",
        "api_key_id": "$context.identity.apiKeyId",
        "error_type": "$context.error.responseType",
        "error_message": "$context.error.message",
        "authorizer_error": "$context.authorizer.error",
        "waf_response": "$context.wafResponseCode",
    },
    separators=(",", ":"),
)

# Gateway response types that mean "who are you?" or "not you": the auth-failure metric counts them.
AUTH_FAILURE_RESPONSES = (
    "UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "INVALID_API_KEY", "INVALID_SIGNATURE",
    "EXPIRED_TOKEN", "AUTHORIZER_FAILURE",
)
THROTTLE_RESPONSES = ("THROTTLED", "QUOTA_EXCEEDED")

_PATH = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_CLIENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_STAGE = re.compile(r"[A-Za-z0-9_]{1,128}")


# ---------------------------------------------------------------------------------------------------- auth choices
@dataclass(frozen=True)
class IamAuth:
    """SigV4 with the caller's IAM role. Inside the zone a model client's Kubernetes service account receives its role
    through EKS Pod Identity: service-account credentials, short-lived, with no static secret (NB-06). The resource
    policy also refuses principals of other accounts."""


@dataclass(frozen=True, kw_only=True)
class CognitoJwtAuth:
    """JWTs issued by Cognito user pools (the OIDC issuers), checked by API Gateway itself: signature, expiry, issuer."""

    user_pool_arns: Sequence[pulumi.Input[str]]
    scopes: Sequence[str] = ()
    """OAuth scopes an access token must carry. Defaults to none, in which case API Gateway accepts the pools' ID
    tokens."""

    def __post_init__(self) -> None:
        if not self.user_pool_arns:
            raise ValueError("CognitoJwtAuth.user_pool_arns: name at least one user pool (the token issuer)")


@dataclass(frozen=True, kw_only=True)
class LambdaJwtAuth:
    """JWTs from any OIDC issuer, validated by your Lambda authorizer (REQUEST type, Authorization header).

    The stage carries the issuer and audience the authorizer must enforce as stage variables `jwtIssuer` and
    `jwtAudience` (REQUEST authorizers receive stage variables), so the values are in the stack, reviewed and
    judged, not hidden in the function's environment."""

    function_arn: pulumi.Input[str]
    issuer: str
    audience: str
    result_ttl_seconds: int = 300
    """How long API Gateway caches an authorizer decision per token. Defaults to 300 (tokens are re-checked at least
    every 5 minutes); 0 disables caching."""

    def __post_init__(self) -> None:
        if not self.issuer.startswith("https://"):
            raise ValueError(f"LambdaJwtAuth.issuer: {self.issuer!r} must be the issuer's https:// URL (the JWT 'iss' claim)")
        if not self.audience.strip():
            raise ValueError("LambdaJwtAuth.audience: give the audience tokens must be issued for (the JWT 'aud' claim)")
        if not 0 <= self.result_ttl_seconds <= 3600:
            raise ValueError("LambdaJwtAuth.result_ttl_seconds: between 0 and 3600 (API Gateway's range)")


EndpointAuth = IamAuth | CognitoJwtAuth | LambdaJwtAuth


@dataclass(frozen=True, kw_only=True)
class ClientLimits:
    """What one client (one API key, one usage plan) may use."""

    rate_limit: float
    """Steady-state requests per second."""
    burst_limit: int
    """Requests allowed in a burst above the steady rate."""
    daily_quota: int
    """Requests per day; beyond it the client gets 429 until the next day."""

    def __post_init__(self) -> None:
        if self.rate_limit <= 0 or self.burst_limit <= 0 or self.daily_quota <= 0:
            raise ValueError("ClientLimits: rate_limit, burst_limit and daily_quota must all be positive (a client is never unlimited)")


# ---------------------------------------------------------------------------------------------------- args
@dataclass(frozen=True, kw_only=True)
class ModelEndpointArgs:
    zone: str
    region: str
    target_nlb_arn: pulumi.Input[str]
    """The internal Network Load Balancer in front of the model server; reached through a VPC link."""
    target_url: pulumi.Input[str]
    """The https:// base URL the load balancer serves; each path is appended to it."""
    vpc_endpoint_ids: Sequence[pulumi.Input[str]]
    """The zone's execute-api interface endpoint(s): the only way in. Empty only with `allow_public_endpoint`."""
    alarm_topic_arn: pulumi.Input[str]
    """The on-call SNS topic (SecurityAlerts.topic_arn) every alarm notifies."""
    clients: Mapping[str, ClientLimits]
    """Each client's API key and usage plan: name -> limits. At least one (an API nobody may call is a mistake)."""
    log_retention_days: int
    """How long access and WAF logs are kept (the zone's tier sets it)."""
    auth: EndpointAuth = IamAuth()
    """How callers authenticate. Defaults to IamAuth (SigV4 with service-account roles)."""
    paths: Sequence[str] = ("invoke",)
    upstream_paths: Mapping[str, str] = field(default_factory=dict)
    """Where each path goes on the target, e.g. {"chat": "/v1/chat/completions"} in front of the inference guard.
    Defaults to none: each path is appended to target_url as is."""
    principal_header: str | None = None
    """Pass the authenticated caller (the authorizer's principal, or the IAM caller's ARN) to the target in this
    header, replacing any the caller sent, e.g. "x-modelfort-principal" for the inference guard. Defaults to none."""
    """POST routes, one path segment each. Defaults to ("invoke",)."""
    stage_name: str = "v1"
    """The stage callers reach (https://<api>/<stage>/<path>). Defaults to "v1"."""
    request_schema: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_REQUEST_SCHEMA))
    """JSON Schema (draft 4) every request body must match. Defaults to DEFAULT_REQUEST_SCHEMA."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    """Largest request body WAF lets through (NB-08, RC-05). Defaults to 32 KiB; at most 64 KiB (what WAF can
    inspect); the pack caps it per tier."""
    throttle_rate_limit: float = 50.0
    """Stage-wide steady requests per second. Defaults to 50; the pack caps it."""
    throttle_burst_limit: int = 100
    """Stage-wide burst. Defaults to 100; the pack caps it."""
    waf_rate_limit: int = 3000
    """Requests per source IP per 5 minutes before WAF blocks that source. Defaults to 3000 (10/s sustained); the
    pack caps it."""
    integration_timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS
    """How long API Gateway waits for the model (RC-10). Defaults to 29000, the most allowed."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates for its logs. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own key for the logs (e.g. EvidenceStore.kms_key_arn); None (the default) creates a rotated one."""
    allow_public_endpoint: bool = False
    """Escape hatch (weakens NB-05, NB-09): a REGIONAL endpoint reachable from the internet instead of PRIVATE.
    Defaults to False; a policy blocks it unless the stack waives it."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.auth, (IamAuth, CognitoJwtAuth, LambdaJwtAuth)):
            raise ValueError(
                f"ModelEndpointArgs.auth: {self.auth!r} is not IamAuth, CognitoJwtAuth or LambdaJwtAuth; a model endpoint "
                "always authenticates its callers"
            )
        if self.allow_public_endpoint and self.vpc_endpoint_ids:
            raise ValueError("ModelEndpointArgs.allow_public_endpoint: a public endpoint takes no vpc_endpoint_ids; choose one")
        if not self.allow_public_endpoint and not self.vpc_endpoint_ids:
            raise ValueError("ModelEndpointArgs.vpc_endpoint_ids: give the zone's execute-api VPC endpoint (a private API needs one)")
        if not self.clients:
            raise ValueError("ModelEndpointArgs.clients: name at least one client; each gets an API key and its own limits")
        bad_clients = [c for c in self.clients if not _CLIENT.fullmatch(c)]
        if bad_clients:
            raise ValueError(f"ModelEndpointArgs.clients: {bad_clients} are not client names (letters, digits, '-', up to 64)")
        if not self.paths or len(set(self.paths)) != len(self.paths):
            raise ValueError("ModelEndpointArgs.paths: give at least one path, each once")
        unknown = sorted(set(self.upstream_paths) - set(self.paths))
        if unknown or any(not str(v).startswith("/") for v in self.upstream_paths.values()):
            raise ValueError(f"ModelEndpointArgs.upstream_paths: keys must be paths ({unknown} are not), values absolute paths")
        if self.principal_header is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", self.principal_header):
            raise ValueError(f"ModelEndpointArgs.principal_header: {self.principal_header!r} is not a lowercase header name")
        bad_paths = [p for p in self.paths if not _PATH.fullmatch(p)]
        if bad_paths:
            raise ValueError(f"ModelEndpointArgs.paths: {bad_paths} are not single lower-case path segments")
        if not _STAGE.fullmatch(self.stage_name):
            raise ValueError(f"ModelEndpointArgs.stage_name: {self.stage_name!r} (letters, digits, '_')")
        if self.request_schema.get("type") != "object":
            raise ValueError("ModelEndpointArgs.request_schema: must describe a JSON object (\"type\": \"object\")")
        if not 1 <= self.max_request_bytes <= WAF_MAX_INSPECTABLE_BYTES:
            raise ValueError(
                f"ModelEndpointArgs.max_request_bytes: {self.max_request_bytes} must be 1..{WAF_MAX_INSPECTABLE_BYTES}; "
                "WAF cannot inspect larger API Gateway bodies, so a larger limit could not be enforced"
            )
        if self.throttle_rate_limit <= 0 or self.throttle_burst_limit <= 0:
            raise ValueError("ModelEndpointArgs.throttle_rate_limit/throttle_burst_limit: must be positive")
        if self.waf_rate_limit < 10:
            raise ValueError("ModelEndpointArgs.waf_rate_limit: WAF's smallest rate limit is 10 requests per window")
        if not 50 <= self.integration_timeout_ms <= MAX_INTEGRATION_TIMEOUT_MS:
            raise ValueError(
                f"ModelEndpointArgs.integration_timeout_ms: {self.integration_timeout_ms} must be 50..{MAX_INTEGRATION_TIMEOUT_MS} "
                "(RC-10 timeout limits; stream or go asynchronous for longer work)"
            )
        if self.log_retention_days not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"ModelEndpointArgs.log_retention_days: {self.log_retention_days} is not a retention CloudWatch Logs accepts")
        if isinstance(self.target_url, str):
            _require_https(self.target_url)


def _require_https(url: str) -> str:
    if not url.startswith("https://"):
        raise ValueError(f"ModelEndpointArgs.target_url: {url!r} must be https:// (the model is reached over TLS)")
    return url.rstrip("/")


def inspection_limit(max_request_bytes: int) -> str:
    """The smallest WAF body inspection limit that covers `max_request_bytes`."""
    for size, name in _INSPECTION_LIMITS:
        if max_request_bytes <= size:
            return name
    raise ValueError(f"max_request_bytes {max_request_bytes} exceeds what WAF can inspect ({WAF_MAX_INSPECTABLE_BYTES})")


# ---------------------------------------------------------------------------------------------------- component
class ModelEndpoint(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    """The controls this component implements (read by the coverage matrix)."""

    api_id: pulumi.Output[str]
    api_name: str
    stage_name: str
    stage_arn: pulumi.Output[str]
    invoke_url: pulumi.Output[str]
    """https://<api-id>.execute-api.<region>.amazonaws.com/<stage> — resolves to the zone's VPC endpoint inside the VPC."""
    web_acl_arn: pulumi.Output[str]
    api_key_ids: dict[str, pulumi.Output[str]]
    """Each client's API key id. Clients fetch the value with apigateway:GET on the key; it is never exported."""
    access_log_group_name: pulumi.Output[str]
    waf_log_group_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelEndpointArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:ModelEndpoint", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        # The zone is named once even when the component name starts with it ("production-chat").
        self.api_name = f"modelfort-{args.zone}-{name.removeprefix(f'{args.zone}-')}"
        self.stage_name = args.stage_name
        self._access_group_name = f"/modelfort/{args.zone}/api/{name}/access"
        # AWS requires WAF log groups to be named aws-waf-logs-*.
        self._waf_group_name = f"aws-waf-logs-{self.api_name}"

        self.kms_key_arn = self._key(caller, partition, tags, child)
        access_logs = self._log_group("access-logs", self._access_group_name, tags, child)
        waf_logs = self._log_group("waf-logs", self._waf_group_name, tags, child)

        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=self.api_name,
            description=f"Model endpoint '{name}' of zone {args.zone}",
            endpoint_configuration=(
                {"types": "REGIONAL"}
                if args.allow_public_endpoint
                else {"types": "PRIVATE", "vpc_endpoint_ids": list(args.vpc_endpoint_ids)}
            ),
            policy=pulumi.Output.all(caller.account_id, *args.vpc_endpoint_ids).apply(
                lambda v: json.dumps(self._resource_policy(v[0], list(v[1:])))
            ),
            api_key_source="HEADER",
            tags=tags,
            opts=child,
        )
        validator = aws.apigateway.RequestValidator(
            f"{name}-validator", rest_api=api.id, name="body-and-parameters",
            validate_request_body=True, validate_request_parameters=True, opts=child,
        )
        model = aws.apigateway.Model(
            f"{name}-request-model",
            rest_api=api.id,
            name="InferenceRequest",
            content_type="application/json",
            schema=json.dumps(dict(args.request_schema), sort_keys=True),
            opts=child,
        )
        authorizer_id = self._authorizer(api, caller, partition, child)
        link = aws.apigateway.VpcLink(
            f"{name}-vpc-link", name=f"{self.api_name}-link", target_arn=args.target_nlb_arn, tags=tags, opts=child,
        )
        target = pulumi.Output.from_input(args.target_url).apply(_require_https)
        methods: list[pulumi.Resource] = []
        for path in args.paths:
            resource = aws.apigateway.Resource(f"{name}-{path}", rest_api=api.id, parent_id=api.root_resource_id, path_part=path, opts=child)
            method = aws.apigateway.Method(
                f"{name}-{path}-post",
                rest_api=api.id,
                resource_id=resource.id,
                http_method="POST",
                **self._method_auth(authorizer_id),
                # The key names the client, so its usage plan (its own rate, burst and quota) applies.
                api_key_required=True,
                request_validator_id=validator.id,
                request_models={"application/json": model.name},
                opts=child,
            )
            integration = aws.apigateway.Integration(
                f"{name}-{path}-integration",
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                type="HTTP_PROXY",
                integration_http_method="POST",
                connection_type="VPC_LINK",
                connection_id=link.id,
                uri=target.apply(lambda base, path=path: base + args.upstream_paths.get(path, f"/{path}")),
                **self._principal_mapping(),
                timeout_milliseconds=args.integration_timeout_ms,
                # Never skip certificate checks towards the model.
                tls_config={"insecure_skip_verification": False},
                # Nothing but JSON reaches the model: other content types are refused, not passed through.
                passthrough_behavior="NEVER",
                opts=child,
            )
            methods += [method, integration]

        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            description=f"Deployment of {self.api_name}",
            # A new deployment whenever the routes, auth, schema or target change; otherwise the stage would keep
            # serving the previous configuration.
            triggers={"configuration": pulumi.Output.all(target, authorizer_id).apply(lambda v: self._config_digest(v[0], v[1]))},
            opts=pulumi.ResourceOptions(parent=self, depends_on=methods),
        )
        # Presented to the target on every integration call (mutual TLS to the backend): the inference guard trusts
        # the principal header only from a connection with this certificate.
        self.client_certificate = aws.apigateway.ClientCertificate(
            f"{name}-client-certificate", description=f"{self.api_name} to its model backends", tags=tags, opts=child,
        )
        self.client_certificate_pem = self.client_certificate.pem_encoded_certificate
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=args.stage_name,
            client_certificate_id=self.client_certificate.id,
            access_log_settings={"destination_arn": access_logs.arn, "format": ACCESS_LOG_FORMAT},
            xray_tracing_enabled=True,
            variables=(
                {"jwtIssuer": args.auth.issuer, "jwtAudience": args.auth.audience}
                if isinstance(args.auth, LambdaJwtAuth) else None
            ),
            tags=tags,
            opts=child,
        )
        aws.apigateway.MethodSettings(
            f"{name}-stage-settings",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": args.throttle_rate_limit,
                "throttling_burst_limit": args.throttle_burst_limit,
                "metrics_enabled": True,
                # Execution logs would go to a group API Gateway creates itself (unencrypted, kept forever), and
                # data tracing would copy prompts and completions into it. Access logs and telemetry cover both.
                "logging_level": "OFF",
                "data_trace_enabled": False,
                # A cached completion could be served to another caller.
                "caching_enabled": False,
            },
            opts=child,
        )
        self.api_key_ids = self._clients(api, stage, tags, child)
        acl = self._web_acl(stage, waf_logs, caller, partition, tags, child)
        self._alarms(api, stage, acl, access_logs, tags, child)

        self.api_id = api.id
        self.stage_arn = stage.arn
        self.invoke_url = stage.invoke_url
        self.web_acl_arn = acl.arn
        self.access_log_group_name = access_logs.name
        self.waf_log_group_name = waf_logs.name
        self.register_outputs({
            "api_id": self.api_id,
            "invoke_url": self.invoke_url,
            "web_acl_arn": self.web_acl_arn,
            "api_key_ids": self.api_key_ids,
        })

    # ------------------------------------------------------------------------------------------------ policy, auth
    def _resource_policy(self, account: str, endpoint_ids: list[str]) -> dict[str, Any]:
        # "execute-api:/*" is API Gateway's shorthand for every method of this API; it avoids a circular reference
        # to the API's own id.
        statements: list[dict[str, Any]] = [
            {"Sid": "InvokeThroughTheZone", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
        ]
        if not self._args.allow_public_endpoint:
            statements.append({
                "Sid": "DenyOutsideZoneEndpoint",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
                # Without this, any VPC endpoint in any account could reach a private API.
                "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoint_ids}},
            })
        if isinstance(self._args.auth, IamAuth):
            statements.append({
                "Sid": "DenyPrincipalsOfOtherAccounts",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": account}},
            })
        return policy_document(statements)

    def _authorizer(self, api: aws.apigateway.RestApi, caller, partition, child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
        auth, name = self._args.auth, self._name
        if isinstance(auth, IamAuth):
            return None
        if isinstance(auth, CognitoJwtAuth):
            return aws.apigateway.Authorizer(
                f"{name}-jwt-authorizer",
                rest_api=api.id,
                name="cognito-jwt",
                type="COGNITO_USER_POOLS",
                provider_arns=list(auth.user_pool_arns),
                identity_source="method.request.header.Authorization",
                opts=child,
            ).id
        region = self._args.region
        uri = pulumi.Output.all(partition.partition, auth.function_arn).apply(
            lambda v: f"arn:{v[0]}:apigateway:{region}:lambda:path/2015-03-31/functions/{v[1]}/invocations"
        )
        authorizer = aws.apigateway.Authorizer(
            f"{name}-jwt-authorizer",
            rest_api=api.id,
            name="oidc-jwt",
            type="REQUEST",
            authorizer_uri=uri,
            # The stage variables are part of the cache key, so a changed issuer or audience is never served a
            # decision cached under the old one.
            identity_source="method.request.header.Authorization,stageVariables.jwtIssuer,stageVariables.jwtAudience",
            authorizer_result_ttl_in_seconds=auth.result_ttl_seconds,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-authorizer-invoke",
            function=auth.function_arn,
            action="lambda:InvokeFunction",
            principal="apigateway.amazonaws.com",
            # Only this API's authorizer may invoke the function.
            source_arn=pulumi.Output.concat(api.execution_arn, "/authorizers/", authorizer.id),
            opts=child,
        )
        return authorizer.id

    def _principal_mapping(self) -> dict[str, Any]:
        """The caller as the gateway authenticated it, in a header the target trusts only on a connection that
        presented this stage's client certificate. A header the caller sent under that name is overwritten."""
        header = self._args.principal_header
        if header is None:
            return {}
        auth = self._args.auth
        source = ("context.identity.userArn" if isinstance(auth, IamAuth)
                  else "context.authorizer.claims.sub" if isinstance(auth, CognitoJwtAuth)
                  else "context.authorizer.principalId")
        return {"request_parameters": {f"integration.request.header.{header}": source}}

    def _method_auth(self, authorizer_id: pulumi.Output[str] | None) -> dict[str, Any]:
        auth = self._args.auth
        if isinstance(auth, IamAuth):
            return {"authorization": "AWS_IAM"}
        if isinstance(auth, CognitoJwtAuth):
            settings: dict[str, Any] = {"authorization": "COGNITO_USER_POOLS", "authorizer_id": authorizer_id}
            if auth.scopes:
                settings["authorization_scopes"] = list(auth.scopes)
            return settings
        return {"authorization": "CUSTOM", "authorizer_id": authorizer_id}

    def _config_digest(self, target: str, authorizer_id: str | None) -> str:
        args = self._args
        described = {
            "paths": list(args.paths),
            "upstream_paths": dict(args.upstream_paths),
            "principal_header": args.principal_header,
            "auth": type(args.auth).__name__,
            "authorizer": authorizer_id,
            "scopes": list(getattr(args.auth, "scopes", ())),
            "schema": args.request_schema,
            "timeout": args.integration_timeout_ms,
            "target": target,
        }
        return "sha256:" + hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]

    # ------------------------------------------------------------------------------------------------ clients
    def _clients(self, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage, tags: dict[str, str], child: pulumi.ResourceOptions) -> dict[str, pulumi.Output[str]]:
        keys: dict[str, pulumi.Output[str]] = {}
        for client, limits in self._args.clients.items():
            key = aws.apigateway.ApiKey(
                f"{self._name}-{client}-key",
                name=f"{self.api_name}-{client}",
                description=f"Client '{client}' of {self.api_name}",
                enabled=True,
                tags={**tags, "modelfort:client": client},
                opts=child,
            )
            plan = aws.apigateway.UsagePlan(
                f"{self._name}-{client}-plan",
                name=f"{self.api_name}-{client}",
                api_stages=[{"api_id": api.id, "stage": stage.stage_name}],
                throttle_settings={"rate_limit": limits.rate_limit, "burst_limit": limits.burst_limit},
                quota_settings={"limit": limits.daily_quota, "period": "DAY"},
                tags={**tags, "modelfort:client": client},
                opts=child,
            )
            aws.apigateway.UsagePlanKey(
                f"{self._name}-{client}-plan-key", key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child,
            )
            keys[client] = key.id
        return keys

    # ------------------------------------------------------------------------------------------------ WAF
    def _web_acl(self, stage: aws.apigateway.Stage, waf_logs: aws.cloudwatch.LogGroup, caller, partition, tags: dict[str, str],
                 child: pulumi.ResourceOptions) -> aws.wafv2.WebAcl:
        args, name = self._args, self._name
        metric = re.sub(r"[^A-Za-z0-9]", "", self.api_name)
        rules: list[dict[str, Any]] = [
            {
                "name": "request-body-size",
                "priority": 0,
                "action": {"block": {}},
                "statement": {
                    "size_constraint_statement": {
                        "comparison_operator": "GT",
                        "size": args.max_request_bytes,
                        # MATCH: a body too large for WAF to inspect counts as too large, instead of passing unseen.
                        "field_to_match": {"body": {"oversize_handling": "MATCH"}},
                        "text_transformations": [{"priority": 0, "type": "NONE"}],
                    }
                },
                "visibility_config": _visibility(f"{metric}BodySize"),
            },
            {
                "name": "rate-per-source-ip",
                "priority": 1,
                "action": {"block": {}},
                "statement": {"rate_based_statement": {"limit": args.waf_rate_limit, "aggregate_key_type": "IP", "evaluation_window_sec": 300}},
                "visibility_config": _visibility(f"{metric}Rate"),
            },
        ]
        for index, group in enumerate(MANAGED_RULE_GROUPS):
            statement: dict[str, Any] = {"name": group, "vendor_name": "AWS"}
            counted = _SIZE_RULE_REPLACED_BY_OURS.get(group, ())
            if counted:
                statement["rule_action_overrides"] = [{"name": rule, "action_to_use": {"count": {}}} for rule in counted]
            rules.append({
                "name": group,
                "priority": 10 + index,
                # "none" keeps each managed rule's own (blocking) action; "count" would only observe.
                "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": statement},
                "visibility_config": _visibility(f"{metric}{group}"),
            })
        acl = aws.wafv2.WebAcl(
            f"{name}-waf",
            name=self.api_name,
            description=f"Guards model endpoint {self.api_name}",
            scope="REGIONAL",
            default_action={"allow": {}},
            rules=rules,
            association_config={"request_bodies": [{"api_gateway": {"default_size_inspection_limit": inspection_limit(args.max_request_bytes)}}]},
            visibility_config=_visibility(metric),
            tags=tags,
            opts=child,
        )
        aws.wafv2.WebAclAssociation(f"{name}-waf-association", resource_arn=stage.arn, web_acl_arn=acl.arn, opts=child)
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{name}-waf-log-delivery",
            policy_name=f"{self.api_name}-waf-log-delivery",
            policy_document=pulumi.Output.all(waf_logs.arn, caller.account_id, partition.partition).apply(
                lambda v: json.dumps(vended_log_delivery_policy(v[0], v[1], v[2], args.region))
            ),
            opts=child,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=acl.arn,
            log_destination_configs=[waf_logs.arn],
            # Credentials never reach the logs.
            redacted_fields=[{"single_header": {"name": "authorization"}}, {"single_header": {"name": "x-api-key"}}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return acl

    # ------------------------------------------------------------------------------------------------ logs, key
    def _key(self, caller, partition, tags: dict[str, str], child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        args = self._args
        if args.kms_key_arn is not None:
            return pulumi.Output.from_input(args.kms_key_arn)
        groups = [self._access_group_name, self._waf_group_name]
        key = aws.kms.Key(
            f"{self._name}-logs-key",
            description=f"Encrypts the access and WAF logs of {self.api_name}",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                lambda v: json.dumps(policy_document([
                    account_root_statement(v[0], v[1]),
                    {
                        "Sid": "CloudWatchLogsOfThisEndpointOnly",
                        "Effect": "Allow",
                        "Principal": {"Service": f"logs.{args.region}.amazonaws.com"},
                        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                        "Resource": "*",
                        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
                            f"arn:{v[1]}:logs:{args.region}:{v[0]}:log-group:{group}" for group in groups
                        ]}},
                    },
                ]))
            ),
            tags=tags,
            opts=child,
        )
        return key.arn

    def _log_group(self, role: str, group_name: str, tags: dict[str, str], child: pulumi.ResourceOptions) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{role}",
            name=group_name,
            kms_key_id=self.kms_key_arn,
            retention_in_days=self._args.log_retention_days,
            # Who called the model and what WAF refused is evidence (OB-03).
            deletion_protection_enabled=True,
            tags={**tags, DATA_CLASS_TAG: EVIDENCE_CLASS},
            opts=child,
        )

    # ------------------------------------------------------------------------------------------------ alarms
    def _alarms(self, api: aws.apigateway.RestApi, stage: aws.apigateway.Stage, acl: aws.wafv2.WebAcl,
                access_logs: aws.cloudwatch.LogGroup, tags: dict[str, str], child: pulumi.ResourceOptions) -> None:
        args, name = self._args, self._name
        namespace = f"ModelFort/{args.zone}"
        api_dims = {"ApiName": self.api_name, "Stage": args.stage_name}
        notify = {"alarm_actions": [args.alarm_topic_arn], "ok_actions": [args.alarm_topic_arn], "tags": tags, "opts": child}

        for metric, responses in (("ApiAuthFailures", AUTH_FAILURE_RESPONSES), ("ApiThrottled", THROTTLE_RESPONSES)):
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{metric.lower()}-filter",
                log_group_name=access_logs.name,
                pattern=any_of("$.error_type", responses),
                metric_transformation={"name": metric, "namespace": namespace, "value": "1", "dimensions": {"ApiId": "$.api_id"}},
                opts=child,
            )
        for alarm in ENDPOINT_ALARMS:
            if alarm.namespace == "custom":
                dims: Mapping[str, pulumi.Input[str]] = {"ApiId": api.id}
            elif alarm.namespace == "AWS/WAFV2":
                dims = {"WebACL": acl.name, "Region": args.region, "Rule": "ALL"}
            else:
                dims = api_dims
            if alarm.anomaly_band is not None:
                settings = {
                    "comparison_operator": "GreaterThanUpperThreshold",
                    "evaluation_periods": 3,
                    "datapoints_to_alarm": 2,
                    "threshold_metric_id": "band",
                    "metric_queries": [
                        {"id": "m1", "return_data": True, "metric": {
                            "namespace": alarm.namespace, "metric_name": alarm.metric, "dimensions": dims,
                            "period": 300, "stat": alarm.statistic}},
                        {"id": "band", "expression": f"ANOMALY_DETECTION_BAND(m1, {alarm.anomaly_band})", "label": f"{alarm.metric} expected"},
                    ],
                }
            else:
                settings = {
                    "namespace": namespace if alarm.namespace == "custom" else alarm.namespace,
                    "metric_name": alarm.metric,
                    "dimensions": dims,
                    "statistic": alarm.statistic,
                    "period": 300,
                    "evaluation_periods": 1,
                    "threshold": alarm.threshold,
                    "comparison_operator": "GreaterThanOrEqualToThreshold",
                }
            aws.cloudwatch.MetricAlarm(
                f"{name}-{alarm.name}",
                name=f"{self.api_name}-{alarm.name}",
                alarm_description=f"{alarm.description} ({', '.join(alarm.controls)})",
                # No requests is not an incident.
                treat_missing_data="notBreaching",
                **settings,
                **notify,
            )


@dataclass(frozen=True)
class EndpointAlarm:
    name: str
    namespace: str
    """An AWS namespace, or "custom" for the metrics this component derives from its access logs."""
    metric: str
    statistic: str
    controls: tuple[str, ...]
    description: str
    threshold: float = 0
    anomaly_band: int | None = None
    """Width of the anomaly-detection band in standard deviations; None for a static threshold."""


ENDPOINT_ALARMS: tuple[EndpointAlarm, ...] = (
    EndpointAlarm("5xx", "AWS/ApiGateway", "5XXError", "Sum", ("NB-07",),
                  "The model or its integration is failing", threshold=5),
    EndpointAlarm("4xx-anomaly", "AWS/ApiGateway", "4XXError", "Sum", ("NB-05", "NB-07"),
                  "Client errors far above their usual level: probing, a broken client, or abuse", anomaly_band=3),
    EndpointAlarm("latency-anomaly", "AWS/ApiGateway", "Latency", "p99", ("NB-07", "RC-10"),
                  "Latency far above its usual level: overload, or unusually expensive requests", anomaly_band=3),
    EndpointAlarm("auth-failures", "custom", "ApiAuthFailures", "Sum", ("NB-05", "NB-06"),
                  "Requests refused for missing, invalid or expired credentials", threshold=10),
    EndpointAlarm("throttled", "custom", "ApiThrottled", "Sum", ("NB-07",),
                  "Clients hitting their rate limit or daily quota", threshold=50),
    EndpointAlarm("waf-blocks", "AWS/WAFV2", "BlockedRequests", "Sum", ("NB-07", "NB-08"),
                  "WAF blocking requests: oversized bodies, rate abuse or known-bad input", threshold=25),
)


def any_of(json_field: str, values: Sequence[str]) -> str:
    """A CloudWatch Logs JSON filter pattern matching events whose `json_field` equals any of `values`."""
    return "{ " + " || ".join(f'({json_field} = "{value}")' for value in values) + " }"


def _visibility(metric_name: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric_name[:128], "sampled_requests_enabled": True}
