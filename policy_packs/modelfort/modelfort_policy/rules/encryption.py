"""Encryption-at-rest rules shared by every area (WP-01, OB-03): customer keys that rotate, and the telemetry
stream and state stores (what callers sent, per caller) under a customer key."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_int
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

KMS_KEY = "aws:kms/key:Key"
SYMMETRIC = "SYMMETRIC_DEFAULT"
KINESIS_STREAM = "aws:kinesis/stream:Stream"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
UNSEEN = object()
"""A value computed at deploy time: the gate cannot see it, so it is judged as not set."""


def _read(props, key: str):
    try:
        return props.get(key)
    except UnknownValueError:
        return UNSEEN


def _key_given(value) -> bool:
    # A key created in the same update has an unknown ARN at preview: it exists, which is all this asks.
    return value is UNSEEN or (isinstance(value, str) and bool(value))


def check_stream_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    """Telemetry streams carry prompts, outputs and caller ids: server-side encryption with a customer key."""
    props = resource.props
    mode = _read(props, "encryptionType")
    if mode is UNSEEN:
        yield (f"Kinesis stream '{resource.name}': its encryption_type is computed at deploy time, so the gate cannot "
               "see that it is encrypted; set encryption_type='KMS' literally.")
    elif mode != "KMS":
        yield (f"Kinesis stream '{resource.name}' is not encrypted at rest (encryption_type={mode or 'NONE'!s}); set "
               "encryption_type='KMS' with kms_key_id of a rotated customer key.")
    elif not _key_given(_read(props, "kmsKeyId")) or _read(props, "kmsKeyId") == "alias/aws/kinesis":
        yield (f"Kinesis stream '{resource.name}' uses no customer-managed key: set kms_key_id to the zone's key "
               "(the AWS-managed alias/aws/kinesis key can be neither restricted nor revoked).")


def check_table_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    """DynamoDB encrypts every table with a key AWS owns by default: invisible to the account, never revocable."""
    sse = _read(resource.props, "serverSideEncryption")
    if sse is UNSEEN:
        yield (f"DynamoDB table '{resource.name}': its server_side_encryption is computed at deploy time, so the gate "
               "cannot see its key; set it literally.")
        return
    enabled = _read(sse, "enabled") if hasattr(sse, "get") else None
    key = _read(sse, "kmsKeyArn") if hasattr(sse, "get") else None
    if enabled is not True and enabled is not UNSEEN:
        yield (f"DynamoDB table '{resource.name}' is encrypted only with a key AWS owns: set server_side_encryption="
               "{'enabled': True, 'kms_key_arn': <the zone's customer key>}.")
    elif not _key_given(key):
        yield (f"DynamoDB table '{resource.name}' uses the AWS-managed aws/dynamodb key: give server_side_encryption "
               "a kms_key_arn of the zone's customer key.")


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
    Rule(
        name="kinesis-stream-encrypted",
        description="Kinesis data streams (telemetry re-keyed by caller) are encrypted with a customer-managed key.",
        severity="high",
        controls=("OB-03", "OB-01"),
        remediation="Set encryption_type='KMS' and kms_key_id to the zone's rotated key (TelemetryWatch does).",
        mandatory_from=STANDARD,
        resource_types=frozenset({KINESIS_STREAM}),
        resource_check=check_stream_encrypted,
    ),
    Rule(
        name="dynamodb-table-encrypted",
        description="DynamoDB tables (per-caller detector state) are encrypted with a customer-managed key.",
        severity="high",
        controls=("OB-03", "OB-01"),
        remediation="Set server_side_encryption={'enabled': True, 'kms_key_arn': <zone key>} (TelemetryWatch does).",
        mandatory_from=STANDARD,
        resource_types=frozenset({DYNAMODB_TABLE}),
        resource_check=check_table_encrypted,
    ),
)
