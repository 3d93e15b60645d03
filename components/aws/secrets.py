"""RotatedSecret: one service token (an API key an agent or tool uses, or a token clients present to the model API),
held in Secrets Manager under a customer key and rotated by ModelFort's rotation function from inside the zone.

Controls: SC-03 (managed store, customer-managed key, who may read it is named), SC-04 (rotated at least as often as
the tier requires, by a least-privilege function in the zone's isolated subnets).

What gets created, and why each piece is there:
- the secret, encrypted with a rotated customer key (created, or brought), tagged `modelfort:token-kind` so the
  rotation function knows which kind of token to mint;
- a bootstrap version holding a placeholder (the rotation protocol needs an AWSCURRENT value to start from; the first
  rotation, run immediately, replaces it). Pulumi ignores later changes to it, or a `pulumi up --refresh` would move
  AWSCURRENT back to the placeholder;
- the rotation function, packaged from `modelfort/runtime/rotation` alone, in the isolated subnets with the
  workload security group, reaching Secrets Manager through the zone's interface endpoint (private DNS answers the
  regional name; SECRETS_MANAGER_ENDPOINT pins it and the runtime refuses anything but https);
- its role: exactly the runtime's REQUIRED_IAM_ACTIONS on this secret, REQUIRED_KMS_ACTIONS on the key only through
  Secrets Manager (kms:ViaService), its own log stream, and the network interfaces Lambda needs in a VPC;
- a resource policy on the secret: nobody but the named readers and the rotation function reads the value, nobody
  but the rotation function writes one, and nobody deletes it without a recovery window;
- an encrypted log group kept for the tier, and an alarm on the function's errors. Secrets Manager invokes rotation
  functions synchronously, so a dead-letter queue would never receive anything: failures surface as function errors
  (the alarm), as `outcome=failed` JSON lines in the log, and as Secrets Manager's RotationFailed event.
"""

from __future__ import annotations

import json
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
from modelfort.runtime.rotation.handler import REQUIRED_IAM_ACTIONS, REQUIRED_KMS_ACTIONS
from modelfort.runtime.rotation.service_token import KIND_TAG, TOKEN_KINDS

MAX_ROTATION_DAYS = 1000
"""Secrets Manager's own upper limit for AutomaticallyAfterDays."""
RECOVERY_WINDOW_DAYS = 30
"""Deleting the secret (pulumi destroy, the janitor) always leaves 30 days to restore it."""
ROTATION_WINDOW = "4h"
"""How long each rotation may take once started; Secrets Manager retries failed steps within it."""
BOOTSTRAP_VALUE = json.dumps(
    {"format": "modelfort.service-token/bootstrap", "note": "placeholder; the first rotation replaces it"},
    sort_keys=True,
)
# What AWSLambdaVPCAccessExecutionRole grants: Lambda creates and removes the function's network interfaces in the
# subnets with the execution role. The Describe calls cannot be scoped to a resource, so AWS's own policy uses "*".
VPC_NETWORK_INTERFACE_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:UnassignPrivateIpAddresses",
)


@dataclass(frozen=True, kw_only=True)
class RotatedSecretArgs:
    zone: str
    region: str
    token_kind: str
    """What the token is for: 'agent', 'tool' or 'client' (modelfort.runtime.rotation.service_token)."""
    rotation_days: int
    """Rotate at least this often. The zone passes its tier's secret rotation period; the policy pack checks it
    against its own tier maximum."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The zone's isolated subnets: the rotation function runs there."""
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The zone's workload security group (egress only to the interface endpoints and S3)."""
    log_retention_days: int
    """How long the rotation function's logs are kept (the zone's tier sets it)."""
    description: str = ""
    """Shown in the console; say who uses the token. Defaults to none."""
    reader_role_arns: Sequence[pulumi.Input[str]] = ()
    """The only roles (besides the rotation function) that may read the value; the secret's resource policy denies
    everyone else, administrators included. Pair each with `grant_read`. Defaults to none."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own customer-managed key; None (the default) creates a rotated one. A brought key also encrypts
    the function's log group, so its policy must let CloudWatch Logs use it for that group."""
    secrets_manager_endpoint: str | None = None
    """The https endpoint the function calls. Defaults to the regional name, which the zone's Secrets Manager
    interface endpoint answers through private DNS; give the endpoint's own DNS name to pin it."""
    alarm_actions: Sequence[pulumi.Input[str]]
    """SNS topics notified when rotation fails: the zone's on-call topic (SecurityAlerts.topic_arn). Required: an alarm
    that notifies nobody is blocked by the pack (alarm-has-actions)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token_kind not in TOKEN_KINDS:
            raise ValueError(f"RotatedSecretArgs.token_kind: {self.token_kind!r} is not one of {', '.join(TOKEN_KINDS)}")
        if isinstance(self.rotation_days, bool) or not isinstance(self.rotation_days, int) or not 1 <= self.rotation_days <= MAX_ROTATION_DAYS:
            raise ValueError(f"RotatedSecretArgs.rotation_days: {self.rotation_days!r} must be a whole number of days from 1 to {MAX_ROTATION_DAYS}")
        check_log_retention(self.log_retention_days, "RotatedSecretArgs.log_retention_days")
        for name in ("subnet_ids", "security_group_ids"):
            value = getattr(self, name)
            # An Output cannot be inspected here; a plain empty list would put the function outside the zone.
            if isinstance(value, (list, tuple)) and not value:
                raise ValueError(f"RotatedSecretArgs.{name}: give at least one (the function must run inside the zone)")
        if isinstance(self.alarm_actions, str) or not self.alarm_actions:
            raise ValueError("RotatedSecretArgs.alarm_actions: give the on-call topic(s) a failed rotation must reach")
        endpoint = self.secrets_manager_endpoint
        if endpoint is not None and not endpoint.startswith("https://"):
            raise ValueError(f"RotatedSecretArgs.secrets_manager_endpoint: {endpoint!r} must be an https:// URL")


class RotatedSecret(pulumi.ComponentResource):
    CONTROLS = ("SC-03", "SC-04")
    secret_arn: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    """The key the secret (and the function's logs) are encrypted with."""
    rotation_function_arn: pulumi.Output[str]
    rotation_role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: RotatedSecretArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:RotatedSecret", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        log_group_name = function_log_group_name(args.zone, f"{name}-rotation")

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the {args.token_kind} token {name} of zone {args.zone} and its rotation logs",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                # Secrets Manager uses the key with the caller's IAM permissions (kms:ViaService), so the account
                # statement is enough for it; CloudWatch Logs needs its own statement, limited to this log group.
                policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                    lambda v: json.dumps(
                        policy_document(
                            [
                                account_root_statement(v[0], v[1]),
                                logs_key_statement(v[0], v[1], args.region, log_group_name),
                            ]
                        )
                    )
                ),
                tags=tags,
                opts=child,
            )
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description=args.description or f"ModelFort {args.token_kind} token ({name}), zone {args.zone}",
            kms_key_id=self.kms_key_arn,
            recovery_window_in_days=RECOVERY_WINDOW_DAYS,
            tags={**tags, KIND_TAG: args.token_kind},
            opts=child,
        )
        bootstrap = aws.secretsmanager.SecretVersion(
            f"{name}-bootstrap",
            secret_id=secret.id,
            secret_string=BOOTSTRAP_VALUE,
            # After the first rotation the placeholder is AWSPREVIOUS, later unlabelled. Without this a refresh would
            # see the labels "drift" and the next update would make the placeholder AWSCURRENT again.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString", "versionStages"]),
        )
        log_group, role = function_log_group_and_role(
            f"{name}-rotation-logs", f"{name}-rotation-role", log_group_name, self.kms_key_arn, args.log_retention_days,
            f"Rotation function of secret {name} (zone {args.zone}): this secret only", tags, child,
        )
        region = args.region
        role_policy = aws.iam.RolePolicy(
            f"{name}-rotation-access",
            role=role.id,
            policy=pulumi.Output.all(secret.arn, self.kms_key_arn, log_group.arn).apply(
                lambda v: json.dumps(rotation_role_policy(v[0], v[1], v[2], region))
            ),
            opts=child,
        )
        package = package_runtime("rotation")
        function = aws.lambda_.Function(
            f"{name}-rotation",
            description=f"Rotates secret {name} of zone {args.zone} (modelfort.runtime.rotation)",
            runtime=LAMBDA_RUNTIME,
            handler=package.handler,
            code=package.archive,
            role=role.arn,
            timeout=60,
            memory_size=256,
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": args.security_group_ids},
            environment={
                "variables": {
                    "SECRETS_MANAGER_ENDPOINT": args.secrets_manager_endpoint or f"https://secretsmanager.{region}.amazonaws.com"
                }
            },
            logging_config={
                "log_format": "JSON",
                "log_group": log_group.name,
                # INFO keeps the one-line-per-step audit trail; DEBUG would let the SDK log request bodies.
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            },
            tags={**tags, "modelfort:function": "secret-rotation"},
            # The role's permissions must exist before the first invocation (rotate_immediately runs at creation).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        permission = aws.lambda_.Permission(
            f"{name}-rotation-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            # Only Secrets Manager rotating this very secret, in this account, may invoke the function.
            source_arn=secret.arn,
            source_account=caller.account_id,
            opts=child,
        )
        aws.secretsmanager.SecretRotation(
            f"{name}-rotation-schedule",
            secret_id=secret.id,
            rotation_lambda_arn=function.arn,
            rotation_rules={"automatically_after_days": args.rotation_days, "duration": ROTATION_WINDOW},
            # Replace the placeholder at once: a token exists before anyone is told to read it.
            rotate_immediately=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission, bootstrap, role_policy]),
        )
        aws.secretsmanager.SecretPolicy(
            f"{name}-policy",
            secret_arn=secret.arn,
            policy=pulumi.Output.all(role.arn, bootstrap.version_id, *args.reader_role_arns).apply(
                lambda v: json.dumps(secret_resource_policy(v[0], v[1], list(v[2:])))
            ),
            # Secrets Manager itself refuses any policy that would grant broad access.
            block_public_policy=True,
            opts=child,
        )
        errors_alarm(
            f"{name}-rotation-errors",
            function,
            function.name,
            f"Rotation of secret {name} (zone {args.zone}) failed; AWSCURRENT still holds the previous token",
            args.alarm_actions,
            tags,
            child,
        )

        self._secret = secret
        self.secret_arn = secret.arn
        self.secret_name = secret.name
        self.rotation_function_arn = function.arn
        self.rotation_role_arn = role.arn
        self.log_group_name = log_group.name
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "kms_key_arn": self.kms_key_arn,
                "rotation_function_arn": self.rotation_function_arn,
                "rotation_role_arn": self.rotation_role_arn,
            }
        )

    def grant_read(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let `role` read the token: GetSecretValue and DescribeSecret on this secret, and kms:Decrypt only when
        Secrets Manager asks on its behalf. The role must also be one of `reader_role_arns`, or the secret's resource
        policy still denies it; that is checked as soon as the role's ARN is known, and a mismatch fails the run."""
        readers = self._args.reader_role_arns
        region = self._args.region
        name = self._name

        def document(values: list) -> str:
            secret_arn, key_arn, role_arn, *allowed = values
            if role_arn not in allowed:
                raise ValueError(
                    f"RotatedSecret.grant_read({grant_name!r}): role {role_arn} is not in "
                    f"RotatedSecretArgs.reader_role_arns of {name!r}; the secret's policy would still deny it"
                )
            return json.dumps(
                policy_document(
                    [
                        {
                            "Sid": "ReadThisToken",
                            "Effect": "Allow",
                            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                            "Resource": secret_arn,
                        },
                        {
                            "Sid": "DecryptThroughSecretsManagerOnly",
                            "Effect": "Allow",
                            "Action": "kms:Decrypt",
                            "Resource": key_arn,
                            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
                        },
                    ]
                )
            )

        return aws.iam.RolePolicy(
            f"{self._name}-{grant_name}-read",
            role=role.id,
            policy=pulumi.Output.all(self.secret_arn, self.kms_key_arn, role.arn, *readers).apply(document),
            opts=pulumi.ResourceOptions(parent=self),
        )


def rotation_role_policy(secret_arn: str, key_arn: str, log_group_arn: str, region: str) -> dict:
    """The rotation function's permissions, built from what the runtime declares it calls."""
    return policy_document(
        [
            {"Sid": "RotateThisSecretOnly", "Effect": "Allow", "Action": sorted(REQUIRED_IAM_ACTIONS), "Resource": secret_arn},
            {
                "Sid": "UseKeyThroughSecretsManagerOnly",
                "Effect": "Allow",
                "Action": sorted(REQUIRED_KMS_ACTIONS),
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
            write_logs_statement(log_group_arn),
            {"Sid": "LambdaNetworkInterfacesInTheZone", "Effect": "Allow", "Action": list(VPC_NETWORK_INTERFACE_ACTIONS), "Resource": "*"},
        ]
    )


def secret_resource_policy(rotation_role_arn: str, bootstrap_version_id: str, reader_role_arns: list[str]) -> dict:
    """Deny statements only: access is still granted through IAM (grant_read); this policy takes it away from
    everyone the secret does not name, whatever their IAM policies say."""
    readers = sorted({rotation_role_arn, *reader_role_arns})
    return policy_document(
        [
            {
                "Sid": "DenyReadingExceptNamedReaders",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {
                    "ArnNotEquals": {"aws:PrincipalArn": readers},
                    # The bootstrap version holds only the placeholder; leaving it readable lets Pulumi refresh its
                    # own resource. Requests for AWSCURRENT name a stage, not this version id, and stay denied.
                    "StringNotEquals": {"secretsmanager:VersionId": bootstrap_version_id},
                },
            },
            {
                # Only the rotation function writes values or moves AWSCURRENT: nobody can plant a token they know.
                "Sid": "DenyWritingValuesExceptRotation",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
                "Resource": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": rotation_role_arn}},
            },
            {
                "Sid": "DenyDeletingWithoutRecoveryWindow",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:DeleteSecret",
                "Resource": "*",
                "Condition": {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}},
            },
        ]
    )
