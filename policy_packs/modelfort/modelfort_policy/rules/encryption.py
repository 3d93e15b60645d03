"""Encryption-at-rest rules shared by every area (WP-01, OB-03): customer keys that rotate."""

from __future__ import annotations

from collections.abc import Iterable

from modelfort_policy.props import as_int
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

KMS_KEY = "aws:kms/key:Key"
SYMMETRIC = "SYMMETRIC_DEFAULT"


def check_kms_key_rotation(resource: Resource, ctx: Context) -> Iterable[str]:
    props = resource.props
    spec = props.get("customerMasterKeySpec") or props.get("keySpec") or SYMMETRIC
    if spec != SYMMETRIC:
        return  # AWS rotates only symmetric keys; asymmetric signing keys are pinned by design
    if props.get("enableKeyRotation") is not True:
        yield f"KMS key '{resource.name}' must rotate its key material (enable_key_rotation=True)."
        return
    period = as_int(props.get("rotationPeriodInDays"))
    effective = period if period is not None else 365  # AWS's default period
    if effective > ctx.tier.max_key_rotation_days:
        yield (
            f"KMS key '{resource.name}' rotates every {effective} days; the {ctx.tier.name} tier allows at most "
            f"{ctx.tier.max_key_rotation_days}."
        )


RULES = (
    Rule(
        name="kms-key-rotation",
        description="Customer-managed symmetric KMS keys rotate at least as often as the tier requires.",
        severity="high",
        controls=("WP-01", "OB-03"),
        remediation="Set enable_key_rotation=True and rotation_period_in_days within the tier's maximum.",
        mandatory_from=STANDARD,
        resource_types=frozenset({KMS_KEY}),
        resource_check=check_kms_key_rotation,
    ),
)
