"""Guardrail rules (GR-01..GR-09, RC-01..RC-04, RC-07, RC-08): every Bedrock guardrail covers every unsafe domain of
the seed at the tier's strength, and is pinned to a published version.

Content filters are recognised by their type. Denied topics have free-form names, so a domain counts as covered when
a DENY topic's name or definition mentions it (`DOMAIN_PATTERNS`) and the topic has examples; this is what
lets the pack judge guardrails written without ModelFort's components.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_list, as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
GUARDRAIL_VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
STRENGTH_RANK = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


@dataclass(frozen=True)
class GuardrailMinimum:
    filter_strength: str
    grounding_threshold: float
    relevance_threshold: float


# The pack's own copy of the per-tier minimums (an independent judge of the components; see tiers.py).
GUARDRAIL_MINIMUMS = {
    "standard": GuardrailMinimum("MEDIUM", 0.5, 0.5),
    "elevated": GuardrailMinimum("HIGH", 0.7, 0.7),
    "high": GuardrailMinimum("HIGH", 0.75, 0.75),
    "critical": GuardrailMinimum("HIGH", 0.85, 0.85),
}
_STRICTEST = GUARDRAIL_MINIMUMS["critical"]

# Content filter type -> the controls it implements.
CONTENT_FILTERS = {
    "VIOLENCE": ("GR-01", "RC-02"),
    "INSULTS": ("GR-02", "RC-02"),
    "HATE": ("GR-02", "GR-04", "RC-02"),
    "SEXUAL": ("GR-05", "RC-02"),
    "MISCONDUCT": ("GR-07",),
}
PROMPT_ATTACK = "PROMPT_ATTACK"

# Unsafe domain -> patterns that identify a denied topic covering it, matched in the topic's name or definition.
# Word boundaries matter: "illegal drugs" is not legal guidance.
DOMAIN_PATTERNS: dict[str, tuple[str, ...]] = {
    "self-harm (GR-03)": (r"\bself[- ]?harm", r"\bsuicid", r"\bself[- ]?injur"),
    "extremism (GR-04)": (r"\bextremis", r"\bterroris", r"\bradicali"),
    "child safety (GR-05)": (r"\bchild", r"\bminors?\b"),
    "medical guidance (GR-06)": (r"\bmedical\b", r"\bdiagnos", r"\bprescri"),
    "legal guidance (GR-06)": (r"\blegal\b", r"\blawyer", r"\battorney"),
    # Not "exploit": child-safety definitions speak of exploiting children.
    "cybersecurity misuse (GR-07)": (r"\bcyber", r"\bmalware", r"\bhack", r"\bransomware", r"\bvulnerabilit", r"\bphishing"),
}

# PII the guardrail must strip from outputs (GR-08, RC-01): credentials, payment and government identifiers, contact details.
REQUIRED_PII = (
    "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PASSWORD", "CREDIT_DEBIT_CARD_NUMBER", "US_SOCIAL_SECURITY_NUMBER",
    "EMAIL", "PHONE", "NAME", "ADDRESS",
)
STRIPPING_ACTIONS = frozenset({"BLOCK", "ANONYMIZE"})


def _known(props: Any, key: str) -> Any:
    try:
        return props.get(key)
    except UnknownValueError:  # computed at deploy time: cannot match a literal
        return None


def _minimum(ctx: Context) -> GuardrailMinimum:
    return GUARDRAIL_MINIMUMS.get(ctx.tier.name, _STRICTEST)


def _block(props: Any, key: str) -> Mapping[str, Any]:
    """pulumi-aws 7 sends single-block settings as an object; older programs may send a one-item list."""
    blocks = as_mappings(props.get(key))
    return blocks[0] if blocks else {}


def _enabled(entry: Mapping[str, Any], side: str) -> bool:
    return entry.get(f"{side}Enabled") is not False and str(entry.get(f"{side}Action") or "BLOCK").upper() != "NONE"


# ------------------------------------------------------------------------------------------------ content filters
def check_content_filters(resource: Resource, ctx: Context) -> Iterable[str]:
    minimum = _minimum(ctx).filter_strength
    filters = {str(f.get("type")): f for f in as_mappings(_block(resource.props, "contentPolicyConfig").get("filtersConfigs"))}
    for kind, controls in CONTENT_FILTERS.items():
        entry = filters.get(kind)
        if entry is None:
            yield f"guardrail '{resource.name}' has no {kind} content filter ({', '.join(controls)})."
            continue
        weak = [f"{side} {strength}" for side in ("input", "output")
                if STRENGTH_RANK.get(strength := str(entry.get(f"{side}Strength") or "NONE").upper(), 0) < STRENGTH_RANK[minimum]]
        if weak:
            yield f"guardrail '{resource.name}': {kind} strength is {' and '.join(weak)}; the {ctx.tier.name} tier needs {minimum}."
        detect_only = [side for side in ("input", "output") if not _enabled(entry, side)]
        if detect_only:
            yield f"guardrail '{resource.name}': the {kind} filter does not block on {' and '.join(detect_only)} (action NONE or disabled)."
    attack = filters.get(PROMPT_ATTACK)
    if attack is None:
        yield f"guardrail '{resource.name}' has no PROMPT_ATTACK filter: prompt injection and jailbreaks pass (RC-08)."
    else:
        strength = str(attack.get("inputStrength") or "NONE").upper()
        if STRENGTH_RANK.get(strength, 0) < STRENGTH_RANK[minimum]:
            yield f"guardrail '{resource.name}': PROMPT_ATTACK input strength is {strength}; the {ctx.tier.name} tier needs {minimum}."
        if not _enabled(attack, "input"):
            yield f"guardrail '{resource.name}': the PROMPT_ATTACK filter does not block on input (action NONE or disabled)."


# ------------------------------------------------------------------------------------------------ denied topics
def check_denied_topics(resource: Resource, _ctx: Context) -> Iterable[str]:
    topics = as_mappings(_block(resource.props, "topicPolicyConfig").get("topicsConfigs"))
    usable = [
        t for t in topics
        if str(t.get("type") or "").upper() == "DENY" and t.get("definition") and as_list(t.get("examples"))
        and _enabled(t, "input") and _enabled(t, "output")
    ]
    texts = [f"{t.get('name')} {t.get('definition')}".lower() for t in usable]
    missing = [
        domain for domain, patterns in DOMAIN_PATTERNS.items()
        if not any(re.search(pattern, text) for text in texts for pattern in patterns)
    ]
    if missing:
        yield (f"guardrail '{resource.name}' denies no topic for: {'; '.join(missing)}. Each needs a DENY topic with a "
               "definition and examples, blocking inputs and outputs.")


# ------------------------------------------------------------------------------------------------ PII
def check_pii(resource: Resource, _ctx: Context) -> Iterable[str]:
    entities = {str(e.get("type")): e for e in as_mappings(_block(resource.props, "sensitiveInformationPolicyConfig").get("piiEntitiesConfigs"))}
    missing, passing = [], []
    for kind in REQUIRED_PII:
        entry = entities.get(kind)
        if entry is None:
            missing.append(kind)
            continue
        action = str(entry.get("outputAction") or entry.get("action") or "NONE").upper()
        if action not in STRIPPING_ACTIONS or entry.get("outputEnabled") is False:
            passing.append(kind)
    if missing:
        yield f"guardrail '{resource.name}' does not filter PII: {', '.join(missing)} (GR-08)."
    if passing:
        yield f"guardrail '{resource.name}' lets PII through in outputs (action NONE or disabled): {', '.join(passing)} (RC-01)."


# ------------------------------------------------------------------------------------------------ words
def check_word_filters(resource: Resource, _ctx: Context) -> Iterable[str]:
    managed = as_mappings(_block(resource.props, "wordPolicyConfig").get("managedWordListsConfigs"))
    if not any(str(m.get("type")).upper() == "PROFANITY" and _enabled(m, "input") for m in managed):
        yield f"guardrail '{resource.name}' must block the managed PROFANITY word list on input (RC-07)."


# ------------------------------------------------------------------------------------------------ grounding
def check_grounding(resource: Resource, ctx: Context) -> Iterable[str]:
    minimum = _minimum(ctx)
    filters = {str(f.get("type")): f for f in as_mappings(_block(resource.props, "contextualGroundingPolicyConfig").get("filtersConfigs"))}
    for kind, needed in (("GROUNDING", minimum.grounding_threshold), ("RELEVANCE", minimum.relevance_threshold)):
        threshold = (filters.get(kind) or {}).get("threshold")
        if not isinstance(threshold, (int, float)) or isinstance(threshold, bool):
            yield f"guardrail '{resource.name}' has no {kind} check (RC-04 hallucination detection)."
        elif threshold < needed:
            yield f"guardrail '{resource.name}': {kind} threshold {threshold:g}; the {ctx.tier.name} tier needs at least {needed:g}."


# ------------------------------------------------------------------------------------------------ key and version
def check_customer_key(resource: Resource, _ctx: Context) -> Iterable[str]:
    try:
        encrypted = bool(resource.props.get("kmsKeyArn"))
    except UnknownValueError:  # a key created in the same update: its ARN is unknown at preview, but it is set
        encrypted = True
    if not encrypted:
        yield f"guardrail '{resource.name}' must be encrypted with a customer-managed KMS key (kms_key_arn)."


def check_version_pinned(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    versions = [r for r in resources if r.resource_type == GUARDRAIL_VERSION]
    for guardrail in (r for r in resources if r.resource_type == GUARDRAIL):
        known = {_known(guardrail.props, key) for key in ("guardrailArn", "guardrailId", "id")} - {None}
        pinned = any(
            any(dep.urn == guardrail.urn for dep in referenced(v, "guardrailArn")) or _known(v.props, "guardrailArn") in known
            for v in versions
        )
        if not pinned:
            yield Finding(
                f"guardrail '{guardrail.name}' has no published version: callers would use the mutable DRAFT, which "
                "changes under them (aws.bedrock.GuardrailVersion).",
                guardrail.urn,
            )


def _rule(name: str, description: str, controls: tuple[str, ...], remediation: str, check: Any, severity: str = "high") -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=frozenset({GUARDRAIL}), resource_check=check)


RULES = (
    _rule("guardrail-content-filters", "Guardrails block hate, insults, sexual content, violence, misconduct and prompt attacks at the tier's strength.",
          ("GR-01", "GR-02", "GR-04", "GR-05", "GR-07", "RC-02", "RC-08"),
          "Use Guardrails with the zone's tier settings, or set every filters_config type with input/output strength at the tier's minimum.",
          check_content_filters, "critical"),
    _rule("guardrail-denied-topics", "Guardrails deny self-harm, extremism, child safety, medical and legal advice and cyberattack topics.",
          ("GR-03", "GR-04", "GR-05", "GR-06", "GR-07", "RC-03"),
          "Use Guardrails (DEFAULT_DENIED_TOPICS), or add DENY topics with definitions and examples for every domain.",
          check_denied_topics, "critical"),
    _rule("guardrail-pii-filter", "Guardrails strip credentials, identifiers and contact details from outputs.", ("GR-08", "RC-01"),
          "Add pii_entities_config entries with action BLOCK or ANONYMIZE for the required types.", check_pii),
    _rule("guardrail-word-filter", "Guardrails block the managed profanity list.", ("RC-07",),
          "Add word_policy_config.managed_word_lists_config with type PROFANITY.", check_word_filters, "medium"),
    _rule("guardrail-grounding", "Guardrails check grounding and relevance at the tier's thresholds.", ("RC-04",),
          "Add contextual_grounding_policy_config with GROUNDING and RELEVANCE thresholds at the tier's minimum.", check_grounding, "medium"),
    _rule("guardrail-customer-key", "Guardrails are encrypted with a customer-managed key.", ("GR-09",),
          "Set kms_key_arn to a rotated customer key.", check_customer_key, "medium"),
    Rule(name="guardrail-version-pinned", description="Every guardrail has a published, immutable version.", severity="high",
         controls=("GR-09", "DP-09"), remediation="Add aws.bedrock.GuardrailVersion(guardrail_arn=...) and have callers use its version.",
         mandatory_from=STANDARD, stack_check=check_version_pinned),
)
