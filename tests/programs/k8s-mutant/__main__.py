"""The Kubernetes layer of a production zone with one hardening default turned off, chosen by `k8s-mutant:mutation`.

`none` is the hardened baseline: the component tests and the manifest judges (kubernetes-validate, checkov) read it.
Every other mutation must be blocked by the gate: a hardening knob that no policy catches is a bug.
"""

import dataclasses
import json

import pulumi
import pulumi_kubernetes as k8s

from components.config import CanaryRelease, ModelRelease
from components.k8s import (
    EksPlatform,
    GkePlatform,
    GpuRuntime,
    GpuRuntimeArgs,
    HardenedNamespace,
    HardenedNamespaceArgs,
    IngressSource,
    ModelServing,
    ModelServingArgs,
    SecretFile,
)
from components.k8s.guard import BedrockGuardrail, GatewayMtls, GuardSettings

VPC_CIDR = "10.30.0.0/16"
S3_CIDRS = ["52.216.0.0/15", "54.231.0.0/16"]
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm@sha256:" + "a" * 64
CANARY_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm@sha256:" + "c" * 64
VERIFIER = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/verifier@sha256:" + "b" * 64
ROLE_ARN = "arn:aws:iam::123456789012:role/llama-guard-serving"
GATEWAY_CA = "-----BEGIN CERTIFICATE-----\nMIIB(the API Gateway client certificate)\n-----END CERTIFICATE-----\n"

mutation = pulumi.Config().require("mutation")
provider = k8s.Provider("eks", kubeconfig="{}", enable_server_side_apply=True)
opts = pulumi.ResourceOptions(provider=provider)

# --------------------------------------------------------------------------------------------- the components' knobs
GPU_ARGS = {"gpu-namespace-allows-exec": {"deny_interactive_access": False}}
NAMESPACE_ARGS = {
    "namespace-allows-exec": {"deny_interactive_access": False},
    # This program is no GKE cluster: here 169.254.169.254 would be the node's instance metadata.
    "namespace-allows-gke-metadata": {"allow_gke_metadata_server": True},
}
SERVING_ARGS = {"no-apparmor": {"disable_apparmor": True}}
GUARD_ARGS = {
    "guard-fails-open": {"guardrail_fail_open": True},
    "guard-without-guardrail": {"guardrail": None, "allow_no_guardrail": True},
}


# --------------------------------------------------------------------------------------------- the components' output
# Each hardening default the components set, turned off in the object they register (through a transformation on
# the component, as a program could do), to prove the pack judges the object and not the component's name.
def _containers(props: dict) -> list[dict]:
    spec = props["spec"]["template"]["spec"]
    return [*spec["init_containers"], *spec["containers"]]


def _server(props: dict) -> dict:
    return props["spec"]["template"]["spec"]["containers"][0]


def _guard(props: dict) -> dict:
    return next(c for c in props["spec"]["template"]["spec"]["containers"] if c["name"] == "guard")


def _pod(props: dict) -> dict:
    return props["spec"]["template"]["spec"]


def _all_contexts(props: dict) -> list[dict]:
    return [_pod(props)["security_context"], *[c["security_context"] for c in _containers(props)]]


def _drop(mapping: dict, key: str) -> None:
    mapping.pop(key, None)


SERVER_EDITS = {
    "privileged": lambda p: _server(p)["security_context"].update(privileged=True),
    "run-as-root": lambda p: [c.update(run_as_user=0, run_as_non_root=False) for c in _all_contexts(p)],
    "writable-root": lambda p: _server(p)["security_context"].update(read_only_root_filesystem=False),
    "keeps-capabilities": lambda p: _drop(_server(p)["security_context"], "capabilities"),
    "adds-sys-admin": lambda p: _server(p)["security_context"]["capabilities"].update(add=["SYS_ADMIN"]),
    "privilege-escalation": lambda p: _server(p)["security_context"].update(allow_privilege_escalation=True),
    "host-pid": lambda p: _pod(p).update(host_pid=True),
    "host-ipc": lambda p: _pod(p).update(host_ipc=True),
    "host-network": lambda p: _pod(p).update(host_network=True),
    "shared-process-namespace": lambda p: _pod(p).update(share_process_namespace=True),
    "host-path-weights": lambda p: _pod(p)["volumes"][0].update(empty_dir=None, host_path={"path": "/var/lib/models"}),
    "host-port": lambda p: _guard(p)["ports"][0].update(host_port=8443),
    # The guard in front of the server (RC-*, GR-*, OB-01): removed, or walked around.
    "no-guard": lambda p: _pod(p).update(containers=[_server(p)]),
    "server-declares-port": lambda p: _server(p).update(ports=[{"name": "http", "container_port": 8000}]),
    "server-binds-all": lambda p: _server(p)["args"].extend(["--host", "0.0.0.0"]),
    "nvidia-visible-devices-env": lambda p: _server(p)["env"].append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}),
    "cdi-annotation": lambda p: p["spec"]["template"]["metadata"]["annotations"].update({"cdi.k8s.io/gpu": "nvidia.com/gpu=all"}),
    "image-by-tag": lambda p: _server(p).update(image="123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm:latest"),
    "seccomp-unconfined": lambda p: [c.update(seccomp_profile={"type": "Unconfined"}) for c in _all_contexts(p)],
    "no-seccomp": lambda p: [_drop(c, "seccomp_profile") for c in _all_contexts(p)],
    "apparmor-unconfined": lambda p: [c.update(app_armor_profile={"type": "Unconfined"}) for c in _all_contexts(p)],
    "no-limits": lambda p: _drop(_server(p)["resources"], "limits"),
    "gpu-as-request": lambda p: _server(p)["resources"]["requests"].update({"nvidia.com/gpu": _server(p)["resources"]["limits"].pop("nvidia.com/gpu")}),
    "token-automount": lambda p: _pod(p).update(automount_service_account_token=True),
    "secret-env": lambda p: _server(p)["env"].append({"name": "API_TOKEN", "value_from": {"secret_key_ref": {"name": "guard-api", "key": "token"}}}),
    "literal-credential": lambda p: _server(p)["env"].append({"name": "AWS_ACCESS_KEY_ID", "value": "AKIA" + "Q" * 16}),
    "skip-weight-verification": lambda p: _pod(p).update(init_containers=[]),
    "server-writes-weights": lambda p: _server(p)["volume_mounts"][0].update(read_only=False),
    "no-token-limit": lambda p: _server(p).update(env=[e for e in _server(p)["env"] if e["name"] != "MODELFORT_MAX_TOKENS"]),
}
SERVICE_EDITS = {
    "service-load-balancer": lambda p: p["spec"].update(type="LoadBalancer"),
    "service-targets-server": lambda p: p["spec"]["ports"][0].update(target_port=8000),
}
NAMESPACE_EDITS = {
    # (resource type, logical name) -> edit of its props
    "namespace-baseline": ("kubernetes:core/v1:Namespace", "models-namespace",
                           lambda p: p["metadata"]["labels"].update({"pod-security.kubernetes.io/enforce": "baseline"})),
    "no-default-deny-egress": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "models-default-deny",
                               lambda p: p["spec"].update(policy_types=["Ingress"])),
    "no-default-deny-ingress": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "models-default-deny",
                                lambda p: p["spec"].update(pod_selector={"match_labels": {"app": "nothing"}})),
    "egress-to-anywhere": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "models-allow-https-egress",
                           lambda p: p["spec"]["egress"][0]["to"].append({"ip_block": {"cidr": "0.0.0.0/0"}})),
    "ingress-from-every-namespace": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "models-allow-ingress-0",
                                     lambda p: p["spec"]["ingress"][0].update({"from": [{"namespace_selector": {}}]})),
    "ingress-to-every-port": ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "models-allow-ingress-0",
                              lambda p: p["spec"]["ingress"][0].pop("ports")),
    "no-gpu-quota": ("kubernetes:core/v1:ResourceQuota", "models-quota",
                     lambda p: p["spec"]["hard"].pop("requests.nvidia.com/gpu")),
    "no-container-defaults": ("kubernetes:core/v1:LimitRange", "models-limits",
                              lambda p: p["spec"]["limits"][0].pop("default")),
    "exec-policy-fails-open": ("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "models-deny-interactive",
                               lambda p: p["spec"].update(failure_policy="Ignore")),
    "exec-policy-only-warns": ("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "models-deny-interactive-binding",
                               lambda p: p["spec"].update(validation_actions=["Warn"])),
    "exec-policy-misses-attach": ("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "models-deny-interactive",
                                  lambda p: p["spec"]["match_constraints"]["resource_rules"][0].update(resources=["pods/exec"])),
}


def _values(p: dict) -> dict:
    return p["values"]


def _set_env(entries: list[dict], name: str, value: str | None) -> None:
    entries[:] = [e for e in entries if e["name"] != name] + ([{"name": name, "value": value}] if value is not None else [])


GPU_EDITS = {
    "gpu-env-devices-accepted": lambda p: _set_env(_values(p)["toolkit"]["env"], "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "true"),
    "gpu-volume-mounts-refused": lambda p: _set_env(_values(p)["toolkit"]["env"], "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", None),
    "gpu-compat-hook-enabled": lambda p: _set_env(_values(p)["toolkit"]["env"], "NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES", None),
    "gpu-no-cdi": lambda p: _values(p)["cdi"].update(enabled=False),
    "gpu-old-toolkit": lambda p: _values(p)["toolkit"].update(version="v1.17.7-ubuntu20.04"),
    "gpu-old-operator": lambda p: p.update(version="v25.3.0"),
    "gpu-toolkit-disabled": lambda p: _values(p)["toolkit"].update(enabled=False),
    "gpu-envvar-strategy": lambda p: _set_env(_values(p)["devicePlugin"]["env"], "DEVICE_LIST_STRATEGY", "envvar"),
}
GPU_NAMESPACE_EDITS = {
    "gpu-namespace-unlabelled": lambda p: p["metadata"]["labels"].pop("modelfort.io/system-namespace"),
}


def _guard_json(edit):
    def apply(props: dict) -> None:
        document = json.loads(props["data"]["guard.json"])
        edit(document)
        props["data"]["guard.json"] = json.dumps(document)
    return apply


# The stable track's guard config, edited after the component rendered it.
GUARD_CONFIG_EDITS = {
    "guard-config-fails-open": _guard_json(lambda d: d["guardrail"].update(failOpen=True)),
    "guard-config-weaker-tier": _guard_json(lambda d: d.update(tier="standard")),
}
TRANSFORMED = {*SERVER_EDITS, *SERVICE_EDITS, *NAMESPACE_EDITS, *GPU_EDITS, *GPU_NAMESPACE_EDITS, *GUARD_CONFIG_EDITS}


def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
    edit = None
    if args.type_ == "kubernetes:apps/v1:Deployment" and args.name == "llama-guard":
        edit = SERVER_EDITS.get(mutation)
    elif args.type_ == "kubernetes:core/v1:ConfigMap" and args.name == "llama-guard-guard-config":
        edit = GUARD_CONFIG_EDITS.get(mutation)
    elif args.type_ == "kubernetes:core/v1:Service":
        edit = SERVICE_EDITS.get(mutation)
    elif args.type_ == "kubernetes:helm.sh/v3:Release":
        edit = GPU_EDITS.get(mutation)
    elif args.type_ == "kubernetes:core/v1:Namespace" and args.name == "gpu-namespace":
        edit = GPU_NAMESPACE_EDITS.get(mutation)
    elif mutation in NAMESPACE_EDITS and NAMESPACE_EDITS[mutation][:2] == (args.type_, args.name):
        edit = NAMESPACE_EDITS[mutation][2]
    if edit is None:
        return None
    edit(args.props)
    return pulumi.ResourceTransformationResult(args.props, args.opts)


component_opts = pulumi.ResourceOptions(provider=provider, transformations=[transform])

gpu = GpuRuntime("gpu", dataclasses.replace(GpuRuntimeArgs(api_server_cidrs=[VPC_CIDR]), **GPU_ARGS.get(mutation, {})), opts=component_opts)
models = HardenedNamespace(
    "models",
    dataclasses.replace(
        HardenedNamespaceArgs(
            name="models",
            ingress_sources=[IngressSource(namespace="gateway", pod_labels={"app.kubernetes.io/name": "model-gateway"})],
            https_egress_cidrs=[VPC_CIDR, *S3_CIDRS],
            allow_dns_to_kube_dns=True,
        ),
        **NAMESPACE_ARGS.get(mutation, {}),
    ),
    opts=component_opts,
)
release = ModelRelease(
    name="llama-guard",
    version="3.1.0",
    image=IMAGE,
    root_digest="5c1e" + "0" * 60,
    gpus=1,
    cpu="4",
    memory="32Gi",
    max_tokens=4096,
    request_timeout_seconds=60,
    replicas=3,
    canary=CanaryRelease(version="3.2.0", image=CANARY_IMAGE, root_digest="7d2f" + "0" * 60, percent=34),
)
serving = ModelServing(
    "llama-guard",
    dataclasses.replace(
        ModelServingArgs.from_release(
            release,
            weights_bucket="prod-weights-bucket",
            reference_bucket="prod-reference-store",
            namespace=models.namespace_name,
            verifier_image=VERIFIER,
            platform=EksPlatform(verifier_role_arn=ROLE_ARN, region="us-east-1"),
            runtime_class_name=gpu.runtime_class_name,
            secret_files=[SecretFile(secret_name="guard-api", key="token", path="api/token")],
            secret_provider_class="guard-secrets",
            server_args=["--max-model-len", "8192"],
            guard=dataclasses.replace(
                GuardSettings(
                    tier="high",
                    guardrail=BedrockGuardrail(guardrail_id="gr-llama", guardrail_version="3", region="us-east-1"),
                    identity=GatewayMtls(tls_secret_name="llama-guard-tls", gateway_ca_pem=GATEWAY_CA),
                ),
                **GUARD_ARGS.get(mutation, {}),
            ),
        ),
        **SERVING_ARGS.get(mutation, {}),
    ),
    opts=component_opts,
)


# --------------------------------------------------------------------------------------------- beside the components
# What any program could add: every workload kind goes through the same pod-template extractor.
def hardened_pod(image: str = VERIFIER, **changes) -> dict:
    """A pod spec that passes every pod rule, with `changes` applied (container fields under `container`)."""
    container = {
        "name": "worker",
        "image": image,
        "security_context": {
            "run_as_non_root": True, "run_as_user": 10001, "read_only_root_filesystem": True,
            "allow_privilege_escalation": False, "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
        **changes.pop("container", {}),
    }
    return {
        "automount_service_account_token": False,
        "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}, "app_armor_profile": {"type": "RuntimeDefault"}},
        "containers": [container],
        **changes,
    }


def template(spec: dict) -> dict:
    return {"metadata": {"labels": {"app": "worker"}}, "spec": spec}


def meta(name: str, namespace=models.namespace_name) -> dict:
    return {"name": name, "namespace": namespace} if namespace is not None else {"name": name}


SELECTOR = {"match_labels": {"app": "worker"}}
ROOT = {"security_context": {"run_as_non_root": False, "run_as_user": 0, "read_only_root_filesystem": True,
                             "allow_privilege_escalation": False, "capabilities": {"drop": ["ALL"]}}}

if mutation == "statefulset-as-root":
    k8s.apps.v1.StatefulSet("cache", metadata=meta("cache"), spec={"service_name": "cache", "selector": SELECTOR,
                            "template": template(hardened_pod(container=ROOT))}, opts=opts)
elif mutation == "job-privileged":
    k8s.batch.v1.Job("convert", metadata=meta("convert"), spec={"template": template(hardened_pod(
        restart_policy="Never", container={"security_context": {**hardened_pod()["containers"][0]["security_context"], "privileged": True}}))}, opts=opts)
elif mutation == "cronjob-host-path":
    k8s.batch.v1.CronJob("sync", metadata=meta("sync"), spec={"schedule": "0 * * * *", "job_template": {"spec": {"template": template(hardened_pod(
        restart_policy="Never", volumes=[{"name": "node", "host_path": {"path": "/"}}]))}}}, opts=opts)
elif mutation == "daemonset-host-pid":
    k8s.apps.v1.DaemonSet("probe", metadata=meta("probe"), spec={"selector": SELECTOR, "template": template(hardened_pod(host_pid=True))}, opts=opts)
elif mutation == "pod-without-seccomp":
    k8s.core.v1.Pod("debug", metadata=meta("debug"), spec={**hardened_pod(), "security_context": {}}, opts=opts)
elif mutation == "replicaset-by-tag":
    k8s.apps.v1.ReplicaSet("legacy", metadata=meta("legacy"), spec={"selector": SELECTOR, "template": template(hardened_pod(image="python:3.12"))}, opts=opts)
elif mutation == "deployment-in-default":
    k8s.apps.v1.Deployment("stray", metadata=meta("stray", namespace=None), spec={"selector": SELECTOR, "template": template(hardened_pod())}, opts=opts)
elif mutation == "model-in-system-namespace":
    k8s.apps.v1.Deployment("hidden-model", metadata=meta("hidden-model", namespace=gpu.namespace_name),
                           spec={"selector": SELECTOR, "template": template(hardened_pod())}, opts=opts)
elif mutation == "self-labelled-system-namespace":
    # A workload trying to earn the node-agent exemption by labelling its own namespace.
    sneaky = k8s.core.v1.Namespace("sneaky", metadata={"name": "sneaky", "labels": {"modelfort.io/system-namespace": "gpu-operator",
                                                                                   "pod-security.kubernetes.io/enforce": "privileged"}}, opts=opts)
    k8s.apps.v1.DaemonSet("miner", metadata=meta("miner", namespace=sneaky.metadata.name), spec={"selector": SELECTOR, "template": template(
        hardened_pod(container={"security_context": {"privileged": True}}))}, opts=opts)
elif mutation == "privileged-patch":
    k8s.apps.v1.DeploymentPatch("loosen", metadata={"name": "llama-guard", "namespace": "models"}, spec={"template": {"spec": {
        "containers": [{"name": "server", "security_context": {"privileged": True}}]}}}, opts=opts)
elif mutation == "egress-to-instance-metadata":
    k8s.networking.v1.NetworkPolicy("imds", metadata=meta("allow-imds"), spec={"pod_selector": {}, "policy_types": ["Egress"],
        "egress": [{"to": [{"ip_block": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]}]}, opts=opts)
elif mutation == "egress-to-wide-range":
    # Wide enough to contain link-local, without excepting it.
    k8s.networking.v1.NetworkPolicy("wide", metadata=meta("allow-wide"), spec={"pod_selector": {}, "policy_types": ["Egress"],
        "egress": [{"to": [{"ip_block": {"cidr": "128.0.0.0/1"}}], "ports": [{"protocol": "TCP", "port": 443}]}]}, opts=opts)
elif mutation == "egress-to-wide-range-excepting-metadata":
    # Allowed by k8s-egress-no-link-local (link-local is excepted); other rules judge the width.
    k8s.networking.v1.NetworkPolicy("wide", metadata=meta("allow-wide"), spec={"pod_selector": {}, "policy_types": ["Egress"],
        "egress": [{"to": [{"ip_block": {"cidr": "128.0.0.0/1", "except": ["169.254.0.0/16"]}}],
                    "ports": [{"protocol": "TCP", "port": 443}]}]}, opts=opts)
elif mutation == "bare-namespace":
    k8s.core.v1.Namespace("scratch", metadata={"name": "scratch"}, opts=opts)
elif mutation == "unhardened-gpu-operator":
    k8s.helm.v3.Release("operator-copy", chart="nvidia/gpu-operator", version="v24.9.0", namespace="models", values={}, opts=opts)
elif mutation == "node-agent-in-system-namespace":
    # A privileged DaemonSet the program declares itself (no GPUs, no model label) in the verified GPU operator
    # namespace: not rendered by the operator's chart, so it is judged like any pod (a model server could hide there).
    k8s.apps.v1.DaemonSet("dcgm-probe", metadata=meta("dcgm-probe", namespace=gpu.namespace_name), spec={"selector": SELECTOR, "template": template({
        "host_pid": True, "containers": [{"name": "probe", "image": VERIFIER, "security_context": {"privileged": True},
                                          "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
                                          "volume_mounts": [{"name": "dev", "mount_path": "/dev"}]}],
        "volumes": [{"name": "dev", "host_path": {"path": "/dev"}}]})}, opts=opts)
elif mutation != "none" and mutation not in {*GPU_ARGS, *NAMESPACE_ARGS, *SERVING_ARGS, *GUARD_ARGS, *TRANSFORMED}:
    raise ValueError(f"k8s-mutant:mutation: unknown mutation {mutation!r}")
