"""Models served by the clouds' managed services are judged like our own: SageMaker, Bedrock, Vertex AI, GPU VMs.

checkov's maintained checks already cover part of this (curated.yaml: SageMaker model network isolation, endpoint and
notebook keys, notebook root access, Bedrock agent keys and guardrails, Vertex dataset, endpoint and featurestore keys,
Workbench public IPs, the GCE default service account with full scopes). These rules add what checkov lacks:

| Rule | What checkov misses |
|---|---|
| `sagemaker-model-in-vpc` | no check that a model's containers run in the zone's VPC |
| `sagemaker-model-artifacts-from-zone` | where the weights come from: the zone's weights bucket, nowhere else (whole stack) |
| `sagemaker-endpoint-data-capture` | requests and responses captured in full, under a customer key |
| `sagemaker-notebook-no-direct-internet` | CKV_AWS_122 passes a notebook that leaves the setting out, and AWS's default is Enabled |
| `sagemaker-domain-vpc-only` | Studio domains default to PublicInternetOnly |
| `bedrock-custom-model-customer-key` | custom (fine-tuned) weights under an AWS-owned key |
| `bedrock-knowledge-base-customer-key` | knowledge-base data sources (the RAG corpus) under an AWS-owned key |
| `bedrock-invocation-logging` | a stack that serves through Bedrock without model invocation logging in that region (whole stack) |
| `vertex-endpoint-private` | CKV2_GCP_33 knows VPC peering only; Private Service Connect endpoints are private too |
| `vertex-workbench-hardened` | Workbench secure boot, and the default compute service account it falls back to |
| `gce-gpu-vm-service-account` | a GPU VM is a model server: the default account (also as `default`, or by omission) at every tier |

Unknowns: a value computed at deploy time that *names* something (a key ARN, a subnet id, a service account email of a
new account) counts as set, because it will be; a computed flag or mode is a violation, because the gate cannot see
which way it goes.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.conditions import policy_statements
from modelfort_policy.props import as_int, as_list, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import HIGH, STANDARD

# ---------------------------------------------------------------------------------------------------- type tokens
SAGEMAKER_MODEL = "aws:sagemaker/model:Model"
SAGEMAKER_ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
SAGEMAKER_NOTEBOOK = "aws:sagemaker/notebookInstance:NotebookInstance"
SAGEMAKER_DOMAIN = "aws:sagemaker/domain:Domain"
BEDROCK_CUSTOM_MODEL = "aws:bedrock/customModel:CustomModel"
BEDROCK_DATA_SOURCE = "aws:bedrock/agentDataSource:AgentDataSource"
BEDROCK_LOGGING = "aws:bedrockmodel/invocationLoggingConfiguration:InvocationLoggingConfiguration"
# Resources that exist only to invoke Bedrock models: a stack with one of them serves through Bedrock.
BEDROCK_SERVING = frozenset({
    BEDROCK_CUSTOM_MODEL,
    "aws:bedrock/agentAgent:AgentAgent",
    "aws:bedrock/agentKnowledgeBase:AgentKnowledgeBase",
    "aws:bedrock/agentFlow:AgentFlow",
    "aws:bedrock/agentPrompt:AgentPrompt",
    "aws:bedrock/inferenceProfile:InferenceProfile",
    "aws:bedrock/provisionedModelThroughput:ProvisionedModelThroughput",
    "aws:bedrock/evaluationJob:EvaluationJob",
    "aws:bedrockmodel/invocationJob:InvocationJob",
})
# IAM documents that let a role invoke models: the other way a stack serves through Bedrock (a Lambda, a pod role).
IAM_DOCUMENTS = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
IAM_ROLE = "aws:iam/role:Role"
BEDROCK_INVOKE_ACTIONS = (
    "bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Converse", "bedrock:ConverseStream",
    "bedrock:InvokeAgent", "bedrock:RetrieveAndGenerate", "bedrock:InvokeFlow",
)
BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
DATA_CLASS_TAG = "modelfort:data-class"
WEIGHTS = "model-weights"

VERTEX_ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
WORKBENCH = "gcp:workbench/instance:Instance"
GCE_INSTANCE = "gcp:compute/instance:Instance"
GCE_FROM_TEMPLATE = "gcp:compute/instanceFromTemplate:InstanceFromTemplate"
GCE_TEMPLATES = frozenset({"gcp:compute/instanceTemplate:InstanceTemplate",
                           "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"})
GCE_MACHINES = frozenset({GCE_INSTANCE, GCE_FROM_TEMPLATE}) | GCE_TEMPLATES
# Accelerator-optimized machine families carry GPUs without a guest_accelerators block (a2-highgpu-1g, g2-standard-8).
GPU_MACHINE_FAMILIES = ("a2", "a3", "a4", "a4x", "g2", "g4")
DEFAULT_COMPUTE_ACCOUNT = re.compile(r"^[0-9]+-compute@developer\.gserviceaccount\.com$")
CLOUD_PLATFORM_SCOPES = frozenset({"cloud-platform", "https://www.googleapis.com/auth/cloud-platform"})

UNSEEN = object()
"""A value computed at deploy time: the gate cannot see it."""


# ---------------------------------------------------------------------------------------------------- readers
def _read(value: Any, *path: str) -> Any:
    """value[path...]: None where absent, UNSEEN where computed at deploy time."""
    try:
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value
    except UnknownValueError:
        return UNSEEN


def _names_something(value: Any, *path: str) -> bool:
    """A reference is set: a literal, or a value computed from another resource (a new key's ARN), which will be."""
    found = _read(value, *path)
    if found is UNSEEN:
        return True
    if isinstance(found, Sequence) and not isinstance(found, str):
        return _any_item(found)
    return bool(found)


def _any_item(values: Sequence[Any]) -> bool:
    try:
        return len(values) > 0
    except UnknownValueError:
        return True


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    try:
        return [item for item in as_list(value) if isinstance(item, Mapping)]
    except UnknownValueError:
        return []


def _strings(value: Any) -> list[str] | None:
    """The known strings of a list, or None when the list (or one of its items) is computed at deploy time."""
    try:
        return [str(item) for item in as_list(value)]
    except UnknownValueError:
        return None


def _unseen(resource: Resource, what: str) -> str:
    return (f"{resource.name}: {what} is computed at deploy time, so the gate cannot see it; write it from known values "
            "(a computed setting is never a pass).")


# ---------------------------------------------------------------------------------------------------- SageMaker
def check_sagemaker_model_in_vpc(resource: Resource, _ctx: Context) -> Iterable[str]:
    vpc = _read(resource.props, "vpcConfig")
    if vpc is UNSEEN:
        yield _unseen(resource, "vpc_config")
        return
    if not isinstance(vpc, Mapping) or not _names_something(vpc, "subnets") or not _names_something(vpc, "securityGroupIds"):
        yield (f"SageMaker model '{resource.name}' runs its containers outside the zone's VPC: give it vpc_config with the "
               "zone's isolated subnets and workload security group, so what it reaches is what the zone allows.")


def _containers(props: Any) -> list[tuple[str, Mapping[str, Any]]]:
    primary = _read(props, "primaryContainer")
    found = [("primary_container", primary)] if isinstance(primary, Mapping) else []
    found += [(f"containers[{i}]", c) for i, c in enumerate(_mappings(_read(props, "containers")))]
    return found


def _artifact_uris(container: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field, value) for every place a container's model artifacts are named."""
    url = _read(container, "modelDataUrl")
    if url is not None:
        yield "model_data_url", url
    for source in _mappings(_read(container, "modelDataSource", "s3DataSources")):
        yield "model_data_source.s3_data_source.s3_uri", _read(source, "s3Uri")
    for extra in _mappings(_read(container, "additionalModelDataSources")):
        for source in _mappings(_read(extra, "s3DataSources")):
            yield "additional_model_data_source.s3_data_source.s3_uri", _read(source, "s3Uri")


def _bucket_of(uri: Any) -> str | None:
    if not isinstance(uri, str):
        return None
    match = re.match(r"^s3://([^/]+)", uri.strip())
    if match:
        return match.group(1)
    match = re.match(r"^https://([^./]+)\.s3[.-]", uri.strip())  # virtual-hosted URL form
    return match.group(1) if match else None


def _weights_buckets(resources: Sequence[StackResource]) -> list[StackResource]:
    found = []
    for bucket in resources:
        if bucket.resource_type not in BUCKETS:
            continue
        tags = _read(bucket.props, "tags")
        if isinstance(tags, Mapping) and _read(tags, DATA_CLASS_TAG) == WEIGHTS:
            found.append(bucket)
    return found


def _is_bucket(name: str, bucket: StackResource, depends: bool) -> bool:
    """Does a bucket name in a URI name `bucket`? By its literal name or prefix, or by the name Pulumi gives an
    auto-named bucket (`<resource name>-<suffix>`) when the URI was computed from that bucket."""
    literal = _read(bucket.props, "bucket")
    if isinstance(literal, str) and literal:
        return name == literal
    prefix = _read(bucket.props, "bucketPrefix")
    if isinstance(prefix, str) and prefix:
        return name.startswith(prefix)
    return depends and name.startswith(f"{bucket.name}-")


def check_sagemaker_model_artifacts(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    weights = _weights_buckets(resources)
    for model in (r for r in resources if r.resource_type == SAGEMAKER_MODEL):
        for field, container in _containers(model.props):
            prop = "primaryContainer" if field == "primary_container" else "containers"
            sources = {dep.urn for dep in referenced(model, prop)}
            for where, uri in _artifact_uris(container):
                depends = [b for b in weights if b.urn in sources]
                if uri is UNSEEN:
                    if not depends:
                        yield Finding(f"SageMaker model '{model.name}' {field}.{where} is computed at deploy time from "
                                      "nothing the stack declares as the zone's weights bucket, so the gate cannot see "
                                      "where its weights come from.", model.urn)
                    continue
                bucket = _bucket_of(uri)
                if bucket is None:
                    yield Finding(f"SageMaker model '{model.name}' {field}.{where} ({uri!r}) is not an S3 location the "
                                  "gate can read; weights come from the zone's weights bucket.", model.urn)
                elif not any(_is_bucket(bucket, b, b in depends) for b in weights):
                    yield Finding(f"SageMaker model '{model.name}' loads weights from s3://{bucket}, which is not a bucket "
                                  f"this stack declares as the zone's weights bucket ({DATA_CLASS_TAG}={WEIGHTS}): "
                                  "weights must come from the signed, encrypted, zone-only store.", model.urn)


CAPTURE_MODES = {"Input": {"Input"}, "Output": {"Output"}, "InputAndOutput": {"Input", "Output"}}


def check_sagemaker_endpoint_data_capture(resource: Resource, _ctx: Context) -> Iterable[str]:
    name = resource.name
    capture = _read(resource.props, "dataCaptureConfig")
    if capture is UNSEEN:
        yield _unseen(resource, "data_capture_config")
    elif not isinstance(capture, Mapping):
        yield (f"SageMaker endpoint configuration '{name}' captures no requests or responses: set data_capture_config "
               "(enable_capture, Input and Output capture options, 100% sampling, kms_key_id) so every exchange with the "
               "model is evidence.")
    else:
        enabled = _read(capture, "enableCapture")
        if enabled is UNSEEN:
            yield _unseen(resource, "data_capture_config.enable_capture")
        elif enabled is False:
            yield f"SageMaker endpoint configuration '{name}' turns data capture off (enable_capture=False)."
        modes: set[str] = set()
        for option in _mappings(_read(capture, "captureOptions")):
            modes |= CAPTURE_MODES.get(str(_read(option, "captureMode")), set())
        missing = sorted({"Input", "Output"} - modes)
        if missing:
            yield f"SageMaker endpoint configuration '{name}' does not capture {' or '.join(missing)}: capture both."
        sampling = _read(capture, "initialSamplingPercentage")
        if sampling is UNSEEN:
            yield _unseen(resource, "data_capture_config.initial_sampling_percentage")
        elif as_int(sampling) != 100:
            yield (f"SageMaker endpoint configuration '{name}' samples {sampling}% of requests; full telemetry captures "
                   "every one (initial_sampling_percentage=100).")
        if not _names_something(capture, "kmsKeyId"):
            yield (f"SageMaker endpoint configuration '{name}' writes captured prompts and responses without a customer "
                   "key (data_capture_config.kms_key_id).")
        if not _names_something(capture, "destinationS3Uri"):
            yield f"SageMaker endpoint configuration '{name}' names no capture destination (destination_s3_uri)."
    output = _read(resource.props, "asyncInferenceConfig", "outputConfig")
    if isinstance(output, Mapping) and not _names_something(output, "kmsKeyId"):
        yield (f"SageMaker endpoint configuration '{name}' writes asynchronous responses without a customer key "
               "(async_inference_config.output_config.kms_key_id).")


def check_sagemaker_notebook_no_direct_internet(resource: Resource, _ctx: Context) -> Iterable[str]:
    access = _read(resource.props, "directInternetAccess")
    if access is UNSEEN:
        yield _unseen(resource, "direct_internet_access")
    elif access != "Disabled":
        yield (f"SageMaker notebook '{resource.name}' reaches the internet directly (direct_internet_access "
               f"{access or 'unset, which AWS defaults to Enabled'}): set 'Disabled' and a subnet_id in the zone.")


def check_sagemaker_domain_vpc_only(resource: Resource, _ctx: Context) -> Iterable[str]:
    mode = _read(resource.props, "appNetworkAccessType")
    if mode is UNSEEN:
        yield _unseen(resource, "app_network_access_type")
    elif mode != "VpcOnly":
        yield (f"SageMaker domain '{resource.name}' gives its apps SageMaker's internet access (app_network_access_type "
               f"{mode or 'unset, which defaults to PublicInternetOnly'}): set 'VpcOnly'.")


# ---------------------------------------------------------------------------------------------------- Bedrock
def check_bedrock_custom_model_key(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not _names_something(resource.props, "customModelKmsKeyId"):
        yield (f"Bedrock custom model '{resource.name}' keeps its fine-tuned weights under an AWS-owned key: set "
               "custom_model_kms_key_id to the zone's rotated customer key.")


def check_bedrock_data_source_key(resource: Resource, _ctx: Context) -> Iterable[str]:
    if not _names_something(resource.props, "serverSideEncryptionConfiguration", "kmsKeyArn"):
        yield (f"Bedrock knowledge-base data source '{resource.name}' keeps the ingested corpus under an AWS-owned key: "
               "set server_side_encryption_configuration.kms_key_arn to a customer key.")


def _region(resource: StackResource) -> Any:
    region = _read(resource.props, "region")
    return region if isinstance(region, str) and region else None


def _invokes_bedrock(document: Any) -> bool:
    statements = policy_statements(document)
    for statement in statements or []:
        if statement.get("Effect") != "Allow":
            continue
        for action in _strings(statement.get("Action")) or []:
            # A bare "*" is every service: an admin grant (CKV_AWS_62's), not a sign of serving through Bedrock.
            if action.lower().startswith("bedrock:") and any(
                    fnmatch.fnmatchcase(name.lower(), action.lower()) for name in BEDROCK_INVOKE_ACTIONS):
                return True
    return False


def _bedrock_users(resources: Sequence[StackResource]) -> Iterator[tuple[StackResource, str]]:
    for resource in resources:
        kind = resource.resource_type
        if kind in BEDROCK_SERVING:
            yield resource, kind.split(":")[-1]
        elif kind in IAM_DOCUMENTS:
            if _invokes_bedrock(_read(resource.props, IAM_DOCUMENTS[kind])):
                yield resource, "IAM policy that invokes Bedrock models"
        elif kind == IAM_ROLE:
            if any(_invokes_bedrock(_read(p, "policy")) for p in _mappings(_read(resource.props, "inlinePolicies"))):
                yield resource, "IAM role that invokes Bedrock models"


def _logging_problems(config: StackResource) -> list[str]:
    logging = _read(config.props, "loggingConfig")
    if logging is UNSEEN:
        return ["its logging_config is computed at deploy time, so the gate cannot see what it records"]
    if not isinstance(logging, Mapping):
        return ["it has no logging_config"]
    problems = []
    if not (_names_something(logging, "cloudwatchConfig", "logGroupName") or _names_something(logging, "s3Config", "bucketName")):
        problems.append("it names no destination (cloudwatch_config.log_group_name or s3_config.bucket_name)")
    text = _read(logging, "textDataDeliveryEnabled")
    if text is UNSEEN:
        problems.append("text_data_delivery_enabled is computed at deploy time")
    elif text is False:
        problems.append("it leaves prompts and completions out (text_data_delivery_enabled=False)")
    return problems


def check_bedrock_invocation_logging(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    configs = [r for r in resources if r.resource_type == BEDROCK_LOGGING]
    sound_regions = set()
    for config in configs:
        problems = _logging_problems(config)
        for problem in problems:
            yield Finding(f"Bedrock invocation logging '{config.name}' records nothing useful: {problem}.", config.urn)
        if not problems:
            sound_regions.add(_region(config))
    for user, what in _bedrock_users(resources):
        region = _region(user)
        if region in sound_regions:
            continue
        where = f"region {region}" if region else "the provider's region"
        yield Finding(f"{what} '{user.name}' serves through Bedrock, but no model invocation logging records its prompts "
                      f"and completions in {where}: add aws.bedrockmodel.InvocationLoggingConfiguration for that region "
                      "with text data delivery to the zone's encrypted telemetry log group.", user.urn)


# ---------------------------------------------------------------------------------------------------- Vertex AI
def check_vertex_endpoint_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    network = _read(resource.props, "network")
    psc = _read(resource.props, "privateServiceConnectConfig", "enablePrivateServiceConnect")
    if network is UNSEEN or (isinstance(network, str) and network):
        return
    if psc is True:
        return
    if psc is UNSEEN:
        yield _unseen(resource, "private_service_connect_config.enable_private_service_connect")
        return
    yield (f"Vertex AI endpoint '{resource.name}' serves on Google's public endpoint: give it a network (VPC peering) or "
           "private_service_connect_config with enable_private_service_connect=True.")


def _default_account(email: Any) -> bool:
    return isinstance(email, str) and (email == "default" or bool(DEFAULT_COMPUTE_ACCOUNT.match(email)))


def check_vertex_workbench_hardened(resource: Resource, _ctx: Context) -> Iterable[str]:
    setup = _read(resource.props, "gceSetup")
    if setup is UNSEEN:
        yield _unseen(resource, "gce_setup")
        return
    setup = setup if isinstance(setup, Mapping) else {}
    secure_boot = _read(setup, "shieldedInstanceConfig", "enableSecureBoot")
    if secure_boot is UNSEEN:
        yield _unseen(resource, "gce_setup.shielded_instance_config.enable_secure_boot")
    elif secure_boot is not True:
        yield (f"Workbench instance '{resource.name}' boots without Secure Boot (gce_setup.shielded_instance_config."
               "enable_secure_boot=True), so a tampered boot chain goes unnoticed.")
    accounts = _mappings(_read(setup, "serviceAccounts"))
    emails = [_read(account, "email") for account in accounts]
    if not emails or any(email is None or _default_account(email) for email in emails):
        yield (f"Workbench instance '{resource.name}' runs as the Compute Engine default service account (Editor on the "
               "project); give gce_setup.service_accounts a dedicated, least-privilege account.")


# ---------------------------------------------------------------------------------------------------- GCE GPU VMs
def _is_gpu_machine(props: Any) -> bool:
    if _mappings(_read(props, "guestAccelerators")):
        return True
    accelerators = _read(props, "guestAccelerators")
    if accelerators is UNSEEN:
        return True
    machine = _read(props, "machineType")
    if machine is UNSEEN:
        return True
    family = str(machine or "").rsplit("/", 1)[-1].split("-", 1)[0].lower()
    return family in GPU_MACHINE_FAMILIES


def check_gce_gpu_vm_service_account(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if not _is_gpu_machine(props):
        return
    account = _read(props, "serviceAccount")
    if account is UNSEEN:
        yield _unseen(resource, "service_account")
        return
    if account is None:
        # An instance from a template without its own account takes the template's, which is judged on its own;
        # any other VM without one carries no Google credentials at all.
        return
    email = _read(account, "email")
    if email is UNSEEN:
        return  # a new account's email: a dedicated account
    if email is None or _default_account(email):
        scopes = _strings(_read(account, "scopes")) or []
        broad = (", with the cloud-platform scope: every API the project's Editor role reaches"
                 if CLOUD_PLATFORM_SCOPES & set(scopes) else "")
        spelled = "service_account names no email, so GCE attaches" if email is None else f"{email!r} is"
        yield (f"GPU VM '{resource.name}' runs as the project's default compute identity ({spelled} the Compute Engine "
               f"default service account, Editor on the project){broad}. A model server gets a dedicated account "
               "that can read its own weights and nothing more.")


RULES = (
    Rule(name="sagemaker-model-in-vpc", description="SageMaker models run their containers inside the zone's VPC.",
         severity="high", controls=("NB-09", "NB-01"), mandatory_from=STANDARD,
         remediation="Set vpc_config={'subnets': zone.subnet_ids, 'security_group_ids': [zone.workload_security_group_id]}.",
         resource_types=frozenset({SAGEMAKER_MODEL}), resource_check=check_sagemaker_model_in_vpc),
    Rule(name="sagemaker-model-artifacts-from-zone",
         description="SageMaker models load their weights only from the zone's weights bucket (declared in the stack).",
         severity="high", controls=("WP-02", "ST-01"), mandatory_from=HIGH,
         remediation="Point model_data_url (or model_data_source) at the zone's WeightsBucket, which keeps signed, "
                     "customer-encrypted weights reachable only from the zone.",
         stack_check=check_sagemaker_model_artifacts),
    Rule(name="sagemaker-endpoint-data-capture",
         description="SageMaker endpoints capture every request and response, under a customer key.",
         severity="high", controls=("OB-01", "OB-03", "WP-01"), mandatory_from=HIGH,
         remediation="Set data_capture_config={'enable_capture': True, 'initial_sampling_percentage': 100, "
                     "'capture_options': [{'capture_mode': 'Input'}, {'capture_mode': 'Output'}], 'kms_key_id': key.arn, "
                     "'destination_s3_uri': evidence bucket}; give async output_config a kms_key_id too.",
         resource_types=frozenset({SAGEMAKER_ENDPOINT_CONFIG}), resource_check=check_sagemaker_endpoint_data_capture),
    Rule(name="sagemaker-notebook-no-direct-internet",
         description="SageMaker notebook instances have no direct internet access (AWS's default gives them one).",
         severity="high", controls=("NB-01", "NB-09"), mandatory_from=STANDARD,
         remediation="Set direct_internet_access='Disabled' and subnet_id to a zone subnet.",
         resource_types=frozenset({SAGEMAKER_NOTEBOOK}), resource_check=check_sagemaker_notebook_no_direct_internet),
    Rule(name="sagemaker-domain-vpc-only", description="SageMaker Studio domains reach the network through the zone's VPC only.",
         severity="high", controls=("NB-01", "NB-09"), mandatory_from=STANDARD,
         remediation="Set app_network_access_type='VpcOnly' with the zone's subnet_ids and vpc_id.",
         resource_types=frozenset({SAGEMAKER_DOMAIN}), resource_check=check_sagemaker_domain_vpc_only),
    Rule(name="bedrock-custom-model-customer-key", description="Bedrock custom models keep their weights under a customer key.",
         severity="high", controls=("WP-01",), mandatory_from=STANDARD,
         remediation="Set custom_model_kms_key_id to the zone's rotated KMS key.",
         resource_types=frozenset({BEDROCK_CUSTOM_MODEL}), resource_check=check_bedrock_custom_model_key),
    Rule(name="bedrock-knowledge-base-customer-key",
         description="Bedrock knowledge-base data sources keep the ingested corpus under a customer key.",
         severity="high", controls=("WP-01", "RC-06"), mandatory_from=STANDARD,
         remediation="Set server_side_encryption_configuration={'kms_key_arn': key.arn} on the data source.",
         resource_types=frozenset({BEDROCK_DATA_SOURCE}), resource_check=check_bedrock_data_source_key),
    Rule(name="bedrock-invocation-logging",
         description="A stack that serves through Bedrock logs every model invocation (prompts and completions) in each region it uses.",
         severity="high", controls=("OB-01", "OB-02", "OB-04"), mandatory_from=STANDARD,
         remediation="Add aws.bedrockmodel.InvocationLoggingConfiguration(logging_config={'text_data_delivery_enabled': True, "
                     "'cloudwatch_config': {'log_group_name': telemetry.name, 'role_arn': role.arn}}) in the region "
                     "(region=...) of every Bedrock resource.",
         stack_check=check_bedrock_invocation_logging),
    Rule(name="vertex-endpoint-private",
         description="Vertex AI endpoints serve only inside the zone: VPC peering or Private Service Connect.",
         severity="high", controls=("NB-09", "NB-05"), mandatory_from=STANDARD,
         remediation="Set network='projects/<number>/global/networks/<zone network>' or "
                     "private_service_connect_config={'enable_private_service_connect': True, 'project_allowlists': [project]}.",
         resource_types=frozenset({VERTEX_ENDPOINT}), resource_check=check_vertex_endpoint_private),
    Rule(name="vertex-workbench-hardened",
         description="Vertex AI Workbench instances boot with Secure Boot and run as a dedicated service account.",
         severity="high", controls=("RI-01", "NB-06", "WP-02"), mandatory_from=STANDARD,
         remediation="Set gce_setup.shielded_instance_config={'enable_secure_boot': True, 'enable_vtpm': True, "
                     "'enable_integrity_monitoring': True} and gce_setup.service_accounts=[{'email': account.email}].",
         resource_types=frozenset({WORKBENCH}), resource_check=check_vertex_workbench_hardened),
    Rule(name="gce-gpu-vm-service-account",
         description="GPU VMs (model servers) never run as the Compute Engine default service account.",
         severity="high", controls=("NB-06", "WP-02"), mandatory_from=STANDARD,
         remediation="Give the VM service_account={'email': dedicated.email, 'scopes': ['cloud-platform']} with IAM roles "
                     "limited to its own weights.",
         resource_types=GCE_MACHINES, resource_check=check_gce_gpu_vm_service_account),
)
