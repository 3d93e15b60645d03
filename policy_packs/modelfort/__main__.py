"""The ModelFort policy pack, as `pulumi preview --policy-pack policy_packs/modelfort` and `modelfort gate` run it."""

import datetime as dt

import pulumi.runtime
from pulumi_policy import PolicyPack

from modelfort_policy.pack import PACK_NAME, build_policies, read_stack_settings

# Expiry is judged by the UTC date, the same on every runner.
settings = read_stack_settings(pulumi.runtime.get_config, dt.datetime.now(dt.timezone.utc).date())
policies, _ledger = build_policies(settings)

PolicyPack(
    name=PACK_NAME,
    policies=policies,
    description="Blocks AI-model stacks that break ModelFort's controls (see the control catalog).",
)
