"""Log rules (OB-02, OB-03): every CloudWatch log group is encrypted with a customer key and kept for the tier."""

from __future__ import annotations

from collections.abc import Iterable

from modelfort_policy.props import as_int
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def check_log_group(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    if not props.get("kmsKeyId"):
        yield f"log group '{resource.name}' must be encrypted with a customer-managed KMS key."
    retention = as_int(props.get("retentionInDays"))
    # 0 or absent means "never expire", which keeps evidence at least as long as any tier asks.
    if retention is not None and 0 < retention < ctx.tier.min_log_retention_days:
        yield f"log group '{resource.name}' keeps logs {retention} days; the {ctx.tier.name} tier needs at least {ctx.tier.min_log_retention_days}."


RULES = (
    Rule(
        name="log-group-encrypted-retained",
        description="CloudWatch log groups are encrypted with a customer key and kept at least as long as the tier requires.",
        severity="medium",
        controls=("OB-02", "OB-03"),
        remediation="Set kms_key_id to a rotated customer key and retention_in_days to the tier's minimum or more.",
        mandatory_from=STANDARD,
        resource_types=frozenset({LOG_GROUP}),
        resource_check=check_log_group,
    ),
)
