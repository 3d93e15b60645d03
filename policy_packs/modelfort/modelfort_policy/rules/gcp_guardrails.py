"""Model Armor rules (GR-01..05, GR-07..09, RC-01..03, RC-08): every template and floor setting screens all the unsafe
domains Model Armor knows, prompt injection and jailbreaks, malicious URIs and sensitive data, and blocks what it finds.

HIGH confidence fires only when Model Armor is sure, which lets most borderline harmful content through; the pack
accepts LOW_AND_ABOVE and MEDIUM_AND_ABOVE.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from modelfort_policy.props import as_mappings
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.rules.gcp_common import CLUSTER, of_type
from modelfort_policy.tiers import HIGH, STANDARD

TEMPLATE = "gcp:modelarmor/template:Template"
FLOOR = "gcp:modelarmor/floorsetting:Floorsetting"
DOMAINS = ("SEXUALLY_EXPLICIT", "HATE_SPEECH", "HARASSMENT", "DANGEROUS")
STRICT_ENOUGH = frozenset({"LOW_AND_ABOVE", "MEDIUM_AND_ABOVE"})


def _filter_problems(config: Any) -> list[str]:
    if not hasattr(config, "get"):
        return ["has no filter_config"]
    problems = []
    filters = {f.get("filterType"): f.get("confidenceLevel") for f in as_mappings((config.get("raiSettings") or {}).get("raiFilters"))}
    missing = [d for d in DOMAINS if d not in filters]
    if missing:
        problems.append(f"does not screen {', '.join(missing)}")
    weak = [d for d in DOMAINS if d in filters and filters[d] not in STRICT_ENOUGH]
    if weak:
        problems.append(f"screens {', '.join(weak)} only at confidence {', '.join(sorted({str(filters[d]) for d in weak}))}")
    injection = config.get("piAndJailbreakFilterSettings") or {}
    if injection.get("filterEnforcement") != "ENABLED":
        problems.append("does not detect prompt injection and jailbreaks")
    elif injection.get("confidenceLevel") not in STRICT_ENOUGH:
        problems.append(f"detects prompt injection only at confidence {injection.get('confidenceLevel') or 'unset'}")
    if (config.get("maliciousUriFilterSettings") or {}).get("filterEnforcement") != "ENABLED":
        problems.append("does not screen malicious URIs")
    sdp = config.get("sdpSettings") or {}
    basic = (sdp.get("basicConfig") or {}).get("filterEnforcement") == "ENABLED"
    advanced = bool((sdp.get("advancedConfig") or {}).get("inspectTemplate"))
    if not (basic or advanced):
        problems.append("does not screen sensitive data (sdp_settings)")
    return problems


def check_template(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    for problem in _filter_problems(props.get("filterConfig")):
        yield f"Model Armor template '{resource.name}' {problem}."
    enforcement = (props.get("templateMetadata") or {}).get("enforcementType")
    if enforcement != "INSPECT_AND_BLOCK":
        yield f"Model Armor template '{resource.name}' does not block what it finds (enforcement_type {enforcement or 'unset'}, not INSPECT_AND_BLOCK)."


def check_floor(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("enableFloorSettingEnforcement") is not True:
        yield f"Model Armor floor setting '{resource.name}' is not enforced."
    for problem in _filter_problems(props.get("filterConfig")):
        yield f"Model Armor floor setting '{resource.name}' {problem}."
    platform = props.get("aiPlatformFloorSetting") or {}
    if platform and (platform.get("inspectOnly") is True or platform.get("inspectAndBlock") is not True):
        yield f"Model Armor floor setting '{resource.name}' only inspects Vertex AI traffic; it must inspect and block."


def check_guardrails_present(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    clusters = of_type(resources, CLUSTER)
    if not clusters:
        return
    missing = [kind for kind, t in (("template", TEMPLATE), ("floor setting", FLOOR)) if not of_type(resources, t)]
    if missing:
        yield Finding(f"GKE cluster '{clusters[0].name}' serves models with no Model Armor {' or '.join(missing)} in the stack.",
                      clusters[0].urn)


RULES = (
    Rule(name="gcp-model-armor-template", description="Model Armor templates screen every unsafe domain, injection, malicious URIs and "
         "sensitive data, and block what they find.", severity="high",
         controls=("GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-07", "GR-08", "RC-01", "RC-02", "RC-03", "RC-08"),
         mandatory_from=STANDARD, remediation="Use ModelGuardrails, or enable every filter at MEDIUM_AND_ABOVE or stricter with "
         "enforcement_type INSPECT_AND_BLOCK.", resource_types=frozenset({TEMPLATE}), resource_check=check_template),
    Rule(name="gcp-model-armor-floor", description="Model Armor floor settings are enforced, cover every domain and block.",
         severity="high", controls=("GR-09", "RC-03", "RC-08"), mandatory_from=STANDARD,
         remediation="Set enable_floor_setting_enforcement=True, the full filter_config and inspect_and_block for Vertex AI.",
         resource_types=frozenset({FLOOR}), resource_check=check_floor),
    Rule(name="gcp-model-armor-present", description="From the high tier, a GCP zone that serves models has a Model Armor template and floor setting.",
         severity="high", controls=("GR-09", "RC-03"), mandatory_from=HIGH,
         remediation="Add ModelGuardrails to the zone (GcpZone does).", stack_check=check_guardrails_present),
)
