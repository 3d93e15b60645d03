"""Google Cloud supply-chain rules (ST-05, ST-07, DP-09, WP-01): images run only when attested, and the registry keeps
each tag bound to one digest.

A Binary Authorization policy is judged rule by rule: its default rule, every cluster-specific rule and every
exemption pattern. ALWAYS_ALLOW admits everything; DRYRUN_AUDIT_LOG_ONLY only writes down what it would have blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelfort_policy.props import as_mappings
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.rules.gcp_common import is_set
from modelfort_policy.tiers import STANDARD

BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy"
REPOSITORY = "gcp:artifactregistry/repository:Repository"
ENFORCED = "ENFORCED_BLOCK_AND_AUDIT_LOG"


def _rule_problems(rule: Any, where: str) -> list[str]:
    if not hasattr(rule, "get"):
        return [f"{where} is missing"]
    problems = []
    evaluation, enforcement = rule.get("evaluationMode"), rule.get("enforcementMode")
    if evaluation == "ALWAYS_ALLOW":
        problems.append(f"{where} admits every image (ALWAYS_ALLOW)")
    elif evaluation == "REQUIRE_ATTESTATION" and not is_set(rule, "requireAttestationsBies"):
        problems.append(f"{where} requires attestations but names no attestor")
    elif evaluation not in ("REQUIRE_ATTESTATION", "ALWAYS_DENY"):
        problems.append(f"{where} has evaluation mode {evaluation or 'unset'}")
    if evaluation != "ALWAYS_DENY" and enforcement != ENFORCED:
        problems.append(f"{where} only audits ({enforcement or 'no enforcement mode'}); it must be {ENFORCED}")
    return problems


def check_binauthz_policy(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    for problem in _rule_problems(props.get("defaultAdmissionRule"), "the default admission rule"):
        yield f"Binary Authorization policy '{resource.name}': {problem}."
    for rule in as_mappings(props.get("clusterAdmissionRules")):
        for problem in _rule_problems(rule, f"the rule for cluster {rule.get('cluster')}"):
            yield f"Binary Authorization policy '{resource.name}': {problem}."
    for pattern in as_mappings(props.get("admissionWhitelistPatterns")):
        yield (f"Binary Authorization policy '{resource.name}' exempts {pattern.get('namePattern')!r} from attestation; "
               "Google's system images are covered by the global policy, anything else needs a waiver.")


def check_repository(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if not is_set(props, "kmsKeyName"):
        yield f"Artifact Registry repository '{resource.name}' must encrypt with a customer-managed key (kms_key_name)."
    if str(props.get("format") or "").upper() == "DOCKER" and (props.get("dockerConfig") or {}).get("immutableTags") is not True:
        yield f"Artifact Registry repository '{resource.name}' lets a pushed tag move to another image (docker_config.immutable_tags)."


RULES = (
    Rule(name="gcp-binauthz-enforced", description="Binary Authorization policies require our attestation and block (not just audit) everything else.",
         severity="critical", controls=("ST-05", "ST-07"), mandatory_from=STANDARD,
         remediation="Use ImageTrust: default rule REQUIRE_ATTESTATION with the release attestor, ENFORCED_BLOCK_AND_AUDIT_LOG, no exemptions.",
         resource_types=frozenset({BINAUTHZ_POLICY}), resource_check=check_binauthz_policy),
    Rule(name="gcp-artifact-registry-hardened", description="Artifact Registry repositories are customer-encrypted and their Docker tags immutable.",
         severity="high", controls=("ST-05", "DP-09", "WP-01"), mandatory_from=STANDARD,
         remediation="Set kms_key_name and docker_config.immutable_tags=True (ImageTrust does).",
         resource_types=frozenset({REPOSITORY}), resource_check=check_repository),
)
