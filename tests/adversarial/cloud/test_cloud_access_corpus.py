"""Adversarial corpus, access narrowing: resource policies open to `Principal: "*"` behind a condition that narrows
nothing (TLS, a negation, IfExists, a wildcard), on S3, KMS, SNS, SQS and Secrets Manager;
Cloud Storage's canned public ACLs; Cloud Run services open to the internet or without the invoker check.

Each insecure program must be blocked with a mandatory violation on the resource it names; its secure twin, which
narrows with a positive match on who the caller is, must pass. Some go through dict arguments, `Output.apply`
(json.dumps of a computed document), the engineer's own ComponentResource, or a second provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from corpus_harness import Program, assert_blocked, assert_passes


@dataclass(frozen=True)
class Case:
    insecure: Program
    secure: Program
    resource: str
    policy: str
    cloud: str = "aws"


def bucket_tls_only():
    import json

    import pulumi_aws as aws

    aws.s3.BucketPolicy("weights-read", bucket="acme-model-weights", policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-model-weights/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))


def bucket_tls_only_twin():
    import json

    import pulumi_aws as aws

    aws.s3.BucketPolicy("weights-read", bucket="acme-model-weights", policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-model-weights/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}, "Bool": {"aws:SecureTransport": "true"}}}]}))


def bucket_negated_vpce_in_apply():
    import json

    import pulumi
    import pulumi_aws as aws

    vpce = pulumi.Output.from_input("vpce-0123456789abcdef0")
    aws.s3.BucketPolicy("artifacts-read", bucket="acme-artifacts", policy=vpce.apply(lambda v: json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::acme-artifacts/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": v}}}]})))


def bucket_negated_vpce_in_apply_twin():
    import json

    import pulumi
    import pulumi_aws as aws

    vpce = pulumi.Output.from_input("vpce-0123456789abcdef0")
    aws.s3.BucketPolicy("artifacts-read", bucket="acme-artifacts", policy=vpce.apply(lambda v: json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::acme-artifacts/*",
        "Condition": {"StringEquals": {"aws:SourceVpce": v}}}]})))


def bucket_if_exists_org():
    import json

    import pulumi_aws as aws

    aws.s3.BucketPolicy("datasets-read", bucket="acme-datasets", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123def4"}}}]}))


def bucket_if_exists_org_twin():
    import json

    import pulumi_aws as aws

    aws.s3.BucketPolicy("datasets-read", bucket="acme-datasets", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123def4"}}}]}))


def secret_wildcard_account():
    import json

    import pulumi_aws as aws

    aws.secretsmanager.SecretPolicy("token-policy", secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:tok",
                                    policy=json.dumps({"Statement": [{
                                        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                                        "Resource": "*", "Condition": {"StringLike": {"aws:PrincipalAccount": "*"}}}]}))


def secret_wildcard_account_twin():
    import json

    import pulumi_aws as aws

    aws.secretsmanager.SecretPolicy("token-policy", secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:tok",
                                    policy=json.dumps({"Statement": [{
                                        "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                                        "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}]}))


def key_open_via_service():
    import json

    import pulumi_aws as aws

    aws.kms.Key("weights-key", enable_key_rotation=True, rotation_period_in_days=90, deletion_window_in_days=30,
                policy=json.dumps({"Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"], "Resource": "*",
                     "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]}))


def key_open_via_service_twin():
    import json

    import pulumi_aws as aws

    aws.kms.Key("weights-key", enable_key_rotation=True, rotation_period_in_days=90, deletion_window_in_days=30,
                policy=json.dumps({"Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt"], "Resource": "*",
                     "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com",
                                                    "kms:CallerAccount": "123456789012"}}}]}))


def queue_policy_in_component():
    import json

    import pulumi
    import pulumi_aws as aws

    class Inbox(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:jobs:Inbox", name)
            aws.sqs.QueuePolicy(f"{name}-policy", queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
                                policy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                                  "Resource": "*"}]}),
                                opts=pulumi.ResourceOptions(parent=self))

    Inbox("jobs")


def queue_policy_in_component_twin():
    import json

    import pulumi
    import pulumi_aws as aws

    class Inbox(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:jobs:Inbox", name)
            aws.sqs.QueuePolicy(f"{name}-policy", queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
                                policy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
                                                                  "Action": "sqs:SendMessage", "Resource": "*",
                                                                  "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:jobs"}}}]}),
                                opts=pulumi.ResourceOptions(parent=self))

    Inbox("jobs")


def topic_policy_second_region():
    import json

    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.sns.TopicPolicy("alarms-policy", arn="arn:aws:sns:us-west-2:123456789012:alarms", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["sns:Subscribe", "sns:Receive"], "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}), opts=pulumi.ResourceOptions(provider=west))


def topic_policy_second_region_twin():
    import json

    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.sns.TopicPolicy("alarms-policy", arn="arn:aws:sns:us-west-2:123456789012:alarms", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": ["sns:Subscribe"],
        "Resource": "*"}]}), opts=pulumi.ResourceOptions(provider=west))


def gcs_object_public_canned_acl():
    import pulumi_gcp as gcp

    gcp.storage.ObjectACL("model-card", bucket="acme-model-cards", object="llama/card.json", predefined_acl="publicRead")


def gcs_object_public_canned_acl_twin():
    import pulumi_gcp as gcp

    gcp.storage.ObjectACL("model-card", bucket="acme-model-cards", object="llama/card.json", predefined_acl="projectPrivate")


def gcs_bucket_acl_canned_in_component():
    import pulumi
    import pulumi_gcp as gcp

    class Share(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:storage:Share", name)
            gcp.storage.BucketACL(f"{name}-acl", bucket="acme-eval-sets", predefined_acl="publicRead",
                                  opts=pulumi.ResourceOptions(parent=self))

    Share("eval")


def gcs_bucket_acl_canned_in_component_twin():
    import pulumi
    import pulumi_gcp as gcp

    class Share(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:storage:Share", name)
            gcp.storage.BucketACL(f"{name}-acl", bucket="acme-eval-sets", predefined_acl="projectPrivate",
                                  opts=pulumi.ResourceOptions(parent=self))

    Share("eval")


def cloud_run_default_ingress():
    import pulumi_gcp as gcp

    # No ingress: Cloud Run serves INGRESS_TRAFFIC_ALL.
    gcp.cloudrunv2.Service("reranker", location="us-central1", deletion_protection=False, template={
        "containers": [{"image": "us-docker.pkg.dev/acme/models/reranker@sha256:" + "b" * 64}]})


def cloud_run_default_ingress_twin():
    import pulumi_gcp as gcp

    gcp.cloudrunv2.Service("reranker", location="us-central1", deletion_protection=False,
                           ingress="INGRESS_TRAFFIC_INTERNAL_ONLY", template={
                               "containers": [{"image": "us-docker.pkg.dev/acme/models/reranker@sha256:" + "b" * 64}]})


def cloud_run_invoker_check_off_in_apply():
    import pulumi
    import pulumi_gcp as gcp

    image = pulumi.Output.from_input("b" * 64).apply(lambda d: f"us-docker.pkg.dev/acme/models/embedder@sha256:{d}")
    gcp.cloudrunv2.Service("embedder", location="us-central1", deletion_protection=False,
                           ingress="INGRESS_TRAFFIC_INTERNAL_ONLY", invoker_iam_disabled=True,
                           template=gcp.cloudrunv2.ServiceTemplateArgs(containers=[
                               gcp.cloudrunv2.ServiceTemplateContainerArgs(image=image)]))


def cloud_run_invoker_check_off_in_apply_twin():
    import pulumi
    import pulumi_gcp as gcp

    image = pulumi.Output.from_input("b" * 64).apply(lambda d: f"us-docker.pkg.dev/acme/models/embedder@sha256:{d}")
    gcp.cloudrunv2.Service("embedder", location="us-central1", deletion_protection=False,
                           ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                           template=gcp.cloudrunv2.ServiceTemplateArgs(containers=[
                               gcp.cloudrunv2.ServiceTemplateContainerArgs(image=image)]))


def bucket_acl_public_in_component():
    import pulumi
    import pulumi_aws as aws

    class PublicShare(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:storage:PublicShare", name)
            aws.s3.BucketAclV2(f"{name}-acl", bucket="acme-demo-models", acl="public-read",
                               opts=pulumi.ResourceOptions(parent=self))

    PublicShare("demo")


def bucket_acl_public_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class PublicShare(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:storage:PublicShare", name)
            aws.s3.BucketAclV2(f"{name}-acl", bucket="acme-demo-models", acl="private",
                               opts=pulumi.ResourceOptions(parent=self))

    PublicShare("demo")


def bucket_for_all_values_account():
    import json

    import pulumi_aws as aws

    # ForAllValues is satisfied when the key is absent: it narrows no one.
    aws.s3.BucketPolicy("evals-read", bucket="acme-evals", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-evals/*",
        "Condition": {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ["o-abc123def4"]}}}]}))


def bucket_for_all_values_account_twin():
    import json

    import pulumi_aws as aws

    aws.s3.BucketPolicy("evals-read", bucket="acme-evals", policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-evals/*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ["o-abc123def4"]}}}]}))


def secret_null_condition():
    import json

    import pulumi_aws as aws

    aws.secretsmanager.SecretPolicy("agent-token-policy", block_public_policy=True,
                                    secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:agent-token",
                                    policy=json.dumps({"Statement": [{
                                  "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                                  "Condition": {"Null": {"aws:SourceVpce": "false"}}}]}))


def secret_null_condition_twin():
    import json

    import pulumi_aws as aws

    aws.secretsmanager.SecretPolicy("agent-token-policy", block_public_policy=True,
                                    secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:agent-token",
                                    policy=json.dumps({"Statement": [{
                                  "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                                  "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}}]}))


def key_policy_resource_tls_only():
    import json

    import pulumi_aws as aws

    aws.kms.KeyPolicy("evidence-key-policy", key_id="1234abcd-12ab-34cd-56ef-1234567890ab", policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}))


def key_policy_resource_tls_only_twin():
    import json

    import pulumi_aws as aws

    aws.kms.KeyPolicy("evidence-key-policy", key_id="1234abcd-12ab-34cd-56ef-1234567890ab", policy=json.dumps({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]}))


def queue_inline_wildcard_source():
    import json

    import pulumi_aws as aws

    aws.sqs.Queue("batch-jobs", sqs_managed_sse_enabled=True, policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": "*"}}}]}))


def queue_inline_wildcard_source_twin():
    import json

    import pulumi_aws as aws

    aws.sqs.Queue("batch-jobs", sqs_managed_sse_enabled=True, policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:batch-*"}}}]}))


CASES = {
    "bucket-tls-only": Case(bucket_tls_only, bucket_tls_only_twin, "weights-read", "s3-no-public-grants"),
    "bucket-negated-vpce-in-apply": Case(bucket_negated_vpce_in_apply, bucket_negated_vpce_in_apply_twin, "artifacts-read", "s3-no-public-grants"),
    "bucket-if-exists-org": Case(bucket_if_exists_org, bucket_if_exists_org_twin, "datasets-read", "s3-no-public-grants"),
    "secret-wildcard-account": Case(secret_wildcard_account, secret_wildcard_account_twin, "token-policy", "secret-policy-not-public"),
    "key-open-via-service": Case(key_open_via_service, key_open_via_service_twin, "weights-key", "resource-policy-not-public"),
    "queue-policy-in-component": Case(queue_policy_in_component, queue_policy_in_component_twin, "jobs-policy", "resource-policy-not-public"),
    "topic-policy-second-region": Case(topic_policy_second_region, topic_policy_second_region_twin, "alarms-policy", "resource-policy-not-public"),
    "gcs-object-public-canned-acl": Case(gcs_object_public_canned_acl, gcs_object_public_canned_acl_twin, "model-card", "gcp-no-public-members", "gcp"),
    "bucket-acl-public-in-component": Case(bucket_acl_public_in_component, bucket_acl_public_in_component_twin, "demo-acl", "s3-no-public-grants"),
    "bucket-for-all-values-org": Case(bucket_for_all_values_account, bucket_for_all_values_account_twin, "evals-read", "s3-no-public-grants"),
    "secret-null-condition": Case(secret_null_condition, secret_null_condition_twin, "agent-token-policy", "secret-policy-not-public"),
    "key-policy-resource-tls-only": Case(key_policy_resource_tls_only, key_policy_resource_tls_only_twin, "evidence-key-policy", "resource-policy-not-public"),
    "queue-inline-wildcard-source": Case(queue_inline_wildcard_source, queue_inline_wildcard_source_twin, "batch-jobs", "resource-policy-not-public"),
    "cloud-run-default-ingress": Case(cloud_run_default_ingress, cloud_run_default_ingress_twin, "reranker", "gcp-cloud-run-private", "gcp"),
    "cloud-run-invoker-check-off-in-apply": Case(cloud_run_invoker_check_off_in_apply, cloud_run_invoker_check_off_in_apply_twin, "embedder", "gcp-cloud-run-private", "gcp"),
    "gcs-bucket-acl-canned-in-component": Case(gcs_bucket_acl_canned_in_component, gcs_bucket_acl_canned_in_component_twin, "eval-acl", "gcp-no-public-members", "gcp"),
}


@pytest.mark.control("WP-02", "WP-03", "SC-03", "NB-05")
@pytest.mark.parametrize("name", sorted(CASES))
def test_insecure_case_is_blocked(corpus, name):
    case = CASES[name]
    assert_blocked(corpus(case.insecure, cloud=case.cloud), case.resource, case.policy)


@pytest.mark.control("WP-02", "WP-03", "SC-03", "NB-05")
@pytest.mark.parametrize("name", sorted(CASES))
def test_secure_twin_passes(corpus, name):
    case = CASES[name]
    assert_passes(corpus(case.secure, cloud=case.cloud))
