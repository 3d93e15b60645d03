"""AccessLogBucket: where a zone's S3 server access logs land (OB-03)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import DATA_CLASS_TAG, deny_insecure_transport, harden_bucket, policy_document


@dataclass(frozen=True, kw_only=True)
class AccessLogBucketArgs:
    zone: str
    retention_days: int
    """Object-lock (GOVERNANCE) retention of each log object: logs are evidence."""
    tags: Mapping[str, str] = field(default_factory=dict)


class AccessLogBucket(pulumi.ComponentResource):
    CONTROLS = ("OB-03",)
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AccessLogBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:AccessLogBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            object_lock_enabled=True,
            tags={**args.tags, "modelfort:zone": args.zone, DATA_CLASS_TAG: "access-logs"},
            opts=child,
        )
        harden_bucket(name, bucket, child)
        # S3 server access logging can only deliver to buckets encrypted with S3-managed keys (not SSE-KMS).
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id, rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=child
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            rule={"default_retention": {"mode": "GOVERNANCE", "days": args.retention_days}},
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, caller.account_id).apply(
                lambda values: json.dumps(
                    policy_document(
                        [
                            deny_insecure_transport(values[0]),
                            {
                                "Sid": "S3ServerAccessLogsFromThisAccount",
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Resource": f"{values[0]}/*",
                                "Condition": {"StringEquals": {"aws:SourceAccount": values[1]}},
                            },
                        ]
                    )
                )
            ),
            opts=child,
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name})
