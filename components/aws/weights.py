"""WeightsBucket: encrypted, versioned, locked storage for model weights, readable only through the zone.

Controls: WP-01 (customer-managed rotated key), WP-02 (least-privilege reads through the zone's endpoint only),
WP-03 (no download or export path: no public access, no ACLs, no website), DP-09 (versions cannot be overwritten).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import (
    DATA_CLASS_TAG,
    account_root_statement,
    deny_insecure_transport,
    harden_bucket,
    policy_document,
)

WEIGHTS_CLASS = "model-weights"
VERSION_LOCK_DAYS = 30
"""GOVERNANCE retention of every weights object version: a release cannot be overwritten or deleted for a month,
which keeps the previous version for rollback (DP-12) without pinning terabytes forever."""


@dataclass(frozen=True, kw_only=True)
class WeightsBucketArgs:
    zone: str
    region: str
    s3_endpoint_id: pulumi.Input[str]
    """The zone's S3 gateway endpoint (`vpce-...`); every read must come through it."""
    access_log_bucket: pulumi.Input[str]
    """The bucket that receives this bucket's S3 server access logs."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own customer-managed key; None (the default) creates a rotated one."""
    publisher_role_arns: Sequence[pulumi.Input[str]] = ()
    """Roles that publish releases from outside the zone (the signing pipeline). Defaults to none."""
    allow_access_outside_vpc_endpoint: bool = False
    """Escape hatch (weakens WP-02): drop the deny for requests that bypass the zone's endpoint. Defaults to False;
    a policy blocks it unless waived."""
    tags: Mapping[str, str] = field(default_factory=dict)


class WeightsBucket(pulumi.ComponentResource):
    CONTROLS = ("WP-01", "WP-02", "WP-03", "DP-09")
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    """The key weights are encrypted with."""

    def __init__(self, name: str, args: WeightsBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:WeightsBucket", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone, DATA_CLASS_TAG: WEIGHTS_CLASS}

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts model weights in zone {args.zone}",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                # Only the account (through IAM) administers the key; use is granted through grant_read.
                policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                    lambda v: json.dumps(policy_document([account_root_statement(v[0], v[1])]))
                ),
                tags=tags,
                opts=child,
            )
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        bucket = aws.s3.Bucket(f"{name}-bucket", object_lock_enabled=True, force_destroy=False, tags=tags, opts=child)
        harden_bucket(name, bucket, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": self.kms_key_arn},
                    # One data key per bucket instead of per object: far fewer KMS calls for multi-GB weights.
                    "bucket_key_enabled": True,
                }
            ],
            opts=child,
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            rule={"default_retention": {"mode": "GOVERNANCE", "days": VERSION_LOCK_DAYS}},
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-access-logs",
            bucket=bucket.id,
            target_bucket=args.access_log_bucket,
            target_prefix=pulumi.Output.concat("s3/", bucket.bucket, "/"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, self.kms_key_arn, args.s3_endpoint_id, *args.publisher_role_arns).apply(
                lambda v: json.dumps(self._bucket_policy(v[0], v[1], v[2], list(v[3:])))
            ),
            opts=child,
        )
        self._bucket = bucket
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "kms_key_arn": self.kms_key_arn})

    def _bucket_policy(self, bucket_arn: str, key_arn: str, endpoint_id: str, publishers: list[str]) -> dict:
        statements = [
            deny_insecure_transport(bucket_arn),
            {
                # Uploads that name an encryption key must name this one (others get the bucket default).
                "Sid": "DenyUploadsWithAnotherKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}},
            },
            {
                "Sid": "DenyUploadsWithoutKms",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
        ]
        if not self._args.allow_access_outside_vpc_endpoint:
            condition: dict = {"StringNotEquals": {"aws:SourceVpce": endpoint_id}}
            if publishers:
                condition["ArnNotLike"] = {"aws:PrincipalArn": publishers}
            statements.append(
                {
                    "Sid": "DenyAccessOutsideZoneEndpoint",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": condition,
                }
            )
        return policy_document(statements)

    def grant_read(self, grant_name: str, role: aws.iam.Role, prefix: str) -> aws.iam.RolePolicy:
        """Let `role` read objects under `prefix` and nothing else: list and get there (the verifier must see every
        object of a release to refuse extra files), and kms:Decrypt only when S3 asks on its behalf
        (kms:ViaService), so the key cannot decrypt anything outside S3."""
        if not prefix or "*" in prefix:
            raise ValueError("WeightsBucket.grant_read: prefix must name a model path, without wildcards")
        region = self._args.region
        document = pulumi.Output.all(self.bucket_arn, self.kms_key_arn).apply(
            lambda v: json.dumps(
                policy_document(
                    [
                        {"Sid": "ReadWeights", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{v[0]}/{prefix.strip('/')}/*"},
                        {"Sid": "ListThisReleaseOnly", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": v[0],
                         "Condition": {"StringLike": {"s3:prefix": [f"{prefix.strip('/')}/", f"{prefix.strip('/')}/*"]}}},
                        {
                            "Sid": "DecryptThroughS3Only",
                            "Effect": "Allow",
                            "Action": "kms:Decrypt",
                            "Resource": v[1],
                            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                        },
                    ]
                )
            )
        )
        return aws.iam.RolePolicy(
            f"{self._name}-{grant_name}-read", role=role.id, policy=document, opts=pulumi.ResourceOptions(parent=self)
        )
