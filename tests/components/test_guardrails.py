"""Guardrails under mocks and as data: every unsafe domain covered at the tier's strength, PII stripped, a pinned
version, and a control table that names every GR and RC control it implements."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from components.aws.guardrails import (
    CONTENT_FILTERS,
    CONTROL_SETTINGS,
    DEFAULT_DENIED_TOPICS,
    GUARDRAIL_TIER_SETTINGS,
    PII_ANONYMIZED,
    PII_BLOCKED,
    STRENGTHS,
    DeniedTopic,
    GuardrailsArgs,
    config_digest,
    guardrail_config,
    guardrail_defaults_for_tier,
    physical_name,
)
from components.zones import ZONE_PROFILES
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project
from modelfort_policy.rules.guardrails import DOMAIN_PATTERNS, GUARDRAIL_MINIMUMS, REQUIRED_PII, STRENGTH_RANK

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "observability-mutant"
REQUIRED_CONTROLS = {f"GR-0{i}" for i in range(1, 10)} | {"RC-01", "RC-02", "RC-03", "RC-04", "RC-07", "RC-08"}


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"aws:region": "us-east-1", "observability-mutant:mutation": "none"})
    result = run_program_under_mocks(project, stack)
    assert result["error"] is None, result["error"]
    return result["resources"]


def named(resources: list[dict], name: str) -> dict:
    (match,) = [r for r in resources if r["name"] == name]
    return match


@pytest.mark.control("GR-01", "GR-02", "GR-03", "GR-04", "GR-05", "GR-06", "GR-07", "GR-08", "GR-09",
                     "RC-01", "RC-02", "RC-03", "RC-04", "RC-07", "RC-08")
def test_the_control_table_names_every_guardrail_and_runtime_control():
    covered = {setting.control for setting in CONTROL_SETTINGS}
    assert REQUIRED_CONTROLS <= covered, f"missing: {sorted(REQUIRED_CONTROLS - covered)}"
    assert all(setting.setting and setting.how for setting in CONTROL_SETTINGS)


@pytest.mark.control("GR-01", "GR-02", "GR-04", "GR-05", "GR-07", "RC-02", "RC-08")
def test_content_filters_block_both_ways_at_the_tiers_strength_and_prompt_attacks_on_input(resources):
    props = named(resources, "prod-safety-guardrail")["properties"]
    filters = {f["type"]: f for f in props["contentPolicyConfig"]["filtersConfigs"]}
    assert set(filters) == {*CONTENT_FILTERS, "PROMPT_ATTACK"}
    for kind in CONTENT_FILTERS:
        entry = filters[kind]
        assert (entry["inputStrength"], entry["outputStrength"]) == ("HIGH", "HIGH")
        assert (entry["inputAction"], entry["outputAction"]) == ("BLOCK", "BLOCK")
        assert entry["inputEnabled"] is True and entry["outputEnabled"] is True
    attack = filters["PROMPT_ATTACK"]
    assert (attack["inputStrength"], attack["outputStrength"], attack["inputAction"]) == ("HIGH", "NONE", "BLOCK")


@pytest.mark.control("GR-03", "GR-04", "GR-05", "GR-06", "GR-07", "RC-03")
def test_every_unsafe_domain_without_a_content_filter_is_a_denied_topic_with_examples(resources):
    topics = named(resources, "prod-safety-guardrail")["properties"]["topicPolicyConfig"]["topicsConfigs"]
    assert [t["name"] for t in topics] == [t.name for t in DEFAULT_DENIED_TOPICS]
    assert all(t["type"] == "DENY" and t["definition"] and t["examples"] for t in topics)
    texts = [f"{t['name']} {t['definition']}".lower() for t in topics]
    # The pack's own recogniser finds every domain in what the component deploys.
    for domain, patterns in DOMAIN_PATTERNS.items():
        assert any(re.search(p, text) for text in texts for p in patterns), domain
    covered = {control for topic in DEFAULT_DENIED_TOPICS for control in topic.controls}
    assert covered == {"GR-03", "GR-04", "GR-05", "GR-06", "GR-07"}


@pytest.mark.control("GR-08", "RC-01")
def test_credentials_and_identifiers_are_blocked_and_contact_details_anonymised_in_outputs(resources):
    entities = {e["type"]: e for e in named(resources, "prod-safety-guardrail")["properties"]["sensitiveInformationPolicyConfig"]["piiEntitiesConfigs"]}
    assert set(entities) == {*PII_BLOCKED, *PII_ANONYMIZED}
    assert set(REQUIRED_PII) <= set(entities)
    for kind in PII_BLOCKED:
        assert (entities[kind]["inputAction"], entities[kind]["outputAction"]) == ("BLOCK", "BLOCK")
    for kind in PII_ANONYMIZED:
        assert entities[kind]["outputAction"] == "ANONYMIZE" and entities[kind]["outputEnabled"] is True


@pytest.mark.control("RC-07", "RC-04")
def test_profanity_and_grounding_checks_are_on_at_the_tiers_thresholds(resources):
    props = named(resources, "prod-safety-guardrail")["properties"]
    (managed,) = props["wordPolicyConfig"]["managedWordListsConfigs"]
    assert managed["type"] == "PROFANITY" and managed["inputAction"] == "BLOCK"
    thresholds = {f["type"]: f["threshold"] for f in props["contextualGroundingPolicyConfig"]["filtersConfigs"]}
    assert thresholds == {"GROUNDING": 0.75, "RELEVANCE": 0.75}  # the program's production zone runs the "high" tier


@pytest.mark.control("GR-09", "DP-09")
def test_the_guardrail_is_encrypted_and_pinned_to_a_version_named_by_its_configuration(resources):
    guardrail = named(resources, "prod-safety-guardrail")
    assert guardrail["properties"]["name"] == "modelfort-production-prod-safety"
    assert guardrail["properties"]["kmsKeyArn"].startswith("arn:aws:kms:")
    assert named(resources, "prod-safety-key")["properties"]["enableKeyRotation"] is True
    version = named(resources, "prod-safety-version")
    assert version["properties"]["guardrailArn"] == f"arn:aws:bedrock:us-east-1:123456789012:guardrail/{guardrail['id']}"
    assert version["properties"]["skipDestroy"] is True
    assert re.fullmatch(r"modelfort-production-prod-safety configuration sha256:[0-9a-f]{16}", version["properties"]["description"])
    grant = named(resources, "prod-safety-serving-apply")["properties"]["policy"]
    assert '"bedrock:ApplyGuardrail"' in grant and "bedrock.*.amazonaws.com" in grant


@pytest.mark.parametrize("zone", sorted(ZONE_PROFILES))
def test_a_zone_named_guardrail_fits_bedrocks_name_limit_in_every_zone(zone):
    # The zone composer names children f"{zone}-<role>"; the zone must not appear twice in the physical name.
    assert physical_name(zone, f"{zone}-guardrail") == f"modelfort-{zone}-guardrail"
    assert len(physical_name(zone, f"{zone}-guardrail")) <= 50


def test_any_configuration_change_changes_the_version_digest():
    base = guardrail_config(GuardrailsArgs(zone="production"))
    changed = guardrail_config(GuardrailsArgs(zone="production", denied_words=["project-nightingale"]))
    assert config_digest(base) != config_digest(changed)
    assert config_digest(base) == config_digest(guardrail_config(GuardrailsArgs(zone="production")))
    words = changed["word_policy_config"]["words_configs"]
    assert words == [{"text": "project-nightingale", "input_action": "BLOCK", "output_action": "BLOCK", "input_enabled": True, "output_enabled": True}]


@pytest.mark.control("GR-01", "RC-04", "DP-08")
@pytest.mark.parametrize("zone", sorted(ZONE_PROFILES))
def test_the_tier_table_meets_the_packs_minimums_in_every_zone(zone):
    tier = ZONE_PROFILES[zone].tier
    settings, minimum = GUARDRAIL_TIER_SETTINGS[tier], GUARDRAIL_MINIMUMS[tier]
    assert STRENGTH_RANK[settings.filter_strength] >= STRENGTH_RANK[minimum.filter_strength]
    assert settings.grounding_threshold >= minimum.grounding_threshold
    assert settings.relevance_threshold >= minimum.relevance_threshold
    assert guardrail_defaults_for_tier(tier)["filter_strength"] == settings.filter_strength


def test_component_defaults_are_the_strictest_tier_and_unknown_tiers_get_it_too():
    defaults = GuardrailsArgs(zone="z")
    strictest = GUARDRAIL_TIER_SETTINGS["critical"]
    assert (defaults.filter_strength, defaults.grounding_threshold, defaults.relevance_threshold) == dataclasses.astuple(strictest)
    assert guardrail_defaults_for_tier("no-such-tier") == guardrail_defaults_for_tier("critical")


@pytest.mark.parametrize(
    "changes,arg",
    [
        ({"filter_strength": "NONE"}, "filter_strength"),
        ({"filter_strength": "EXTREME"}, "filter_strength"),
        ({"grounding_threshold": 0}, "grounding_threshold"),
        ({"relevance_threshold": 1.0}, "relevance_threshold"),
        ({"pii_action": "NONE"}, "pii_action"),
        ({"extra_denied_topics": [DeniedTopic(name="Medical advice", definition="again", examples=("x",))]}, "extra_denied_topics"),
        ({"denied_words": [""]}, "denied_words"),
        ({"blocked_input_message": " "}, "blocked_input_message"),
    ],
)
def test_unsafe_args_fail_at_construction_naming_the_arg(changes, arg):
    with pytest.raises(ValueError, match=f"GuardrailsArgs.{arg}"):
        GuardrailsArgs(zone="production", **changes)


@pytest.mark.parametrize(
    "changes",
    [{"name": "Medical/legal"}, {"definition": "x" * 201}, {"examples": ()}, {"examples": ("x" * 101,)}, {"examples": ("a",) * 6}],
)
def test_denied_topics_respect_bedrocks_limits(changes):
    base = {"name": "Gambling", "definition": "Betting advice.", "examples": ("Which team should I bet on?",)}
    with pytest.raises(ValueError, match="DeniedTopic"):
        DeniedTopic(**{**base, **changes})


def test_strengths_are_bedrocks():
    assert STRENGTHS == tuple(STRENGTH_RANK)
