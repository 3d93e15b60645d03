"""Every rule the pack enforces, by area. Adding an area: write its module with a `RULES` tuple and list it here."""

from __future__ import annotations

from modelfort_policy.rule import Rule
from modelfort_policy.rules import eks, encryption, kubernetes, logging, network, secrets, storage, supply_chain
from modelfort_policy.rules import endpoint, evidence, guardrails, remote_components
from modelfort_policy.rules import k8s_exposure, k8s_guard, k8s_rbac
from modelfort_policy.rules import endpoint_policies, plaintext_credentials, resource_policies
from modelfort_policy.rules import checkov_cloud, managed_serving, telemetry_shipping
from modelfort_policy.rules import gcp_data, gcp_gke, gcp_guardrails, gcp_iam, gcp_network, gcp_supply_chain, gcp_telemetry

ALL_RULES: tuple[Rule, ...] = (
    *network.RULES, *encryption.RULES, *storage.RULES, *eks.RULES, *logging.RULES, *kubernetes.RULES,
    *k8s_rbac.RULES, *k8s_exposure.RULES, *k8s_guard.RULES,
    *secrets.RULES, *plaintext_credentials.RULES, *endpoint_policies.RULES, *supply_chain.RULES, *resource_policies.RULES,
    *evidence.RULES, *endpoint.RULES, *guardrails.RULES, *remote_components.RULES,
    *gcp_network.RULES, *gcp_gke.RULES, *gcp_data.RULES, *gcp_iam.RULES, *gcp_supply_chain.RULES, *gcp_guardrails.RULES,
    *gcp_telemetry.RULES,
    *managed_serving.RULES, *telemetry_shipping.RULES,
    *checkov_cloud.RULES,
)


def _check_unique_names(rules: tuple[Rule, ...]) -> None:
    names = [rule.name for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"policy names must be unique; repeated: {', '.join(duplicates)}")


_check_unique_names(ALL_RULES)
