"""Lambda entry point of the CredentialJanitor (SC-05): revoke credentials nobody uses.

Run on a schedule (EventBridge). Each run disables IAM access keys unused for MAX_IDLE_DAYS and schedules deletion,
with a recovery window, of Secrets Manager secrets not read for MAX_IDLE_DAYS. Nothing is destroyed beyond
recovery: keys go Inactive (never deleted), secrets keep RECOVERY_WINDOW_DAYS during which RestoreSecret undoes
the janitor. Credentials tagged ``modelfort:janitor-exempt=true`` (on the IAM user for keys) are left alone.
The event is ignored: behaviour comes only from the function's configuration, so whoever can invoke it cannot
change what it does.

Environment (validated before anything runs; see ``config``):
- ``MAX_IDLE_DAYS``: 1-365, default 45 (CIS AWS Foundations 1.12).
- ``RECOVERY_WINDOW_DAYS``: 7-30, default 30.
- ``DRY_RUN``: ``true``/``false``, default false. A dry run writes the same records with outcome ``planned``.

The run ends with a summary record; if any action failed it raises ``JanitorRunFailed`` after the summary, so
the invocation shows as an error (Lambda Errors metric, alarms) instead of a quiet partial success.

Packaging: zip the ``janitor/`` directory (boto3/botocore and the standard library only); handler
``janitor.handler.lambda_handler``.

IAM permissions (least privilege):
- ``iam:ListUsers``, ``iam:ListAccessKeys``, ``iam:GetAccessKeyLastUsed``, ``iam:ListUserTags``: find idle keys
  and read the exemption tag (Resource ``arn:aws:iam::<account>:user/*``);
- ``iam:UpdateAccessKey``: set keys Inactive; ``iam:TagUser``: record what was done (same resource). Not
  ``iam:DeleteAccessKey``.
- ``secretsmanager:ListSecrets`` (Resource ``*``; it returns LastAccessedDate, CreatedDate and tags, so no
  ``DescribeSecret`` is needed);
- ``secretsmanager:TagResource``, ``secretsmanager:DeleteSecret``: tag, then schedule deletion. Pair
  ``DeleteSecret`` with a deny on ``secretsmanager:ForceDeleteWithoutRecovery = true`` so the role cannot force it.
No ``secretsmanager:GetSecretValue`` and no KMS permission: the janitor never reads a secret value.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

from .access_keys import revoke_idle_access_keys
from .audit import AuditTrail
from .config import JanitorConfig, load_config
from .idle_secrets import schedule_idle_secret_deletion

REQUIRED_IAM_ACTIONS: tuple[str, ...] = (
    "iam:GetAccessKeyLastUsed",
    "iam:ListAccessKeys",
    "iam:ListUserTags",
    "iam:ListUsers",
    "iam:TagUser",
    "iam:UpdateAccessKey",
    "secretsmanager:DeleteSecret",
    "secretsmanager:ListSecrets",
    "secretsmanager:TagResource",
)


class JanitorRunFailed(RuntimeError):
    """At least one action failed; the audit records with outcome ``failed`` say which and why."""


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    config = load_config(os.environ)
    run_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    return run_janitor(
        iam=boto3.client("iam"),
        secretsmanager=boto3.client("secretsmanager"),
        config=config,
        now=datetime.now(UTC),
        audit=AuditTrail(run_id=run_id, dry_run=config.dry_run),
    )


def run_janitor(
    *,
    iam: Any,
    secretsmanager: Any,
    config: JanitorConfig,
    now: datetime,
    audit: AuditTrail,
    page_size: int | None = None,
) -> dict[str, Any]:
    """Both sweeps always run (a failing IAM sweep must not spare idle secrets); the verdict comes at the end."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    keys = revoke_idle_access_keys(iam, config=config, now=now, audit=audit, page_size=page_size)
    secrets = schedule_idle_secret_deletion(secretsmanager, config=config, now=now, audit=audit, page_size=page_size)
    summary = audit.summary(
        now=now.isoformat(),
        max_idle_days=config.max_idle_days,
        recovery_window_days=config.recovery_window_days,
        access_keys_examined=keys,
        secrets_examined=secrets,
    )
    if audit.failures:
        raise JanitorRunFailed(f"{audit.failures} janitor action(s) failed in run {audit.run_id}; see outcome=failed")
    return summary
