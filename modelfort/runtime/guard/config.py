"""The guard's configuration: the contract between `ModelServing` (which renders it) and `modelfort guard`.

The file is JSON with camelCase keys. `modelfort guard --config PATH` (or env `MODELFORT_GUARD_CONFIG`) loads it
with `load_config`; any problem raises `GuardConfigError` listing every bad key with what is allowed, and the command
exits 2 before it listens, so a pod with a broken guard config never becomes ready.

Shape (keys not shown are refused; values shown are the defaults):

    {
      "listen":   {"host": "0.0.0.0", "port": 8443,           # the pod's only exposed port
                   "healthPort": null},                        # plain-HTTP /healthz and /readyz only (kubelet probes)
      "upstream": {"url": "http://127.0.0.1:8000",            # REQUIRED; loopback only, explicit port, no path
                   "healthPath": "/health"},                   # probed by /readyz
      "model":    {"name": ..., "version": ..., "rootDigest": "sha256:<64 hex>",   # REQUIRED, from the release
                   "maxOutputTokens": 4096,                    # RC-09 clamp for max_tokens
                   "tokenizer": null},                         # optional tokenizer file for RC-05 counting
      "tier": "standard" | "elevated" | "high" | "critical",  # REQUIRED; sets each control's default
      "controls": {<control>: {"enabled": bool, ...limits}},   # see CONTROL_NAMES; omitted -> tier default
      "systemPrompt": {"text": "..."} | {"path": "/etc/modelfort/system-prompt.txt"} | null,
      "guardrail": {"provider": "bedrock" | "model-armor" | "none",   # REQUIRED
                    "bedrock":    {"guardrailId", "guardrailVersion", "region", "endpointUrl"?}
                                  | {"file": PATH},            # a JSON file with those keys (computed at deploy)
                    "modelArmor": {"project", "location", "template", "endpointUrl"?},
                    "timeoutS": 2.0, "failOpen": false, "allowNoGuardrail": false},
      "identity": {"mode": "apigateway-mtls" | "jwt",                 # REQUIRED
                   "apigatewayMtls": {"principalHeader": "x-modelfort-principal", "caBundle": PATH,
                                      "certFile": PATH, "keyFile": PATH},
                   "jwt": {"issuer", "audience", "jwksUrl" | "jwksFile", "algorithms": ["RS256"],
                           "principalClaim": "sub"}},
      "limits": {"maxRequestBytes": 1048576, "requestTimeoutS": 60.0, "upstreamTimeoutS": 30.0,
                 "maxConcurrent": 64, "queueSize": 128},
      "streaming": {"windowChars": 256},                       # output released to the caller in checked windows
      "allowedExtraPaths": []                                  # e.g. ["/v1/models"]; proxied as-is
    }

Security decisions the deployment side can rely on:
- `guardrail.provider: "none"` is refused at tier high and critical unless `guardrail.allowNoGuardrail` is true; the
  key is in the rendered config, so the policy pack can see and block it.
- `guardrail.failOpen` defaults to false (a guardrail error or timeout refuses the request) and is refused at tier
  critical whatever else is set.
- At tier high and critical the controls in `LOCKED_FROM_HIGH` cannot be switched off.
- Caller `system` messages are refused (GR-09) unless `controls.systemPrompt.callerSystem` is `"demote"`, which
  turns them into `user` messages after the configured system prompt; they never replace it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_ENV = "MODELFORT_GUARD_CONFIG"

TIERS = ("standard", "elevated", "high", "critical")
PROVIDERS = ("bedrock", "model-armor", "none")
IDENTITY_MODES = ("apigateway-mtls", "jwt")
JWT_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA")
CALLER_SYSTEM_MODES = ("refuse", "demote")

# Every control, in the order the guard applies it, with the control IDs it serves and the first tier at which it
# is on by default. Input controls first, then output controls.
CONTROL_TABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "requestSize": (("RC-05",), "standard"),
    "promptTokens": (("RC-05",), "standard"),
    "maxTokensClamp": (("RC-09",), "standard"),
    "keywords": (("RC-07",), "elevated"),
    "injectionDetectors": (("RC-08",), "standard"),
    "ragSanitisation": (("RC-06",), "standard"),
    "systemPrompt": (("GR-09",), "standard"),
    "inputGuardrail": (("RC-02", "RC-03", "RC-08"), "standard"),
    "outputGuardrail": (("RC-01", "RC-02", "RC-03", "RC-04"), "standard"),
    "extractionDetectors": (("WP-04", "WP-07"), "standard"),
    "redaction": (("RC-01", "GR-09"), "standard"),
}
CONTROL_NAMES = tuple(CONTROL_TABLE)
LOCKED_FROM_HIGH = ("requestSize", "promptTokens", "maxTokensClamp", "injectionDetectors", "ragSanitisation",
                    "systemPrompt", "inputGuardrail", "outputGuardrail", "extractionDetectors")

# Extra keys each control accepts beyond `enabled`, with their type and default.
CONTROL_OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "promptTokens": {"maxTokens": (int, 8192)},
    "keywords": {"disallowed": (list, [])},
    "systemPrompt": {"callerSystem": (str, "refuse")},
    # Secret markers planted in the system prompt; one in an output is a proven leak (WP-07).
    "extractionDetectors": {"canaries": (list, [])},
}

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class GuardConfigError(ValueError):
    """The config cannot be used; `problems` lists `(dotted.key, what is wrong and what is allowed)`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid guard config:\n" + "\n".join(f"  {k}: {m}" for k, m in problems))


@dataclass(frozen=True)
class ControlSetting:
    enabled: bool
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BedrockSettings:
    guardrail_id: str
    guardrail_version: str
    region: str
    endpoint_url: str | None = None


@dataclass(frozen=True)
class ModelArmorSettings:
    project: str
    location: str
    template: str
    endpoint_url: str | None = None


@dataclass(frozen=True)
class GuardrailSettings:
    provider: str
    timeout_s: float
    fail_open: bool
    allow_no_guardrail: bool
    bedrock: BedrockSettings | None = None
    model_armor: ModelArmorSettings | None = None


@dataclass(frozen=True)
class MtlsSettings:
    principal_header: str
    ca_bundle: str
    cert_file: str
    key_file: str


@dataclass(frozen=True)
class JwtSettings:
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    principal_claim: str
    jwks_url: str | None = None
    jwks_file: str | None = None


@dataclass(frozen=True)
class IdentitySettings:
    mode: str
    mtls: MtlsSettings | None = None
    jwt: JwtSettings | None = None


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int
    request_timeout_s: float
    upstream_timeout_s: float
    max_concurrent: int
    queue_size: int


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    root_digest: str
    max_output_tokens: int
    tokenizer: str | None = None


@dataclass(frozen=True)
class GuardConfig:
    listen_host: str
    listen_port: int
    upstream_url: str
    upstream_health_path: str
    model: ModelInfo
    tier: str
    controls: Mapping[str, ControlSetting]
    system_prompt: str | None
    guardrail: GuardrailSettings
    identity: IdentitySettings
    limits: Limits
    stream_window_chars: int
    allowed_extra_paths: tuple[str, ...]
    health_port: int | None = None
    """A second, plain-HTTP listener serving /healthz and /readyz alone: the kubelet cannot present a client
    certificate to the mTLS port. It never proxies, so exposing it would reveal readiness and nothing else."""

    def enabled(self, control: str) -> bool:
        return self.controls[control].enabled


class _Reader:
    """Reads typed values out of nested mappings, collecting every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def bad(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def section(self, data: Mapping[str, Any], key: str, allowed: tuple[str, ...], required: bool = False) -> dict:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                self.bad(key, "is required (an object)")
            return {}
        if not isinstance(value, Mapping):
            self.bad(key, f"must be an object, got {type(value).__name__}")
            return {}
        for extra in sorted(set(value) - set(allowed)):
            self.bad(f"{key}.{extra}", f"unknown key; allowed: {', '.join(allowed)}")
        return dict(value)

    def value(self, data: Mapping[str, Any], prefix: str, name: str, kind: type, default: Any = None,
              required: bool = False) -> Any:
        key = f"{prefix}.{name}" if prefix else name
        if name not in data or data[name] is None:
            if required:
                self.bad(key, f"is required ({kind.__name__})")
            return default
        value = data[name]
        # bool is an int in Python; a `true` where a number belongs is a mistake, not 1.
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            self.bad(key, f"must be {kind.__name__}, got {type(value).__name__}")
            return default
        if kind is str and not value.strip():
            self.bad(key, "must not be empty")
            return default
        return value

    def positive(self, data: Mapping[str, Any], prefix: str, name: str, kind: type, default: Any) -> Any:
        value = self.value(data, prefix, name, kind, default)
        if value is not None and value <= 0:
            self.bad(f"{prefix}.{name}", f"must be > 0, got {value}")
            return default
        return value

    def choice(self, data: Mapping[str, Any], key: str, name: str, allowed: tuple[str, ...],
               default: str | None = None) -> str | None:
        value = self.value(data, key, name, str, default, required=default is None)
        if value is not None and value not in allowed:
            self.bad(f"{key}.{name}" if key else name, f"{value!r} is not allowed; allowed: {', '.join(allowed)}")
            return None
        return value


def check_loopback_url(url: str) -> str | None:
    """Returns why `url` is not an acceptable upstream, or None. The model server must only be reachable from
    inside the pod, so anything but plain http to a loopback IP with an explicit port is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme != "http":
        return "scheme must be http (the upstream is on the pod's loopback)"
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        return "must be http://127.0.0.1:PORT with no path, query or credentials"
    try:
        if not ipaddress.ip_address(parts.hostname or "").is_loopback:
            return f"host {parts.hostname} is not loopback; allowed: 127.0.0.1 or [::1]"
    except ValueError:
        return f"host {parts.hostname!r} must be a loopback IP literal (127.0.0.1 or [::1]), not a name"
    if port is None:
        return "an explicit port is required"
    return None


def _controls(r: _Reader, data: Mapping[str, Any], tier: str) -> dict[str, ControlSetting]:
    section = r.section(data, "controls", CONTROL_NAMES)
    rank = TIERS.index(tier) if tier in TIERS else 0
    result: dict[str, ControlSetting] = {}
    for name, (_ids, from_tier) in CONTROL_TABLE.items():
        options_spec = CONTROL_OPTIONS.get(name, {})
        key = f"controls.{name}"
        entry = r.section(section, key, ("enabled", *options_spec))
        default_on = rank >= TIERS.index(from_tier)
        enabled = r.value(entry, key, "enabled", bool, default_on)
        if not enabled and name in LOCKED_FROM_HIGH and rank >= TIERS.index("high"):
            r.bad(f"{key}.enabled", f"cannot be false at tier {tier}; it is mandatory from tier high")
        options = {opt: r.value(entry, key, opt, kind, default) for opt, (kind, default) in options_spec.items()}
        result[name] = ControlSetting(enabled=bool(enabled), options=options)
    max_prompt = result["promptTokens"].options["maxTokens"]
    if max_prompt <= 0:
        r.bad("controls.promptTokens.maxTokens", f"must be > 0, got {max_prompt}")
    words = result["keywords"].options["disallowed"]
    if not all(isinstance(w, str) and w.strip() for w in words):
        r.bad("controls.keywords.disallowed", "must be a list of non-empty strings")
    canaries = result["extractionDetectors"].options["canaries"]
    if not all(isinstance(c, str) and len(c.strip()) >= 8 for c in canaries):
        r.bad("controls.extractionDetectors.canaries", "must be a list of strings of at least 8 characters")
    caller_system = result["systemPrompt"].options["callerSystem"]
    if caller_system not in CALLER_SYSTEM_MODES:
        r.bad("controls.systemPrompt.callerSystem",
              f"{caller_system!r} is not allowed; allowed: {', '.join(CALLER_SYSTEM_MODES)}")
    return result


def _system_prompt(r: _Reader, data: Mapping[str, Any], base: Path) -> str | None:
    section = r.section(data, "systemPrompt", ("text", "path"))
    text = r.value(section, "systemPrompt", "text", str)
    path = r.value(section, "systemPrompt", "path", str)
    if text is not None and path is not None:
        r.bad("systemPrompt", "set either text or path, not both")
        return None
    if path is not None:
        try:
            text = (base / path).read_text(encoding="utf-8")
        except OSError as exc:
            r.bad("systemPrompt.path", f"cannot be read: {exc.strerror or exc}")
            return None
    return text


BEDROCK_KEYS = ("guardrailId", "guardrailVersion", "region", "endpointUrl")


def _bedrock_section(r: _Reader, guardrail: Mapping[str, Any], base: Path) -> dict:
    """`guardrail.bedrock` inline, or `{"file": PATH}` naming a JSON file with the same keys.

    The file form exists for deployments: the guardrail's id and version are only known once Bedrock has created
    them, so `ModelServing` renders them into a file of their own, and the main config (what the policy pack reads:
    tier, provider, failOpen, upstream) stays fully known at preview."""
    p = "guardrail.bedrock"
    section = r.section(guardrail, p, (*BEDROCK_KEYS, "file"), required=True)
    if "file" not in section:
        return section
    path = r.value(section, p, "file", str, required=True)
    if set(section) != {"file"}:
        r.bad(p, "give either file or the inline keys, not both")
        return {}
    if path is None:
        return {}
    try:
        loaded = json.loads((base / path).read_text(encoding="utf-8"))
    except OSError as exc:
        r.bad(f"{p}.file", f"cannot read {base / path}: {exc.strerror or exc}")
        return {}
    except json.JSONDecodeError as exc:
        r.bad(f"{p}.file", f"{base / path} is not valid JSON: {exc}")
        return {}
    return r.section({"bedrock": loaded}, p, BEDROCK_KEYS, required=True)


def _guardrail(r: _Reader, data: Mapping[str, Any], tier: str, base: Path) -> GuardrailSettings | None:
    key = "guardrail"
    section = r.section(data, key, ("provider", "bedrock", "modelArmor", "timeoutS", "failOpen",
                                    "allowNoGuardrail"), required=True)
    provider = r.choice(section, key, "provider", PROVIDERS)
    timeout_s = r.positive(section, key, "timeoutS", float, 2.0)
    fail_open = r.value(section, key, "failOpen", bool, False)
    allow_none = r.value(section, key, "allowNoGuardrail", bool, False)
    if fail_open and tier == "critical":
        r.bad("guardrail.failOpen", "cannot be true at tier critical; a guardrail failure must refuse the request")
    if provider == "none" and tier in ("high", "critical") and not allow_none:
        r.bad("guardrail.provider", f"'none' is refused at tier {tier} unless guardrail.allowNoGuardrail is true")
    bedrock = model_armor = None
    if provider == "bedrock":
        b = _bedrock_section(r, section, base)
        p = "guardrail.bedrock"
        version = r.value(b, p, "guardrailVersion", str, required=True)
        # A pinned numeric version, never DRAFT: DRAFT changes under the guard without a release.
        if version is not None and not version.isdigit():
            r.bad(f"{p}.guardrailVersion", f"{version!r} is not a pinned version; allowed: a number like \"3\"")
        bedrock = BedrockSettings(r.value(b, p, "guardrailId", str, required=True), version or "",
                                  r.value(b, p, "region", str, required=True), r.value(b, p, "endpointUrl", str))
    elif provider == "model-armor":
        m = r.section(section, "guardrail.modelArmor", ("project", "location", "template", "endpointUrl"),
                      required=True)
        p = "guardrail.modelArmor"
        model_armor = ModelArmorSettings(r.value(m, p, "project", str, required=True),
                                         r.value(m, p, "location", str, required=True),
                                         r.value(m, p, "template", str, required=True),
                                         r.value(m, p, "endpointUrl", str))
    if provider is None:
        return None
    return GuardrailSettings(provider, timeout_s, bool(fail_open), bool(allow_none), bedrock, model_armor)


def _identity(r: _Reader, data: Mapping[str, Any], base: Path) -> IdentitySettings | None:
    section = r.section(data, "identity", ("mode", "apigatewayMtls", "jwt"), required=True)
    mode = r.choice(section, "identity", "mode", IDENTITY_MODES)

    def existing_file(sec: Mapping[str, Any], prefix: str, name: str) -> str:
        value = r.value(sec, prefix, name, str, required=True)
        if value is not None and not (base / value).is_file():
            r.bad(f"{prefix}.{name}", f"file {value} does not exist")
        return str(base / value) if value else ""

    if mode == "apigateway-mtls":
        p = "identity.apigatewayMtls"
        m = r.section(section, p, ("principalHeader", "caBundle", "certFile", "keyFile"), required=True)
        header = r.value(m, p, "principalHeader", str, "x-modelfort-principal")
        return IdentitySettings(mode, mtls=MtlsSettings(header.lower(), existing_file(m, p, "caBundle"),
                                                        existing_file(m, p, "certFile"),
                                                        existing_file(m, p, "keyFile")))
    if mode == "jwt":
        p = "identity.jwt"
        j = r.section(section, p, ("issuer", "audience", "jwksUrl", "jwksFile", "algorithms", "principalClaim"),
                      required=True)
        algorithms = r.value(j, p, "algorithms", list, ["RS256"])
        # "none" and the HMAC family are never allowed: a shared secret in a sidecar config is not an identity.
        bad_algs = [a for a in algorithms if a not in JWT_ALGORITHMS]
        if bad_algs or not algorithms:
            r.bad(f"{p}.algorithms", f"{bad_algs or 'empty'} not allowed; allowed: {', '.join(JWT_ALGORITHMS)}")
        jwks_url = r.value(j, p, "jwksUrl", str)
        jwks_file = r.value(j, p, "jwksFile", str)
        if (jwks_url is None) == (jwks_file is None):
            r.bad(p, "set exactly one of jwksUrl or jwksFile")
        if jwks_url is not None and urlsplit(jwks_url).scheme != "https":
            r.bad(f"{p}.jwksUrl", "must be https")
        if jwks_file is not None:
            jwks_file = existing_file(j, p, "jwksFile")
        return IdentitySettings(mode, jwt=JwtSettings(
            r.value(j, p, "issuer", str, required=True), r.value(j, p, "audience", str, required=True),
            tuple(algorithms), r.value(j, p, "principalClaim", str, "sub"), jwks_url, jwks_file))
    return None


def parse_config(data: Any, base: Path = Path(".")) -> GuardConfig:
    """Validates a decoded config document; relative file paths resolve against `base` (the config's folder)."""
    r = _Reader()
    if not isinstance(data, Mapping):
        raise GuardConfigError([("(root)", "must be a JSON object")])
    top = ("listen", "upstream", "model", "tier", "controls", "systemPrompt", "guardrail", "identity", "limits",
           "streaming", "allowedExtraPaths")
    for extra in sorted(set(data) - set(top)):
        r.bad(extra, f"unknown key; allowed: {', '.join(top)}")
    tier = r.choice(data, "", "tier", TIERS) or "critical"  # an invalid tier is reported; check the rest strictly

    listen = r.section(data, "listen", ("host", "port", "healthPort"))
    host = r.value(listen, "listen", "host", str, "0.0.0.0")
    port = r.value(listen, "listen", "port", int, 8443)
    if not 1 <= port <= 65535:
        r.bad("listen.port", f"must be 1..65535, got {port}")
    health_port = r.value(listen, "listen", "healthPort", int)
    if health_port is not None and (not 1 <= health_port <= 65535 or health_port == port):
        r.bad("listen.healthPort", f"must be 1..65535 and differ from listen.port, got {health_port}")

    upstream = r.section(data, "upstream", ("url", "healthPath"), required=True)
    url = r.value(upstream, "upstream", "url", str, required=True)
    if url is not None and (why := check_loopback_url(url)):
        r.bad("upstream.url", why)
    health_path = r.value(upstream, "upstream", "healthPath", str, "/health")
    if not health_path.startswith("/"):
        r.bad("upstream.healthPath", "must start with /")

    m = r.section(data, "model", ("name", "version", "rootDigest", "maxOutputTokens", "tokenizer"), required=True)
    digest = r.value(m, "model", "rootDigest", str, required=True)
    if digest is not None and not _DIGEST.match(digest):
        r.bad("model.rootDigest", "must be sha256:<64 lowercase hex> (the verified release's root digest)")
    model = ModelInfo(r.value(m, "model", "name", str, required=True) or "",
                      r.value(m, "model", "version", str, required=True) or "", digest or "",
                      r.positive(m, "model", "maxOutputTokens", int, 4096), r.value(m, "model", "tokenizer", str))

    controls = _controls(r, data, tier)
    system_prompt = _system_prompt(r, data, base)
    guardrail = _guardrail(r, data, tier, base)
    identity = _identity(r, data, base)

    lim = r.section(data, "limits", ("maxRequestBytes", "requestTimeoutS", "upstreamTimeoutS", "maxConcurrent",
                                     "queueSize"))
    limits = Limits(r.positive(lim, "limits", "maxRequestBytes", int, 1_048_576),
                    r.positive(lim, "limits", "requestTimeoutS", float, 60.0),
                    r.positive(lim, "limits", "upstreamTimeoutS", float, 30.0),
                    r.positive(lim, "limits", "maxConcurrent", int, 64),
                    r.value(lim, "limits", "queueSize", int, 128))
    if limits.queue_size < 0:
        r.bad("limits.queueSize", f"must be >= 0, got {limits.queue_size}")
    if limits.upstream_timeout_s > limits.request_timeout_s:
        r.bad("limits.upstreamTimeoutS", "must not exceed limits.requestTimeoutS")

    streaming = r.section(data, "streaming", ("windowChars",))
    window = r.positive(streaming, "streaming", "windowChars", int, 256)

    extra_paths = r.value(data, "", "allowedExtraPaths", list, [])
    for i, path in enumerate(extra_paths):
        if not isinstance(path, str) or not path.startswith("/") or path in ("/healthz", "/readyz"):
            r.bad(f"allowedExtraPaths[{i}]", "must be an absolute path other than /healthz and /readyz")

    if r.problems:
        raise GuardConfigError(r.problems)
    if guardrail is None or identity is None:  # unreachable: a None here was reported as a problem above
        raise GuardConfigError([("guardrail" if guardrail is None else "identity", "is invalid")])
    return GuardConfig(host, port, url.rstrip("/"), health_path, model, tier, controls, system_prompt, guardrail,
                       identity, limits, window, tuple(extra_paths), health_port)


def load_config(path: str | os.PathLike[str] | None = None) -> GuardConfig:
    """Loads the config from `path`, else from env `MODELFORT_GUARD_CONFIG`."""
    chosen = path if path is not None else os.environ.get(CONFIG_ENV)
    if not chosen:
        raise GuardConfigError([("--config", f"no config given; pass --config PATH or set {CONFIG_ENV}")])
    file = Path(chosen)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GuardConfigError([("--config", f"cannot read {file}: {exc.strerror or exc}")]) from exc
    except json.JSONDecodeError as exc:
        raise GuardConfigError([("--config", f"{file} is not valid JSON: {exc}")]) from exc
    return parse_config(data, file.parent)
