"""Guardrail rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service.

The hardened fixture is what the Guardrails component deploys (its configuration in engine property names), so the
pack and the component are checked against each other as well."""

from __future__ import annotations

import copy
import re

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from components.aws.guardrails import GuardrailsArgs, guardrail_config, guardrail_defaults_for_tier

GUARDRAIL = "aws:bedrock/guardrail:Guardrail"
VERSION = "aws:bedrock/guardrailVersion:GuardrailVersion"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000000"
GUARDRAIL_POLICIES = (
    "guardrail-content-filters", "guardrail-denied-topics", "guardrail-pii-filter", "guardrail-word-filter",
    "guardrail-grounding", "guardrail-customer-key", "guardrail-version-pinned",
)


def camel(value):
    """snake_case pulumi-aws arguments -> the engine's camelCase property names."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def guardrail_props(tier: str = "high") -> dict:
    return {"name": "modelfort-production-safety", "kmsKeyArn": KEY,
            **camel(guardrail_config(GuardrailsArgs(zone="production", **guardrail_defaults_for_tier(tier))))}


def pinned(props: dict | None = None) -> list[dict]:
    guardrail = res(GUARDRAIL, "safety", props if props is not None else guardrail_props())
    version = res(VERSION, "safety-version", {"guardrailArn": UNKNOWN, "description": "pinned"}, {"guardrailArn": [guardrail]})
    return [guardrail, version]


def changed(mutate) -> list[dict]:
    props = copy.deepcopy(guardrail_props())
    mutate(props)
    return pinned(props)


def violations(pack, resources) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, resources)
    return {policy: flagged(diagnostics, policy) for policy in GUARDRAIL_POLICIES if flagged(diagnostics, policy)}


def _filters(props):
    return props["contentPolicyConfig"]["filtersConfigs"]


def _filter(props, kind):
    return next(f for f in _filters(props) if f["type"] == kind)


def _topics(props):
    return props["topicPolicyConfig"]["topicsConfigs"]


def _pii(props, kind):
    return next(e for e in props["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"] if e["type"] == kind)


def test_the_components_guardrail_passes_at_every_tier(packs):
    for zone, tier in (("testing", "standard"), ("redteam", "elevated"), ("production", "high"), ("high-sensitivity", "critical")):
        assert violations(packs.get({"modelfort:zone": zone}), pinned(guardrail_props(tier))) == {}, zone


@pytest.mark.control("GR-01", "GR-02", "GR-04", "GR-05", "GR-07", "RC-02", "RC-08")
@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: _filters(p).remove(_filter(p, "VIOLENCE")),
        lambda p: _filters(p).remove(_filter(p, "INSULTS")),
        lambda p: _filters(p).remove(_filter(p, "PROMPT_ATTACK")),
        lambda p: _filter(p, "HATE").update(outputStrength="MEDIUM"),
        lambda p: _filter(p, "SEXUAL").update(inputStrength="NONE"),
        lambda p: _filter(p, "MISCONDUCT").pop("outputStrength"),
        lambda p: _filter(p, "VIOLENCE").update(outputAction="NONE"),
        lambda p: _filter(p, "INSULTS").update(inputEnabled=False),
        lambda p: _filter(p, "PROMPT_ATTACK").update(inputStrength="LOW"),
        lambda p: _filter(p, "PROMPT_ATTACK").update(inputAction="NONE"),
        lambda p: p.pop("contentPolicyConfig"),
    ],
)
def test_each_weakened_content_filter_is_flagged(packs, mutate):
    assert violations(packs.get(), changed(mutate)) == {"guardrail-content-filters": {"safety"}}


def test_filter_strength_follows_the_tier(packs):
    medium = pinned(guardrail_props("standard"))
    assert violations(packs.get({"modelfort:zone": "testing"}), medium) == {}
    found = violations(packs.get({"modelfort:zone": "production"}), medium)
    assert found == {"guardrail-content-filters": {"safety"}, "guardrail-grounding": {"safety"}}


def test_a_single_block_given_as_a_one_item_list_is_read_the_same(packs):
    def as_lists(props):
        for key in ("contentPolicyConfig", "topicPolicyConfig", "sensitiveInformationPolicyConfig", "wordPolicyConfig", "contextualGroundingPolicyConfig"):
            props[key] = [props[key]]
    assert violations(packs.get(), changed(as_lists)) == {}


@pytest.mark.control("GR-03", "GR-04", "GR-05", "GR-06", "GR-07", "RC-03")
@pytest.mark.parametrize(
    "topic,domain",
    [
        ("Self-harm", "self-harm"), ("Violent extremism", "extremism"), ("Child safety", "child safety"),
        ("Medical advice", "medical guidance"), ("Legal advice", "legal guidance"), ("Cyberattack assistance", "cybersecurity misuse"),
    ],
)
def test_each_missing_domain_is_flagged_and_named(packs, topic, domain):
    resources = changed(lambda p: _topics(p).remove(next(t for t in _topics(p) if t["name"] == topic)))
    diagnostics = [d for d in judge_all(packs.get(), resources) if d.policy == "guardrail-denied-topics"]
    assert [d.urn.rsplit("::", 1)[-1] for d in diagnostics] == ["safety"]
    assert domain in diagnostics[0].message


@pytest.mark.control("GR-06", "RC-03")
@pytest.mark.parametrize(
    "mutate",
    [
        # "Illegal drugs" is not legal guidance: domains are matched on whole words.
        lambda p: next(t for t in _topics(p) if t["name"] == "Legal advice").update(name="Illegal drugs", definition="Buying or making illegal drugs."),
        lambda p: next(t for t in _topics(p) if t["name"] == "Legal advice").pop("examples"),
        lambda p: next(t for t in _topics(p) if t["name"] == "Legal advice").update(type="ALLOW"),
        lambda p: next(t for t in _topics(p) if t["name"] == "Legal advice").update(outputAction="NONE"),
        lambda p: p.pop("topicPolicyConfig"),
    ],
)
def test_a_topic_counts_only_when_it_is_a_blocking_deny_with_examples(packs, mutate):
    assert violations(packs.get(), changed(mutate)) == {"guardrail-denied-topics": {"safety"}}


def test_topics_written_without_the_component_are_recognised(packs):
    def own_words(props):
        props["topicPolicyConfig"]["topicsConfigs"] = [
            {"name": "Suicide", "definition": "Methods or encouragement of suicide.", "examples": ["e"], "type": "DENY"},
            {"name": "Terrorism", "definition": "Support for terrorist groups.", "examples": ["e"], "type": "DENY"},
            {"name": "Minors", "definition": "Sexual content involving minors.", "examples": ["e"], "type": "DENY"},
            {"name": "Health and law", "definition": "Medical diagnosis or legal strategy for a person.", "examples": ["e"], "type": "DENY"},
            {"name": "Hacking", "definition": "Writing malware or breaking into systems.", "examples": ["e"], "type": "DENY"},
        ]
    assert violations(packs.get(), changed(own_words)) == {}


@pytest.mark.control("GR-08", "RC-01")
@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"].remove(_pii(p, "EMAIL")),
        lambda p: _pii(p, "AWS_SECRET_KEY").update(action="NONE", outputAction="NONE"),
        lambda p: _pii(p, "PHONE").update(outputEnabled=False),
        lambda p: p.pop("sensitiveInformationPolicyConfig"),
    ],
)
def test_pii_that_reaches_outputs_is_flagged(packs, mutate):
    assert violations(packs.get(), changed(mutate)) == {"guardrail-pii-filter": {"safety"}}


@pytest.mark.control("RC-07")
@pytest.mark.parametrize(
    "mutate",
    [lambda p: p.pop("wordPolicyConfig"), lambda p: p["wordPolicyConfig"]["managedWordListsConfigs"][0].update(inputAction="NONE")],
)
def test_the_managed_profanity_list_must_block(packs, mutate):
    assert violations(packs.get(), changed(mutate)) == {"guardrail-word-filter": {"safety"}}


@pytest.mark.control("RC-04")
@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("contextualGroundingPolicyConfig"),
        lambda p: p["contextualGroundingPolicyConfig"]["filtersConfigs"].pop(),
        lambda p: p["contextualGroundingPolicyConfig"]["filtersConfigs"][0].update(threshold=0.5),
    ],
)
def test_grounding_and_relevance_checks_at_the_tiers_threshold(packs, mutate):
    assert violations(packs.get(), changed(mutate)) == {"guardrail-grounding": {"safety"}}


@pytest.mark.control("GR-09")
@pytest.mark.parametrize("key,expected", [(KEY, set()), (UNKNOWN, set()), (None, {"safety"})])
def test_guardrails_are_encrypted_with_a_customer_key(packs, key, expected):
    props = {k: v for k, v in {**guardrail_props(), "kmsKeyArn": key}.items() if v is not None}
    assert flagged(packs.get().analyze(res(GUARDRAIL, "safety", props)), "guardrail-customer-key") == expected


@pytest.mark.control("GR-09", "DP-09")
def test_every_guardrail_has_a_published_version(packs):
    guardrail, _version = pinned()
    assert violations(packs.get(), [guardrail]) == {"guardrail-version-pinned": {"safety"}}
    other = res(GUARDRAIL, "other", guardrail_props())
    version_of_other = res(VERSION, "other-version", {"guardrailArn": UNKNOWN}, {"guardrailArn": [other]})
    assert violations(packs.get(), [guardrail, other, version_of_other]) == {"guardrail-version-pinned": {"safety"}}
    # An existing guardrail pinned by its literal ARN.
    existing = res(GUARDRAIL, "existing", {**guardrail_props(), "guardrailArn": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123def456"})
    literal = res(VERSION, "existing-version", {"guardrailArn": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc123def456"})
    assert violations(packs.get(), [existing, literal]) == {}
