"""CredentialJanitor: revokes credentials nobody uses (SC-05), on a schedule, with a role that cannot do more.

The function is `modelfort/runtime/janitor` packaged alone: each run disables IAM access keys unused for
`max_idle_days` and schedules recoverable deletion of secrets nobody read for as long (see its handler for the
rules, exemptions and audit records). Around it:
- an EventBridge schedule (at least daily) and the permission for exactly that rule to invoke it;
- a role built from the runtime's REQUIRED_IAM_ACTIONS, each scoped as narrowly as IAM allows, tag writes limited to
  the janitor's own tag keys, and an explicit deny on deleting a secret without a recovery window;
- an encrypted log group kept for the tier (the JSON audit trail of every decision), and an alarm on errors: a run
  with any failed action ends in an error on purpose.

It runs outside the zone's VPC, unlike the rotation function: it touches no zone resource, only the IAM and Secrets
Manager APIs, and IAM has no interface endpoint outside us-east-1 (the IAM control plane's region), so in an
isolated subnet it could not reach IAM at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.lambda_package import (
    function_log_group_and_role,
    LAMBDA_RUNTIME,
    check_log_retention,
    errors_alarm,
    function_log_group_name,
    logs_key_statement,
    package_runtime,
    write_logs_statement,
)
from components.aws.s3_hardening import account_root_statement, policy_document
from modelfort.runtime.janitor.access_keys import DISABLED_TAG_PREFIX
from modelfort.runtime.janitor.config import (
    DEFAULT_MAX_IDLE_DAYS,
    DEFAULT_RECOVERY_WINDOW_DAYS,
    MAX_IDLE_DAYS_RANGE,
    RECOVERY_WINDOW_RANGE,
)
from modelfort.runtime.janitor.handler import REQUIRED_IAM_ACTIONS
from modelfort.runtime.janitor.rules import TAG_PREFIX

JANITOR_FUNCTION_TAG = ("modelfort:function", "credential-janitor")
"""How the policy pack recognises a janitor in any program (besides its handler name)."""
DEFAULT_SCHEDULE = "rate(1 day)"
MAX_SCHEDULE_HOURS = 24
"""SC-05 means revocation soon after a credential goes idle: at least one run a day."""
# The tags the janitor writes (access_keys.py, idle_secrets.py). TagUser/TagResource are limited to these keys: with
# an unrestricted iam:TagUser the role could set the principal tags other roles trust (say
# modelfort:release-publisher=true) on any user, and so hand that user the role.
JANITOR_TAG_KEYS = (f"{DISABLED_TAG_PREFIX}*", f"{TAG_PREFIX}action", f"{TAG_PREFIX}date", f"{TAG_PREFIX}reason")

_RATE = re.compile(r"^rate\((?P<count>[1-9][0-9]*) (?P<unit>hours?|days?)\)$")
_CRON = re.compile(r"^cron\((?P<fields>[^()]+)\)$")


def schedule_interval_hours(expression: str) -> int | None:
    """Hours between runs for the schedules the janitor accepts: `rate(N hours|days)` (EventBridge wants the
    singular for 1), or a `cron(...)` that fires every day. None for anything else."""
    rate = _RATE.match(expression)
    if rate:
        count, unit = int(rate["count"]), rate["unit"]
        if (count == 1) != (not unit.endswith("s")):
            return None
        return count * (24 if unit.startswith("day") else 1)
    cron = _CRON.match(expression)
    if cron:
        fields = cron["fields"].split()
        if len(fields) == 6 and fields[2] in ("*", "?") and fields[3] == "*" and fields[4] in ("*", "?") and fields[5] == "*":
            return 24
    return None


@dataclass(frozen=True, kw_only=True)
class CredentialJanitorArgs:
    zone: str
    region: str
    log_retention_days: int
    """How long the audit trail is kept (the zone's tier sets it)."""
    max_idle_days: int = DEFAULT_MAX_IDLE_DAYS
    """Revoke credentials unused for longer than this. Defaults to 45 (CIS AWS Foundations 1.12); the policy pack
    blocks anything above 45."""
    recovery_window_days: int = DEFAULT_RECOVERY_WINDOW_DAYS
    """How long a secret scheduled for deletion can still be restored (7-30). Defaults to 30."""
    dry_run: bool = False
    """Escape hatch (weakens SC-05): record what would be revoked, revoke nothing. Defaults to False; a policy blocks
    it unless waived (e.g. for a first week of observation)."""
    schedule_expression: str = DEFAULT_SCHEDULE
    """When it runs: `rate(N hours|days)` or a daily `cron(...)`, at least once a day. Defaults to rate(1 day)."""
    key_rotation_days: int = 365
    """Rotation period of the log key this component creates. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own key for the log group (its policy must admit CloudWatch Logs for it); None (the default) creates
    a rotated one."""
    alarm_actions: Sequence[pulumi.Input[str]]
    """SNS topics notified when a run fails: the zone's on-call topic (SecurityAlerts.topic_arn). Required: an alarm
    that notifies nobody is blocked by the pack (alarm-has-actions)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_log_retention(self.log_retention_days, "CredentialJanitorArgs.log_retention_days")
        for name, (low, high) in (("max_idle_days", MAX_IDLE_DAYS_RANGE), ("recovery_window_days", RECOVERY_WINDOW_RANGE)):
            value = getattr(self, name)
            # The runtime refuses the same ranges at every run; refusing here fails at preview instead.
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"CredentialJanitorArgs.{name}: {value!r} must be a whole number of days from {low} to {high}")
        if isinstance(self.alarm_actions, str) or not self.alarm_actions:
            raise ValueError("CredentialJanitorArgs.alarm_actions: give the on-call topic(s) a failed run must reach")
        if not isinstance(self.dry_run, bool):
            raise ValueError("CredentialJanitorArgs.dry_run: must be True or False (a plain value, not an Output)")
        hours = schedule_interval_hours(self.schedule_expression)
        if hours is None or hours > MAX_SCHEDULE_HOURS:
            raise ValueError(
                f"CredentialJanitorArgs.schedule_expression: {self.schedule_expression!r} must run at least daily: "
                "rate(N hours) with N <= 24, rate(1 day), or a cron(...) with every day of month, month and weekday"
            )


class CredentialJanitor(pulumi.ComponentResource):
    CONTROLS = ("SC-05",)
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CredentialJanitorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:CredentialJanitor", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        log_group_name = function_log_group_name(args.zone, name)

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-logs-key",
                description=f"Encrypts the credential janitor's audit trail in zone {args.zone}",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                    lambda v: json.dumps(
                        policy_document(
                            [account_root_statement(v[0], v[1]), logs_key_statement(v[0], v[1], args.region, log_group_name)]
                        )
                    )
                ),
                tags=tags,
                opts=child,
            )
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        log_group, role = function_log_group_and_role(
            f"{name}-logs", f"{name}-role", log_group_name, self.kms_key_arn, args.log_retention_days,
            f"Credential janitor of zone {args.zone}: disables idle keys, schedules idle secrets for deletion", tags, child,
        )
        region = args.region
        role_policy = aws.iam.RolePolicy(
            f"{name}-access",
            role=role.id,
            policy=pulumi.Output.all(caller.account_id, partition.partition, log_group.arn).apply(
                lambda v: json.dumps(janitor_role_policy(v[0], v[1], region, v[2]))
            ),
            opts=child,
        )
        package = package_runtime("janitor")
        function = aws.lambda_.Function(
            f"{name}-function",
            description=f"Revokes unused credentials (zone {args.zone}; modelfort.runtime.janitor)",
            runtime=LAMBDA_RUNTIME,
            handler=package.handler,
            code=package.archive,
            role=role.arn,
            # A sweep lists every user's keys and every secret; large accounts need minutes, not seconds.
            timeout=900,
            memory_size=256,
            environment={
                "variables": {
                    "MAX_IDLE_DAYS": str(args.max_idle_days),
                    "RECOVERY_WINDOW_DAYS": str(args.recovery_window_days),
                    "DRY_RUN": "true" if args.dry_run else "false",
                }
            },
            logging_config={
                "log_format": "JSON",
                "log_group": log_group.name,
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            },
            tags={**tags, JANITOR_FUNCTION_TAG[0]: JANITOR_FUNCTION_TAG[1]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        schedule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description=f"Runs the credential janitor of zone {args.zone}",
            schedule_expression=args.schedule_expression,
            state="ENABLED",
            tags=tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=schedule.arn,
            source_account=caller.account_id,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=schedule.name,
            arn=function.arn,
            # The handler ignores its input; an empty object makes that explicit and keeps event data out of it.
            input="{}",
            retry_policy={"maximum_retry_attempts": 2, "maximum_event_age_in_seconds": 3600},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        errors_alarm(
            f"{name}-errors",
            function,
            function.name,
            f"A credential janitor run in zone {args.zone} failed; see outcome=failed records in {log_group_name}",
            args.alarm_actions,
            tags,
            child,
        )
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs({"function_arn": self.function_arn, "role_arn": self.role_arn, "kms_key_arn": self.kms_key_arn})


def janitor_role_policy(account: str, partition: str, region: str, log_group_arn: str) -> dict:
    """Every action the runtime declares, each on the narrowest resource IAM supports. An action this function does
    not know how to scope stops the deployment rather than being granted on "*"."""
    users = f"arn:{partition}:iam::{account}:user/*"
    secrets = f"arn:{partition}:secretsmanager:{region}:{account}:secret:*"
    scopes: dict[str, tuple[str, str, dict | None]] = {
        "iam:ListUsers": ("ReadUsersAndKeys", users, None),
        "iam:ListAccessKeys": ("ReadUsersAndKeys", users, None),
        "iam:GetAccessKeyLastUsed": ("ReadUsersAndKeys", users, None),
        "iam:ListUserTags": ("ReadUsersAndKeys", users, None),
        "iam:UpdateAccessKey": ("DisableIdleKeys", users, None),
        "iam:TagUser": ("RecordOnUsersWithJanitorTagsOnly", users, _only_janitor_tags()),
        # Listing cannot be scoped to resources in IAM.
        "secretsmanager:ListSecrets": ("ListSecrets", "*", None),
        "secretsmanager:TagResource": ("RecordOnSecretsWithJanitorTagsOnly", secrets, _only_janitor_tags()),
        "secretsmanager:DeleteSecret": ("ScheduleSecretDeletion", secrets, None),
    }
    unknown = sorted(set(REQUIRED_IAM_ACTIONS) - set(scopes))
    if unknown:
        raise ValueError(
            f"the janitor runtime needs {', '.join(unknown)}, which CredentialJanitor does not know how to scope; "
            "add it to janitor_role_policy deliberately"
        )
    grouped: dict[str, dict] = {}
    for action in sorted(REQUIRED_IAM_ACTIONS):
        sid, resource, condition = scopes[action]
        statement = grouped.setdefault(sid, {"Sid": sid, "Effect": "Allow", "Action": [], "Resource": resource})
        statement["Action"].append(action)
        if condition:
            statement["Condition"] = condition
    return policy_document(
        [
            *grouped.values(),
            {
                # Explicit, so no other policy attached to this role later can let it skip the recovery window.
                "Sid": "NeverDeleteWithoutRecoveryWindow",
                "Effect": "Deny",
                "Action": "secretsmanager:DeleteSecret",
                "Resource": "*",
                "Condition": {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}},
            },
            write_logs_statement(log_group_arn),
        ]
    )


def _only_janitor_tags() -> dict:
    return {"ForAllValues:StringLike": {"aws:TagKeys": list(JANITOR_TAG_KEYS)}}
