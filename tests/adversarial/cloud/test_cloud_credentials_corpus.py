"""Adversarial corpus, credentials in plain text: every place outside Lambda environments where a cloud resource can
carry a secret (ECS and Batch container environments, SageMaker model environments, Cloud Run and Cloud Functions
env, launch-template user data, SSM String parameters).

Each insecure program must be blocked by `no-plaintext-credentials` on the resource it names; its secure twin, which
references a managed secret instead, must pass. Some take an evasion route: the value built inside `Output.apply`,
a container definition passed as a JSON string, user data base64-encoded in a second region, the engineer's own
ComponentResource, dict arguments instead of args classes. The fixture credentials are assembled from pieces so that
no secret scanner mistakes this file for a leak.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from corpus_harness import Program, assert_blocked, assert_passes

POLICY = "no-plaintext-credentials"


@dataclass(frozen=True)
class Case:
    insecure: Program
    secure: Program
    resource: str
    cloud: str = "aws"


def ecs_env_json():
    import json

    import pulumi_aws as aws

    token = "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"
    aws.ecs.TaskDefinition("tgi-task", family="tgi", requires_compatibilities=["EC2"], network_mode="awsvpc",
                           container_definitions=json.dumps([{
                               "name": "tgi", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                               "readonlyRootFilesystem": True, "privileged": False, "memory": 16384,
                               "environment": [{"name": "HUGGING_FACE_HUB_TOKEN", "value": token}]}]))


def ecs_env_json_twin():
    import json

    import pulumi_aws as aws

    aws.ecs.TaskDefinition("tgi-task", family="tgi", requires_compatibilities=["EC2"], network_mode="awsvpc",
                           container_definitions=json.dumps([{
                               "name": "tgi", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                               "readonlyRootFilesystem": True, "privileged": False, "memory": 16384,
                               "secrets": [{"name": "HUGGING_FACE_HUB_TOKEN",
                                            "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf"}]}]))


def sagemaker_env_in_component():
    import pulumi
    import pulumi_aws as aws

    class Endpoint(pulumi.ComponentResource):
        def __init__(self, name, env):
            super().__init__("acme:ml:Endpoint", name)
            aws.sagemaker.Model(f"{name}-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                                enable_network_isolation=True,
                                vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                                primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                                                   "environment": env},
                                opts=pulumi.ResourceOptions(parent=self))

    Endpoint("gated", {"HF_MODEL_ID": "meta-llama/Llama-3.1-8B", "HF_TOKEN": "hf_" + "zY9xW7vU5tS3rQ1pN9mL7kJ5hG3fE1dC"})


def sagemaker_env_in_component_twin():
    import pulumi
    import pulumi_aws as aws

    class Endpoint(pulumi.ComponentResource):
        def __init__(self, name, env):
            super().__init__("acme:ml:Endpoint", name)
            aws.sagemaker.Model(f"{name}-model", execution_role_arn="arn:aws:iam::123456789012:role/sagemaker-serve",
                                enable_network_isolation=True,
                                vpc_config={"subnets": ["subnet-0a1b2c3d4e5f60001"], "security_group_ids": ["sg-0a1b2c3d4e5f60001"]},
                                primary_container={"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi@sha256:" + "a" * 64,
                                                   "environment": env},
                                opts=pulumi.ResourceOptions(parent=self))

    Endpoint("gated", {"HF_MODEL_ID": "meta-llama/Llama-3.1-8B",
                       "HF_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:hf-token-AbCdEf"})


def batch_job_dict():
    import json

    import pulumi_aws as aws

    aws.batch.JobDefinition("eval-job", type="container", container_properties=json.dumps({
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/evals@sha256:" + "c" * 64,
        "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "16384"}],
        "environment": [{"name": "EVAL_DB_PASSWORD", "value": "p9" + "Xq2LmZ8vR4tK7wN1sB6y"}]}))


def batch_job_dict_twin():
    import json

    import pulumi_aws as aws

    aws.batch.JobDefinition("eval-job", type="container", container_properties=json.dumps({
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/evals@sha256:" + "c" * 64,
        "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "16384"}],
        "secrets": [{"name": "EVAL_DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:eval-db-AbCdEf"}]}))


def launch_template_b64_second_region():
    import base64

    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    script = ("#!/bin/bash\nmkdir -p /root/.aws\ncat > /root/.aws/credentials <<EOF\n[default]\n"
              f"aws_access_key_id = {'AKIA' + 'Q3EXAMPLE7KEY2ID'}\naws_secret_access_key = {'p9' + 'Xq2LmZ8vR4tK7wN1sB6yZ3aC5dE7fG9hJ1kL'}\nEOF\n")
    aws.ec2.LaunchTemplate("gpu-nodes-lt", image_id="ami-0123456789abcdef0", instance_type="g5.2xlarge",
                           metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1},
                           user_data=base64.b64encode(script.encode()).decode(),
                           opts=pulumi.ResourceOptions(provider=west))


def launch_template_b64_second_region_twin():
    import base64

    import pulumi
    import pulumi_aws as aws

    west = aws.Provider("west", region="us-west-2")
    script = "#!/bin/bash\n/etc/eks/bootstrap.sh models-west\n"
    aws.ec2.LaunchTemplate("gpu-nodes-lt", image_id="ami-0123456789abcdef0", instance_type="g5.2xlarge",
                           metadata_options={"http_tokens": "required", "http_put_response_hop_limit": 1},
                           user_data=base64.b64encode(script.encode()).decode(),
                           opts=pulumi.ResourceOptions(provider=west))


def ssm_string_parameter():
    import pulumi_aws as aws

    aws.ssm.Parameter("openai-key", name="/serving/openai_api_key", type="String",
                      value="sk-" + "proj-" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6")


def ssm_string_parameter_twin():
    import pulumi_aws as aws

    aws.ssm.Parameter("openai-key", name="/serving/openai_api_key", type="SecureString",
                      key_id="arn:aws:kms:us-east-1:123456789012:key/0b1d2c3e-0000-4000-8000-00000000000c",
                      value="sk-" + "proj-" + "Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6")


def cloud_run_env_in_apply():
    import pulumi
    import pulumi_gcp as gcp

    # The key is read from a local file at deploy time and dropped straight into the service's env.
    key = pulumi.Output.from_input("sk-" + "ant-" + "api03-" + "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2Gg1Ff0Dd").apply(str.strip)
    gcp.cloudrunv2.Service("reranker", location="us-central1", ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                           template={"containers": [{"image": "us-docker.pkg.dev/acme/models/rerank@sha256:" + "d" * 64,
                                                     "envs": [{"name": "ANTHROPIC_API_KEY", "value": key}]}]})


def cloud_run_env_in_apply_twin():
    import pulumi_gcp as gcp

    gcp.cloudrunv2.Service("reranker", location="us-central1", ingress="INGRESS_TRAFFIC_INTERNAL_ONLY",
                           template={"containers": [{"image": "us-docker.pkg.dev/acme/models/rerank@sha256:" + "d" * 64,
                                                     "envs": [{"name": "ANTHROPIC_API_KEY", "value_source": {
                                                         "secret_key_ref": {"secret": "anthropic-api-key", "version": "latest"}}}]}]})


def cloud_function_env_dict():
    import pulumi_gcp as gcp

    gcp.cloudfunctionsv2.Function("embed-hook", location="us-central1", **{
        "build_config": {"runtime": "python312", "entry_point": "handle"},
        "service_config": {"ingress_settings": "ALLOW_INTERNAL_ONLY",
                           "environment_variables": {"VECTOR_DB_TOKEN": "p9" + "Xq2LmZ8vR4tK7wN1sB6y"}}})


def cloud_function_env_dict_twin():
    import pulumi_gcp as gcp

    gcp.cloudfunctionsv2.Function("embed-hook", location="us-central1", **{
        "build_config": {"runtime": "python312", "entry_point": "handle"},
        "service_config": {"ingress_settings": "ALLOW_INTERNAL_ONLY",
                           "secret_environment_variables": [{"key": "VECTOR_DB_TOKEN", "project_id": "modelfort-corpus",
                                                             "secret": "vector-db-token", "version": "latest"}]}})


CASES = {
    "ecs-env-json": Case(ecs_env_json, ecs_env_json_twin, "tgi-task"),
    "sagemaker-env-in-component": Case(sagemaker_env_in_component, sagemaker_env_in_component_twin, "gated-model"),
    "batch-job-dict": Case(batch_job_dict, batch_job_dict_twin, "eval-job"),
    "launch-template-b64-second-region": Case(launch_template_b64_second_region, launch_template_b64_second_region_twin, "gpu-nodes-lt"),
    "ssm-string-parameter": Case(ssm_string_parameter, ssm_string_parameter_twin, "openai-key"),
    "cloud-run-env-in-apply": Case(cloud_run_env_in_apply, cloud_run_env_in_apply_twin, "reranker", "gcp"),
    "cloud-function-env-dict": Case(cloud_function_env_dict, cloud_function_env_dict_twin, "embed-hook", "gcp"),
}


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize("name", sorted(CASES))
def test_insecure_case_is_blocked(corpus, name):
    case = CASES[name]
    assert_blocked(corpus(case.insecure, cloud=case.cloud), case.resource, POLICY)


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize("name", sorted(CASES))
def test_secure_twin_passes(corpus, name):
    case = CASES[name]
    assert_passes(corpus(case.secure, cloud=case.cloud))
