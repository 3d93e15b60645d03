"""Plausible values for declared outputs: the right type, shaped by the property's name and provider.

Programs build on outputs (an ARN into a policy, a load balancer's address into a DNS record, a subnet list into a
cluster), so an answer must look like what the cloud reports: ARNs of the resource's service, region and account,
ids with their service's prefix, documentation-range addresses (192.0.2.0/24, 2001:db8::/32, RFC 5737/3849) so a
generated address never names a real host, https URLs, hostnames. Every value derives from the resource's name
and the property path, so two runs of the same program plan the same stack.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .sdk_types import Shape

ACCOUNT_ID = "123456789012"

# AWS id prefixes, by the noun an id property or invoke names (`vpcId`, `getSubnets` -> subnet).
_AWS_ID_PREFIXES = {
    "vpc": "vpc", "subnet": "subnet", "securitygroup": "sg", "routetable": "rtb", "internetgateway": "igw",
    "natgateway": "nat", "networkacl": "acl", "ami": "ami", "image": "ami", "instance": "i", "volume": "vol",
    "snapshot": "snap", "networkinterface": "eni", "vpcendpoint": "vpce", "transitgateway": "tgw", "eip": "eipalloc",
    "allocation": "eipalloc", "launchtemplate": "lt", "keypair": "key", "prefixlist": "pl", "dhcpoptions": "dopt",
    "vpcpeeringconnection": "pcx", "egressonlyinternetgateway": "eigw", "carriergateway": "cagw", "flowlog": "fl",
}
# ARN service names where the SDK's module name differs from the ARN's.
_ARN_SERVICES = {"apigatewayv2": "apigateway", "cloudwatch": "logs", "lb": "elasticloadbalancing", "alb": "elasticloadbalancing",
                 "cognito": "cognito-idp", "sfn": "states", "route53": "route53", "opensearch": "es", "wafv2": "wafv2"}
_PROVIDER_FAMILIES = {"aws-native": "aws", "awsx": "aws", "eks": "aws", "google-native": "gcp"}
_GLOBAL_ARN_SERVICES = {"iam", "route53", "s3", "cloudfront"}
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_FIXED_TIME = "2026-01-01T00:00:00Z"
_PEM = "-----BEGIN CERTIFICATE-----\nTU9DSw==\n-----END CERTIFICATE-----\n"


def digest(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


SCALAR_LIST_LENGTH = 3
"""How many elements a generated list of strings has: three, the availability zones every region the mocks answer
offers (a list of objects keeps one element: its fields are what rules read)."""


@dataclass(frozen=True)
class Context:
    """What a value is for: the resource (or invoke) token and name, and where the resource lives."""

    token: str
    name: str
    region: str
    project: str
    length: int | None = None
    """A `length` input (random strings and passwords): the generated `result` has that many characters."""

    @property
    def provider(self) -> str:
        """The cloud whose formats apply: component packages built on a provider (awsx, eks) answer in its."""
        package = self.token.split(":")[0]
        return _PROVIDER_FAMILIES.get(package, package)

    @property
    def module(self) -> str:
        parts = self.token.split(":")
        return parts[1].split("/")[0] if len(parts) > 1 else ""

    @property
    def noun(self) -> str:
        """The resource's kind in lower case without separators (`securityGroup` -> securitygroup)."""
        kind = self.token.split(":")[-1]
        kind = re.sub(r"^get", "", kind) if kind.startswith("get") and kind[3:4].isupper() else kind
        kind = kind[:-1] if kind.endswith("s") and not kind.endswith("ss") else kind
        return kind.lower()


def generate(shape: Shape, context: Context, given: Any = None, field: str = "") -> Any:
    """A value of `shape` for the property `field` (an engine name); whatever the program gave (`given`) is kept,
    nested objects merged."""
    return _value(shape, context, field, given)


def _coerced(shape: Shape, given: Any) -> Any:
    """What a provider reports back for a value the program gave: providers answer in the declared type, so a
    program's `most_recent="true"` comes back as the boolean the SDK's result class insists on."""
    if shape.kind == "bool" and isinstance(given, str) and given.lower() in ("true", "false"):
        return given.lower() == "true"
    if shape.kind in ("int", "float") and isinstance(given, str):
        try:
            number = float(given)
        except ValueError:
            return given
        return int(number) if shape.kind == "int" and number.is_integer() else number
    if shape.kind == "str" and isinstance(given, (bool, int, float)):
        return str(given).lower() if isinstance(given, bool) else str(given)
    return given


def _value(shape: Shape, context: Context, path: str, given: Any) -> Any:
    if shape.kind == "object":
        if given is not None and not isinstance(given, dict):
            return given
        out = {}
        for field, field_shape in shape.fields:
            inner = given.get(field) if isinstance(given, dict) else None
            value = _value(field_shape, context, f"{path}.{field}" if path else field, inner)
            if value is not None:
                out[field] = value
        if isinstance(given, dict):
            out.update({k: v for k, v in given.items() if k not in out})
        return out
    if given is not None:
        return _coerced(shape, given)
    field = path.rsplit(".", 1)[-1].rstrip("]").split("[")[0]
    if shape.kind == "list":
        item = _value(shape.item, context, f"{path}[0]", None) if shape.item is not None else None
        if shape.item is not None and shape.item.kind == "str":
            # Lists of identifiers (subnets, zones, addresses) are indexed by position in real programs
            # (`public_subnet_ids[1]`): answer as many as a region has availability zones at least, each distinct.
            return [string(singular(field), context, f"{path}[{index}]") for index in range(SCALAR_LIST_LENGTH)]
        return [item] if item is not None else []
    if shape.kind == "map":
        return {}
    if shape.kind == "str" and shape.choices:
        return shape.choices[0]
    if shape.kind == "str":
        return string(field, context, path)
    if shape.kind == "int":
        return integer(field, context, path)
    if shape.kind == "float":
        return float(integer(field, context, path))
    if shape.kind == "bool":
        return boolean(field)
    if shape.kind == "any" and field.lower() == "kubeconfig":
        return kubeconfig(context)
    return None


def singular(field: str) -> str:
    """`subnetIds` -> `subnetId`, `ids` -> `id`, `names` -> `name`."""
    if field.endswith("ies"):
        return field[:-3] + "y"
    if field.endswith("sses"):  # addresses -> address
        return field[:-2]
    if field.endswith("s") and not field.endswith("ss"):
        return field[:-1]
    return field


def boolean(field: str) -> bool:
    return words(field)[-1:] == ["enabled"] or words(field)[:1] == ["enabled"]


def integer(field: str, context: Context, path: str) -> int:
    w = words(field)
    if "port" in w:
        return 443
    if w[-1:] in (["count"], ["size"], ["capacity"], ["version"], ["generation"]):
        return 1
    return int(digest(context.token + context.name + path, 4), 16) % 1000 + 1


def string(field: str, context: Context, path: str) -> str:
    """A string shaped by its property name and the provider."""
    w = words(field) or ["value"]
    seed = f"{context.token}|{context.name}|{path}"
    last = w[-1]
    if field == "result" and context.length:
        return (digest(seed, 64) * (context.length // 64 + 1))[: context.length]
    if last == "arn" or field.endswith("Arn"):
        return arn(field, context)
    if last in ("ip", "ipv4") or w[-2:] == ["ip", "address"] or field in ("address", "ipAddress", "privateIp", "publicIp"):
        if "ipv6" in w:
            return f"2001:db8::{int(digest(seed, 4), 16) % 65535 + 1:x}"
        return f"192.0.2.{int(digest(seed, 2), 16) % 254 + 1}"
    if "ipv6" in w and last in ("address", "ipv6"):
        return f"2001:db8::{int(digest(seed, 4), 16) % 65535 + 1:x}"
    if "cidr" in w:
        return "2001:db8::/56" if "ipv6" in w else f"10.{int(digest(seed, 2), 16) % 250}.0.0/16"
    if last in ("url", "uri", "endpoint") or field in ("selfLink", "apiEndpoint"):
        return f"https://{hostname(context, seed)}"
    if last in ("hostname", "fqdn", "domain") or w[-2:] == ["dns", "name"]:
        return hostname(context, seed)
    if field == "connectionName":
        return f"{context.project}:{context.region}:{context.name}-{digest(context.token + context.name, 7)}"
    if last == "email":
        if context.provider == "gcp":
            return f"{context.name}-{digest(seed, 6)}@{context.project}.iam.gserviceaccount.com"
        return f"{context.name}-{digest(seed, 6)}@example.com"
    if last == "region" or field == "location":
        return context.region
    if last == "zone" or w[-2:] == ["availability", "zone"]:
        return f"{context.region}a" if context.provider == "aws" else f"{context.region}-a"
    if field in ("accountId", "ownerId", "registryId") or w[-2:] == ["account", "id"]:
        return ACCOUNT_ID
    if field in ("project", "projectId"):
        return context.project
    if last in ("time", "date", "timestamp") or field.endswith("At") or "creation" in w:
        return _FIXED_TIME
    if w[-2:] == ["authorization", "token"]:
        return base64.b64encode(f"AWS:{digest(seed, 32)}".encode()).decode()
    if last in ("password", "secret", "token", "key") and "id" not in w:
        return digest(seed, 32)
    if last == "digest":
        return f"sha256:{digest(seed, 64)}"
    if last in ("pem", "certificate") or "certificate" in w:
        label = "PUBLIC KEY" if "public" in w else "PRIVATE KEY" if "private" in w else "CERTIFICATE"
        return _PEM.replace("CERTIFICATE", label)
    if last in ("id", "ids"):
        return identifier(w[:-1], context, seed)
    if last == "name" and len(w) == 1:
        return f"{context.name}-{digest(context.token + context.name, 7)}"
    if last in ("status", "state"):
        return "ACTIVE" if context.provider == "aws" else "READY"
    if last == "version":
        return "1"
    return f"{context.name}-{digest(seed, 8)}"


def identifier(noun_words: list[str], context: Context, seed: str) -> str:
    noun = "".join(noun_words) or context.noun
    if context.provider == "aws":
        # `publicSubnetIds` names subnets: the last word decides when the whole noun is no known kind.
        prefix = _AWS_ID_PREFIXES.get(noun) or _AWS_ID_PREFIXES.get(noun_words[-1] if noun_words else "")
        if prefix is not None:
            return f"{prefix}-{digest(seed, 17)}"
        if noun in ("zone", "hostedzone"):
            return "Z" + digest(seed, 20).upper()
    if context.provider == "gcp":
        return f"projects/{context.project}/{noun or 'resources'}/{context.name}-{digest(seed, 7)}"
    return f"{noun or context.name}-{digest(seed, 12)}"


def arn(field: str, context: Context) -> str:
    w = words(field)
    service = _ARN_SERVICES.get(context.module, context.module) or "service"
    if w[:1] == ["execution"]:
        return f"arn:aws:execute-api:{context.region}:{ACCOUNT_ID}:{digest(context.token + context.name, 10)}"
    kind = "-".join(w[:-1]) or context.noun
    region = "" if service in _GLOBAL_ARN_SERVICES else context.region
    account = "" if service == "s3" else ACCOUNT_ID
    return f"arn:aws:{service}:{region}:{account}:{kind}/{context.name}-{digest(context.token + context.name + field, 7)}"


def hostname(context: Context, seed: str) -> str:
    label = f"{context.name}-{digest(seed, 8)}".lower().replace("_", "-")
    if context.provider == "aws":
        return f"{label}.{_ARN_SERVICES.get(context.module, context.module)}.{context.region}.amazonaws.com"
    if context.provider == "gcp":
        return f"{label}.{context.region}.{context.project}.googleapis.example"
    return f"{label}.example.com"


def kubeconfig(context: Context) -> dict[str, Any]:
    """A kubeconfig a Kubernetes provider accepts: one cluster at a TEST-NET address, one user, one context."""
    cluster = f"{context.name}-{digest(context.token + context.name, 7)}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": f"https://{hostname(context, cluster)}",
                                                    "certificate-authority-data": base64.b64encode(_PEM.encode()).decode()}}],
        "users": [{"name": cluster, "user": {"token": digest(cluster, 32)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
    }
