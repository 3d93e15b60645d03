"""EKS rules (RI-01, RI-06, RI-07, RI-09..RI-11, NB-01, SC-03): a private, encrypted, logged control plane, and
GPU nodes with no remote access, IMDSv2, encrypted volumes, the GPU taint and hardened node settings."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence

from modelfort_policy.props import as_int, as_list, as_mappings, referenced
from modelfort_policy.rule import Context, Finding, Resource, Rule, StackResource
from modelfort_policy.tiers import STANDARD

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
REQUIRED_LOGS = ("api", "audit", "authenticator")
MINIMAL_GPU_AMIS = frozenset({
    "BOTTLEROCKET_x86_64_NVIDIA", "BOTTLEROCKET_ARM_64_NVIDIA", "BOTTLEROCKET_x86_64_FIPS_NVIDIA",
    "AL2023_x86_64_NVIDIA", "AL2023_ARM_64_NVIDIA",
})
# What the user data of a GPU node must say, in either supported dialect (Bottlerocket TOML or AL2023 script).
NODE_SETTINGS = {
    "init_on_alloc (RI-10)": ('"init_on_alloc" = ["1"]', "init_on_alloc=1"),
    "init_on_free (RI-10)": ('"init_on_free" = ["1"]', "init_on_free=1"),
    "ptrace restricted (RI-09)": ('"kernel.yama.ptrace_scope" = "2"', "kernel.yama.ptrace_scope = 2"),
    "env-var device selection refused (RI-06/07)": (
        "visible-devices-envvar-when-unprivileged = false", "accept-nvidia-visible-devices-envvar-when-unprivileged=false"),
    "devices injected as volume mounts (RI-06)": (
        "visible-devices-as-volume-mounts = true", "accept-nvidia-visible-devices-as-volume-mounts=true"),
}
BOTTLEROCKET_NO_SHELL = ("[settings.host-containers.admin]\nenabled = false", "[settings.host-containers.control]\nenabled = false")


def check_cluster_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    vpc = resource.props.get("vpcConfig") or {}
    # AWS's default for a missing endpointPublicAccess is true: absent means public.
    if vpc.get("endpointPublicAccess") is not False:
        yield f"EKS cluster '{resource.name}' exposes its API endpoint publicly; set endpoint_public_access=False."
    if vpc.get("endpointPrivateAccess") is not True:
        yield f"EKS cluster '{resource.name}' must enable its private endpoint."


def check_cluster_secrets_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    configs = as_mappings(resource.props.get("encryptionConfig"))
    if not any("secrets" in as_list(c.get("resources")) and (c.get("provider") or {}).get("keyArn") for c in configs):
        yield f"EKS cluster '{resource.name}' must envelope-encrypt Kubernetes secrets with a customer KMS key."


def check_cluster_logs(resource: Resource, _ctx: Context) -> Iterable[str]:
    enabled = set(as_list(resource.props.get("enabledClusterLogTypes")))
    missing = [log for log in REQUIRED_LOGS if log not in enabled]
    if missing:
        yield f"EKS cluster '{resource.name}' must send control-plane logs: missing {', '.join(missing)}."


def check_cluster_access(resource: Resource, _ctx: Context) -> Iterable[str]:
    access = resource.props.get("accessConfig") or {}
    # AWS grants the creator admin unless told otherwise.
    if access.get("bootstrapClusterCreatorAdminPermissions") is not False:
        yield f"EKS cluster '{resource.name}' gives its creator implicit admin; use access entries (bootstrap_cluster_creator_admin_permissions=False)."
    if access.get("authenticationMode") not in ("API", "API_AND_CONFIG_MAP"):
        yield f"EKS cluster '{resource.name}' must authenticate through access entries (authentication_mode API)."


def check_node_group(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if props.get("remoteAccess"):
        yield f"node group '{resource.name}' allows SSH (remote_access); model nodes have no remote access."
    if _is_gpu(props):
        ami = props.get("amiType")
        if ami not in MINIMAL_GPU_AMIS and not props.get("launchTemplate"):
            yield f"GPU node group '{resource.name}' uses AMI type {ami!r}; use Bottlerocket or AL2023 NVIDIA (minimal OS)."
        if not any(t.get("key") == "nvidia.com/gpu" and t.get("effect") == "NO_SCHEDULE" for t in as_mappings(props.get("taints"))):
            yield f"GPU node group '{resource.name}' must carry the taint nvidia.com/gpu=true:NoSchedule."


def check_launch_template(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    metadata = props.get("metadataOptions") or {}
    if metadata.get("httpTokens") != "required":
        yield f"launch template '{resource.name}' must require IMDSv2 (http_tokens='required')."
    hops = as_int(metadata.get("httpPutResponseHopLimit"))
    if hops is None or hops > 1:
        yield f"launch template '{resource.name}' must set the IMDS hop limit to 1 so pods cannot reach node credentials."
    for mapping in as_mappings(props.get("blockDeviceMappings")):
        ebs = mapping.get("ebs")
        if ebs is not None and str(ebs.get("encrypted")).lower() != "true":
            yield f"launch template '{resource.name}' has an unencrypted volume {mapping.get('deviceName')}."


def check_gpu_node_settings(resources: Sequence[StackResource], _ctx: Context) -> Iterable[Finding]:
    templates = {r.urn: r for r in resources if r.resource_type == LAUNCH_TEMPLATE}
    for group in (r for r in resources if r.resource_type == NODE_GROUP and _is_gpu(r.props)):
        used = [dep for dep in referenced(group, "launchTemplate") if dep.urn in templates]
        if not used:
            yield Finding(f"GPU node group '{group.name}' must use a launch template that hardens the node (RI-06/07/09/10).", group.urn)
            continue
        for template in used:
            text = _user_data(template.props.get("userData"))
            missing = [what for what, spellings in NODE_SETTINGS.items() if not any(s in text for s in spellings)]
            if str(group.props.get("amiType", "")).startswith("BOTTLEROCKET"):
                missing += ["admin and control host containers disabled (RI-11)"] if not all(s in text for s in BOTTLEROCKET_NO_SHELL) else []
            if missing:
                yield Finding(f"launch template '{template.name}' of GPU nodes does not set: {'; '.join(missing)}.", template.urn)


def _is_gpu(props) -> bool:
    ami = str(props.get("amiType") or "")
    types = [str(t) for t in as_list(props.get("instanceTypes"))]
    return "NVIDIA" in ami or "GPU" in ami or any(t.split(".")[0][:1] in ("g", "p") for t in types)


def _user_data(value) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def _cluster_rule(name, description, controls, remediation, check, severity="high") -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=frozenset({CLUSTER}), resource_check=check)


RULES = (
    _cluster_rule("eks-private-endpoint", "EKS clusters expose their API only privately.", ("NB-01", "RI-11"),
                  "Set vpc_config endpoint_public_access=False and endpoint_private_access=True.", check_cluster_private, "critical"),
    _cluster_rule("eks-secrets-encrypted", "EKS clusters envelope-encrypt Kubernetes secrets with a customer key.", ("SC-03",),
                  "Set encryption_config with resources ['secrets'] and a KMS key ARN.", check_cluster_secrets_encrypted),
    _cluster_rule("eks-control-plane-logs", "EKS clusters send api, audit and authenticator logs.", ("OB-01", "OB-03"),
                  "Set enabled_cluster_log_types to include api, audit and authenticator.", check_cluster_logs, "medium"),
    _cluster_rule("eks-no-implicit-admin", "EKS clusters grant access only through access entries.", ("RI-11",),
                  "Set access_config authentication_mode='API' and bootstrap_cluster_creator_admin_permissions=False.", check_cluster_access),
    Rule(name="eks-node-group-hardened", description="Node groups allow no SSH; GPU node groups run a minimal NVIDIA OS and carry the GPU taint.",
         severity="high", controls=("RI-01", "RI-11", "RI-08"), remediation="Remove remote_access; use GpuNodePool.",
         mandatory_from=STANDARD, resource_types=frozenset({NODE_GROUP}), resource_check=check_node_group),
    Rule(name="launch-template-hardened", description="Launch templates require IMDSv2 with hop limit 1 and encrypt every volume.",
         severity="high", controls=("RI-09", "WP-02"), remediation="Set metadata_options http_tokens='required', hop limit 1, ebs encrypted.",
         mandatory_from=STANDARD, resource_types=frozenset({LAUNCH_TEMPLATE}), resource_check=check_launch_template),
    Rule(name="gpu-node-settings", description="GPU nodes zero memory, restrict ptrace, harden the NVIDIA runtime and offer no shell.",
         severity="high", controls=("RI-06", "RI-07", "RI-09", "RI-10", "RI-11"), remediation="Use GpuNodePool's user data (components/aws/node_settings.py).",
         mandatory_from=STANDARD, stack_check=check_gpu_node_settings),
)
