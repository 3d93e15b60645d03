"""The settings every ModelFort bucket gets, in one place: owner-enforced (no ACLs), all public access blocked,
versioned, TLS-only. Weights, signatures and logs differ only in encryption, locking and who may touch them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

DATA_CLASS_TAG = "modelfort:data-class"


def harden_bucket(name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> None:
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        # BucketOwnerEnforced disables ACLs entirely: access is decided by policies alone.
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=opts,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access-block",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketVersioning(f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts)


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def policy_document(statements: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def account_root_statement(account: str, partition: str) -> dict[str, Any]:
    """Keeps a key manageable through IAM; without it a key policy mistake can lock the key out for good."""
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
