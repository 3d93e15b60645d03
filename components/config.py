"""Typed stack config, validated whole before any resource is registered.

Pulumi hands a program its stack config as strings keyed `namespace:key` (objects arrive as JSON). `parse_stack_config`
turns that into a `StackConfig` or raises one `StackConfigError` that lists every problem, each naming the key and
what is allowed, so a platform team fixes its stack file in one pass.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.zones import ZONE_NAMES, ZONE_PROFILES, ZoneProfile

PROJECT = "modelfort"
CLOUDS = ("aws", "gcp")
"""Clouds the composer can build."""

PROVIDER_NAMESPACES = ("aws", "gcp", "kubernetes")
"""Namespaces the providers own; they validate their own keys, we only read what we need."""

AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")
# A Kubernetes object name that may hold dots (Secrets, ConfigMaps): RFC 1123 subdomain, at most 253 characters.
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DNS_NAME = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,62}$")
TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")

MIN_VPC_PREFIX, MAX_VPC_PREFIX = 16, 24
# RFC 1918 plus the shared address space AWS allows for VPCs. Not `ipaddress.is_private`, which also counts the
# documentation ranges (198.51.100.0/24 ...) as private.
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(r) for r in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)


def is_private_range(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return isinstance(network, ipaddress.IPv4Network) and any(network.subnet_of(r) for r in PRIVATE_RANGES)
MIN_AZS, MAX_AZS = 2, 6


class StackConfigError(ValueError):
    """The stack config is invalid. `problems` holds one message per offending key."""

    # The offline gate maps a program exception carrying this attribute to its "config error" exit code.
    gate_exit_code = 2

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid stack config:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True)
class NetworkConfig:
    cidr: str
    """The zone's VPC CIDR: private IPv4, /16 to /24, distinct from every other zone."""
    availability_zone_count: int
    interface_endpoints: tuple[str, ...] = ()
    """Interface endpoints beyond the defaults every model zone gets (e.g. 'bedrock-runtime')."""
    endpoint_allowed_cidrs: tuple[str, ...] = ()
    """Extra private CIDRs the endpoint security group admits, beyond the zone's own subnets."""
    dns_allowed_domains: tuple[str, ...] = ()
    """Escape hatch (weakens NB-04): domains the DNS firewall allows beyond AWS service names."""
    egress_allowlist_cidrs: tuple[str, ...] = ()
    """Escape hatch (weakens NB-02): destinations outside the zone that workloads may reach (red-team targets)."""


@dataclass(frozen=True)
class CanaryRelease:
    version: str
    image: str
    root_digest: str
    percent: int
    """Share of replicas (and so of traffic behind the service) the canary gets, 1 to 50."""
    sbom: Mapping[str, str] | None = None
    provenance: Mapping[str, str] | None = None
    signature: Mapping[str, str] | None = None
    """The canary is a build of its own: its own SBOM, provenance and model signature, each {"path", "sha256"}."""


@dataclass(frozen=True)
class ModelRelease:
    """One model version the zone serves, pinned by digests (the release record of the deployment)."""

    name: str
    version: str
    image: str
    """The serving image, pinned by digest: registry/repository@sha256:<64 hex>."""
    root_digest: str
    """The OMS root digest of the weights (hex); the startup verifier refuses anything else."""
    gpus: int = 1
    cpu: str = "4"
    memory: str = "32Gi"
    max_tokens: int = 4096
    """Largest completion the server may produce (RC-09)."""
    request_timeout_seconds: int = 60
    """Longest a request may run (RC-10)."""
    replicas: int = 2
    canary: CanaryRelease | None = None
    sbom: Mapping[str, str] | None = None
    """{"path": ..., "sha256": ...}: the release's SBOM, re-verified at deployment time."""
    provenance: Mapping[str, str] | None = None
    """{"path": ..., "sha256": ...}: the release's SLSA provenance, re-verified at deployment time."""
    signature: Mapping[str, str] | None = None
    """{"path": ..., "sha256": ...}: the model's OMS signature bundle, whose root digest must be the pinned one."""

    @property
    def weights_prefix(self) -> str:
        return f"models/{self.name}/{self.version}"

    @property
    def signature_key(self) -> str:
        return f"signatures/{self.name}/{self.version}.sig"


@dataclass(frozen=True)
class ClientConfig:
    rate_limit: float
    burst_limit: int
    daily_quota: int


@dataclass(frozen=True)
class EndpointConfig:
    hostname: str
    """The internal DNS name API Gateway's integration calls; the guard's certificate is issued for it."""
    guard_certificate: str
    """The `kubernetes.io/tls` Secret in the models namespace with the guard's certificate for that name. TLS passes
    through the internal load balancer and ends at each model pod's guard, which also verifies API Gateway's client
    certificate; API Gateway checks the guard's certificate against public CAs (an exported ACM public certificate,
    synced into the Secret, does)."""
    clients: Mapping[str, ClientConfig]


@dataclass(frozen=True)
class StackConfig:
    stack: str
    zone: str
    cloud: str
    region: str
    profile: ZoneProfile
    network: NetworkConfig
    tags: Mapping[str, str] = field(default_factory=dict)
    models: tuple[ModelRelease, ...] = ()
    verifier_image: str | None = None
    """The image holding `modelfort verify-weights`, pinned by digest: every model pod's init container."""
    endpoint: "EndpointConfig | None" = None
    """How clients reach the served models (modelfort:endpoint); required when models are served."""
    trusted_builders: tuple[str, ...] = ()
    """SLSA builder ids whose provenance the stack accepts (modelfort:supplyChain.trustedBuilders)."""
    denied_packages: tuple[str, ...] = ()
    """Package URLs no SBOM may name (modelfort:supplyChain.deniedPackages)."""
    project: str | None = None
    """The Google Cloud project (gcp stacks only)."""
    access_policy: str | None = None
    """The Access Context Manager policy (`accessPolicies/<number>`) of the VPC Service Controls perimeter (gcp)."""
    on_call: tuple[tuple[str, str], ...] = ()
    """Who the zone's security alarms notify: (protocol, endpoint) pairs, e.g. ("email", "secops@example.com")."""


def parse_stack_config(raw: Mapping[str, str], stack: str) -> StackConfig:
    problems: list[str] = []
    modelfort = _split_namespaces(raw, problems)

    zone = _require_choice(modelfort, "zone", ZONE_NAMES, problems)
    cloud = _require_choice(modelfort, "cloud", CLOUDS, problems)
    region = _read_region(raw, cloud, problems)
    project = _read_gcp_project(raw, cloud, problems)
    profile = ZONE_PROFILES.get(zone or "")
    network = _read_network(modelfort.get("network"), profile, problems)
    tags = _read_tags(modelfort.get("tags"), problems)
    models = _read_models(modelfort.get("models"), problems)
    verifier_image = modelfort.get("verifierImage")
    if verifier_image is not None and (not isinstance(verifier_image, str) or not DIGEST_IMAGE.match(verifier_image)):
        problems.append(f"{PROJECT}:verifierImage: {verifier_image!r} is not an image pinned by digest (registry/repository@sha256:<64 hex>)")
        verifier_image = None
    elif verifier_image is None and models:
        problems.append(f"{PROJECT}:verifierImage: required when {PROJECT}:models is set (the weights verifier's image, pinned by digest)")
    trusted_builders, denied_packages = _read_supply_chain(modelfort.get("supplyChain"), bool(models), problems)
    endpoint = _read_endpoint(modelfort.get("endpoint"), bool(models) and cloud == "aws", problems)
    on_call = _read_on_call(modelfort.get("onCall"), problems)
    # Keys only the AWS zone acts on: on GCP they would be accepted and silently do nothing.
    if cloud == "gcp" and modelfort.get("endpoint") is not None:
        problems.append(f"{PROJECT}:endpoint: AWS stacks only (the GCP zone has no {AWS_ONLY_KEYS['endpoint']} yet); remove it")
    # The GCP zone pages on-call from what it builds to serve models (guard telemetry, detection); without models
    # there is nothing yet that would page, and an accepted key that does nothing is a silent gap.
    if cloud == "gcp" and modelfort.get("onCall") is not None and not models:
        problems.append(f"{PROJECT}:onCall: on GCP, only stacks that serve models ({PROJECT}:models) page on-call; "
                        "remove it or add models")
    access_policy = modelfort.get("accessPolicy")
    if access_policy is not None and (cloud != "gcp" or not isinstance(access_policy, str) or not re.match(r"^accessPolicies/\d+$", access_policy)):
        problems.append(f"{PROJECT}:accessPolicy: {access_policy!r} is not allowed (GCP stacks only: accessPolicies/<number>)")
        access_policy = None
    _check_waivers_shape(modelfort.get("waivers"), problems)

    if problems:
        raise StackConfigError(problems)
    assert zone and cloud and region and profile and network  # guaranteed when no problem was recorded
    return StackConfig(
        stack=stack, zone=zone, cloud=cloud, region=region, profile=profile, network=network, tags=tags, models=models,
        verifier_image=verifier_image, endpoint=endpoint, access_policy=access_policy, on_call=on_call, trusted_builders=trusted_builders, denied_packages=denied_packages, project=project,
    )


AWS_ONLY_KEYS = {"endpoint": "managed model API"}
"""Stack config keys the GCP zone does not act on yet, and what it lacks."""

MODELFORT_KEYS = (
    "cloud", "zone", "network", "tags", "models", "verifierImage", "supplyChain", "endpoint", "accessPolicy", "onCall",
    "waivers",
)


def _split_namespaces(raw: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """Decode the project's own keys; reject unknown keys and namespaces outright (a typo must not pass silently)."""
    modelfort: dict[str, Any] = {}
    for full_key, value in raw.items():
        namespace, _, key = full_key.partition(":")
        if not key:
            problems.append(f"{full_key}: config keys must be 'namespace:key'")
        elif namespace == PROJECT:
            if key not in MODELFORT_KEYS:
                problems.append(f"{full_key}: unknown key (allowed: {', '.join(f'{PROJECT}:{k}' for k in MODELFORT_KEYS)})")
            else:
                modelfort[key] = _decode(value)
        elif namespace not in PROVIDER_NAMESPACES:
            problems.append(
                f"{full_key}: unknown namespace '{namespace}' (allowed: {PROJECT}, {', '.join(PROVIDER_NAMESPACES)})"
            )
    return modelfort


def _decode(value: Any) -> Any:
    """Objects and lists reach the program as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _require_choice(values: Mapping[str, Any], key: str, allowed: Sequence[str], problems: list[str]) -> str | None:
    value = values.get(key)
    if value is None:
        problems.append(f"{PROJECT}:{key}: required (one of: {', '.join(allowed)})")
        return None
    if value not in allowed:
        problems.append(f"{PROJECT}:{key}: {value!r} is not allowed (one of: {', '.join(allowed)})")
        return None
    return value


def _read_gcp_project(raw: Mapping[str, str], cloud: str | None, problems: list[str]) -> str | None:
    if cloud != "gcp":
        return None
    project = raw.get("gcp:project")
    if not isinstance(project, str) or not GCP_PROJECT.match(project):
        problems.append(f"gcp:project: {project!r} is not a Google Cloud project id (6-30 lowercase letters, digits, '-'), required for cloud 'gcp'")
        return None
    return project


def _read_region(raw: Mapping[str, str], cloud: str | None, problems: list[str]) -> str | None:
    if cloud == "gcp":
        region = raw.get("gcp:region")
        if not isinstance(region, str) or not GCP_REGION.match(region):
            problems.append(f"gcp:region: {region!r} is not a Google Cloud region (for example us-central1), required for cloud 'gcp'")
            return None
        return region
    if cloud != "aws":
        return None
    region = raw.get("aws:region")
    if region is None:
        problems.append("aws:region: required for cloud 'aws' (for example us-east-1)")
        return None
    if not isinstance(region, str) or not AWS_REGION.match(region):
        problems.append(f"aws:region: {region!r} is not an AWS region name (for example us-east-1, eu-west-2)")
        return None
    return region


NETWORK_KEYS = {
    "cidr": "a private IPv4 CIDR, /16 to /24",
    "availabilityZoneCount": f"an integer from {MIN_AZS} to {MAX_AZS}",
    "interfaceEndpoints": "a list of AWS service names such as 'bedrock-runtime'",
    "endpointAllowedCidrs": "a list of private CIDRs",
    "dnsAllowedDomains": "a list of domain names",
    "egressAllowlistCidrs": "a list of CIDRs outside the zone (escape hatch; needs a waiver)",
}


def _read_network(value: Any, profile: ZoneProfile | None, problems: list[str]) -> NetworkConfig | None:
    prefix = f"{PROJECT}:network"
    if value is None:
        problems.append(f"{prefix}: required, an object with keys {', '.join(NETWORK_KEYS)} (cidr is required)")
        return None
    if not isinstance(value, Mapping):
        problems.append(f"{prefix}: must be an object with keys {', '.join(NETWORK_KEYS)}")
        return None
    before = len(problems)
    for key in value:
        if key not in NETWORK_KEYS:
            problems.append(f"{prefix}.{key}: unknown key (allowed: {', '.join(NETWORK_KEYS)})")

    vpc = _vpc_cidr(value.get("cidr"), f"{prefix}.cidr", problems)
    az_count = value.get("availabilityZoneCount", profile.availability_zone_count if profile else MIN_AZS)
    if isinstance(az_count, bool) or not isinstance(az_count, int) or not MIN_AZS <= az_count <= MAX_AZS:
        problems.append(f"{prefix}.availabilityZoneCount: {az_count!r} is not allowed ({NETWORK_KEYS['availabilityZoneCount']})")
    endpoints = _string_list(value, "interfaceEndpoints", prefix, problems, SERVICE_NAME.match, "an AWS service name")
    domains = _string_list(
        value, "dnsAllowedDomains", prefix, problems, lambda s: DNS_NAME.match(s.lower()), "a domain name"
    )
    allowed = _cidr_list(value, "endpointAllowedCidrs", prefix, problems, require_private=True)
    egress = _cidr_list(value, "egressAllowlistCidrs", prefix, problems, require_private=False)
    if vpc is not None:
        for key, networks in (("endpointAllowedCidrs", allowed), ("egressAllowlistCidrs", egress)):
            for network in networks:
                if key == "egressAllowlistCidrs" and network.overlaps(vpc):
                    problems.append(f"{prefix}.{key}: {network} overlaps the zone's own CIDR {vpc}; list only outside targets")
    if len(problems) > before or vpc is None:
        return None
    return NetworkConfig(
        cidr=str(vpc),
        availability_zone_count=az_count,
        interface_endpoints=tuple(endpoints),
        endpoint_allowed_cidrs=tuple(str(n) for n in allowed),
        dns_allowed_domains=tuple(d.lower().rstrip(".") for d in domains),
        egress_allowlist_cidrs=tuple(str(n) for n in egress),
    )


def _vpc_cidr(value: Any, key: str, problems: list[str]) -> ipaddress.IPv4Network | None:
    if not isinstance(value, str):
        problems.append(f"{key}: required, {NETWORK_KEYS['cidr']} (for example 10.30.0.0/16)")
        return None
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        problems.append(f"{key}: {value!r} is not a valid CIDR ({error}); expected {NETWORK_KEYS['cidr']}")
        return None
    if not isinstance(network, ipaddress.IPv4Network):
        problems.append(f"{key}: {value} is IPv6; expected {NETWORK_KEYS['cidr']}")
        return None
    if not is_private_range(network):
        problems.append(f"{key}: {value} is not a private range (use 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10)")
        return None
    if not MIN_VPC_PREFIX <= network.prefixlen <= MAX_VPC_PREFIX:
        problems.append(f"{key}: /{network.prefixlen} is not allowed (a prefix from /{MIN_VPC_PREFIX} to /{MAX_VPC_PREFIX})")
        return None
    return network


def _string_list(
    values: Mapping[str, Any],
    key: str,
    prefix: str,
    problems: list[str],
    is_valid: Callable[[str], Any],
    what: str,
) -> list[str]:
    items = values.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{prefix}.{key}: must be a list ({NETWORK_KEYS[key]})")
        return []
    good = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or not is_valid(item):
            problems.append(f"{prefix}.{key}[{index}]: {item!r} is not {what}")
        elif item in good:
            problems.append(f"{prefix}.{key}[{index}]: {item!r} is listed twice")
        else:
            good.append(item)
    return good


def _cidr_list(
    values: Mapping[str, Any], key: str, prefix: str, problems: list[str], *, require_private: bool
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    items = values.get(key, [])
    if not isinstance(items, list):
        problems.append(f"{prefix}.{key}: must be a list ({NETWORK_KEYS[key]})")
        return []
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for index, item in enumerate(items):
        where = f"{prefix}.{key}[{index}]"
        try:
            network = ipaddress.ip_network(item, strict=True) if isinstance(item, str) else None
        except ValueError as error:
            problems.append(f"{where}: {item!r} is not a valid CIDR ({error})")
            continue
        if network is None:
            problems.append(f"{where}: {item!r} is not a CIDR string")
        elif network.prefixlen < 8:
            problems.append(f"{where}: {item} is too wide (a prefix of /8 or longer; the whole internet is never allowed)")
        elif require_private and not is_private_range(network):
            problems.append(f"{where}: {item} is not a private range")
        elif overlapping := next((other for other in networks if other.overlaps(network)), None):
            problems.append(f"{where}: {item} overlaps {overlapping} listed before it")
        else:
            networks.append(network)
    return networks


DIGEST_IMAGE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,40}$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$")
MODEL_KEYS = {
    "name": "a DNS label (lowercase letters, digits, '-'), required",
    "version": "a version string such as 3.1.0, required",
    "image": "an image pinned by digest, registry/repository@sha256:<64 hex>, required",
    "rootDigest": "the weights' OMS root digest, 64 lowercase hex characters, required",
    "gpus": "an integer from 0 to 8 (default 1)",
    "cpu": "a Kubernetes CPU quantity such as '4' or '3500m' (default '4')",
    "memory": "a Kubernetes memory quantity such as '32Gi' (default '32Gi')",
    "maxTokens": "an integer from 1 to 1000000 (default 4096)",
    "requestTimeoutSeconds": "an integer from 1 to 600 (default 60)",
    "replicas": "an integer from 1 to 50 (default 2)",
    "canary": "an object with version, image, rootDigest and percent (1-50)",
    "sbom": "an object with path and sha256",
    "provenance": "an object with path and sha256",
    "signature": "an object with path and sha256",
}
ARTIFACT_KEYS = ("sbom", "provenance", "signature")
INT_RANGES = {"gpus": (0, 8, 1), "maxTokens": (1, 1_000_000, 4096), "requestTimeoutSeconds": (1, 600, 60), "replicas": (1, 50, 2)}


def _read_models(value: Any, problems: list[str]) -> tuple[ModelRelease, ...]:
    prefix = f"{PROJECT}:models"
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{prefix}: must be a list of model releases")
        return ()
    models: list[ModelRelease] = []
    seen: set[str] = set()
    for index, entry in enumerate(value):
        where = f"{prefix}[{index}]"
        before = len(problems)
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be an object with keys {', '.join(MODEL_KEYS)}")
            continue
        for key in entry:
            if key not in MODEL_KEYS:
                problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(MODEL_KEYS)})")
        checks = (("name", DNS_LABEL), ("version", VERSION), ("image", DIGEST_IMAGE), ("rootDigest", HEX_DIGEST))
        for key, pattern in checks:
            item = entry.get(key)
            if not isinstance(item, str) or not pattern.match(item):
                problems.append(f"{where}.{key}: {item!r} is not allowed ({MODEL_KEYS[key]})")
        numbers = {}
        for key, (low, high, default) in INT_RANGES.items():
            item = entry.get(key, default)
            if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                problems.append(f"{where}.{key}: {item!r} is not allowed ({MODEL_KEYS[key]})")
            numbers[key] = item
        for key, default in (("cpu", "4"), ("memory", "32Gi")):
            item = entry.get(key, default)
            if not isinstance(item, str) or not QUANTITY.match(item):
                problems.append(f"{where}.{key}: {item!r} is not allowed ({MODEL_KEYS[key]})")
        canary = _read_canary(entry.get("canary"), f"{where}.canary", problems)
        artifacts = {key: _read_artifact(entry.get(key), f"{where}.{key}", problems) for key in ARTIFACT_KEYS}
        name = entry.get("name")
        if isinstance(name, str) and name in seen:
            problems.append(f"{where}.name: {name!r} is listed twice (one Deployment per model; use canary for a second version)")
        seen.add(str(name))
        if len(problems) == before:
            models.append(
                ModelRelease(
                    name=entry["name"], version=entry["version"], image=entry["image"], root_digest=entry["rootDigest"],
                    gpus=numbers["gpus"], cpu=entry.get("cpu", "4"), memory=entry.get("memory", "32Gi"),
                    max_tokens=numbers["maxTokens"], request_timeout_seconds=numbers["requestTimeoutSeconds"],
                    replicas=numbers["replicas"], canary=canary, sbom=artifacts["sbom"], provenance=artifacts["provenance"],
                    signature=artifacts["signature"],
                )
            )
    return tuple(models)


def _read_canary(value: Any, where: str, problems: list[str]) -> CanaryRelease | None:
    if value is None:
        return None
    allowed = ("version", "image", "rootDigest", "percent", *ARTIFACT_KEYS)
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be an object with keys {', '.join(allowed)}")
        return None
    before = len(problems)
    for key in value:
        if key not in allowed:
            problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(allowed)})")
    for key, pattern in (("version", VERSION), ("image", DIGEST_IMAGE), ("rootDigest", HEX_DIGEST)):
        if not isinstance(value.get(key), str) or not pattern.match(value[key]):
            problems.append(f"{where}.{key}: {value.get(key)!r} is not allowed ({MODEL_KEYS[key]})")
    percent = value.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 50:
        problems.append(f"{where}.percent: {percent!r} is not allowed (an integer from 1 to 50)")
    artifacts = {key: _read_artifact(value.get(key), f"{where}.{key}", problems) for key in ARTIFACT_KEYS}
    if len(problems) > before:
        return None
    return CanaryRelease(version=value["version"], image=value["image"], root_digest=value["rootDigest"], percent=percent,
                         **artifacts)


def _read_artifact(value: Any, where: str, problems: list[str]) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"path", "sha256"}:
        problems.append(f"{where}: must be an object with exactly path and sha256")
        return None
    if not isinstance(value["path"], str) or not value["path"]:
        problems.append(f"{where}.path: must be a file path relative to the project")
    if not isinstance(value["sha256"], str) or not HEX_DIGEST.match(value["sha256"]):
        problems.append(f"{where}.sha256: {value['sha256']!r} is not 64 lowercase hex characters")
    return {"path": value["path"], "sha256": value["sha256"]} if not problems or all(where not in p for p in problems) else None


CLIENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def _read_endpoint(value: Any, has_models: bool, problems: list[str]) -> "EndpointConfig | None":
    prefix = f"{PROJECT}:endpoint"
    if value is None:
        if has_models:
            problems.append(f"{prefix}: required when {PROJECT}:models is set (hostname, guardCertificate, clients)")
        return None
    if not isinstance(value, Mapping):
        problems.append(f"{prefix}: must be an object with hostname, guardCertificate and clients")
        return None
    before = len(problems)
    for key in value:
        if key not in ("hostname", "guardCertificate", "clients"):
            problems.append(f"{prefix}.{key}: unknown key (allowed: hostname, guardCertificate, clients)")
    hostname = value.get("hostname")
    if not isinstance(hostname, str) or not DNS_NAME.match(hostname) or hostname.startswith("*"):
        problems.append(f"{prefix}.hostname: {hostname!r} is not a host name (for example models.production.internal.example.com)")
    guard_certificate = value.get("guardCertificate")
    if not isinstance(guard_certificate, str) or not re.match(r"^[a-z0-9]([-a-z0-9]{0,251}[a-z0-9])?$", guard_certificate):
        problems.append(f"{prefix}.guardCertificate: {guard_certificate!r} is not a Kubernetes Secret name (the guard's TLS certificate)")
    clients: dict[str, ClientConfig] = {}
    raw_clients = value.get("clients")
    if not isinstance(raw_clients, Mapping) or not raw_clients:
        problems.append(f"{prefix}.clients: name at least one client with rateLimit, burstLimit and dailyQuota (no client is unlimited)")
    else:
        for name, limits in raw_clients.items():
            where = f"{prefix}.clients.{name}"
            if not CLIENT_NAME.match(str(name)):
                problems.append(f"{where}: client names are lowercase letters, digits and '-'")
                continue
            numbers = limits if isinstance(limits, Mapping) else {}
            rate, burst, quota = numbers.get("rateLimit"), numbers.get("burstLimit"), numbers.get("dailyQuota")
            if set(numbers) != {"rateLimit", "burstLimit", "dailyQuota"}:
                problems.append(f"{where}: give exactly rateLimit, burstLimit and dailyQuota")
            elif not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate <= 10_000
                      and isinstance(burst, int) and not isinstance(burst, bool) and 0 < burst <= 20_000
                      and isinstance(quota, int) and not isinstance(quota, bool) and 0 < quota <= 100_000_000):
                problems.append(f"{where}: rateLimit 0-10000/s, burstLimit 1-20000 and dailyQuota 1-100000000, all positive")
            else:
                clients[str(name)] = ClientConfig(float(rate), burst, quota)
    if len(problems) > before:
        return None
    return EndpointConfig(hostname=hostname.rstrip("."), guard_certificate=guard_certificate, clients=clients)


ON_CALL_PROTOCOLS = {"email": re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"), "https": re.compile(r"^https://\S+$")}


def _read_on_call(value: Any, problems: list[str]) -> tuple[tuple[str, str], ...]:
    prefix = f"{PROJECT}:onCall"
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{prefix}: must be a list of {{protocol: email|https, endpoint}}")
        return ()
    found = []
    for index, entry in enumerate(value):
        protocol = entry.get("protocol") if isinstance(entry, Mapping) else None
        endpoint = entry.get("endpoint") if isinstance(entry, Mapping) else None
        pattern = ON_CALL_PROTOCOLS.get(protocol) if isinstance(protocol, str) else None
        if not isinstance(entry, Mapping) or set(entry) != {"protocol", "endpoint"} or pattern is None:
            problems.append(f"{prefix}[{index}]: give exactly protocol (email or https; never plain http) and endpoint")
        elif not isinstance(endpoint, str) or not pattern.match(endpoint):
            problems.append(f"{prefix}[{index}].endpoint: {endpoint!r} is not a valid {protocol} endpoint")
        else:
            found.append((protocol, endpoint))
    return tuple(found)


def _read_supply_chain(value: Any, has_models: bool, problems: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    prefix = f"{PROJECT}:supplyChain"
    if value is None:
        if has_models:
            problems.append(f"{prefix}: required when {PROJECT}:models is set (trustedBuilders, and optionally deniedPackages)")
        return (), ()
    if not isinstance(value, Mapping):
        problems.append(f"{prefix}: must be an object with trustedBuilders and deniedPackages")
        return (), ()
    for key in value:
        if key not in ("trustedBuilders", "deniedPackages"):
            problems.append(f"{prefix}.{key}: unknown key (allowed: trustedBuilders, deniedPackages)")
    lists = []
    for key, required in (("trustedBuilders", True), ("deniedPackages", False)):
        items = value.get(key, [])
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() == i and i for i in items):
            problems.append(f"{prefix}.{key}: must be a list of non-empty strings")
            items = []
        elif required and not items:
            problems.append(f"{prefix}.{key}: name at least one builder id (nothing is trusted by default)")
        elif key == "trustedBuilders" and not all("://" in i for i in items):
            problems.append(f"{prefix}.{key}: every entry must be a builder id URI")
        elif key == "deniedPackages" and not all(i.startswith("pkg:") for i in items):
            problems.append(f"{prefix}.{key}: every entry must be a package URL (pkg:type/name[@version])")
        lists.append(tuple(items))
    return lists[0], lists[1]


def _read_tags(value: Any, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{PROJECT}:tags: must be a map of tag keys to string values")
        return {}
    tags = {}
    for key, tag_value in value.items():
        if not TAG_KEY.match(str(key)) or str(key).lower().startswith("aws:"):
            problems.append(f"{PROJECT}:tags.{key}: not a valid tag key (1-128 characters, not starting with 'aws:')")
        elif not isinstance(tag_value, str) or len(tag_value) > 256:
            problems.append(f"{PROJECT}:tags.{key}: value must be a string of at most 256 characters")
        else:
            tags[str(key)] = tag_value
    return tags


def _check_waivers_shape(value: Any, problems: list[str]) -> None:
    # The waivers' meaning belongs to the policy pack (and the gate), which validate each entry; the program only
    # refuses a value that cannot be a waiver list at all.
    if value is not None and not isinstance(value, list):
        problems.append(f"{PROJECT}:waivers: must be a list of waivers (policy, resource, reason, owner, expires)")


def load_stack_config() -> StackConfig:
    """Read the running stack's config from the Pulumi runtime and validate it (the program's entry point)."""
    import pulumi
    import pulumi.runtime.config as runtime_config

    # Every key of the stack config: the engine passes them in PULUMI_CONFIG, tests and the gate may set them in the
    # runtime directly. Reading them all is how unknown keys get caught.
    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return parse_stack_config(raw, pulumi.get_stack())
