"""Adversarial corpus, managed model serving: SageMaker, Bedrock, Vertex AI and GPU VMs on GCE, written the way a
platform engineer serves a model without our components.

Each insecure program must be blocked with a mandatory violation on the resource it names (by a ModelFort rule or by
a curated checkov check, whichever owns the concern); its secure twin must pass. Some take an evasion route: the
engineer's own ComponentResource, a second provider or region, values built inside `Output.apply`, dict arguments
instead of args classes. The twins run in the production zone too, so each is a complete, deployable secure shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus_harness import Program, assert_blocked, assert_passes, case_source

REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Case:
    category: str
    insecure: Program
    secure: Program
    resource: str
    policy: str
    cloud: str = "aws"


def with_components(program: Program) -> str:
    """A twin that uses ModelFort's own components (the remedy the message names) runs with the repository on its path."""
    return f"import sys\nsys.path.insert(0, {str(REPO)!r})\n" + case_source(program)


# ================================================================================================ SageMaker
def sm_model_outside_vpc():
    import pulumi_aws as aws

    aws.sagemaker.Model("llama-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                        enable_network_isolation=True,
                        primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64))


def sm_model_outside_vpc_twin():
    import pulumi_aws as aws

    aws.sagemaker.Model("llama-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                        enable_network_isolation=True,
                        vpc_config=aws.sagemaker.ModelVpcConfigArgs(subnets=["subnet-0a1b2c3d4e5f60001"],
                                                                     security_group_ids=["sg-0a1b2c3d4e5f60001"]),
                        primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64))


def sm_isolation_off_in_component():
    import pulumi
    import pulumi_aws as aws

    class Serving(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Serving", name)
            aws.sagemaker.Model(f"{name}-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                                enable_network_isolation=False,
                                vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                                primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm@sha256:" + "b" * 64},
                                opts=pulumi.ResourceOptions(parent=self))

    Serving("chat")


def sm_isolation_off_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class Serving(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Serving", name)
            aws.sagemaker.Model(f"{name}-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                                enable_network_isolation=True,
                                vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                                primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm@sha256:" + "b" * 64},
                                opts=pulumi.ResourceOptions(parent=self))

    Serving("chat")


def sm_foreign_weights_in_apply():
    import pulumi
    import pulumi_aws as aws

    # The artifact location is assembled at run time, from a shared cache bucket outside the zone.
    uri = pulumi.Output.from_input("jumpstart-cache-prod-us-east-1").apply(lambda b: f"s3://{b}/llama-3-8b/model.tar.gz")
    aws.sagemaker.Model("cached-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                        enable_network_isolation=True,
                        vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                        primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                                           "model_data_url": uri})


def sm_foreign_weights_in_apply_twin():
    import pulumi
    import pulumi_aws as aws

    from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
    from components.aws.weights import WeightsBucket, WeightsBucketArgs

    logs = AccessLogBucket("access-logs", AccessLogBucketArgs(zone="production", retention_days=365))
    weights = WeightsBucket("weights", WeightsBucketArgs(zone="production", region="us-east-1",
                                                         s3_endpoint_id="vpce-0123456789abcdef0",
                                                         access_log_bucket=logs.bucket_name))
    uri = pulumi.Output.concat("s3://", weights.bucket_name, "/llama-3-8b/model.tar.gz")
    aws.sagemaker.Model("cached-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                        enable_network_isolation=True,
                        vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                        primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                                           "model_data_url": uri})


def sm_endpoint_no_capture_dict():
    import pulumi_aws as aws

    aws.sagemaker.EndpointConfiguration("chat-config", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000001",
                                        production_variants=[{"variant_name": "primary", "model_name": "chat-model",
                                                              "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}])


def sm_endpoint_no_capture_dict_twin():
    import pulumi_aws as aws

    aws.sagemaker.EndpointConfiguration("chat-config", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000001",
                                        production_variants=[{"variant_name": "primary", "model_name": "chat-model",
                                                              "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}],
                                        data_capture_config={
                                            "initial_sampling_percentage": 100, "enable_capture": True,
                                            "destination_s3_uri": "s3://acme-evidence-production/capture",
                                            "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000002",
                                            "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}]})


def sm_capture_unencrypted_second_region():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.sagemaker.EndpointConfiguration("west-config",
                                        kms_key_arn="arn:aws:kms:us-west-2:123456789012:key/0b1d2c3e-0000-4000-8000-000000000003",
                                        production_variants=[aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                                            variant_name="primary", model_name="chat-model", instance_type="ml.g5.2xlarge",
                                            initial_instance_count=1)],
                                        data_capture_config=aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                                            initial_sampling_percentage=100, destination_s3_uri="s3://acme-capture-west/",
                                            capture_options=[{"capture_mode": "InputAndOutput"}]),
                                        opts=pulumi.ResourceOptions(provider=west))


def sm_capture_unencrypted_second_region_twin():
    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    aws.sagemaker.EndpointConfiguration("west-config",
                                        kms_key_arn="arn:aws:kms:us-west-2:123456789012:key/0b1d2c3e-0000-4000-8000-000000000003",
                                        production_variants=[aws.sagemaker.EndpointConfigurationProductionVariantArgs(
                                            variant_name="primary", model_name="chat-model", instance_type="ml.g5.2xlarge",
                                            initial_instance_count=1)],
                                        data_capture_config=aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
                                            initial_sampling_percentage=100, destination_s3_uri="s3://acme-capture-west/",
                                            kms_key_id="arn:aws:kms:us-west-2:123456789012:key/0b1d2c3e-0000-4000-8000-000000000004",
                                            capture_options=[{"capture_mode": "InputAndOutput"}]),
                                        opts=pulumi.ResourceOptions(provider=west))


def sm_endpoint_no_kms():
    import pulumi_aws as aws

    aws.sagemaker.EndpointConfiguration("plain-config",
                                        production_variants=[{"variant_name": "primary", "model_name": "chat-model",
                                                              "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}],
                                        data_capture_config={
                                            "initial_sampling_percentage": 100, "destination_s3_uri": "s3://acme-evidence-production/capture",
                                            "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000002",
                                            "capture_options": [{"capture_mode": "InputAndOutput"}]})


def sm_endpoint_no_kms_twin():
    import pulumi_aws as aws

    aws.sagemaker.EndpointConfiguration("plain-config",
                                        kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000001",
                                        production_variants=[{"variant_name": "primary", "model_name": "chat-model",
                                                              "instance_type": "ml.g5.2xlarge", "initial_instance_count": 1}],
                                        data_capture_config={
                                            "initial_sampling_percentage": 100, "destination_s3_uri": "s3://acme-evidence-production/capture",
                                            "kms_key_id": "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000002",
                                            "capture_options": [{"capture_mode": "InputAndOutput"}]})


def sm_notebook_default_internet():
    import pulumi_aws as aws

    # direct_internet_access left out: AWS gives the notebook its own internet access.
    aws.sagemaker.NotebookInstance("research-nb", instance_type="ml.g5.xlarge", role_arn="arn:aws:iam::123456789012:role/nb",
                                   subnet_id="subnet-0a1b2c3d4e5f60001", security_groups=["sg-0a1b2c3d4e5f60001"],
                                   root_access="Disabled",
                                   kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000005",
                                   instance_metadata_service_configuration={"minimum_instance_metadata_service_version": "2"})


def sm_notebook_default_internet_twin():
    import pulumi_aws as aws

    aws.sagemaker.NotebookInstance("research-nb", instance_type="ml.g5.xlarge", role_arn="arn:aws:iam::123456789012:role/nb",
                                   subnet_id="subnet-0a1b2c3d4e5f60001", security_groups=["sg-0a1b2c3d4e5f60001"],
                                   root_access="Disabled", direct_internet_access="Disabled",
                                   kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000005",
                                   instance_metadata_service_configuration={"minimum_instance_metadata_service_version": "2"})


def sm_notebook_root_in_apply():
    import pulumi
    import pulumi_aws as aws

    root = pulumi.Output.from_input("enabled").apply(str.capitalize)
    aws.sagemaker.NotebookInstance("finetune-nb", instance_type="ml.g5.xlarge", role_arn="arn:aws:iam::123456789012:role/nb",
                                   subnet_id="subnet-0a1b2c3d4e5f60001", security_groups=["sg-0a1b2c3d4e5f60001"],
                                   root_access=root, direct_internet_access="Disabled",
                                   kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000005",
                                   instance_metadata_service_configuration={"minimum_instance_metadata_service_version": "2"})


def sm_notebook_root_in_apply_twin():
    import pulumi
    import pulumi_aws as aws

    root = pulumi.Output.from_input("disabled").apply(str.capitalize)
    aws.sagemaker.NotebookInstance("finetune-nb", instance_type="ml.g5.xlarge", role_arn="arn:aws:iam::123456789012:role/nb",
                                   subnet_id="subnet-0a1b2c3d4e5f60001", security_groups=["sg-0a1b2c3d4e5f60001"],
                                   root_access=root, direct_internet_access="Disabled",
                                   kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000005",
                                   instance_metadata_service_configuration={"minimum_instance_metadata_service_version": "2"})


def sm_domain_public():
    import pulumi_aws as aws

    aws.sagemaker.Domain("studio", domain_name="acme-studio", auth_mode="IAM", vpc_id="vpc-0123456789abcdef0",
                         subnet_ids=["subnet-0a1b2c3d4e5f60001"],
                         kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000006",
                         default_user_settings={"execution_role": "arn:aws:iam::123456789012:role/studio"})


def sm_domain_public_twin():
    import pulumi_aws as aws

    aws.sagemaker.Domain("studio", domain_name="acme-studio", auth_mode="IAM", vpc_id="vpc-0123456789abcdef0",
                         subnet_ids=["subnet-0a1b2c3d4e5f60001"], app_network_access_type="VpcOnly",
                         kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000006",
                         default_user_settings={"execution_role": "arn:aws:iam::123456789012:role/studio",
                                                "security_groups": ["sg-0a1b2c3d4e5f60001"]})


def sm_domain_no_key_in_component():
    import pulumi
    import pulumi_aws as aws

    class Studio(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Studio", name)
            aws.sagemaker.Domain(f"{name}-domain", domain_name=name, auth_mode="IAM", vpc_id="vpc-0123456789abcdef0",
                                 subnet_ids=["subnet-0a1b2c3d4e5f60001"], app_network_access_type="VpcOnly",
                                 default_user_settings={"execution_role": "arn:aws:iam::123456789012:role/studio"},
                                 opts=pulumi.ResourceOptions(parent=self))

    Studio("labs")


def sm_domain_no_key_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class Studio(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Studio", name)
            aws.sagemaker.Domain(f"{name}-domain", domain_name=name, auth_mode="IAM", vpc_id="vpc-0123456789abcdef0",
                                 subnet_ids=["subnet-0a1b2c3d4e5f60001"], app_network_access_type="VpcOnly",
                                 kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000006",
                                 default_user_settings={"execution_role": "arn:aws:iam::123456789012:role/studio"},
                                 opts=pulumi.ResourceOptions(parent=self))

    Studio("labs")


# ================================================================================================ Bedrock
def bedrock_custom_model_no_key():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.CustomModel("support-tuned", base_model_identifier="arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
                            custom_model_name="support-tuned", job_name="support-tuned-1",
                            role_arn="arn:aws:iam::123456789012:role/bedrock-customize",
                            hyperparameters={"epochCount": "2"},
                            output_data_config={"s3_uri": "s3://acme-bedrock-output/"},
                            training_data_config={"s3_uri": "s3://acme-bedrock-training/train.jsonl"})


def bedrock_custom_model_no_key_twin():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.CustomModel("support-tuned", base_model_identifier="arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
                            custom_model_name="support-tuned", job_name="support-tuned-1",
                            role_arn="arn:aws:iam::123456789012:role/bedrock-customize",
                            custom_model_kms_key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000007",
                            hyperparameters={"epochCount": "2"},
                            output_data_config={"s3_uri": "s3://acme-bedrock-output/"},
                            training_data_config={"s3_uri": "s3://acme-bedrock-training/train.jsonl"})


def bedrock_invoke_role_unlogged():
    import json

    import pulumi_aws as aws

    # A chat Lambda's role may invoke Claude; nothing records the prompts.
    aws.iam.RolePolicy("chat-invoke", role="chat-lambda", policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"}]}))


def bedrock_invoke_role_unlogged_twin():
    import json

    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.iam.RolePolicy("chat-invoke", role="chat-lambda", policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0"}]}))


def bedrock_logging_other_region():
    import pulumi_aws as aws

    # Logging is configured for the provider's region; the agent is created in another one.
    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("west-agent", region="us-west-2", agent_name="west-support",
                           agent_resource_role_arn="arn:aws:iam::123456789012:role/agent",
                           foundation_model="anthropic.claude-3-5-sonnet-20240620-v1:0",
                           customer_encryption_key_arn="arn:aws:kms:us-west-2:123456789012:key/0b1d2c3e-0000-4000-8000-000000000008",
                           guardrail_configurations=[{"guardrail_identifier": "gr-0123456789ab", "guardrail_version": "1"}])


def bedrock_logging_other_region_twin():
    import pulumi_aws as aws

    for region in (None, "us-west-2"):
        aws.bedrockmodel.InvocationLoggingConfiguration(f"invocation-log-{region or 'home'}", region=region, logging_config={
            "text_data_delivery_enabled": True,
            "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                                  "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("west-agent", region="us-west-2", agent_name="west-support",
                           agent_resource_role_arn="arn:aws:iam::123456789012:role/agent",
                           foundation_model="anthropic.claude-3-5-sonnet-20240620-v1:0",
                           customer_encryption_key_arn="arn:aws:kms:us-west-2:123456789012:key/0b1d2c3e-0000-4000-8000-000000000008",
                           guardrail_configurations=[{"guardrail_identifier": "gr-0123456789ab", "guardrail_version": "1"}])


def bedrock_logging_text_off_in_apply():
    import pulumi
    import pulumi_aws as aws

    text = pulumi.Output.from_input("false").apply(lambda v: v == "true")
    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": text, "image_data_delivery_enabled": True,
        "s3_config": {"bucket_name": "acme-evidence-production", "key_prefix": "bedrock/"}})
    aws.bedrock.InferenceProfile("claude-profile", name="claude-profile",
                                 model_source={"copy_from": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"})


def bedrock_logging_text_off_in_apply_twin():
    import pulumi
    import pulumi_aws as aws

    text = pulumi.Output.from_input("true").apply(lambda v: v == "true")
    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": text, "image_data_delivery_enabled": True,
        "s3_config": {"bucket_name": "acme-evidence-production", "key_prefix": "bedrock/"}})
    aws.bedrock.InferenceProfile("claude-profile", name="claude-profile",
                                 model_source={"copy_from": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"})


def bedrock_agent_without_guardrail():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("support-agent", agent_name="support", agent_resource_role_arn="arn:aws:iam::123456789012:role/agent",
                           foundation_model="anthropic.claude-3-5-sonnet-20240620-v1:0",
                           customer_encryption_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000009")


def bedrock_agent_without_guardrail_twin():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("support-agent", agent_name="support", agent_resource_role_arn="arn:aws:iam::123456789012:role/agent",
                           foundation_model="anthropic.claude-3-5-sonnet-20240620-v1:0",
                           customer_encryption_key_arn="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-000000000009",
                           guardrail_configurations=[aws.bedrock.AgentAgentGuardrailConfigurationArgs(
                               guardrail_identifier="gr-0123456789ab", guardrail_version="1")])


def bedrock_agent_no_key_dict():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("triage-agent", **{"agent_name": "triage", "agent_resource_role_arn": "arn:aws:iam::123456789012:role/agent",
                                              "foundation_model": "anthropic.claude-3-haiku-20240307-v1:0",
                                              "guardrail_configurations": [{"guardrail_identifier": "gr-0123456789ab",
                                                                            "guardrail_version": "1"}]})


def bedrock_agent_no_key_dict_twin():
    import pulumi_aws as aws

    aws.bedrockmodel.InvocationLoggingConfiguration("invocation-log", logging_config={
        "text_data_delivery_enabled": True,
        "cloudwatch_config": {"log_group_name": "/modelfort/production/telemetry",
                              "role_arn": "arn:aws:iam::123456789012:role/bedrock-logging"}})
    aws.bedrock.AgentAgent("triage-agent", **{"agent_name": "triage", "agent_resource_role_arn": "arn:aws:iam::123456789012:role/agent",
                                              "foundation_model": "anthropic.claude-3-haiku-20240307-v1:0",
                                              "customer_encryption_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-00000000000a",
                                              "guardrail_configurations": [{"guardrail_identifier": "gr-0123456789ab",
                                                                            "guardrail_version": "1"}]})


def bedrock_data_source_in_component():
    import pulumi
    import pulumi_aws as aws

    class Corpus(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:rag:Corpus", name)
            aws.bedrock.AgentDataSource(f"{name}-source", knowledge_base_id="KB12345678", name=f"{name}-docs",
                                        data_source_configuration={"type": "S3", "s3_configuration": {
                                            "bucket_arn": "arn:aws:s3:::acme-rag-docs"}},
                                        opts=pulumi.ResourceOptions(parent=self))

    Corpus("handbook")


def bedrock_data_source_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class Corpus(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:rag:Corpus", name)
            aws.bedrock.AgentDataSource(f"{name}-source", knowledge_base_id="KB12345678", name=f"{name}-docs",
                                        data_source_configuration={"type": "S3", "s3_configuration": {
                                            "bucket_arn": "arn:aws:s3:::acme-rag-docs"}},
                                        server_side_encryption_configuration={
                                            "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-00000000000b"},
                                        opts=pulumi.ResourceOptions(parent=self))

    Corpus("handbook")


# ================================================================================================ Vertex AI
def vertex_endpoint_public():
    import pulumi_gcp as gcp

    gcp.vertex.AiEndpoint("chat-endpoint", name="4242", display_name="chat", location="us-central1",
                          encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"})


def vertex_endpoint_public_twin():
    import pulumi_gcp as gcp

    gcp.vertex.AiEndpoint("chat-endpoint", name="4242", display_name="chat", location="us-central1",
                          network="projects/123456789012/global/networks/models",
                          encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"})


def vertex_psc_off_in_apply():
    import pulumi
    import pulumi_gcp as gcp

    enabled = pulumi.Output.from_input("no").apply(lambda v: v == "yes")
    gcp.vertex.AiEndpoint("rerank-endpoint", name="4343", display_name="rerank", location="us-central1",
                          private_service_connect_config={"enable_private_service_connect": enabled},
                          encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"})


def vertex_psc_off_in_apply_twin():
    import pulumi
    import pulumi_gcp as gcp

    enabled = pulumi.Output.from_input("yes").apply(lambda v: v == "yes")
    gcp.vertex.AiEndpoint("rerank-endpoint", name="4343", display_name="rerank", location="us-central1",
                          private_service_connect_config={"enable_private_service_connect": enabled,
                                                          "project_allowlists": ["modelfort-corpus"]},
                          encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"})


def vertex_endpoint_no_cmek():
    import pulumi_gcp as gcp

    gcp.vertex.AiEndpoint("embed-endpoint", name="4444", display_name="embed", location="us-central1",
                          network="projects/123456789012/global/networks/models")


def vertex_endpoint_no_cmek_twin():
    import pulumi_gcp as gcp

    gcp.vertex.AiEndpoint("embed-endpoint", name="4444", display_name="embed", location="us-central1",
                          network="projects/123456789012/global/networks/models",
                          encryption_spec=gcp.vertex.AiEndpointEncryptionSpecArgs(
                              kms_key_name="projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"))


def vertex_featurestore_no_cmek_in_component():
    import pulumi
    import pulumi_gcp as gcp

    class Features(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Features", name)
            gcp.vertex.AiFeatureStore(f"{name}-store", name=name.replace("-", "_"), region="us-central1",
                                      online_serving_config={"fixed_node_count": 1},
                                      opts=pulumi.ResourceOptions(parent=self))

    Features("user-signals")


def vertex_featurestore_no_cmek_in_component_twin():
    import pulumi
    import pulumi_gcp as gcp

    class Features(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Features", name)
            gcp.vertex.AiFeatureStore(f"{name}-store", name=name.replace("-", "_"), region="us-central1",
                                      online_serving_config={"fixed_node_count": 1},
                                      encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/vertex"},
                                      opts=pulumi.ResourceOptions(parent=self))

    Features("user-signals")


def vertex_dataset_second_provider():
    import pulumi
    import pulumi_gcp as gcp

    europe = gcp.Provider("europe", project="modelfort-corpus", region="europe-west4")
    gcp.vertex.AiDataset("eval-prompts", display_name="eval-prompts", region="europe-west4",
                         metadata_schema_uri="gs://google-cloud-aiplatform/schema/dataset/metadata/text_1.0.0.yaml",
                         opts=pulumi.ResourceOptions(provider=europe))


def vertex_dataset_second_provider_twin():
    import pulumi
    import pulumi_gcp as gcp

    europe = gcp.Provider("europe", project="modelfort-corpus", region="europe-west4")
    gcp.vertex.AiDataset("eval-prompts", display_name="eval-prompts", region="europe-west4",
                         metadata_schema_uri="gs://google-cloud-aiplatform/schema/dataset/metadata/text_1.0.0.yaml",
                         encryption_spec={"kms_key_name": "projects/modelfort-corpus/locations/europe-west4/keyRings/models/cryptoKeys/vertex"},
                         opts=pulumi.ResourceOptions(provider=europe))


def vertex_index_endpoint_public():
    import pulumi_gcp as gcp

    gcp.vertex.AiIndexEndpoint("rag-vectors", display_name="rag-vectors", region="us-central1", public_endpoint_enabled=True)


def vertex_index_endpoint_public_twin():
    import pulumi_gcp as gcp

    gcp.vertex.AiIndexEndpoint("rag-vectors", display_name="rag-vectors", region="us-central1",
                               network="projects/123456789012/global/networks/models")



def workbench_public_ip():
    import pulumi_gcp as gcp

    key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
    gcp.workbench.Instance("eval-workbench", location="us-central1-a", gce_setup={
        "machine_type": "g2-standard-8", "accelerator_configs": [{"type": "NVIDIA_L4", "core_count": 1}],
        "service_accounts": [{"email": "workbench@modelfort-corpus.iam.gserviceaccount.com"}],
        "shielded_instance_config": {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
        "boot_disk": {"disk_encryption": "CMEK", "kms_key": key}, "data_disks": {"disk_encryption": "CMEK", "kms_key": key},
        "network_interfaces": [{"network": "projects/modelfort-corpus/global/networks/models",
                                "subnet": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}]})


def workbench_public_ip_twin():
    import pulumi_gcp as gcp

    key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
    gcp.workbench.Instance("eval-workbench", location="us-central1-a", gce_setup={
        "machine_type": "g2-standard-8", "accelerator_configs": [{"type": "NVIDIA_L4", "core_count": 1}],
        "disable_public_ip": True,
        "service_accounts": [{"email": "workbench@modelfort-corpus.iam.gserviceaccount.com"}],
        "shielded_instance_config": {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
        "boot_disk": {"disk_encryption": "CMEK", "kms_key": key}, "data_disks": {"disk_encryption": "CMEK", "kms_key": key},
        "network_interfaces": [{"network": "projects/modelfort-corpus/global/networks/models",
                                "subnet": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}]})


def workbench_no_secure_boot_in_component():
    import pulumi
    import pulumi_gcp as gcp

    class Lab(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Lab", name)
            key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
            gcp.workbench.Instance(f"{name}-workbench", location="us-central1-a", gce_setup={
                "machine_type": "a2-highgpu-1g", "disable_public_ip": True,
                "service_accounts": [{"email": "workbench@modelfort-corpus.iam.gserviceaccount.com"}],
                "shielded_instance_config": {"enable_vtpm": True, "enable_integrity_monitoring": True},
                "boot_disk": {"disk_encryption": "CMEK", "kms_key": key}, "data_disks": {"disk_encryption": "CMEK", "kms_key": key}},
                opts=pulumi.ResourceOptions(parent=self))

    Lab("redteam")


def workbench_no_secure_boot_in_component_twin():
    import pulumi
    import pulumi_gcp as gcp

    class Lab(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:ml:Lab", name)
            key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
            gcp.workbench.Instance(f"{name}-workbench", location="us-central1-a", gce_setup={
                "machine_type": "a2-highgpu-1g", "disable_public_ip": True,
                "service_accounts": [{"email": "workbench@modelfort-corpus.iam.gserviceaccount.com"}],
                "shielded_instance_config": {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                "boot_disk": {"disk_encryption": "CMEK", "kms_key": key}, "data_disks": {"disk_encryption": "CMEK", "kms_key": key}},
                opts=pulumi.ResourceOptions(parent=self))

    Lab("redteam")


def workbench_default_account():
    import pulumi_gcp as gcp

    key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
    # No service_accounts: Workbench falls back to the Compute Engine default account.
    gcp.workbench.Instance("tuning-workbench", location="us-central1-a", gce_setup=gcp.workbench.InstanceGceSetupArgs(
        machine_type="g2-standard-8", disable_public_ip=True,
        shielded_instance_config=gcp.workbench.InstanceGceSetupShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True),
        boot_disk=gcp.workbench.InstanceGceSetupBootDiskArgs(disk_encryption="CMEK", kms_key=key),
        data_disks=gcp.workbench.InstanceGceSetupDataDisksArgs(disk_encryption="CMEK", kms_key=key)))


def workbench_default_account_twin():
    import pulumi_gcp as gcp

    key = "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/workbench"
    gcp.workbench.Instance("tuning-workbench", location="us-central1-a", gce_setup=gcp.workbench.InstanceGceSetupArgs(
        machine_type="g2-standard-8", disable_public_ip=True,
        service_accounts=[gcp.workbench.InstanceGceSetupServiceAccountArgs(email="tuning@modelfort-corpus.iam.gserviceaccount.com")],
        shielded_instance_config=gcp.workbench.InstanceGceSetupShieldedInstanceConfigArgs(
            enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True),
        boot_disk=gcp.workbench.InstanceGceSetupBootDiskArgs(disk_encryption="CMEK", kms_key=key),
        data_disks=gcp.workbench.InstanceGceSetupDataDisksArgs(disk_encryption="CMEK", kms_key=key)))


# ================================================================================================ GCE GPU VMs
def gce_gpu_default_alias():
    import pulumi_gcp as gcp

    # "default" is the API's alias for the project's Compute Engine default account.
    gcp.compute.Instance("llm-vm", machine_type="a2-highgpu-1g", zone="us-central1-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"},
                         service_account={"email": "default", "scopes": ["cloud-platform"]})


def gce_gpu_default_alias_twin():
    import pulumi_gcp as gcp

    gcp.compute.Instance("llm-vm", machine_type="a2-highgpu-1g", zone="us-central1-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"},
                         service_account={"email": "llm-serve@modelfort-corpus.iam.gserviceaccount.com", "scopes": ["cloud-platform"]})


def gce_gpu_template_default_number():
    import pulumi_gcp as gcp

    gcp.compute.InstanceTemplate("t4-template", machine_type="n1-standard-8",
                                 guest_accelerators=[gcp.compute.InstanceTemplateGuestAcceleratorArgs(type="nvidia-tesla-t4", count=1)],
                                 disks=[{"source_image": "projects/cos-cloud/global/images/family/cos-stable", "boot": True,
                                         "disk_encryption_key": {"kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"}}],
                                 network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                                 scheduling={"on_host_maintenance": "TERMINATE"},
                                 shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                                 metadata={"block-project-ssh-keys": "true"},
                                 service_account=gcp.compute.InstanceTemplateServiceAccountArgs(
                                     email="123456789012-compute@developer.gserviceaccount.com", scopes=["storage-ro"]))


def gce_gpu_template_default_number_twin():
    import pulumi_gcp as gcp

    gcp.compute.InstanceTemplate("t4-template", machine_type="n1-standard-8",
                                 guest_accelerators=[gcp.compute.InstanceTemplateGuestAcceleratorArgs(type="nvidia-tesla-t4", count=1)],
                                 disks=[{"source_image": "projects/cos-cloud/global/images/family/cos-stable", "boot": True,
                                         "disk_encryption_key": {"kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"}}],
                                 network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                                 scheduling={"on_host_maintenance": "TERMINATE"},
                                 shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                                 metadata={"block-project-ssh-keys": "true"},
                                 service_account=gcp.compute.InstanceTemplateServiceAccountArgs(
                                     email="t4-serve@modelfort-corpus.iam.gserviceaccount.com", scopes=["storage-ro"]))


def gce_gpu_email_left_out_second_provider():
    import pulumi
    import pulumi_gcp as gcp

    europe = gcp.Provider("europe", project="modelfort-corpus", region="europe-west4")
    # A service_account block with scopes but no email: GCE attaches the default account.
    gcp.compute.Instance("l4-vm", machine_type="g2-standard-8", zone="europe-west4-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/europe-west4/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/europe-west4/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true"},
                         service_account={"scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
                         opts=pulumi.ResourceOptions(provider=europe))


def gce_gpu_email_left_out_second_provider_twin():
    import pulumi
    import pulumi_gcp as gcp

    europe = gcp.Provider("europe", project="modelfort-corpus", region="europe-west4")
    gcp.compute.Instance("l4-vm", machine_type="g2-standard-8", zone="europe-west4-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/europe-west4/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/europe-west4/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true"},
                         service_account={"email": "l4-serve@modelfort-corpus.iam.gserviceaccount.com",
                                          "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
                         opts=pulumi.ResourceOptions(provider=europe))


def gce_gpu_default_in_apply():
    import pulumi
    import pulumi_gcp as gcp

    # The project number is looked up at run time; the email is the default compute account all the same.
    email = pulumi.Output.from_input("123456789012").apply(lambda n: f"{n}-compute@developer.gserviceaccount.com")
    gcp.compute.Instance("h100-vm", machine_type="a3-highgpu-8g", zone="us-central1-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true"},
                         service_account={"email": email, "scopes": ["storage-ro", "logging-write"]})


def gce_gpu_default_in_apply_twin():
    import pulumi
    import pulumi_gcp as gcp

    email = pulumi.Output.from_input("h100-serve").apply(lambda n: f"{n}@modelfort-corpus.iam.gserviceaccount.com")
    gcp.compute.Instance("h100-vm", machine_type="a3-highgpu-8g", zone="us-central1-a",
                         boot_disk={"initialize_params": {"image": "projects/cos-cloud/global/images/family/cos-stable"},
                                    "kms_key_self_link": "projects/modelfort-corpus/locations/us-central1/keyRings/models/cryptoKeys/disks"},
                         network_interfaces=[{"subnetwork": "projects/modelfort-corpus/regions/us-central1/subnetworks/models"}],
                         scheduling={"on_host_maintenance": "TERMINATE"},
                         shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
                         metadata={"block-project-ssh-keys": "true"},
                         service_account={"email": email, "scopes": ["storage-ro", "logging-write"]})


CASES = {
    "sm-model-outside-vpc": Case("sagemaker", sm_model_outside_vpc, sm_model_outside_vpc_twin, "llama-model", "sagemaker-model-in-vpc"),
    "sm-isolation-off-in-component": Case("sagemaker", sm_isolation_off_in_component, sm_isolation_off_in_component_twin,
                                          "chat-model", "checkov:CKV_AWS_370"),
    "sm-foreign-weights-in-apply": Case("sagemaker", sm_foreign_weights_in_apply, with_components(sm_foreign_weights_in_apply_twin),
                                        "cached-model", "sagemaker-model-artifacts-from-zone"),
    "sm-endpoint-no-capture-dict": Case("sagemaker", sm_endpoint_no_capture_dict, sm_endpoint_no_capture_dict_twin,
                                        "chat-config", "sagemaker-endpoint-data-capture"),
    "sm-capture-unencrypted-second-region": Case("sagemaker", sm_capture_unencrypted_second_region,
                                                 sm_capture_unencrypted_second_region_twin, "west-config", "sagemaker-endpoint-data-capture"),
    "sm-endpoint-no-kms": Case("sagemaker", sm_endpoint_no_kms, sm_endpoint_no_kms_twin, "plain-config", "checkov:CKV_AWS_98"),
    "sm-notebook-default-internet": Case("sagemaker", sm_notebook_default_internet, sm_notebook_default_internet_twin,
                                         "research-nb", "sagemaker-notebook-no-direct-internet"),
    "sm-notebook-root-in-apply": Case("sagemaker", sm_notebook_root_in_apply, sm_notebook_root_in_apply_twin, "finetune-nb",
                                      "checkov:CKV_AWS_307"),
    "sm-domain-public": Case("sagemaker", sm_domain_public, sm_domain_public_twin, "studio", "sagemaker-domain-vpc-only"),
    "sm-domain-no-key-in-component": Case("sagemaker", sm_domain_no_key_in_component, sm_domain_no_key_in_component_twin,
                                          "labs-domain", "checkov:CKV_AWS_187"),
    "bedrock-custom-model-no-key": Case("bedrock", bedrock_custom_model_no_key, bedrock_custom_model_no_key_twin, "support-tuned",
                                        "bedrock-custom-model-customer-key"),
    "bedrock-invoke-role-unlogged": Case("bedrock", bedrock_invoke_role_unlogged, bedrock_invoke_role_unlogged_twin, "chat-invoke",
                                         "bedrock-invocation-logging"),
    "bedrock-logging-other-region": Case("bedrock", bedrock_logging_other_region, bedrock_logging_other_region_twin, "west-agent",
                                         "bedrock-invocation-logging"),
    "bedrock-logging-text-off-in-apply": Case("bedrock", bedrock_logging_text_off_in_apply, bedrock_logging_text_off_in_apply_twin,
                                              "claude-profile", "bedrock-invocation-logging"),
    "bedrock-agent-without-guardrail": Case("bedrock", bedrock_agent_without_guardrail, bedrock_agent_without_guardrail_twin,
                                            "support-agent", "checkov:CKV_AWS_383"),
    "bedrock-agent-no-key-dict": Case("bedrock", bedrock_agent_no_key_dict, bedrock_agent_no_key_dict_twin, "triage-agent",
                                      "checkov:CKV_AWS_373"),
    "bedrock-data-source-in-component": Case("bedrock", bedrock_data_source_in_component, bedrock_data_source_in_component_twin,
                                             "handbook-source", "bedrock-knowledge-base-customer-key"),
    "vertex-endpoint-public": Case("vertex", vertex_endpoint_public, vertex_endpoint_public_twin, "chat-endpoint",
                                   "vertex-endpoint-private", "gcp"),
    "vertex-psc-off-in-apply": Case("vertex", vertex_psc_off_in_apply, vertex_psc_off_in_apply_twin, "rerank-endpoint",
                                    "vertex-endpoint-private", "gcp"),
    "vertex-endpoint-no-cmek": Case("vertex", vertex_endpoint_no_cmek, vertex_endpoint_no_cmek_twin, "embed-endpoint",
                                    "checkov:CKV2_GCP_24", "gcp"),
    "vertex-featurestore-no-cmek-in-component": Case("vertex", vertex_featurestore_no_cmek_in_component,
                                                     vertex_featurestore_no_cmek_in_component_twin, "user-signals-store",
                                                     "checkov:CKV2_GCP_25", "gcp"),
    "vertex-dataset-second-provider": Case("vertex", vertex_dataset_second_provider, vertex_dataset_second_provider_twin,
                                           "eval-prompts", "checkov:CKV_GCP_92", "gcp"),
    "vertex-index-endpoint-public": Case("vertex", vertex_index_endpoint_public, vertex_index_endpoint_public_twin, "rag-vectors",
                                         "checkov:CKV2_GCP_34", "gcp"),
    "workbench-public-ip": Case("vertex", workbench_public_ip, workbench_public_ip_twin, "eval-workbench", "checkov:CKV2_GCP_28", "gcp"),
    "workbench-no-secure-boot-in-component": Case("vertex", workbench_no_secure_boot_in_component,
                                                  workbench_no_secure_boot_in_component_twin, "redteam-workbench",
                                                  "vertex-workbench-hardened", "gcp"),
    "workbench-default-account": Case("vertex", workbench_default_account, workbench_default_account_twin, "tuning-workbench",
                                      "vertex-workbench-hardened", "gcp"),
    "gce-gpu-default-alias": Case("gce-gpu", gce_gpu_default_alias, gce_gpu_default_alias_twin, "llm-vm",
                                  "gce-gpu-vm-service-account", "gcp"),
    "gce-gpu-template-default-number": Case("gce-gpu", gce_gpu_template_default_number, gce_gpu_template_default_number_twin,
                                            "t4-template", "gce-gpu-vm-service-account", "gcp"),
    "gce-gpu-email-left-out-second-provider": Case("gce-gpu", gce_gpu_email_left_out_second_provider,
                                                   gce_gpu_email_left_out_second_provider_twin, "l4-vm",
                                                   "gce-gpu-vm-service-account", "gcp"),
    "gce-gpu-default-in-apply": Case("gce-gpu", gce_gpu_default_in_apply, gce_gpu_default_in_apply_twin, "h100-vm",
                                     "gce-gpu-vm-service-account", "gcp"),
}


def test_every_managed_service_has_cases():
    categories = {case.category for case in CASES.values()}
    assert categories == {"sagemaker", "bedrock", "vertex", "gce-gpu"}
    assert len(CASES) >= 25


@pytest.mark.control("NB-09", "NB-01", "WP-01", "WP-02", "OB-01", "NB-06", "GR-09")
@pytest.mark.parametrize("name", sorted(CASES))
def test_insecure_case_is_blocked(corpus, name):
    case = CASES[name]
    assert_blocked(corpus(case.insecure, cloud=case.cloud), case.resource, case.policy)


@pytest.mark.control("NB-09", "NB-01", "WP-01", "WP-02", "OB-01", "NB-06", "GR-09")
@pytest.mark.parametrize("name", sorted(CASES))
def test_secure_twin_passes(corpus, name):
    case = CASES[name]
    assert_passes(corpus(case.secure, cloud=case.cloud))
