"""EvidenceStore: the zone's tamper-evident record of who did what, and where inference telemetry lands (OB-01..OB-04).

- CloudTrail across all regions, with global service events and log file validation (signed hourly digests, so a
  deleted or edited log file is detectable), encrypted with a customer key, recording every management event and the
  object-level (data) events of the weights and signature buckets: who read which model file, and when.
- The trail delivers into a bucket under object lock in COMPLIANCE mode: until its retention ends, not even the
  account root can delete or overwrite a log file. The bucket policy admits CloudTrail only for this trail
  (aws:SourceArn), refuses deletes outright (a delete marker would hide evidence), and refuses plain HTTP.
- CloudWatch log groups for inference telemetry (one JSON event per inference, modelfort/runtime/telemetry.py) and
  for the detectors' findings, encrypted with the same key, kept for the tier, with deletion protection.
- Route 53 Resolver query logs of the zone's VPC into an encrypted log group: every name a workload tried to resolve,
  including the ones the DNS firewall refused.

VPC flow logs already go to SegmentedNetwork's encrypted log group; pass its name as `flow_log_group_name` so the
evidence index (`log_group_names`) lists every log the zone keeps in one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import (
    DATA_CLASS_TAG,
    account_root_statement,
    deny_insecure_transport,
    harden_bucket,
    policy_document,
)

CONTROLS = ("OB-01", "OB-02", "OB-03", "OB-04")
EVIDENCE_CLASS = "evidence"

# Retention values CloudWatch Logs accepts (PutRetentionPolicy); anything else fails at deploy time, so refuse it here.
CLOUDWATCH_RETENTION_DAYS = frozenset({
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
})


def telemetry_log_group_name(zone: str) -> str:
    """Where the serving layer writes inference telemetry events (schema: modelfort/runtime/telemetry.py)."""
    return f"/modelfort/{zone}/inference-telemetry"


def findings_log_group_name(zone: str) -> str:
    """Where the detectors (`modelfort detect`, modelfort/runtime/detectors) write their findings, one JSON line each."""
    return f"/modelfort/{zone}/detector-findings"


def dns_query_log_group_name(zone: str) -> str:
    return f"/modelfort/{zone}/dns-query-logs"


def trail_name(zone: str) -> str:
    return f"modelfort-{zone}-evidence"


@dataclass(frozen=True, kw_only=True)
class EvidenceStoreArgs:
    zone: str
    region: str
    vpc_id: pulumi.Input[str]
    """The zone's VPC: its DNS queries are logged."""
    retention_days: int
    """COMPLIANCE-mode lock of every trail log file (the zone's tier sets it; the pack demands at least the tier's log
    retention)."""
    log_retention_days: int
    """How long the telemetry, findings and DNS query log groups keep events (the zone's tier sets it)."""
    access_log_bucket: pulumi.Input[str]
    """The bucket that receives this bucket's S3 server access logs (who read the evidence)."""
    watched_bucket_names: Sequence[pulumi.Input[str]]
    """Buckets whose object-level reads and writes the trail records: at least the weights and reference-store
    buckets."""
    flow_log_group_name: pulumi.Input[str] | None = None
    """SegmentedNetwork's flow-log group, listed in `log_group_names`. Defaults to None (not listed)."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates. Defaults to 365."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own key; None (the default) creates a rotated one. A key you bring must let cloudtrail.amazonaws.com
    encrypt for this trail and logs.<region>.amazonaws.com encrypt for /modelfort/<zone>/* (see `evidence_key_policy`)."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError("EvidenceStoreArgs.retention_days: must be at least 1 (trail log files are evidence)")
        if self.log_retention_days not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(
                f"EvidenceStoreArgs.log_retention_days: {self.log_retention_days} is not a retention CloudWatch Logs "
                f"accepts ({', '.join(str(d) for d in sorted(CLOUDWATCH_RETENTION_DAYS))})"
            )
        if not self.watched_bucket_names:
            raise ValueError(
                "EvidenceStoreArgs.watched_bucket_names: name at least the weights and reference-store buckets; "
                "without data events nobody could tell who read a model"
            )


class EvidenceStore(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    """The controls this component implements (read by the coverage matrix)."""

    trail_arn: pulumi.Output[str]
    bucket_name: pulumi.Output[str]
    """The COMPLIANCE-locked bucket the trail delivers to."""
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    """Encrypts the trail, the evidence bucket and the log groups."""
    telemetry_log_group_name: pulumi.Output[str]
    telemetry_log_group_arn: pulumi.Output[str]
    findings_log_group_name: pulumi.Output[str]
    findings_log_group_arn: pulumi.Output[str]
    dns_query_log_group_name: pulumi.Output[str]
    log_group_names: dict[str, pulumi.Output[str]]
    """Every log the zone keeps as evidence, by role: telemetry, findings, dns-queries (and vpc-flow when given)."""

    def __init__(self, name: str, args: EvidenceStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:EvidenceStore", name, None, opts)
        self._name = name
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone, DATA_CLASS_TAG: EVIDENCE_CLASS}
        trail = trail_name(args.zone)
        # Known before the trail exists, so the key and bucket policies can name exactly this trail.
        trail_arn = pulumi.Output.all(caller.account_id, partition.partition).apply(
            lambda v: f"arn:{v[1]}:cloudtrail:{args.region}:{v[0]}:trail/{trail}"
        )

        if args.kms_key_arn is None:
            key = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts the evidence trail and logs of zone {args.zone}",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                    lambda v: json.dumps(evidence_key_policy(v[0], v[1], args.region, args.zone))
                ),
                tags=tags,
                opts=child,
            )
            aws.kms.Alias(f"{name}-key-alias", name=f"alias/modelfort/{args.zone}/evidence", target_key_id=key.key_id, opts=child)
            self.kms_key_arn = key.arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        bucket = self._bucket(tags, trail_arn, caller, child)
        self.trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=trail,
            s3_bucket_name=bucket.bucket,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            kms_key_id=self.kms_key_arn,
            advanced_event_selectors=_event_selectors(partition.partition, args.watched_bucket_names),
            tags=tags,
            # CloudTrail checks that it may write to the bucket when the trail is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._bucket_policy]),
        )

        self.telemetry_group = self._log_group("telemetry", telemetry_log_group_name(args.zone), tags, child)
        self.findings_group = self._log_group("findings", findings_log_group_name(args.zone), tags, child)
        dns_group = self._log_group("dns-queries", dns_query_log_group_name(args.zone), tags, child)
        self._dns_query_logs(dns_group, caller, partition, tags, child)

        self.trail_arn = self.trail.arn
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.telemetry_log_group_name = self.telemetry_group.name
        self.telemetry_log_group_arn = self.telemetry_group.arn
        self.findings_log_group_name = self.findings_group.name
        self.findings_log_group_arn = self.findings_group.arn
        self.dns_query_log_group_name = dns_group.name
        self.log_group_names = {
            "telemetry": self.telemetry_log_group_name,
            "findings": self.findings_log_group_name,
            "dns-queries": self.dns_query_log_group_name,
        }
        if args.flow_log_group_name is not None:
            self.log_group_names["vpc-flow"] = pulumi.Output.from_input(args.flow_log_group_name)
        self.register_outputs({
            "trail_arn": self.trail_arn,
            "bucket_name": self.bucket_name,
            "kms_key_arn": self.kms_key_arn,
            "log_group_names": self.log_group_names,
        })

    # ------------------------------------------------------------------------------------------------ bucket
    def _bucket(self, tags: dict[str, str], trail_arn: pulumi.Output[str], caller, child: pulumi.ResourceOptions) -> aws.s3.Bucket:
        args, name = self._args, self._name
        bucket = aws.s3.Bucket(f"{name}-bucket", object_lock_enabled=True, force_destroy=False, tags=tags, opts=child)
        harden_bucket(name, bucket, child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": self.kms_key_arn},
                "bucket_key_enabled": True,
            }],
            opts=child,
        )
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.id,
            # COMPLIANCE, not GOVERNANCE: GOVERNANCE can be bypassed by anyone with s3:BypassGovernanceRetention.
            rule={"default_retention": {"mode": "COMPLIANCE", "days": args.retention_days}},
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-access-logs",
            bucket=bucket.id,
            target_bucket=args.access_log_bucket,
            target_prefix=pulumi.Output.concat("s3/", bucket.bucket, "/"),
            opts=child,
        )
        self._bucket_policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, trail_arn, caller.account_id).apply(
                lambda v: json.dumps(evidence_bucket_policy(v[0], v[1], v[2]))
            ),
            opts=child,
        )
        return bucket

    # ------------------------------------------------------------------------------------------------ logs
    def _log_group(self, role: str, group_name: str, tags: dict[str, str], child: pulumi.ResourceOptions) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{role}",
            name=group_name,
            kms_key_id=self.kms_key_arn,
            retention_in_days=self._args.log_retention_days,
            # Retention bounds how long evidence lives; deletion protection keeps anyone from ending it early.
            deletion_protection_enabled=True,
            tags=tags,
            opts=child,
        )

    def _dns_query_logs(self, group: aws.cloudwatch.LogGroup, caller, partition, tags: dict[str, str], child: pulumi.ResourceOptions) -> None:
        args, name = self._args, self._name
        # Resolver query logs are "vended logs" delivered by delivery.logs.amazonaws.com. Granting it here, for this
        # group only, stops AWS from adding its own account-wide AWSLogDeliveryWrite policy on first use.
        aws.cloudwatch.LogResourcePolicy(
            f"{name}-dns-query-log-delivery",
            policy_name=f"modelfort-{args.zone}-dns-query-log-delivery",
            policy_document=pulumi.Output.all(group.arn, caller.account_id, partition.partition).apply(
                lambda v: json.dumps(vended_log_delivery_policy(v[0], v[1], v[2], args.region))
            ),
            opts=child,
        )
        config = aws.route53.ResolverQueryLogConfig(
            f"{name}-dns-query-log",
            name=f"modelfort-{args.zone}-dns-queries",
            destination_arn=group.arn,
            tags=tags,
            opts=child,
        )
        aws.route53.ResolverQueryLogConfigAssociation(
            f"{name}-dns-query-log-association",
            resolver_query_log_config_id=config.id,
            resource_id=args.vpc_id,
            opts=child,
        )

    # ------------------------------------------------------------------------------------------------ grants
    def grant_write_telemetry(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let `role` (the serving layer) append telemetry events, and nothing else: no reads, no retention changes."""
        return self._grant_append(grant_name, role, self.telemetry_group)

    def grant_write_findings(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Let `role` (the detectors) append findings, and nothing else."""
        return self._grant_append(grant_name, role, self.findings_group)

    def _grant_append(self, grant_name: str, role: aws.iam.Role, group: aws.cloudwatch.LogGroup) -> aws.iam.RolePolicy:
        # CloudWatch Logs encrypts on the writer's behalf, so the writer needs no KMS permission of its own.
        document = group.arn.apply(
            lambda arn: json.dumps(policy_document([
                {"Sid": "AppendEvents", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{arn}:*"},
            ]))
        )
        return aws.iam.RolePolicy(f"{self._name}-{grant_name}-append", role=role.id, policy=document, opts=pulumi.ResourceOptions(parent=self))


def _event_selectors(partition: pulumi.Output[str], watched_bucket_names: Sequence[pulumi.Input[str]]) -> list[dict[str, Any]]:
    """Every management event, plus object-level events on the watched buckets.

    Advanced selectors replace basic ones entirely, so management events need a selector of their own."""
    prefixes = [pulumi.Output.concat("arn:", partition, ":s3:::", bucket, "/") for bucket in watched_bucket_names]
    return [
        {"name": "All management events", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {
            "name": "Model weights and signatures: every object read and write",
            "field_selectors": [
                {"field": "eventCategory", "equals": ["Data"]},
                {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                {"field": "resources.ARN", "starts_withs": prefixes},
            ],
        },
    ]


def evidence_key_policy(account: str, partition: str, region: str, zone: str) -> dict[str, Any]:
    """The evidence key: administered through IAM; used by CloudTrail for this zone's trail only, and by CloudWatch Logs
    for this zone's log groups only (including a ModelEndpoint's WAF logs, whose names AWS requires to start with
    `aws-waf-logs-`)."""
    trail = f"arn:{partition}:cloudtrail:{region}:{account}:trail/{trail_name(zone)}"
    log_groups = [
        f"arn:{partition}:logs:{region}:{account}:log-group:/modelfort/{zone}/*",
        f"arn:{partition}:logs:{region}:{account}:log-group:aws-waf-logs-modelfort-{zone}-*",
    ]
    return policy_document([
        account_root_statement(account, partition),
        {
            "Sid": "CloudTrailEncryptsThisTrailOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                # Confused-deputy guard (aws:SourceArn) and the encryption context CloudTrail binds to each log file.
                "StringEquals": {"aws:SourceArn": trail, "kms:EncryptionContext:aws:cloudtrail:arn": trail},
            },
        },
        {
            "Sid": "CloudTrailDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail}},
        },
        {
            "Sid": "CloudWatchLogsOfThisZoneOnly",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
        },
    ])


def evidence_bucket_policy(bucket_arn: str, trail_arn: str, account: str) -> dict[str, Any]:
    return policy_document([
        deny_insecure_transport(bucket_arn),
        {
            "Sid": "CloudTrailChecksTheBucket",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "CloudTrailWritesThisTrailOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}},
        },
        {
            # Object lock stops version deletes, but a plain DELETE still lays a delete marker over the current
            # version and hides it from every reader. Evidence is never deleted by hand: retention ends it.
            "Sid": "DenyEvidenceDeletion",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "DenyUploadsWithoutKms",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/*",
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
    ])


def vended_log_delivery_policy(log_group_arn: str, account: str, partition: str, region: str) -> dict[str, Any]:
    """Lets AWS's log delivery service (Route 53 Resolver query logs, WAF logs) write into one log group, for this
    account only."""
    return policy_document([
        {
            "Sid": "VendedLogDeliveryToThisGroupOnly",
            "Effect": "Allow",
            "Principal": {"Service": "delivery.logs.amazonaws.com"},
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn}:*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{region}:{account}:*"},
            },
        }
    ])
