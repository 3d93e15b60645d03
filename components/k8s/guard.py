"""The inference guard sidecar ModelServing puts in front of every model server (`modelfort guard`).

Controls: RC-01..RC-11, GR-09, WP-04, WP-07 (the guard applies them to every request and response), OB-01/OB-04 (one
telemetry line per request with the release's model, version and root digest).

The pod's only exposed port is the guard's. The model server listens on 127.0.0.1, declares no container port, and is
reachable only from inside the pod; the Service and the namespace's NetworkPolicies admit the guard's port alone.

The guard's configuration is rendered here from the release and the zone's tier into a ConfigMap (`guard.json`), in
the schema `modelfort guard` validates (modelfort/runtime/guard/config.py; a test renders it and parses it with the
guard's own parser). Everything the policy pack judges (tier, upstream, guardrail provider, failOpen) is known when
the program runs; values only known after deployment, such as the Bedrock guardrail's id and version, go into a second
key the main config names by file, so a preview never hides the decisions behind an unknown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.config import AWS_REGION, DNS_SUBDOMAIN

GUARD_CONTAINER = "guard"
GUARD_PORT = 8443
"""The pod's only exposed port: the guard's."""
GUARD_HEALTH_PORT = 8081
"""The guard's plain-HTTP health port (/healthz, /readyz only, never proxied) for the kubelet's probes, which cannot
present the gateway's client certificate. NetworkPolicies never admit it: node-local probe traffic needs no rule."""
GUARD_CONFIG_DIR = "/etc/modelfort/guard"
GUARD_CONFIG_FILE = "guard.json"
BEDROCK_FILE = "bedrock-guardrail.json"
GUARD_TLS_DIR = "/var/run/secrets/modelfort-guard/tls"
GATEWAY_CA_DIR = "/var/run/secrets/modelfort-guard/gateway-ca"
GATEWAY_CA_FILE = "ca.pem"
PRINCIPAL_HEADER = "x-modelfort-principal"
TIERS = ("standard", "elevated", "high", "critical")
_HEADER = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True, kw_only=True)
class BedrockGuardrail:
    """Amazon Bedrock `ApplyGuardrail` on both sides, at a pinned version (the zone's `Guardrails` component)."""

    guardrail_id: pulumi.Input[str]
    guardrail_version: pulumi.Input[str]
    """A published version number, never DRAFT (the guard refuses anything but digits)."""
    region: str

    def __post_init__(self) -> None:
        if not isinstance(self.region, str) or not AWS_REGION.match(self.region):
            raise ValueError(f"BedrockGuardrail.region: {self.region!r} is not an AWS region name")


@dataclass(frozen=True, kw_only=True)
class ModelArmorGuardrail:
    """Model Armor `sanitizeUserPrompt` / `sanitizeModelResponse` with the zone's template (`ModelGuardrails`)."""

    project: str
    location: str
    template: str
    """The template id (the last segment of `projects/<p>/locations/<l>/templates/<id>`)."""

    def __post_init__(self) -> None:
        for key in ("project", "location", "template"):
            value = getattr(self, key)
            if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9-]{1,62}$", value):
                raise ValueError(f"ModelArmorGuardrail.{key}: {value!r} is not a Google Cloud resource id")


@dataclass(frozen=True, kw_only=True)
class GatewayMtls:
    """Callers arrive through API Gateway, which presents its client certificate to the guard (mutual TLS to the
    backend) and passes the authorizer's principal in a header. The guard trusts that header only on a connection
    that presented the gateway's certificate, never because of where the connection came from."""

    tls_secret_name: str
    """A `kubernetes.io/tls` Secret with the guard's server certificate (`tls.crt`, `tls.key`) for the name the
    gateway's integration calls. API Gateway verifies it against public CAs."""
    gateway_ca_pem: pulumi.Input[str]
    """The PEM of the API Gateway client certificate (`aws.apigateway.ClientCertificate.pem_encoded_certificate`)."""
    principal_header: str = PRINCIPAL_HEADER
    """The header the integration maps `$context.authorizer.principalId` into. Defaults to x-modelfort-principal."""

    def __post_init__(self) -> None:
        if not isinstance(self.tls_secret_name, str) or not DNS_SUBDOMAIN.match(self.tls_secret_name):
            raise ValueError(f"GatewayMtls.tls_secret_name: {self.tls_secret_name!r} is not a Secret name")
        if not _HEADER.match(self.principal_header):
            raise ValueError(f"GatewayMtls.principal_header: {self.principal_header!r} is not a lowercase header name")


@dataclass(frozen=True, kw_only=True)
class JwtIdentity:
    """Callers present a JWT the guard verifies (issuer, audience, signature against the JWKS)."""

    issuer: str
    audience: str
    jwks_url: str
    """https:// only."""
    principal_claim: str = "sub"
    algorithms: Sequence[str] = ("RS256",)

    def __post_init__(self) -> None:
        if not isinstance(self.jwks_url, str) or not self.jwks_url.startswith("https://"):
            raise ValueError(f"JwtIdentity.jwks_url: {self.jwks_url!r} must be an https:// URL")
        for key in ("issuer", "audience", "principal_claim"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                raise ValueError(f"JwtIdentity.{key}: required")
        if not self.algorithms or any(a.startswith("HS") or a == "none" for a in self.algorithms):
            raise ValueError("JwtIdentity.algorithms: asymmetric algorithms only (no HS*, no none)")


@dataclass(frozen=True, kw_only=True)
class GuardSettings:
    """What the guard in front of this model enforces beyond the release's own limits."""

    tier: str
    """The zone's tier (standard, elevated, high, critical): each control's default and what may be switched off."""
    guardrail: BedrockGuardrail | ModelArmorGuardrail | None
    """The cloud guardrail applied to prompts and completions. None only with `allow_no_guardrail`."""
    identity: GatewayMtls | JwtIdentity
    """How the guard knows who is calling."""
    system_prompt: str | None = None
    """Prepended to every conversation; callers cannot replace it (GR-09). Defaults to none."""
    disallowed_keywords: Sequence[str] = ()
    """Refused in prompts (RC-07). Defaults to none."""
    canaries: Sequence[str] = ()
    """Markers planted in the system prompt; one in a completion is a proven leak (WP-07). Defaults to none."""
    max_prompt_tokens: int = 8192
    """RC-05. Defaults to 8192."""
    max_request_bytes: int = 1_048_576
    """RC-05. Defaults to 1 MiB."""
    max_concurrent: int = 64
    """Requests in flight to the model; more queue (RC-11). Defaults to 64."""
    queue_size: int = 128
    """Requests waiting beyond that; more get 429 (RC-11). Defaults to 128."""
    cpu: str = "1"
    memory: str = "512Mi"
    guardrail_fail_open: bool = False
    """Escape hatch (weakens RC-01..RC-04): serve a request when the guardrail errors or times out. Defaults to False;
    the pack blocks it from the high tier unless the stack waives `k8s-guard-fails-closed`."""
    allow_no_guardrail: bool = False
    """Escape hatch (weakens RC-01..RC-03): run without a cloud guardrail (the inline detectors stay on). Defaults to
    False; the pack blocks it from the high tier unless the stack waives `k8s-guard-fails-closed`."""
    extra_paths: Sequence[str] = field(default_factory=tuple)
    """Paths proxied as-is besides the completion APIs, e.g. ["/v1/models"]. Defaults to none."""

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"GuardSettings.tier: {self.tier!r} is not allowed; allowed: {', '.join(TIERS)}")
        if not isinstance(self.guardrail, (BedrockGuardrail, ModelArmorGuardrail)) and self.guardrail is not None:
            raise ValueError("GuardSettings.guardrail: give a BedrockGuardrail, a ModelArmorGuardrail or None")
        if self.guardrail is None and not self.allow_no_guardrail:
            raise ValueError("GuardSettings.guardrail: required (set allow_no_guardrail=True to run without one)")
        if self.guardrail is not None and self.allow_no_guardrail:
            raise ValueError("GuardSettings.allow_no_guardrail: only without a guardrail")
        if self.guardrail_fail_open and self.tier == "critical":
            raise ValueError("GuardSettings.guardrail_fail_open: refused at tier critical (a guardrail failure must refuse)")
        if not isinstance(self.identity, (GatewayMtls, JwtIdentity)):
            raise ValueError("GuardSettings.identity: give a GatewayMtls or a JwtIdentity")
        for key in ("max_prompt_tokens", "max_request_bytes", "max_concurrent"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"GuardSettings.{key}: {value!r} must be a positive whole number")
        if isinstance(self.queue_size, bool) or not isinstance(self.queue_size, int) or self.queue_size < 0:
            raise ValueError(f"GuardSettings.queue_size: {self.queue_size!r} must be a whole number >= 0")
        if any(not isinstance(w, str) or not w.strip() for w in self.disallowed_keywords):
            raise ValueError("GuardSettings.disallowed_keywords: non-empty strings only")
        if any(not isinstance(c, str) or len(c.strip()) < 8 for c in self.canaries):
            raise ValueError("GuardSettings.canaries: strings of at least 8 characters")
        for path in self.extra_paths:
            if not isinstance(path, str) or not path.startswith("/") or path in ("/healthz", "/readyz"):
                raise ValueError(f"GuardSettings.extra_paths: {path!r} must be an absolute path other than /healthz and /readyz")


def render_config(settings: GuardSettings, *, model: str, version: str, root_digest: str, max_tokens: int,
                  request_timeout_seconds: int, upstream_port: int, health_path: str) -> str:
    """guard.json: fully known when the program runs, so the policy pack reads every decision in it."""
    timeout = float(request_timeout_seconds)
    if isinstance(settings.guardrail, BedrockGuardrail):
        guardrail: dict = {"provider": "bedrock", "bedrock": {"file": BEDROCK_FILE}}
    elif isinstance(settings.guardrail, ModelArmorGuardrail):
        g = settings.guardrail
        guardrail = {"provider": "model-armor", "modelArmor": {"project": g.project, "location": g.location, "template": g.template}}
    else:
        guardrail = {"provider": "none", "allowNoGuardrail": True}
    guardrail["failOpen"] = settings.guardrail_fail_open
    identity = settings.identity
    if isinstance(identity, GatewayMtls):
        identity_doc: dict = {"mode": "apigateway-mtls", "apigatewayMtls": {
            "principalHeader": identity.principal_header,
            "caBundle": f"{GATEWAY_CA_DIR}/{GATEWAY_CA_FILE}",
            "certFile": f"{GUARD_TLS_DIR}/tls.crt",
            "keyFile": f"{GUARD_TLS_DIR}/tls.key",
        }}
    else:
        identity_doc = {"mode": "jwt", "jwt": {"issuer": identity.issuer, "audience": identity.audience,
                                               "jwksUrl": identity.jwks_url, "algorithms": list(identity.algorithms),
                                               "principalClaim": identity.principal_claim}}
    document = {
        "listen": {"host": "0.0.0.0", "port": GUARD_PORT, "healthPort": GUARD_HEALTH_PORT},
        "upstream": {"url": f"http://127.0.0.1:{upstream_port}", "healthPath": health_path},
        "model": {"name": model, "version": version, "rootDigest": f"sha256:{root_digest}", "maxOutputTokens": max_tokens},
        "tier": settings.tier,
        "controls": {
            "promptTokens": {"maxTokens": settings.max_prompt_tokens},
            **({"keywords": {"enabled": True, "disallowed": list(settings.disallowed_keywords)}}
               if settings.disallowed_keywords else {}),
            **({"extractionDetectors": {"canaries": list(settings.canaries)}} if settings.canaries else {}),
        },
        "systemPrompt": {"text": settings.system_prompt} if settings.system_prompt else None,
        "guardrail": guardrail,
        "identity": identity_doc,
        # The guard gives up on the model a little before API Gateway gives up on the guard.
        "limits": {"maxRequestBytes": settings.max_request_bytes, "requestTimeoutS": timeout,
                   "upstreamTimeoutS": max(1.0, timeout - 1.0), "maxConcurrent": settings.max_concurrent,
                   "queueSize": settings.queue_size},
        "allowedExtraPaths": list(settings.extra_paths),
    }
    return json.dumps(document, indent=2, sort_keys=True)


def render_bedrock(guardrail: BedrockGuardrail) -> pulumi.Output[str]:
    """bedrock-guardrail.json: the guardrail's id and version, known once Bedrock has created them."""
    return pulumi.Output.all(guardrail.guardrail_id, guardrail.guardrail_version).apply(
        lambda v: json.dumps({"guardrailId": v[0], "guardrailVersion": str(v[1]), "region": guardrail.region}, sort_keys=True)
    )
