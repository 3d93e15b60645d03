"""Managed model serving (SageMaker, Bedrock, Vertex AI, GCE GPU VMs), judged by the pack through the analyzer service:
for each rule, a secure resource passes, an insecure one is flagged, one that leaves the setting out is judged by the
cloud's default (flagged where the default is insecure), and a setting computed at deploy time never passes unless it
only names something (a key, a subnet) that will exist."""

from __future__ import annotations

import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

PRODUCTION = {"modelfort:zone": "production"}
TESTING = {"modelfort:zone": "testing"}
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GCP_KEY = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"
ROLE = "arn:aws:iam::111122223333:role/serve"
VPC = {"subnets": ["subnet-0a"], "securityGroupIds": ["sg-0a"]}

MODEL = "aws:sagemaker/model:Model"
ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
DOMAIN = "aws:sagemaker/domain:Domain"
CUSTOM_MODEL = "aws:bedrock/customModel:CustomModel"
DATA_SOURCE = "aws:bedrock/agentDataSource:AgentDataSource"
VERTEX_ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
WORKBENCH = "gcp:workbench/instance:Instance"
GCE = "gcp:compute/instance:Instance"
GCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"

CAPTURE = {"enableCapture": True, "initialSamplingPercentage": 100, "destinationS3Uri": "s3://evidence/capture",
           "kmsKeyId": KEY, "captureOptions": [{"captureMode": "Input"}, {"captureMode": "Output"}]}
VARIANTS = [{"modelName": "m", "variantName": "v", "instanceType": "ml.g5.xlarge"}]
SHIELDED = {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
DEDICATED = "serve@p.iam.gserviceaccount.com"
DEFAULT_SA = "123456789012-compute@developer.gserviceaccount.com"

# rule -> resource type -> {case: (props, flagged?)}
RESOURCE_CASES = {
    "sagemaker-model-in-vpc": (MODEL, {
        "in-vpc": ({"executionRoleArn": ROLE, "enableNetworkIsolation": True, "vpcConfig": VPC}, False),
        "vpc-ids-unknown": ({"executionRoleArn": ROLE, "vpcConfig": {"subnets": UNKNOWN, "securityGroupIds": [UNKNOWN]}}, False),
        "no-vpc": ({"executionRoleArn": ROLE, "enableNetworkIsolation": True}, True),
        "no-security-group": ({"executionRoleArn": ROLE, "vpcConfig": {"subnets": ["subnet-0a"], "securityGroupIds": []}}, True),
        "vpc-computed": ({"executionRoleArn": ROLE, "vpcConfig": UNKNOWN}, True),
    }),
    "sagemaker-endpoint-data-capture": (ENDPOINT_CONFIG, {
        "full-capture": ({"productionVariants": VARIANTS, "kmsKeyArn": KEY, "dataCaptureConfig": CAPTURE}, False),
        "both-in-one-option": ({"productionVariants": VARIANTS, "dataCaptureConfig": {
            **CAPTURE, "captureOptions": [{"captureMode": "InputAndOutput"}], "kmsKeyId": UNKNOWN}}, False),
        "no-capture": ({"productionVariants": VARIANTS, "kmsKeyArn": KEY}, True),
        "capture-off": ({"productionVariants": VARIANTS, "dataCaptureConfig": {**CAPTURE, "enableCapture": False}}, True),
        "input-only": ({"productionVariants": VARIANTS, "dataCaptureConfig": {**CAPTURE, "captureOptions": [{"captureMode": "Input"}]}}, True),
        "sampled": ({"productionVariants": VARIANTS, "dataCaptureConfig": {**CAPTURE, "initialSamplingPercentage": 10}}, True),
        "no-key": ({"productionVariants": VARIANTS, "dataCaptureConfig": {k: v for k, v in CAPTURE.items() if k != "kmsKeyId"}}, True),
        "enable-computed": ({"productionVariants": VARIANTS, "dataCaptureConfig": {**CAPTURE, "enableCapture": UNKNOWN}}, True),
        "async-unencrypted": ({"productionVariants": VARIANTS, "dataCaptureConfig": CAPTURE,
                               "asyncInferenceConfig": {"outputConfig": {"s3OutputPath": "s3://out/"}}}, True),
    }),
    "sagemaker-notebook-no-direct-internet": (NOTEBOOK, {
        "disabled": ({"instanceType": "ml.t3.medium", "roleArn": ROLE, "directInternetAccess": "Disabled", "subnetId": "subnet-0a"}, False),
        "enabled": ({"instanceType": "ml.t3.medium", "roleArn": ROLE, "directInternetAccess": "Enabled"}, True),
        "left-out": ({"instanceType": "ml.t3.medium", "roleArn": ROLE, "subnetId": "subnet-0a"}, True),
        "computed": ({"instanceType": "ml.t3.medium", "roleArn": ROLE, "directInternetAccess": UNKNOWN}, True),
    }),
    "sagemaker-domain-vpc-only": (DOMAIN, {
        "vpc-only": ({"domainName": "d", "authMode": "IAM", "vpcId": "vpc-1", "subnetIds": ["s"], "appNetworkAccessType": "VpcOnly",
                      "defaultUserSettings": {"executionRole": ROLE}}, False),
        "public": ({"domainName": "d", "authMode": "IAM", "vpcId": "vpc-1", "subnetIds": ["s"],
                    "appNetworkAccessType": "PublicInternetOnly", "defaultUserSettings": {"executionRole": ROLE}}, True),
        "left-out": ({"domainName": "d", "authMode": "IAM", "vpcId": "vpc-1", "subnetIds": ["s"],
                      "defaultUserSettings": {"executionRole": ROLE}}, True),
    }),
    "bedrock-custom-model-customer-key": (CUSTOM_MODEL, {
        "customer-key": ({"baseModelIdentifier": "amazon.titan-text-express-v1", "customModelName": "c", "jobName": "j",
                          "roleArn": ROLE, "customModelKmsKeyId": KEY}, False),
        "key-unknown-at-preview": ({"baseModelIdentifier": "amazon.titan-text-express-v1", "customModelName": "c",
                                    "jobName": "j", "roleArn": ROLE, "customModelKmsKeyId": UNKNOWN}, False),
        "left-out": ({"baseModelIdentifier": "amazon.titan-text-express-v1", "customModelName": "c", "jobName": "j", "roleArn": ROLE}, True),
        "empty": ({"baseModelIdentifier": "amazon.titan-text-express-v1", "customModelName": "c", "jobName": "j", "roleArn": ROLE,
                   "customModelKmsKeyId": ""}, True),
    }),
    "bedrock-knowledge-base-customer-key": (DATA_SOURCE, {
        "customer-key": ({"knowledgeBaseId": "KB1", "name": "docs", "serverSideEncryptionConfiguration": {"kmsKeyArn": KEY}}, False),
        "left-out": ({"knowledgeBaseId": "KB1", "name": "docs"}, True),
        "block-without-key": ({"knowledgeBaseId": "KB1", "name": "docs", "serverSideEncryptionConfiguration": {}}, True),
    }),
    "vertex-endpoint-private": (VERTEX_ENDPOINT, {
        "peered": ({"displayName": "e", "location": "us-central1", "network": "projects/1/global/networks/models"}, False),
        "psc": ({"displayName": "e", "location": "us-central1", "privateServiceConnectConfig": {
            "enablePrivateServiceConnect": True, "projectAllowlists": ["p"]}}, False),
        "network-unknown-at-preview": ({"displayName": "e", "location": "us-central1", "network": UNKNOWN}, False),
        "public": ({"displayName": "e", "location": "us-central1"}, True),
        "dedicated-public": ({"displayName": "e", "location": "us-central1", "dedicatedEndpointEnabled": True}, True),
        "psc-off": ({"displayName": "e", "location": "us-central1", "privateServiceConnectConfig": {"enablePrivateServiceConnect": False}}, True),
        "psc-computed": ({"displayName": "e", "location": "us-central1", "privateServiceConnectConfig": {"enablePrivateServiceConnect": UNKNOWN}}, True),
    }),
    "vertex-workbench-hardened": (WORKBENCH, {
        "hardened": ({"location": "us-central1-a", "gceSetup": {"disablePublicIp": True, "shieldedInstanceConfig": SHIELDED,
                                                                 "serviceAccounts": [{"email": DEDICATED}]}}, False),
        "left-out": ({"location": "us-central1-a"}, True),
        "no-secure-boot": ({"location": "us-central1-a", "gceSetup": {"shieldedInstanceConfig": {"enableVtpm": True},
                                                                       "serviceAccounts": [{"email": DEDICATED}]}}, True),
        "default-account": ({"location": "us-central1-a", "gceSetup": {"shieldedInstanceConfig": SHIELDED,
                                                                        "serviceAccounts": [{"email": DEFAULT_SA}]}}, True),
        "secure-boot-computed": ({"location": "us-central1-a", "gceSetup": {"shieldedInstanceConfig": {"enableSecureBoot": UNKNOWN},
                                                                             "serviceAccounts": [{"email": DEDICATED}]}}, True),
    }),
    "gce-gpu-vm-service-account": (GCE, {
        "dedicated": ({"machineType": "a2-highgpu-1g", "zone": "us-central1-a",
                       "serviceAccount": {"email": DEDICATED, "scopes": ["cloud-platform"]}}, False),
        "no-account": ({"machineType": "g2-standard-8", "zone": "us-central1-a"}, False),
        "new-account-unknown-at-preview": ({"machineType": "n1-standard-8", "zone": "us-central1-a",
                                            "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 1}],
                                            "serviceAccount": {"email": UNKNOWN, "scopes": ["cloud-platform"]}}, False),
        "cpu-vm-default": ({"machineType": "e2-small", "zone": "us-central1-a", "serviceAccount": {"email": DEFAULT_SA, "scopes": ["cloud-platform"]}}, False),
        "default-by-number": ({"machineType": "a2-highgpu-1g", "zone": "us-central1-a",
                               "serviceAccount": {"email": DEFAULT_SA, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}}, True),
        "default-alias": ({"machineType": "zones/us-central1-a/machineTypes/a3-highgpu-8g", "zone": "us-central1-a",
                           "serviceAccount": {"email": "default", "scopes": ["cloud-platform"]}}, True),
        "email-left-out": ({"machineType": "n1-standard-8", "zone": "us-central1-a",
                            "guestAccelerators": [{"type": "nvidia-l4", "count": 1}], "serviceAccount": {"scopes": ["cloud-platform"]}}, True),
        "account-computed": ({"machineType": "g2-standard-8", "zone": "us-central1-a", "serviceAccount": UNKNOWN}, True),
    }),
}


def _name(rule: str, case: str) -> str:
    return f"{rule}--{case}"


@pytest.fixture(scope="module")
def verdicts(packs):
    """Every fixture in one stack, judged at production (every rule here is mandatory there)."""
    resources = [res(kind, _name(rule, case), props)
                 for rule, (kind, cases) in RESOURCE_CASES.items() for case, (props, _) in cases.items()]
    diagnostics = judge_all(packs.get(PRODUCTION), resources)
    return diagnostics


@pytest.mark.control("NB-09", "NB-01", "OB-01", "WP-01", "NB-05", "NB-06", "RI-01")
@pytest.mark.parametrize("rule,case", [(rule, case) for rule, (_, cases) in RESOURCE_CASES.items() for case in cases])
def test_each_managed_serving_shape_is_judged(verdicts, rule, case):
    expected = RESOURCE_CASES[rule][1][case][1]
    name = _name(rule, case)
    assert (name in flagged(verdicts, rule)) is expected
    mandatory = {d.urn.rsplit("::", 1)[-1] for d in verdicts if d.policy == rule and d.enforcement == "mandatory"}
    assert (name in mandatory) is expected


def test_no_finding_lands_on_an_unrelated_fixture(verdicts):
    for rule, (_, cases) in RESOURCE_CASES.items():
        assert {n.split("--")[0] for n in flagged(verdicts, rule)} <= {rule}


def test_gpu_vm_message_names_the_default_account_and_the_scope(verdicts):
    messages = [d.message for d in verdicts if d.policy == "gce-gpu-vm-service-account"
                and d.urn.endswith(_name("gce-gpu-vm-service-account", "default-alias"))]
    assert messages and "'default'" in messages[0] and "cloud-platform" in messages[0]


@pytest.mark.control("NB-09")
def test_exposure_rules_block_even_in_the_testing_zone(packs):
    resources = [res(NOTEBOOK, "nb", {"instanceType": "ml.t3.medium", "roleArn": ROLE}),
                 res(VERTEX_ENDPOINT, "vx", {"displayName": "e", "location": "us-central1"})]
    diagnostics = judge_all(packs.get(TESTING), resources)
    mandatory = {(d.policy, d.urn.rsplit("::", 1)[-1]) for d in diagnostics if d.enforcement == "mandatory"}
    assert {("sagemaker-notebook-no-direct-internet", "nb"), ("vertex-endpoint-private", "vx")} <= mandatory


@pytest.mark.control("OB-01")
def test_data_capture_is_advisory_below_the_high_tier(packs):
    diagnostics = judge_all(packs.get(TESTING), [res(ENDPOINT_CONFIG, "ec", {"productionVariants": VARIANTS})])
    found = [d for d in diagnostics if d.policy == "sagemaker-endpoint-data-capture"]
    assert found and all(d.enforcement == "advisory" for d in found)


# ------------------------------------------------------------------------------------------- SageMaker weights source
WEIGHTS_BUCKET = res("aws:s3/bucket:Bucket", "weights", {"bucket": "acme-weights-prod", "tags": {"modelfort:data-class": "model-weights"}})
AUTO_BUCKET = res("aws:s3/bucket:Bucket", "zone-weights", {"tags": {"modelfort:data-class": "model-weights"}})
OTHER_BUCKET = res("aws:s3/bucket:Bucket", "scratch", {"bucket": "acme-scratch"})


def _model(name: str, container: dict, deps: list | None = None, key: str = "primaryContainer") -> dict:
    value = container if key == "primaryContainer" else [container]
    return res(MODEL, name, {"executionRoleArn": ROLE, "enableNetworkIsolation": True, "vpcConfig": VPC, key: value},
               deps={key: deps} if deps else None)


ARTIFACT_CASES = {
    "from-weights-bucket": (_model("m-weights", {"image": "i", "modelDataUrl": "s3://acme-weights-prod/llama/model.tar.gz"}), False),
    "computed-from-weights-bucket": (_model("m-computed", {"image": "i", "modelDataUrl": UNKNOWN}, [WEIGHTS_BUCKET]), False),
    "auto-named-weights-bucket": (_model("m-auto", {"image": "i", "modelDataUrl": "s3://zone-weights-4f2a1b9/model.tar.gz"},
                                         [AUTO_BUCKET]), False),
    "uncompressed-source": (_model("m-source", {"image": "i", "modelDataSource": {"s3DataSources": [
        {"s3Uri": "s3://acme-weights-prod/llama/", "s3DataType": "S3Prefix", "compressionType": "None"}]}}, key="containers"), False),
    "no-artifacts": (_model("m-image-only", {"image": "i"}), False),
    "foreign-bucket": (_model("m-foreign", {"image": "i", "modelDataUrl": "s3://jumpstart-cache-prod-us-east-1/llama.tar.gz"}), True),
    "undeclared-stack-bucket": (_model("m-scratch", {"image": "i", "modelDataUrl": "s3://acme-scratch/model.tar.gz"}, [OTHER_BUCKET]), True),
    "https-url": (_model("m-https", {"image": "i", "modelDataUrl": "https://example.com/model.tar.gz"}), True),
    "computed-from-nothing": (_model("m-unseen", {"image": "i", "modelDataUrl": UNKNOWN}), True),
    "second-container-foreign": (_model("m-second", {"image": "i", "modelDataSource": {"s3DataSources": [
        {"s3Uri": "s3://other-account-models/", "s3DataType": "S3Prefix", "compressionType": "None"}]}}, key="containers"), True),
}


@pytest.fixture(scope="module")
def artifact_verdicts(packs):
    resources = [WEIGHTS_BUCKET, AUTO_BUCKET, OTHER_BUCKET] + [model for model, _ in ARTIFACT_CASES.values()]
    return judge_all(packs.get(PRODUCTION), resources)


@pytest.mark.control("WP-02", "ST-01")
@pytest.mark.parametrize("case", sorted(ARTIFACT_CASES))
def test_sagemaker_weights_come_from_the_zone_weights_bucket(artifact_verdicts, case):
    model, expected = ARTIFACT_CASES[case]
    assert (model["name"] in flagged(artifact_verdicts, "sagemaker-model-artifacts-from-zone")) is expected


# ------------------------------------------------------------------------------------------- Bedrock invocation logging
LOG_GROUP_CONFIG = {"textDataDeliveryEnabled": True, "cloudwatchConfig": {"logGroupName": "telemetry", "roleArn": ROLE}}
LOGGING = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
AGENT = res("aws:bedrock/agentAgent:AgentAgent", "agent", {"agentName": "support", "foundationModel": "anthropic.claude-3",
                                                           "agentResourceRoleArn": ROLE})
INVOKER = res("aws:iam/rolePolicy:RolePolicy", "invoke-claude", {"role": "serve", "policy": json.dumps({"Statement": [
    {"Effect": "Allow", "Action": ["bedrock:Invoke*"], "Resource": "arn:aws:bedrock:us-east-1::foundation-model/*"}]})})
GUARDRAIL_ONLY = res("aws:iam/rolePolicy:RolePolicy", "apply-guardrail", {"role": "guard", "policy": json.dumps({"Statement": [
    {"Effect": "Allow", "Action": "bedrock:ApplyGuardrail", "Resource": "*"}]})})
WEST_MODEL = res("aws:bedrock/customModel:CustomModel", "west-tuned", {"region": "us-west-2", "baseModelIdentifier": "b",
                                                                      "customModelName": "c", "jobName": "j", "roleArn": ROLE,
                                                                      "customModelKmsKeyId": KEY})

LOGGING_CASES = {
    # name: (resources, flagged resource names)
    "logged": ([AGENT, INVOKER, res(LOGGING, "log", {"loggingConfig": LOG_GROUP_CONFIG})], set()),
    "s3-destination": ([AGENT, res(LOGGING, "log", {"loggingConfig": {"s3Config": {"bucketName": "evidence"}}})], set()),
    "no-logging": ([AGENT, INVOKER], {"agent", "invoke-claude"}),
    "guardrail-only-is-not-serving": ([GUARDRAIL_ONLY], set()),
    "text-left-out": ([AGENT, res(LOGGING, "log", {"loggingConfig": {**LOG_GROUP_CONFIG, "textDataDeliveryEnabled": False}})],
                      {"agent", "log"}),
    "no-destination": ([AGENT, res(LOGGING, "log", {"loggingConfig": {"textDataDeliveryEnabled": True}})], {"agent", "log"}),
    "config-computed": ([AGENT, res(LOGGING, "log", {"loggingConfig": UNKNOWN})], {"agent", "log"}),
    "other-region": ([WEST_MODEL, res(LOGGING, "log", {"loggingConfig": LOG_GROUP_CONFIG})], {"west-tuned"}),
    "same-region": ([WEST_MODEL, res(LOGGING, "log", {"region": "us-west-2", "loggingConfig": LOG_GROUP_CONFIG})], set()),
}


@pytest.mark.control("OB-01", "OB-02")
@pytest.mark.parametrize("case", sorted(LOGGING_CASES))
def test_a_stack_serving_through_bedrock_logs_every_invocation(packs, case):
    resources, expected = LOGGING_CASES[case]
    diagnostics = judge_all(packs.get(TESTING), resources)
    assert flagged(diagnostics, "bedrock-invocation-logging") == expected
    assert all(d.enforcement == "mandatory" for d in diagnostics if d.policy == "bedrock-invocation-logging")
