"""ModelReferenceStore: the tamper-resistant home of each model version's signature (WP-06, OB-04).

Signatures (OpenSSF model-signing bundles) live in a bucket under object lock in COMPLIANCE mode, so not even the
account root can alter or delete one before its retention ends. An asymmetric KMS key (ECC_NIST_P256) signs them;
its public key verifies them. Publishing and reading are separate roles: the pipeline that signs cannot be the
workload that trusts the signature.
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

SIGNATURES_CLASS = "model-signatures"
PUBLISHER_TAG = "modelfort:release-publisher"
READER_TAG = "modelfort:signature-reader"


@dataclass(frozen=True, kw_only=True)
class ModelReferenceStoreArgs:
    zone: str
    region: str
    retention_days: int
    """COMPLIANCE-mode retention of every signature (the zone's tier sets it)."""
    access_log_bucket: pulumi.Input[str]
    key_rotation_days: int = 365
    """Rotation of the bucket's symmetric encryption key. Defaults to 365. (The signing key is asymmetric and is
    never rotated in place: a new key means a new trust root, published deliberately.)"""
    publisher_principals: Sequence[pulumi.Input[str]] = ()
    """Who may assume the publisher role. Defaults to principals of this account tagged modelfort:release-publisher=true."""
    reader_principals: Sequence[pulumi.Input[str]] = ()
    """Who may assume the reader role. Defaults to principals of this account tagged modelfort:signature-reader=true."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError("ModelReferenceStoreArgs.retention_days: must be at least 1 (signatures are evidence)")


class ModelReferenceStore(pulumi.ComponentResource):
    CONTROLS = ("WP-06", "OB-04", "ST-01")
    bucket_name: pulumi.Output[str]
    signing_key_arn: pulumi.Output[str]
    """KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs releases: `modelfort sign --kms-key`."""
    publisher_role_arn: pulumi.Output[str]
    reader_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelReferenceStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:ModelReferenceStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone, DATA_CLASS_TAG: SIGNATURES_CLASS}
        admin_only = pulumi.Output.all(caller.account_id, partition.partition).apply(
            lambda v: json.dumps(policy_document([account_root_statement(v[0], v[1])]))
        )

        signing_key = aws.kms.Key(
            f"{name}-signing-key",
            description=f"Signs model releases for zone {args.zone}",
            customer_master_key_spec="ECC_NIST_P256",
            key_usage="SIGN_VERIFY",
            deletion_window_in_days=30,
            policy=admin_only,
            tags=tags,
            opts=child,
        )
        bucket_key = aws.kms.Key(
            f"{name}-bucket-key",
            description=f"Encrypts model signatures of zone {args.zone}",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=admin_only,
            tags=tags,
            opts=child,
        )
        bucket = aws.s3.Bucket(f"{name}-bucket", object_lock_enabled=True, force_destroy=False, tags=tags, opts=child)
        harden_bucket(name, bucket, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": bucket_key.arn}, "bucket_key_enabled": True}],
            opts=child,
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            rule={"default_retention": {"mode": "COMPLIANCE", "days": args.retention_days}},
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-access-logs", bucket=bucket.id, target_bucket=args.access_log_bucket,
            target_prefix=pulumi.Output.concat("s3/", bucket.bucket, "/"), opts=child,
        )

        publisher = self._role(f"{name}-publisher", args.publisher_principals, PUBLISHER_TAG, caller, partition, tags, child)
        reader = self._role(f"{name}-reader", args.reader_principals, READER_TAG, caller, partition, tags, child)
        region = args.region
        aws.iam.RolePolicy(
            f"{name}-publisher-access",
            role=publisher.id,
            policy=pulumi.Output.all(bucket.arn, signing_key.arn, bucket_key.arn).apply(
                lambda v: json.dumps(policy_document([
                    {"Sid": "WriteSignatures", "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"{v[0]}/*"},
                    {"Sid": "SignReleases", "Effect": "Allow", "Action": ["kms:Sign", "kms:GetPublicKey"], "Resource": v[1]},
                    {"Sid": "EncryptThroughS3Only", "Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": v[2],
                     "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
                ]))
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-reader-access",
            role=reader.id,
            policy=pulumi.Output.all(bucket.arn, signing_key.arn, bucket_key.arn).apply(
                lambda v: json.dumps(policy_document([
                    {"Sid": "ReadSignatures", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{v[0]}/*"},
                    {"Sid": "VerifyReleases", "Effect": "Allow", "Action": ["kms:GetPublicKey", "kms:Verify"], "Resource": v[1]},
                    {"Sid": "DecryptThroughS3Only", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[2],
                     "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
                ]))
            ),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, publisher.arn).apply(
                lambda v: json.dumps(policy_document([
                    deny_insecure_transport(v[0]),
                    {
                        # Separation of duties: only the publisher role writes signatures.
                        "Sid": "OnlyThePublisherWrites",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": ["s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold"],
                        "Resource": f"{v[0]}/*",
                        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": v[1]}},
                    },
                ]))
            ),
            opts=child,
        )
        self._name = name
        self._region = args.region
        self._bucket_arn = bucket.arn
        self._bucket_key_arn = bucket_key.arn
        self.bucket_name = bucket.bucket
        self.signing_key_arn = signing_key.arn
        self.publisher_role_arn = publisher.arn
        self.reader_role_arn = reader.arn
        self.register_outputs({
            "bucket_name": self.bucket_name,
            "signing_key_arn": self.signing_key_arn,
            "publisher_role_arn": self.publisher_role_arn,
            "reader_role_arn": self.reader_role_arn,
        })

    def grant_verify(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let `role` read what a startup verifier needs: signatures and the release public key, decrypted only
        through S3. No signing, no writing."""
        region = self._region
        document = pulumi.Output.all(self._bucket_arn, self._bucket_key_arn).apply(
            lambda v: json.dumps(policy_document([
                {"Sid": "ReadSignaturesAndKeys", "Effect": "Allow", "Action": "s3:GetObject",
                 "Resource": [f"{v[0]}/signatures/*", f"{v[0]}/keys/*"]},
                {"Sid": "DecryptThroughS3Only", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": v[1],
                 "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}},
            ]))
        )
        return aws.iam.RolePolicy(f"{self._name}-{grant_name}-verify", role=role.id, policy=document,
                                  opts=pulumi.ResourceOptions(parent=self))

    @staticmethod
    def _role(name, principals, tag, caller, partition, tags, opts) -> aws.iam.Role:
        def trust(values: list) -> str:
            account, part, *explicit = values
            if explicit:
                statement = {"Effect": "Allow", "Principal": {"AWS": explicit}, "Action": "sts:AssumeRole"}
            else:
                statement = {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{part}:iam::{account}:root"},
                    "Action": "sts:AssumeRole",
                    # Only principals the platform team tagged for this duty, never any principal of the account.
                    "Condition": {"StringEquals": {f"aws:PrincipalTag/{tag}": "true"}},
                }
            return json.dumps(policy_document([statement]))

        return aws.iam.Role(
            name,
            assume_role_policy=pulumi.Output.all(caller.account_id, partition.partition, *principals).apply(trust),
            max_session_duration=3600,
            tags=tags,
            opts=opts,
        )
