"""An LLM API a platform team built by hand: a GPU instance, its data volume, a database of conversations, a public
HTTP load balancer, a SageMaker endpoint and a broad IAM policy. `checkov-zone:secure` chooses the hardened twin of
every resource; the insecure variant must be blocked by the pack's checkov policies, each naming its resource."""

import json

import pulumi
import pulumi_aws as aws

secure = pulumi.Config().get_bool("secure") or False
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

aws.ec2.Instance(
    "inference-host",
    ami="ami-0abcdef1234567890",
    instance_type="g5.xlarge",
    metadata_options={"http_tokens": "required" if secure else "optional", "http_endpoint": "enabled"},
    root_block_device={"encrypted": secure, **({"kms_key_id": KEY} if secure else {})},
    monitoring=True,
    ebs_optimized=True,
)
aws.ebs.Volume("model-cache", availability_zone="us-east-1a", size=500, encrypted=secure, **({"kms_key_id": KEY} if secure else {}))
aws.rds.Instance(
    "conversations",
    engine="postgres",
    instance_class="db.r6g.large",
    allocated_storage=100,
    username="app",
    manage_master_user_password=True,
    storage_encrypted=secure,
    **({"kms_key_id": KEY} if secure else {}),
    deletion_protection=secure,
    publicly_accessible=False,
)
balancer = aws.lb.LoadBalancer("llm-api", internal=secure, load_balancer_type="application",
                               subnets=["subnet-0a", "subnet-0b"], drop_invalid_header_fields=True)
aws.lb.Listener(
    "llm-api-http",
    load_balancer_arn=balancer.arn,
    port=443 if secure else 80,
    protocol="HTTPS" if secure else "HTTP",
    **({"certificate_arn": "arn:aws:acm:us-east-1:111122223333:certificate/abc", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"} if secure else {}),
    default_actions=[{"type": "fixed-response", "fixed_response": {"content_type": "text/plain", "status_code": "404"}}],
)
aws.sagemaker.EndpointConfiguration(
    "llm-endpoint-config",
    production_variants=[{"model_name": "llm", "variant_name": "primary", "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}],
    **({"kms_key_arn": KEY, "data_capture_config": {
        "enable_capture": True, "initial_sampling_percentage": 100, "kms_key_id": KEY,
        "destination_s3_uri": "s3://acme-evidence-production/capture",
        "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}]}} if secure else {}),
)
aws.iam.Policy(
    "operators",
    policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": ["arn:aws:sagemaker:us-east-1:111122223333:endpoint/llm"]}
        if secure else {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)
