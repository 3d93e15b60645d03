"""No credential in plain text anywhere a resource can carry one (SC-01, SC-02).

Lambda environments, Kubernetes container env and stack config have their own rules. This one covers every other
place a program can put a secret where the console, the API, the state file and crash dumps show it:

| Where | Resource types | Read as |
|---|---|---|
| container environments | ECS task definitions, Batch job definitions (JSON strings), SageMaker models, Cloud Run v1/v2 services and jobs, Cloud Functions v1/v2 | name = value |
| boot scripts | EC2 instances, launch templates, launch configurations (`user_data`, base64 too), GCE instances and templates (metadata, startup script) | free text |
| configuration objects | Kubernetes ConfigMaps, SSM parameters that are not `SecureString` | name = value, and each value as free text |
| chart values | Helm releases and v4 charts (`values`, nested) | path = value |

All ask the pack's one detector (`modelfort_policy.credentials`): known credential shapes anywhere, and long random
values under secret-like names. Only the kind is reported, never the value. A value computed at deploy time (another
resource's output) is not in the program's text, so it is not judged here; RotatedSecret and Secret Manager
references are the remedy the message names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.credentials import credential_kind, decoded_base64, json_value, leaves, text_credentials
from modelfort_policy.props import known_copy
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.tiers import STANDARD

ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"
BATCH_JOB = "aws:batch/jobDefinition:JobDefinition"
SAGEMAKER_MODEL = "aws:sagemaker/model:Model"
EC2_INSTANCE = "aws:ec2/instance:Instance"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
SSM_PARAMETER = "aws:ssm/parameter:Parameter"
RUN_V1 = "gcp:cloudrun/service:Service"
RUN_V2_SERVICE = "gcp:cloudrunv2/service:Service"
RUN_V2_JOB = "gcp:cloudrunv2/job:Job"
FUNCTION_V1 = "gcp:cloudfunctions/function:Function"
FUNCTION_V2 = "gcp:cloudfunctionsv2/function:Function"
GCE_INSTANCE = "gcp:compute/instance:Instance"
GCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GCE_REGION_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART_V4 = "kubernetes:helm.sh/v4:Chart"


def _known(value: Any, *path: str) -> Any:
    """value[path...], None where absent or computed at deploy time (not the program's text, so nothing to read)."""
    try:
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value
    except UnknownValueError:
        return None


# ---------------------------------------------------------------------------------------------------- readers
def _named_values(pairs: Iterable[Any], name_key: str = "name", value_key: str = "value") -> Iterator[tuple[str, Any]]:
    for pair in pairs:
        if isinstance(pair, Mapping):
            yield str(pair.get(name_key, "")), pair.get(value_key)


def _map_values(mapping: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(mapping, Mapping):
        yield from ((str(key), value) for key, value in mapping.items())


def container_environment(resource: Resource) -> Iterator[tuple[str, str, Any]]:
    """(where, variable, value) for every literal environment variable of a container-running resource."""
    props = known_copy(resource.props)
    kind = resource.resource_type
    if kind == ECS_TASK:
        for container in _as_dicts(json_value(props.get("containerDefinitions"))):
            for name, value in _named_values(container.get("environment") or []):
                yield f"container '{container.get('name', '?')}'", name, value
    elif kind == BATCH_JOB:
        for field in ("containerProperties", "ecsProperties", "eksProperties", "nodeProperties"):
            document = json_value(props.get(field))
            for path, value in leaves(field, document):
                # Batch nests containers at several depths; every `environment` list has {name, value} pairs.
                if path.endswith(".value") and ".environment[" in path:
                    yield field, _sibling_name(document, path, field), value
    elif kind == SAGEMAKER_MODEL:
        containers = [props.get("primaryContainer")] + _as_dicts(props.get("containers"))
        for index, container in enumerate(c for c in containers if isinstance(c, Mapping)):
            for name, value in _map_values(container.get("environment")):
                yield f"container {index}", name, value
    elif kind in (RUN_V1, RUN_V2_SERVICE, RUN_V2_JOB):
        template = props.get("template") or {}
        specs = [template.get("spec") or {}] if kind == RUN_V1 else [template, template.get("template") or {}]
        for spec in specs:
            for container in _as_dicts(spec.get("containers")):
                for name, value in _named_values(container.get("envs") or []):
                    yield f"container '{container.get('name', '?')}'", name, value
    elif kind == FUNCTION_V1:
        for field in ("environmentVariables", "buildEnvironmentVariables"):
            for name, value in _map_values(props.get(field)):
                yield field, name, value
    elif kind == FUNCTION_V2:
        for block, field in (("serviceConfig", "environmentVariables"), ("buildConfig", "environmentVariables")):
            for name, value in _map_values((props.get(block) or {}).get(field)):
                yield f"{block}.{field}", name, value


def _as_dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _sibling_name(document: Any, path: str, root: str) -> str:
    """The `name` next to the `value` at `path` (Batch environment pairs)."""
    parent = path[: -len(".value")]
    for candidate, value in leaves(root, document):
        if candidate == parent + ".name":
            return str(value)
    return parent


def boot_scripts(resource: Resource) -> Iterator[tuple[str, str]]:
    """(where, text) for every boot script or metadata value of a machine or machine template."""
    props = known_copy(resource.props)
    kind = resource.resource_type
    if kind in (EC2_INSTANCE, LAUNCH_CONFIGURATION):
        if isinstance(props.get("userData"), str):
            yield "user_data", props["userData"]
        if isinstance(props.get("userDataBase64"), str):
            yield "user_data_base64", decoded_base64(props["userDataBase64"]) or ""
    elif kind == LAUNCH_TEMPLATE:
        if isinstance(props.get("userData"), str):
            # Launch templates take user data base64-encoded; a program that forgot to encode it still leaks it.
            yield "user_data", decoded_base64(props["userData"]) or props["userData"]
    elif kind in (GCE_INSTANCE, GCE_TEMPLATE, GCE_REGION_TEMPLATE):
        if isinstance(props.get("metadataStartupScript"), str):
            yield "metadata_startup_script", props["metadataStartupScript"]
        for key, value in _map_values(props.get("metadata")):
            if isinstance(value, str):
                yield f"metadata '{key}'", f"{key}={value}" if "\n" not in value else value


# ---------------------------------------------------------------------------------------------------- checks
REMEDY = ("keep it in a managed secret (RotatedSecret, Secrets Manager, Secret Manager) and reference it "
          "(ECS/Batch `secrets`, Cloud Run `secretKeyRef`, a Secret volume), then rotate it: it is in the state "
          "and the program's history now.")


def check_plaintext_credentials(resource: Resource, _ctx: Context) -> Iterable[str]:
    kind = resource.resource_type
    for where, name, value in container_environment(resource):
        found = credential_kind(name, value)
        if found:
            yield f"'{resource.name}' {where} sets {name} to {found} in plain text; {REMEDY}"
    for where, text in boot_scripts(resource):
        for found in text_credentials(text):
            yield f"'{resource.name}' {where} holds {found}; boot scripts are readable from the instance metadata and the API; {REMEDY}"
    if kind == CONFIG_MAP:
        props = known_copy(resource.props)
        for field in ("data", "binaryData"):
            for key, value in _map_values(props.get(field)):
                if not isinstance(value, str):
                    continue
                text = (decoded_base64(value) or "") if field == "binaryData" else value
                found = credential_kind(key, text) or next(iter(text_credentials(text)), None)
                if found:
                    yield f"ConfigMap '{resource.name}' key {key} holds {found}; ConfigMaps are readable by anything that may list them; {REMEDY}"
    elif kind == SSM_PARAMETER:
        parameter_type = _known(resource.props, "type")
        value = _known(resource.props, "value") or _known(resource.props, "insecureValue")
        name = _known(resource.props, "name") or resource.name
        if parameter_type != "SecureString" and isinstance(value, str):
            found = credential_kind(str(name), value) or next(iter(text_credentials(value)), None)
            if found:
                yield (f"SSM parameter '{resource.name}' is a {parameter_type or 'String'} holding {found}: make it a "
                       "SecureString under a customer-managed key, or better a RotatedSecret.")
    elif kind in (HELM_RELEASE, HELM_CHART_V4):
        values = known_copy(resource.props).get("values")
        for path, value in leaves("values", values if isinstance(values, Mapping) else {}):
            found = credential_kind(path, value) or (next(iter(text_credentials(value)), None) if isinstance(value, str) else None)
            if found:
                yield (f"Helm {'release' if kind == HELM_RELEASE else 'chart'} '{resource.name}' sets {path} to {found}; "
                       f"chart values are stored in the release's Secret and the state in plain text; {REMEDY}")


TYPES = frozenset({ECS_TASK, BATCH_JOB, SAGEMAKER_MODEL, EC2_INSTANCE, LAUNCH_TEMPLATE, LAUNCH_CONFIGURATION,
                   SSM_PARAMETER, RUN_V1, RUN_V2_SERVICE, RUN_V2_JOB, FUNCTION_V1, FUNCTION_V2, GCE_INSTANCE,
                   GCE_TEMPLATE, GCE_REGION_TEMPLATE, CONFIG_MAP, HELM_RELEASE, HELM_CHART_V4})

RULES = (
    Rule(
        name="no-plaintext-credentials",
        description="No credential in plain text in container environments, boot scripts, ConfigMaps, SSM String "
                    "parameters or chart values.",
        severity="critical",
        controls=("SC-01", "SC-02"),
        remediation="Keep credentials in a managed secret store and reference them; rotate any that was exposed.",
        mandatory_from=STANDARD,
        resource_types=TYPES,
        resource_check=check_plaintext_credentials,
    ),
)
