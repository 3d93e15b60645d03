"""HardenedNamespace, GpuRuntime and ModelServing under mocks: the security-relevant fields of every object they plan,
and the arguments they refuse."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from components.config import CanaryRelease, ModelRelease
from components.k8s import (
    EksPlatform,
    GkePlatform,
    GpuRuntimeArgs,
    HardenedNamespaceArgs,
    IngressSource,
    ModelServingArgs,
    NamespaceQuota,
    SecretFile,
    split_replicas,
)
from components.k8s import gpu_runtime, isolation
from components.k8s.guard import (
    BEDROCK_FILE,
    GATEWAY_CA_DIR,
    GUARD_TLS_DIR,
    BedrockGuardrail,
    GatewayMtls,
    GuardSettings,
    JwtIdentity,
    ModelArmorGuardrail,
    render_config,
)
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import StackFile, read_project
from modelfort_policy.rules import kubernetes as pack

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "k8s-mutant"
DIGEST = "@sha256:" + "a" * 64
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm" + DIGEST


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    project = read_project(str(PROGRAM))
    stack = StackFile(stack="test", path=None, config={"k8s-mutant:mutation": "none"})
    result = run_program_under_mocks(project, stack)
    assert result["error"] is None, result["error"]
    return result["resources"]


def named(resources: list[dict], name: str, kind: str | None = None) -> dict:
    (match,) = [r for r in resources if r["name"] == name and (kind is None or r["type"].endswith(kind))]
    return match["properties"]


def pod_spec(resources: list[dict], name: str) -> dict:
    return named(resources, name, ":Deployment")["spec"]["template"]["spec"]


# ------------------------------------------------------------------------------------------------ HardenedNamespace
@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RI-09")
def test_model_namespace_enforces_restricted_pod_security_in_every_mode(resources):
    labels = named(resources, "models-namespace")["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "latest"
    assert "modelfort.io/system-namespace" not in labels


@pytest.mark.control("NB-02", "NB-03", "NB-04")
def test_model_namespace_denies_all_traffic_then_allows_narrowly(resources):
    deny = named(resources, "models-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = named(resources, "models-allow-dns")["spec"]["egress"][0]
    assert dns["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                          "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    https = named(resources, "models-allow-https-egress")["spec"]["egress"][0]
    assert [p["ipBlock"]["cidr"] for p in https["to"]] == ["10.30.0.0/16", "52.216.0.0/15", "54.231.0.0/16"]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    ingress = named(resources, "models-allow-ingress-0")["spec"]
    assert ingress["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "model-server"}}
    # One peer with both selectors: pods with that label *in* the gateway namespace, not either.
    assert ingress["ingress"][0]["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}},
                                              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "model-gateway"}}}]
    # Only the guard's port: the model server listens on the pod's loopback and is never a peer's destination.
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8443}]


def test_by_default_a_namespace_admits_nothing_and_denies_interactive_access():
    args = HardenedNamespaceArgs(name="quiet")
    assert args.ingress_sources == () and args.https_egress_cidrs == () and args.allow_dns_to_kube_dns is False
    assert args.deny_interactive_access is True


@pytest.mark.control("RC-11")
def test_model_namespace_caps_cpu_memory_and_gpus(resources):
    hard = named(resources, "models-quota")["spec"]["hard"]
    assert hard == {"requests.cpu": "64", "limits.cpu": "64", "requests.memory": "512Gi", "limits.memory": "512Gi",
                    "requests.nvidia.com/gpu": "8", "pods": "32"}
    (limits,) = named(resources, "models-limits")["spec"]["limits"]
    assert limits["type"] == "Container"
    assert limits["default"] == limits["defaultRequest"] == {"cpu": "500m", "memory": "512Mi"}
    assert limits["max"] == {"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "8"}
    # A default GPU limit would hand every container a GPU: only a maximum is set.
    assert "nvidia.com/gpu" not in limits["default"]


@pytest.mark.control("RI-11")
@pytest.mark.parametrize("prefix,namespace", [("models", "models"), ("gpu", "gpu-operator")])
def test_exec_attach_and_port_forward_are_refused_by_admission(resources, prefix, namespace):
    policy = named(resources, f"{prefix}-deny-interactive")
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (rule,) = spec["matchConstraints"]["resourceRules"]
    assert rule == {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
                    "resources": ["pods/exec", "pods/attach", "pods/portforward"]}
    assert [v["expression"] for v in spec["validations"]] == ["false"]
    binding = named(resources, f"{prefix}-deny-interactive-binding")["spec"]
    assert binding["policyName"] == policy["metadata"]["name"]
    assert binding["validationActions"] == ["Deny"]
    assert binding["matchResources"] == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


# ------------------------------------------------------------------------------------------------ GpuRuntime
@pytest.mark.control("RI-06", "RI-07")
def test_gpu_operator_is_pinned_and_hardens_the_container_toolkit(resources):
    release = named(resources, "gpu-operator", ":Release")
    assert release["chart"] == "gpu-operator" and release["version"] == "v25.10.1"
    assert release["repositoryOpts"] == {"repo": "https://helm.ngc.nvidia.com/nvidia"}
    assert release["namespace"] == "gpu-operator" and release["createNamespace"] is False
    assert release["atomic"] is True
    values = release["values"]
    assert values["cdi"] == {"enabled": True}
    assert values["driver"] == {"enabled": False}
    toolkit = values["toolkit"]
    assert toolkit["enabled"] is True and toolkit["version"] == "v1.18.1"
    env = {e["name"]: e["value"] for e in toolkit["env"]}
    assert env == {
        "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED": "false",
        "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS": "true",
        "NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES": "disable-cuda-compat-lib-hook",
    }
    plugin = {e["name"]: e["value"] for e in values["devicePlugin"]["env"]}
    assert plugin["DEVICE_LIST_STRATEGY"] == "volume-mounts" and plugin["DEVICE_ID_STRATEGY"] == "uuid"


@pytest.mark.control("RI-06", "RI-07", "RI-11", "NB-02")
def test_gpu_operator_namespace_is_privileged_but_marked_isolated_and_closed(resources):
    labels = named(resources, "gpu-namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["modelfort.io/system-namespace"] == "gpu-operator"
    assert named(resources, "gpu-default-deny")["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    egress = named(resources, "gpu-allow-https-egress")["spec"]["egress"]
    assert egress == [{"to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}]


@pytest.mark.control("RI-06")
def test_runtime_class_schedules_onto_gpu_nodes_with_the_nvidia_handler(resources):
    runtime_class = named(resources, "gpu-runtime-class")
    assert runtime_class["handler"] == "nvidia" and runtime_class["metadata"]["name"] == "modelfort-nvidia"
    assert runtime_class["scheduling"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert runtime_class["scheduling"]["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]


# ------------------------------------------------------------------------------------------------ ModelServing
def _security_contexts(spec: dict) -> list[dict]:
    return [c["securityContext"] for c in (*spec["initContainers"], *spec["containers"])]


@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RI-09")
@pytest.mark.parametrize("deployment", ["llama-guard", "llama-guard-canary"])
def test_both_tracks_run_with_the_same_hardening(resources, deployment):
    spec = pod_spec(resources, deployment)
    assert spec["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"},
    }
    for context in _security_contexts(spec):
        assert context == {
            "runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"},
        }
    assert spec["automountServiceAccountToken"] is False and spec["enableServiceLinks"] is False
    assert not any(spec[key] for key in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"))
    assert {v["name"]: sorted(k for k in v if k != "name") for v in spec["volumes"]} == {
        "models": ["emptyDir"], "verifier-tmp": ["emptyDir"], "server-tmp": ["emptyDir"],
        "aws-iam-token": ["projected"], "secrets": ["projected"], "secret-store": ["csi"],
        "guard-tmp": ["emptyDir"], "guard-config": ["configMap"], "guard-tls": ["secret"], "gateway-ca": ["configMap"],
    }


@pytest.mark.control("RI-08", "RI-06", "RC-11")
def test_one_server_per_pod_with_gpus_only_as_limits_on_the_gpu_runtime(resources):
    spec = pod_spec(resources, "llama-guard")
    server, guard = spec["containers"]
    assert (server["name"], guard["name"]) == ("server", "guard")
    assert "nvidia.com/gpu" not in guard["resources"]["limits"]
    assert server["image"].endswith("@sha256:" + "a" * 64)
    assert server["resources"] == {"requests": {"cpu": "4", "memory": "32Gi"},
                                   "limits": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"}}
    assert spec["runtimeClassName"] == "modelfort-nvidia"
    # Any value of the GPU taint: EKS pools use "true", GKE pools "present".
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert not [e for e in server["env"] if e["name"].startswith("NVIDIA_")]


@pytest.mark.control("WP-05", "ST-01", "WP-02", "RI-02")
def test_weights_are_verified_by_an_init_container_into_a_volume_the_server_reads_only(resources):
    spec = pod_spec(resources, "llama-guard")
    (verifier,) = spec["initContainers"]
    assert verifier["image"].endswith("@sha256:" + "b" * 64)
    assert verifier["command"] == [
        "modelfort", "verify-weights", "s3://prod-weights-bucket/models/llama-guard/3.1.0",
        "--signature", "s3://prod-reference-store/signatures/llama-guard/3.1.0.sig",
        "--public-key", "s3://prod-reference-store/keys/release.pub.pem",
        "--root-digest", "5c1e" + "0" * 60, "--model-version", "3.1.0", "--download-dir", "/models/model",
    ]
    mounts = {m["name"]: m for m in verifier["volumeMounts"]}
    # The download directory is a subdirectory the verifier creates, so it is empty by construction.
    assert mounts["models"]["mountPath"] == "/models" and not mounts["models"].get("readOnly")
    assert mounts["aws-iam-token"]["readOnly"] is True
    server_mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert server_mounts["models"] == {"name": "models", "mountPath": "/models", "readOnly": True}
    assert "aws-iam-token" not in server_mounts
    canary = pod_spec(resources, "llama-guard-canary")["initContainers"][0]["command"]
    assert "s3://prod-weights-bucket/models/llama-guard/3.2.0" in canary and "7d2f" + "0" * 60 in canary


@pytest.mark.control("SC-02", "NB-06")
def test_only_the_verifier_gets_aws_credentials_and_secrets_are_files(resources):
    spec = pod_spec(resources, "llama-guard")
    verifier_env = {e["name"]: e["value"] for e in spec["initContainers"][0]["env"]}
    assert verifier_env["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/llama-guard-serving"
    assert verifier_env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"
    token = next(v for v in spec["volumes"] if v["name"] == "aws-iam-token")["projected"]["sources"][0]["serviceAccountToken"]
    assert token == {"audience": "sts.amazonaws.com", "expirationSeconds": 86400, "path": "token"}
    annotations = named(resources, "llama-guard", ":Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["eks.amazonaws.com/skip-containers"] == "server"
    server = spec["containers"][0]
    assert not [e for e in server["env"] if "valueFrom" in e or e["name"].startswith("AWS_")]
    assert "envFrom" not in server
    secrets = next(v for v in spec["volumes"] if v["name"] == "secrets")["projected"]
    assert secrets["sources"] == [{"secret": {"name": "guard-api", "items": [{"key": "token", "path": "api/token"}]}}]
    assert secrets["defaultMode"] == 0o440
    store = next(v for v in spec["volumes"] if v["name"] == "secret-store")["csi"]
    assert store == {"driver": "secrets-store.csi.k8s.io", "readOnly": True, "volumeAttributes": {"secretProviderClass": "guard-secrets"}}
    account = named(resources, "llama-guard-service-account")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == "arn:aws:iam::123456789012:role/llama-guard-serving"


@pytest.mark.control("RC-09", "RC-10", "OB-04")
def test_the_server_is_told_its_limits_and_release_identity_without_secrets(resources):
    server = pod_spec(resources, "llama-guard")["containers"][0]
    env = {e["name"]: e["value"] for e in server["env"]}
    assert env["MODELFORT_MAX_TOKENS"] == "4096" and env["MODELFORT_REQUEST_TIMEOUT_SECONDS"] == "60"
    assert env["MODELFORT_MODEL_VERSION"] == "3.1.0" and env["MODELFORT_MODEL_ROOT_DIGEST"] == "5c1e" + "0" * 60
    assert server["args"] == ["--max-model-len", "8192"]
    # In-flight requests get the full request timeout to finish when the pod stops.
    assert pod_spec(resources, "llama-guard")["terminationGracePeriodSeconds"] == 75
    # The server is reached on the loopback only, so the kubelet probes the guard, whose readiness asks the server.
    assert env["MODELFORT_HOST"] == "127.0.0.1" and "ports" not in server
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert server[probe]["httpGet"] == {"path": "/readyz", "port": 8081}
    assert server["startupProbe"]["failureThreshold"] * server["startupProbe"]["periodSeconds"] == 1800
    guard = pod_spec(resources, "llama-guard")["containers"][1]
    assert guard["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "guard-health"}
    assert guard["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "guard-health"}
    assert guard["startupProbe"]["failureThreshold"] * guard["startupProbe"]["periodSeconds"] == 1800


@pytest.mark.control("DP-10", "DP-11")
def test_rollout_keeps_capacity_and_the_canary_shares_the_service(resources):
    stable = named(resources, "llama-guard", ":Deployment")["spec"]
    canary = named(resources, "llama-guard-canary", ":Deployment")["spec"]
    assert (stable["replicas"], canary["replicas"]) == (2, 1) == split_replicas(3, 34)
    for spec in (stable, canary):
        assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    assert stable["selector"]["matchLabels"] == {"modelfort.io/model": "llama-guard", "modelfort.io/track": "stable"}
    assert canary["selector"]["matchLabels"] == {"modelfort.io/model": "llama-guard", "modelfort.io/track": "canary"}
    assert canary["template"]["spec"]["containers"][0]["image"].endswith("c" * 64)
    service = named(resources, "llama-guard-service", ":Service")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"] == {"modelfort.io/model": "llama-guard", "app.kubernetes.io/component": "model-server"}
    for spec in (stable, canary):
        labels = spec["template"]["metadata"]["labels"]
        assert all(labels[k] == v for k, v in service["selector"].items())
    pdb = named(resources, "llama-guard-pdb")["spec"]
    assert pdb["minAvailable"] == 2 and pdb["selector"] == {"matchLabels": {"modelfort.io/model": "llama-guard"}}
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.control("DP-11")
@pytest.mark.parametrize(
    "replicas,percent,expected",
    [(1, 10, (1, 1)), (2, 10, (1, 1)), (4, 25, (3, 1)), (10, 10, (9, 1)), (10, 50, (5, 5)), (20, 15, (17, 3))],
)
def test_canary_share_follows_the_percent_as_far_as_whole_pods_allow(replicas, percent, expected):
    assert split_replicas(replicas, percent) == expected


# ------------------------------------------------------------------------------------------------ refused arguments
def _release(**changes) -> ModelRelease:
    return dataclasses.replace(ModelRelease(name="m", version="1.0.0", image=IMAGE, root_digest="a" * 64), **changes)


def _serving(**changes) -> ModelServingArgs:
    base = dict(
        release=_release(), namespace="models", verifier_image=IMAGE, weights_uri="s3://weights/models/m/1.0.0",
        signature_uri="s3://reference/signatures/m/1.0.0.sig", public_key_uri="s3://reference/keys/release.pub.pem",
        platform=EksPlatform(verifier_role_arn="arn:aws:iam::123456789012:role/m", region="us-east-1"),
        guard=_guard_settings(),
    )
    return ModelServingArgs(**{**base, **changes})


def _guard_settings(**changes) -> GuardSettings:
    base = dict(tier="high", guardrail=BedrockGuardrail(guardrail_id="gr-1", guardrail_version="2", region="us-east-1"),
                identity=GatewayMtls(tls_secret_name="m-tls", gateway_ca_pem="-----BEGIN CERTIFICATE-----\n"))
    return GuardSettings(**{**base, **changes})


@pytest.mark.parametrize(
    "build,arg",
    [
        (lambda: _serving(release=_release(image="registry.example.com/vllm:latest")), "release.image"),
        (lambda: _serving(verifier_image="registry.example.com/verifier:1.0"), "verifier_image"),
        (lambda: _serving(weights_uri="https://bucket.s3.amazonaws.com/m"), "weights_uri"),
        (lambda: _serving(port=80), "port"),
        (lambda: _serving(release=_release(canary=CanaryRelease(version="2", image=IMAGE, root_digest="b" * 64, percent=10))),
         "canary_weights_uri"),
        (lambda: _serving(canary_weights_uri="s3://weights/models/m/2"), "canary_weights_uri"),
        (lambda: _serving(runtime_class_name=None), "runtime_class_name"),
        # A GKE pod reads gs:// only: an s3:// location would leave the verifier without credentials for it.
        (lambda: _serving(platform=GkePlatform(project="modelfort-production")), "weights_uri"),
        (lambda: GkePlatform(project="Not A Project"), "GkePlatform.project"),
        (lambda: EksPlatform(verifier_role_arn="arn:aws:iam::123456789012:role/m", region="mars-1"), "EksPlatform.region"),
        (lambda: _serving(platform="eks"), "platform"),
        (lambda: _serving(port=8443), "port"),
        (lambda: _serving(guard=None), "guard"),
        # Bedrock through IRSA and the API Gateway client certificate exist on EKS only.
        (lambda: _serving(platform=GkePlatform(project="modelfort-production"), weights_uri="gs://weights/models/m/1.0.0",
                          signature_uri="gs://reference/signatures/m/1.0.0.sig",
                          public_key_uri="gs://reference/keys/release.pub.pem"), "guard"),
        (lambda: _guard_settings(guardrail=None), "GuardSettings.guardrail"),
        (lambda: _guard_settings(tier="critical", guardrail_fail_open=True), "GuardSettings.guardrail_fail_open"),
        (lambda: _guard_settings(tier="secret"), "GuardSettings.tier"),
        (lambda: _guard_settings(canaries=["short"]), "GuardSettings.canaries"),
        (lambda: _guard_settings(extra_paths=["/readyz"]), "GuardSettings.extra_paths"),
        (lambda: BedrockGuardrail(guardrail_id="g", guardrail_version="1", region="moon"), "BedrockGuardrail.region"),
        (lambda: ModelArmorGuardrail(project="P!", location="us-central1", template="t1"), "ModelArmorGuardrail.project"),
        (lambda: GatewayMtls(tls_secret_name="Bad_Name", gateway_ca_pem="x"), "GatewayMtls.tls_secret_name"),
        (lambda: JwtIdentity(issuer="i", audience="a", jwks_url="http://idp/jwks"), "JwtIdentity.jwks_url"),
        (lambda: JwtIdentity(issuer="i", audience="a", jwks_url="https://idp/jwks", algorithms=["HS256"]), "JwtIdentity.algorithms"),
        (lambda: _serving(secret_files=[SecretFile(secret_name="s", key="k", path="a"), SecretFile(secret_name="t", key="k", path="a")]),
         "secret_files"),
        (lambda: SecretFile(secret_name="s", key="k", path="../etc/passwd"), "SecretFile.path"),
        (lambda: HardenedNamespaceArgs(name="default"), "HardenedNamespaceArgs.name"),
        (lambda: HardenedNamespaceArgs(name="m", https_egress_cidrs=["0.0.0.0/0"]), "https_egress_cidrs"),
        (lambda: HardenedNamespaceArgs(name="m", https_egress_cidrs=["169.254.169.254/32"]), "https_egress_cidrs"),
        (lambda: HardenedNamespaceArgs(name="m", labels={"pod-security.kubernetes.io/enforce": "privileged"}), "labels"),
        (lambda: HardenedNamespaceArgs(name="m", labels={"modelfort.io/system-namespace": "gpu-operator"}), "labels"),
        (lambda: IngressSource(namespace="*"), "IngressSource.namespace"),
        (lambda: NamespaceQuota(memory="lots"), "NamespaceQuota.memory"),
        (lambda: GpuRuntimeArgs(api_server_cidrs=[]), "api_server_cidrs"),
        (lambda: GpuRuntimeArgs(api_server_cidrs=["10.0.0.0/16"], operator_version="v25.3.0"), "operator_version"),
        (lambda: GpuRuntimeArgs(api_server_cidrs=["10.0.0.0/16"], toolkit_version="v1.17.7-ubuntu20.04"), "toolkit_version"),
        (lambda: GpuRuntimeArgs(api_server_cidrs=["10.0.0.0/16"], toolkit_version="latest"), "toolkit_version"),
        (lambda: GpuRuntimeArgs(api_server_cidrs=["10.0.0.0/16"], chart_repository="http://mirror/charts"), "chart_repository"),
    ],
)
def test_unsafe_or_contradictory_arguments_are_refused_naming_the_argument(build, arg):
    with pytest.raises(ValueError, match=arg.replace(".", r"\.")):
        build()


def test_from_release_lays_out_the_locations_as_the_release_flow_does(resources):
    # The same layout as ModelRelease.weights_prefix / signature_key (docs/release-flow.md), for both tracks.
    for deployment, version in (("llama-guard", "3.1.0"), ("llama-guard-canary", "3.2.0")):
        release = _release(name="llama-guard", version=version)
        command = pod_spec(resources, deployment)["initContainers"][0]["command"]
        assert command[2] == f"s3://prod-weights-bucket/{release.weights_prefix}"
        assert command[command.index("--signature") + 1] == f"s3://prod-reference-store/{release.signature_key}"


def test_gpu_runtime_minimums_match_the_pack():
    assert gpu_runtime.MIN_OPERATOR_VERSION == pack.MIN_GPU_OPERATOR
    assert gpu_runtime.MIN_TOOLKIT_VERSION == pack.MIN_CONTAINER_TOOLKIT
    assert dict(gpu_runtime.TOOLKIT_ENV).items() >= pack.REQUIRED_TOOLKIT_ENV.items()


def test_the_label_contract_is_the_same_on_both_sides():
    # The pack never imports components; it keeps its own copy of the labels it relies on.
    assert isolation.SYSTEM_NAMESPACE_LABEL == pack.SYSTEM_NAMESPACE_LABEL
    assert isolation.MODEL_LABEL == pack.MODEL_LABEL
    assert isolation.NAMESPACE_NAME_LABEL == pack.NAMESPACE_NAME_LABEL
    assert f"{isolation.PSA_PREFIX}enforce" == pack.PSA_ENFORCE
    assert isolation.GPU_RESOURCE == pack.GPU_RESOURCE
    assert set(isolation.INTERACTIVE_SUBRESOURCES) == pack.INTERACTIVE_SUBRESOURCES
    assert gpu_runtime.GPU_OPERATOR in pack.SYSTEM_CHARTS


# ------------------------------------------------------------------------------------------------ the guard
@pytest.mark.control("RC-01", "RC-05", "RC-11", "GR-09", "OB-01", "NB-05")
def test_every_request_reaches_the_server_through_the_guard(resources):
    spec = pod_spec(resources, "llama-guard")
    server, guard = spec["containers"]
    assert guard["command"] == ["modelfort", "guard", "--config", "/etc/modelfort/guard/guard.json"]
    assert guard["image"].endswith("@sha256:" + "b" * 64)  # the verifier image: one signed image for both jobs
    assert {p["name"]: p["containerPort"] for p in guard["ports"]} == {"guard": 8443, "guard-health": 8081}
    assert "ports" not in server
    service = named(resources, "llama-guard-service", ":Service")["spec"]
    assert service["ports"] == [{"name": "guard", "port": 8443, "targetPort": "guard", "protocol": "TCP"}]
    # Bedrock through the pod's IRSA role; the server gets no AWS credentials.
    guard_env = {e["name"]: e["value"] for e in guard["env"]}
    assert guard_env["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/llama-guard-serving"
    assert {m["name"] for m in guard["volumeMounts"]} == {"guard-config", "guard-tmp", "guard-tls", "gateway-ca", "aws-iam-token"}
    assert all(m.get("readOnly") for m in guard["volumeMounts"] if m["name"] != "guard-tmp")


@pytest.mark.control("RC-01", "DP-04")
def test_each_track_reads_its_own_immutable_guard_config_named_after_its_content(resources):
    stable = named(resources, "llama-guard-guard-config", ":ConfigMap")
    canary = named(resources, "llama-guard-canary-guard-config", ":ConfigMap")
    for config_map, deployment, version in ((stable, "llama-guard", "3.1.0"), (canary, "llama-guard-canary", "3.2.0")):
        assert config_map["immutable"] is True
        volume = next(v for v in pod_spec(resources, deployment)["volumes"] if v["name"] == "guard-config")
        assert volume["configMap"]["name"] == config_map["metadata"]["name"]
        document = json.loads(config_map["data"]["guard.json"])
        assert document["model"]["version"] == version
        assert document["upstream"]["url"] == "http://127.0.0.1:8000"
        assert document["guardrail"]["failOpen"] is False and document["tier"] == "high"
        assert json.loads(config_map["data"]["bedrock-guardrail.json"])["guardrailVersion"] == "3"
    assert stable["metadata"]["name"] != canary["metadata"]["name"]


@pytest.mark.parametrize("guardrail,identity", [
    ("bedrock", "mtls"), ("model-armor", "jwt"), ("none", "jwt"),
])
def test_the_rendered_guard_config_is_one_the_guard_accepts(tmp_path, guardrail, identity):
    """The component and the guard agree on guard.json: what the one renders, the other parses without a problem."""
    from modelfort.runtime.guard.config import parse_config

    guardrails = {"bedrock": BedrockGuardrail(guardrail_id="gr-1", guardrail_version="2", region="us-east-1"),
                  "model-armor": ModelArmorGuardrail(project="modelfort-production", location="us-central1", template="modelfort-production"),
                  "none": None}
    identities = {"mtls": GatewayMtls(tls_secret_name="m-tls", gateway_ca_pem="pem"),
                  "jwt": JwtIdentity(issuer="https://accounts.google.com", audience="modelfort-production",
                                     jwks_url="https://www.googleapis.com/oauth2/v3/certs", principal_claim="email")}
    settings = _guard_settings(tier="standard" if guardrail == "none" else "high", guardrail=guardrails[guardrail],
                               allow_no_guardrail=guardrail == "none", identity=identities[identity],
                               system_prompt="You are a careful assistant.", canaries=["canary-7f3a9"])
    text = render_config(settings, model="m", version="1.0.0", root_digest="a" * 64, max_tokens=1024,
                         request_timeout_seconds=60, upstream_port=8000, health_path="/health")
    # The files the pod mounts (the TLS Secret, the gateway's CA, the Bedrock file beside guard.json), re-rooted
    # under tmp_path so the guard's file checks see real files.
    for mounted in (GUARD_TLS_DIR, GATEWAY_CA_DIR):
        text = text.replace(f'"{mounted}/', f'"{tmp_path}{mounted}/')
    document = json.loads(text)
    for path in [v for v in _strings(document) if v.startswith(str(tmp_path))]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / BEDROCK_FILE).write_text('{"guardrailId": "gr-1", "guardrailVersion": "2", "region": "us-east-1"}')
    config = parse_config(document, tmp_path)
    assert config.upstream_url == "http://127.0.0.1:8000" and config.health_port == 8081
    assert config.tier == settings.tier


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []
