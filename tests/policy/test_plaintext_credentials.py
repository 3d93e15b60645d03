"""One credential detector for every place a resource can hold a secret, judged through the analyzer service: each
shape with a leaked credential is blocked at the lowest tier, its twin that references a managed secret passes, and
no message ever repeats the credential."""

from __future__ import annotations

import base64
import json

import pytest
from fixtures import UNKNOWN, judge_all, res

POLICY = "no-plaintext-credentials"
TESTING = {"modelfort:zone": "testing"}
# Fixture credentials, built at run time so no scanner mistakes this file for a leak.
AWS_KEY = "AKIA" + "Q3EXAMPLE7KEY2ID"
HF_TOKEN = "hf_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"
RANDOM = "p9" + "Xq2LmZ8vR4tK7wN1sB6y"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"


def ecs(env: list[dict], secrets: list[dict] | None = None) -> dict:
    container = {"name": "model", "image": "m@sha256:" + "a" * 64, "environment": env}
    if secrets:
        container["secrets"] = secrets
    return {"family": "serve", "containerDefinitions": json.dumps([container])}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# name -> (type, leaky props, safe props)
SHAPES = {
    "ecs-env": ("aws:ecs/taskDefinition:TaskDefinition", ecs([{"name": "AWS_ACCESS_KEY_ID", "value": AWS_KEY}]),
                ecs([{"name": "MODEL", "value": "llama"}], [{"name": "DB_PASSWORD", "valueFrom": SECRET_ARN}])),
    "batch-env": ("aws:batch/jobDefinition:JobDefinition",
                  {"type": "container", "containerProperties": json.dumps({"image": "i", "environment": [{"name": "DB_PASSWORD", "value": RANDOM}]})},
                  {"type": "container", "containerProperties": json.dumps({"image": "i", "environment": [{"name": "EPOCHS", "value": "3"}]})}),
    "sagemaker-env": ("aws:sagemaker/model:Model",
                      {"executionRoleArn": "arn:role", "primaryContainer": {"image": "i", "environment": {"HF_TOKEN": HF_TOKEN}}},
                      {"executionRoleArn": "arn:role", "primaryContainer": {"image": "i", "environment": {"HF_MODEL_ID": "meta-llama/Llama-3"}}}),
    "sagemaker-containers": ("aws:sagemaker/model:Model",
                             {"executionRoleArn": "arn:role", "containers": [{"image": "i", "environment": {"apiKey": RANDOM}}]},
                             {"executionRoleArn": "arn:role", "containers": [{"image": "i", "environment": {"apiKeySecret": SECRET_ARN}}]}),
    "ec2-user-data": ("aws:ec2/instance:Instance",
                      {"ami": "ami-1", "userData": f"#!/bin/bash\nexport HUGGING_FACE_HUB_TOKEN={HF_TOKEN}\n./serve"},
                      {"ami": "ami-1", "userData": "#!/bin/bash\naws secretsmanager get-secret-value --secret-id db\n"}),
    "ec2-user-data-b64": ("aws:ec2/instance:Instance",
                          {"ami": "ami-1", "userDataBase64": b64(f"DB_PASSWORD={RANDOM}\n")},
                          {"ami": "ami-1", "userDataBase64": b64("MODEL=llama\n")}),
    "launch-template": ("aws:ec2/launchTemplate:LaunchTemplate",
                        {"userData": b64(f"[default]\naws_secret_access_key = {RANDOM}\naws_access_key_id = {AWS_KEY}\n")},
                        {"userData": b64("#!/bin/bash\necho ready\n")}),
    "ssm-string": ("aws:ssm/parameter:Parameter", {"type": "String", "name": "/serve/db_password", "value": RANDOM},
                   {"type": "SecureString", "name": "/serve/db_password", "value": RANDOM}),
    "cloud-run-v1": ("gcp:cloudrun/service:Service",
                     {"location": "us-central1", "template": {"spec": {"containers": [{"image": "i", "envs": [{"name": "OPENAI_API_KEY", "value": "sk-" + "proj-" + "x" * 30}]}]}}},
                     {"location": "us-central1", "template": {"spec": {"containers": [{"image": "i", "envs": [
                         {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {"name": "openai", "key": "latest"}}}]}]}}}),
    "cloud-run-v2": ("gcp:cloudrunv2/service:Service",
                     {"location": "us-central1", "template": {"containers": [{"image": "i", "envs": [{"name": "DB_PASSWORD", "value": RANDOM}]}]}},
                     {"location": "us-central1", "template": {"containers": [{"image": "i", "envs": [{"name": "DB_HOST", "value": "10.0.0.3"}]}]}}),
    "cloud-run-job": ("gcp:cloudrunv2/job:Job",
                      {"location": "us-central1", "template": {"template": {"containers": [{"image": "i", "envs": [{"name": "TOKEN", "value": RANDOM}]}]}}},
                      {"location": "us-central1", "template": {"template": {"containers": [{"image": "i", "envs": [{"name": "SHARDS", "value": "8"}]}]}}}),
    "function-v1": ("gcp:cloudfunctions/function:Function", {"runtime": "python312", "environmentVariables": {"SLACK_TOKEN": "xoxb-" + "1234567890-abcdef"}},
                    {"runtime": "python312", "environmentVariables": {"LOG_LEVEL": "info"}}),
    "function-v2": ("gcp:cloudfunctionsv2/function:Function", {"location": "us-central1", "serviceConfig": {"environmentVariables": {"api_key": RANDOM}}},
                    {"location": "us-central1", "serviceConfig": {"environmentVariables": {"api_key_secret": "projects/p/secrets/k/versions/1"}}}),
    "gce-startup": ("gcp:compute/instance:Instance", {"machineType": "a2-highgpu-1g", "zone": "z", "metadataStartupScript": f"export HF_TOKEN={HF_TOKEN}"},
                    {"machineType": "a2-highgpu-1g", "zone": "z", "metadataStartupScript": "gcloud secrets versions access latest --secret=hf"}),
    "gce-template-metadata": ("gcp:compute/instanceTemplate:InstanceTemplate", {"machineType": "g2-standard-8", "metadata": {"db-password": RANDOM}},
                              {"machineType": "g2-standard-8", "metadata": {"enable-oslogin": "TRUE"}}),
    "config-map": ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "serve"}, "data": {"application.yaml": f"db:\n  password: {RANDOM}\n"}},
                   {"metadata": {"name": "serve"}, "data": {"application.yaml": "db:\n  host: postgres.models.svc\n"}}),
    "config-map-key": ("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "keys"}, "data": {"ADMIN_TOKEN": RANDOM}},
                       {"metadata": {"name": "keys"}, "data": {"ADMIN_USER": "ops"}}),
    "helm-values": ("kubernetes:helm.sh/v3:Release", {"chart": "vllm", "values": {"auth": {"adminPassword": RANDOM}, "replicas": 2}},
                    {"chart": "vllm", "values": {"auth": {"existingSecret": "vllm-admin"}, "replicas": 2}}),
    "helm-v4-values": ("kubernetes:helm.sh/v4:Chart", {"chart": "oci://r/c", "values": {"env": [{"name": "HF_TOKEN", "value": HF_TOKEN}]}},
                       {"chart": "oci://r/c", "values": {"env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]}}),
}


@pytest.fixture(scope="module")
def judged(packs):
    pack = packs.get(TESTING)
    leaky = judge_all(pack, [res(kind, f"{name}-leaky", props) for name, (kind, props, _) in SHAPES.items()])
    safe = judge_all(pack, [res(kind, f"{name}-safe", props) for name, (kind, _, props) in SHAPES.items()])
    return leaky, safe


@pytest.mark.control("SC-01", "SC-02")
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_leaked_credential_is_blocked_and_its_referenced_twin_passes(judged, shape):
    leaky, safe = judged
    blocked = {d.urn.rsplit("::", 1)[-1] for d in leaky if d.policy == POLICY and d.enforcement == "mandatory"}
    flagged_safe = {d.urn.rsplit("::", 1)[-1] for d in safe if d.policy == POLICY}
    assert f"{shape}-leaky" in blocked
    assert f"{shape}-safe" not in flagged_safe


@pytest.mark.control("SC-01", "SC-02")
def test_no_message_repeats_the_credential(judged):
    leaky, _ = judged
    messages = " ".join(d.message for d in leaky if d.policy == POLICY)
    for secret in (AWS_KEY, HF_TOKEN, RANDOM):
        assert secret not in messages


@pytest.mark.control("SC-02")
def test_a_value_computed_at_deploy_time_is_not_mistaken_for_a_leak(packs):
    pack = packs.get(TESTING)
    computed = res("aws:sagemaker/model:Model", "computed", {"executionRoleArn": "arn:role",
                                                             "primaryContainer": {"image": "i", "environment": {"DB_PASSWORD": UNKNOWN}}})
    assert not [d for d in judge_all(pack, [computed]) if d.policy == POLICY]
