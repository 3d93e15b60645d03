"""An audit trail that does nearly everything right: all regions, a customer key, a COMPLIANCE-locked bucket. But it
does not validate its log files, so a log file edited or deleted after delivery would go unnoticed.

`modelfort gate examples/trail-without-validation --stack dev` exits 1 and names `audit-trail`
(policy `cloudtrail-log-file-validation`, OB-03).
"""

import json

import pulumi
import pulumi_aws as aws

account = aws.get_caller_identity().account_id
region = aws.get_region().region
trail_name = "audit"
trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{trail_name}"

key = aws.kms.Key(
    "audit-key",
    description="Encrypts the audit trail",
    enable_key_rotation=True,
    policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
             "Resource": "*", "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
        ],
    }),
)
bucket = aws.s3.Bucket("audit-logs", object_lock_enabled=True, tags={"modelfort:data-class": "evidence"})
aws.s3.BucketPublicAccessBlock("audit-logs-pab", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketVersioning("audit-logs-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"})
aws.s3.BucketServerSideEncryptionConfiguration(
    "audit-logs-encryption", bucket=bucket.id,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}}],
)
aws.s3.BucketObjectLockConfiguration("audit-logs-lock", bucket=bucket.id, rule={"default_retention": {"mode": "COMPLIANCE", "days": 90}})
policy = aws.s3.BucketPolicy(
    "audit-logs-policy",
    bucket=bucket.id,
    policy=bucket.arn.apply(lambda arn: json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": arn,
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"{arn}/AWSLogs/{account}/*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}}},
        ],
    })),
)
aws.cloudtrail.Trail(
    "audit-trail",
    name=trail_name,
    s3_bucket_name=bucket.bucket,
    is_multi_region_trail=True,
    include_global_service_events=True,
    kms_key_id=key.arn,
    enable_log_file_validation=False,  # the mistake: no signed digests
    opts=pulumi.ResourceOptions(depends_on=[policy]),
)
