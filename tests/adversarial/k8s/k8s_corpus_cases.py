"""Adversarial corpus (Kubernetes): small insecure programs a platform engineer might write, each with a secure twin.

Every case is a function `case(secure)` run as its own tiny Pulumi program (tests/adversarial/k8s/test_k8s_corpus.py
writes a program that imports this module and calls one case). Plain pulumi_kubernetes code, not ModelFort's
components; some cases take evasion routes: their own ComponentResource, a second provider, `Output.apply`, dict
arguments, and `apiextensions.CustomResource` with a dict spec. The insecure variant must be blocked with a mandatory
violation of `policy` on the resource named `target`; the secure twin must pass with no mandatory violation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

NS = "models"
IMAGE = "registry.example.com/team/server@sha256:" + "b" * 64
GPU_NS = "gpu-operator"


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    target: str
    policy: str
    build: Callable[[bool], None]


CASES: dict[str, Case] = {}


def case(category: str, target: str, policy: str) -> Callable[[Callable[[bool], None]], Callable[[bool], None]]:
    def register(build: Callable[[bool], None]) -> Callable[[bool], None]:
        CASES[build.__name__] = Case(build.__name__, category, target, policy, build)
        return build
    return register


# ------------------------------------------------------------------------------------------------ shared pieces
def hardened_container(name: str = "server", **security) -> dict:
    return {
        "name": name,
        "image": IMAGE,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "readOnlyRootFilesystem": True,
                            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, **security},
        "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
    }


GUARD_CONFIG_MAP = "guard-config"
GUARD_PORT = 8443


def guard_container() -> dict:
    """The inference guard in front of the pod's server, its config read from the namespace's guard ConfigMap."""
    return {
        **hardened_container("guard"),
        "args": ["modelfort", "guard", "--config", "/etc/modelfort/guard/guard.json"],
        "ports": [{"name": "guard", "containerPort": GUARD_PORT}],
        "volumeMounts": [{"name": "guard-config", "mountPath": "/etc/modelfort/guard", "readOnly": True}],
    }


def hardened_pod(secure: bool = True, *, insecure: dict | None = None, containers: list | None = None,
                 guarded: bool = False, **security) -> dict:
    """A pod spec that passes every pod rule; when not `secure`, `insecure` pod fields or container `security`
    settings are applied. A `guarded` pod serves a model: its server is reached only through the guard, in both
    twins, so the insecure twin is blocked for its own flaw alone."""
    pod = {
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"}},
        "containers": containers or [hardened_container(**({} if secure else security))],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if guarded:
        pod["containers"] = [*pod["containers"], guard_container()]
        pod["volumes"].append({"name": "guard-config", "configMap": {"name": GUARD_CONFIG_MAP}})
    if not secure:
        pod.update(insecure or {})
    return pod


def managed_namespace(name: str = NS, labels: dict | None = None, opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Namespace:
    """A namespace with what the namespace rules ask for: Pod Security, default deny, quotas, no exec."""
    psa = {"pod-security.kubernetes.io/enforce": "restricted"} if labels is None else labels
    ns = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": name, "labels": psa}, opts=opts)
    k8s.networking.v1.NetworkPolicy(f"{name}-deny", metadata={"name": "deny", "namespace": name},
                                    spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, opts=opts)
    if labels is None:
        k8s.core.v1.ResourceQuota(f"{name}-quota", metadata={"name": "q", "namespace": name}, spec={"hard": {
            "limits.cpu": "16", "limits.memory": "64Gi", "requests.nvidia.com/gpu": "2"}}, opts=opts)
        k8s.core.v1.LimitRange(f"{name}-limits", metadata={"name": "l", "namespace": name}, spec={"limits": [{
            "type": "Container", "default": {"cpu": "1", "memory": "1Gi"}, "max": {"cpu": "8", "memory": "32Gi"}}]}, opts=opts)
    k8s.admissionregistration.v1.ValidatingAdmissionPolicy(f"{name}-vap", metadata={"name": f"deny-exec-{name}"}, spec={
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
                                                "resources": ["pods/exec", "pods/attach", "pods/portforward"]}]},
        "validations": [{"expression": "false"}]}, opts=opts)
    k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(f"{name}-vapb", metadata={"name": f"deny-exec-{name}"}, spec={
        "policyName": f"deny-exec-{name}", "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}}, opts=opts)
    # The guard's config, for the cases whose pods serve a model (a ConfigMap no other case reads).
    k8s.core.v1.ConfigMap(f"{name}-guard-config", metadata={"name": GUARD_CONFIG_MAP, "namespace": name}, data={
        "guard.json": json.dumps({"tier": "critical", "listen": {"port": GUARD_PORT},
                                  "upstream": {"url": "http://127.0.0.1:8000"}, "guardrail": {"provider": "bedrock"}})},
        opts=opts)
    return ns


def custom(name: str, api_version: str, kind: str, spec: dict, opts: pulumi.ResourceOptions | None = None) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind,
                                            metadata={"name": name, "namespace": NS}, spec=spec, opts=opts)


def template(secure: bool, guarded: bool = False, **insecure_security) -> dict:
    return {"metadata": {"labels": {"app": "m"}}, "spec": hardened_pod(secure, guarded=guarded, **insecure_security)}


# ------------------------------------------------------------------------------------------------ custom resources
@case("crd", "isvc-privileged", "k8s-no-privileged-containers")
def kserve_predictor_containers_privileged(secure: bool) -> None:
    managed_namespace()
    custom("isvc-privileged", "serving.kserve.io/v1beta1", "InferenceService",
           {"predictor": hardened_pod(secure, guarded=True, privileged=True)})


@case("crd", "isvc-model", "k8s-no-privileged-containers")
def kserve_model_component_privileged(secure: bool) -> None:
    managed_namespace()
    predictor = hardened_pod(guarded=True)
    predictor["containers"] = [guard_container()]  # beside the model component, which is the server
    model = hardened_container("kserve-container", **({} if secure else {"privileged": True}))
    predictor["model"] = {**model, "modelFormat": {"name": "huggingface"}, "storageUri": "s3://weights/llama"}
    custom("isvc-model", "serving.kserve.io/v1beta1", "InferenceService", {"predictor": predictor})


@case("crd", "isvc-transformer", "k8s-no-host-namespaces")
def kserve_transformer_host_pid(secure: bool) -> None:
    managed_namespace()
    custom("isvc-transformer", "serving.kserve.io/v1beta1", "InferenceService", {
        "predictor": hardened_pod(guarded=True), "transformer": hardened_pod(secure, guarded=True, insecure={"hostPID": True})})


@case("crd", "ray-cluster", "k8s-no-privileged-containers")
def ray_worker_group_privileged(secure: bool) -> None:
    managed_namespace()
    custom("ray-cluster", "ray.io/v1", "RayCluster", {
        "headGroupSpec": {"rayStartParams": {}, "template": template(True)},
        "workerGroupSpecs": [{"groupName": "gpu", "replicas": 4, "rayStartParams": {}, "template": template(secure, privileged=True)}]})


@case("crd", "ray-service", "k8s-no-host-namespaces")
def ray_service_head_host_network(secure: bool) -> None:
    managed_namespace()
    head = {"metadata": {}, "spec": hardened_pod(secure, guarded=True, insecure={"hostNetwork": True})}
    custom("ray-service", "ray.io/v1", "RayService", {"serveConfigV2": "applications: []", "rayClusterConfig": {
        "headGroupSpec": {"rayStartParams": {}, "template": head}, "workerGroupSpecs": []}})


@case("crd", "pytorch-job", "k8s-drop-all-capabilities")
def pytorch_job_adds_sys_admin(secure: bool) -> None:
    managed_namespace()
    caps = {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}
    custom("pytorch-job", "kubeflow.org/v1", "PyTorchJob", {"pytorchReplicaSpecs": {
        "Master": {"replicas": 1, "template": template(True)},
        "Worker": {"replicas": 2, "template": template(secure, **caps)}}})


@case("crd", "tf-job", "k8s-no-privileged-containers")
def tf_job_privileged(secure: bool) -> None:
    managed_namespace()
    custom("tf-job", "kubeflow.org/v1", "TFJob", {"tfReplicaSpecs": {"Worker": {"replicas": 2, "template": template(secure, privileged=True)}}})


@case("crd", "notebook", "k8s-run-as-non-root")
def kubeflow_notebook_as_root(secure: bool) -> None:
    managed_namespace()
    custom("notebook", "kubeflow.org/v1", "Notebook", {"template": {"spec": hardened_pod(secure, runAsUser=0, runAsNonRoot=False)}})


@case("crd", "workflow", "k8s-no-host-namespaces")
def argo_workflow_wide_host_network(secure: bool) -> None:
    managed_namespace()
    pod = hardened_pod()
    first = pod.pop("containers")[0]
    custom("workflow", "argoproj.io/v1alpha1", "Workflow", {
        "entrypoint": "train", **({} if secure else {"hostNetwork": True}),
        "templates": [{"name": "train", "container": first, **pod}]})


@case("crd", "cron-workflow", "k8s-no-privileged-containers")
def argo_cron_workflow_privileged(secure: bool) -> None:
    managed_namespace()
    pod = hardened_pod()
    pod.pop("containers")
    step = hardened_container("eval", **({} if secure else {"privileged": True}))
    custom("cron-workflow", "argoproj.io/v1alpha1", "CronWorkflow", {"schedule": "0 3 * * *", "workflowSpec": {
        "entrypoint": "eval", "templates": [{"name": "eval", "script": {**step, "source": "python eval.py"}, **pod}]}})


@case("crd", "lws", "k8s-no-privileged-containers")
def leader_worker_set_privileged(secure: bool) -> None:
    managed_namespace()
    custom("lws", "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", {"replicas": 1, "leaderWorkerTemplate": {
        "size": 4, "leaderTemplate": template(True), "workerTemplate": template(secure, privileged=True)}})


@case("crd", "knative", "k8s-no-privilege-escalation")
def knative_service_privilege_escalation(secure: bool) -> None:
    managed_namespace()
    custom("knative", "serving.knative.dev/v1", "Service", {"template": template(secure, guarded=True, allowPrivilegeEscalation=True)})


class ModelPlatform(pulumi.ComponentResource):
    """Evasion: the team's own component wrapping the CRD, so the resource is a child, not a top-level object."""

    def __init__(self, name: str, secure: bool) -> None:
        super().__init__("acme:platform:ModelPlatform", name)
        managed_namespace(opts=pulumi.ResourceOptions(parent=self))
        custom("wrapped-isvc", "serving.kserve.io/v1beta1", "InferenceService",
               {"predictor": hardened_pod(secure, guarded=True, privileged=True)}, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


@case("crd", "wrapped-isvc", "k8s-no-privileged-containers")
def own_component_wraps_inference_service(secure: bool) -> None:
    ModelPlatform("platform", secure)


@case("crd", "applied-isvc", "k8s-no-host-namespaces")
def output_apply_builds_the_spec(secure: bool) -> None:
    """Evasion: the spec is computed inside Output.apply, so it is only known once the output resolves."""
    managed_namespace()
    flag = pulumi.Output.from_input(not secure)
    spec = flag.apply(lambda host: {"predictor": {**hardened_pod(guarded=True), "hostIPC": host}})
    custom("applied-isvc", "serving.kserve.io/v1beta1", "InferenceService", spec)


@case("crd", "second-provider-ray", "k8s-no-privileged-containers")
def second_provider_cluster(secure: bool) -> None:
    """Evasion: a second Kubernetes provider (another cluster's kubeconfig)."""
    other = k8s.Provider("other-cluster", kubeconfig="{}", namespace=NS)
    opts = pulumi.ResourceOptions(provider=other)
    managed_namespace(opts=opts)
    custom("second-provider-ray", "ray.io/v1", "RayCluster", {"headGroupSpec": {"template": template(secure, privileged=True)}}, opts=opts)


@case("crd", "typed-deploy", "k8s-no-privileged-containers")
def deployment_with_dict_arguments(secure: bool) -> None:
    """A built-in Deployment written with dict arguments: the baseline every custom-resource case is compared with."""
    managed_namespace()
    k8s.apps.v1.Deployment("typed-deploy", metadata={"name": "typed", "namespace": NS}, spec={
        "selector": {"matchLabels": {"app": "m"}}, "template": template(secure, privileged=True)})


# ------------------------------------------------------------------------------------------------ procMount
@case("procmount", "unmasked-deploy", "k8s-no-privileged-containers")
def deployment_unmasked_proc(secure: bool) -> None:
    managed_namespace()
    k8s.apps.v1.Deployment("unmasked-deploy", metadata={"name": "unmasked", "namespace": NS}, spec={
        "selector": {"matchLabels": {"app": "m"}}, "template": template(secure, procMount="Unmasked")})


@case("procmount", "unmasked-isvc", "k8s-no-privileged-containers")
def inference_service_unmasked_proc(secure: bool) -> None:
    managed_namespace()
    custom("unmasked-isvc", "serving.kserve.io/v1beta1", "InferenceService", {"predictor": hardened_pod(secure, guarded=True, procMount="Unmasked")})


# ------------------------------------------------------------------------------------------------ Helm values
def release(name: str, chart: str, values: dict) -> None:
    k8s.helm.v3.Release(name, chart=chart, version="1.2.3", namespace=NS, values=values)


@case("helm", "vllm", "k8s-helm-values-pod-security")
def helm_chart_privileged_server(secure: bool) -> None:
    managed_namespace()
    release("vllm", "vllm/vllm-stack", {"servingEngineSpec": {"containerSecurityContext": {"privileged": not secure}}})


@case("helm", "triton", "k8s-helm-values-pod-security")
def helm_chart_host_network_nested(secure: bool) -> None:
    managed_namespace()
    release("triton", "oci://registry.example.com/charts/triton", {"server": {"pod": {"hostNetwork": not secure}}})


@case("helm", "tgi", "k8s-helm-values-pod-security")
def helm_chart_capabilities_in_a_list(secure: bool) -> None:
    managed_namespace()
    caps = ["NET_BIND_SERVICE"] if secure else ["NET_BIND_SERVICE", "SYS_PTRACE"]
    release("tgi", "tgi", {"replicas": [{"securityContext": {"capabilities": {"drop": ["ALL"], "add": caps}}}]})


# ------------------------------------------------------------------------------------------------ exposure
def model_server(secure_service_name: str = "llama") -> None:
    """A model workload (model label) and its ClusterIP Service, plus an unrelated docs Service."""
    managed_namespace()
    k8s.core.v1.Service("llama-svc", metadata={"name": "llama", "namespace": NS},
                        spec={"selector": {"modelfort.io/model": "llama"}, "ports": [{"port": 80, "targetPort": 8000}]})
    k8s.core.v1.Service("docs-svc", metadata={"name": "docs", "namespace": NS},
                        spec={"selector": {"app": "docs"}, "ports": [{"port": 80}]})


@case("exposure", "public-ingress", "k8s-model-service-not-exposed")
def ingress_to_model_service(secure: bool) -> None:
    model_server()
    k8s.networking.v1.Ingress("public-ingress", metadata={"name": "public", "namespace": NS}, spec={"rules": [{
        "host": "llm.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "docs" if secure else "llama", "port": {"number": 80}}}}]}}]})


@case("exposure", "default-backend", "k8s-model-service-not-exposed")
def ingress_default_backend_by_dependency(secure: bool) -> None:
    """The backend name comes from the Service's own output (a dependency, not a literal)."""
    managed_namespace()
    svc = k8s.core.v1.Service("model-svc", metadata={"name": "model", "namespace": NS}, spec={
        "selector": {"app": "docs"} if secure else {"modelfort.io/model": "llama"}, "ports": [{"port": 80}]})
    k8s.networking.v1.Ingress("default-backend", metadata={"name": "catchall", "namespace": NS}, spec={
        "defaultBackend": {"service": {"name": svc.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name),
                                       "port": {"number": 80}}}})


@case("exposure", "http-route", "k8s-model-service-not-exposed")
def gateway_http_route(secure: bool) -> None:
    model_server()
    custom("http-route", "gateway.networking.k8s.io/v1", "HTTPRoute", {"parentRefs": [{"name": "public-gw"}], "rules": [{
        "backendRefs": [{"name": "docs" if secure else "llama", "port": 80}]}]})


@case("exposure", "grpc-route", "k8s-model-service-not-exposed")
def gateway_grpc_route(secure: bool) -> None:
    model_server()
    custom("grpc-route", "gateway.networking.k8s.io/v1", "GRPCRoute", {"parentRefs": [{"name": "public-gw"}], "rules": [{
        "backendRefs": [{"name": "docs" if secure else "llama", "port": 80}]}]})


@case("exposure", "tls-route", "k8s-model-service-not-exposed")
def gateway_tls_route(secure: bool) -> None:
    model_server()
    custom("tls-route", "gateway.networking.k8s.io/v1alpha2", "TLSRoute", {"parentRefs": [{"name": "public-gw"}], "rules": [{
        "backendRefs": [{"name": "docs" if secure else "llama", "port": 443}]}]})


# ------------------------------------------------------------------------------------------------ RBAC
def rule_role(name: str, kind: str, rules: list) -> None:
    cls = k8s.rbac.v1.ClusterRole if kind == "ClusterRole" else k8s.rbac.v1.Role
    cls(name, metadata={"name": name, **({"namespace": NS} if kind == "Role" else {})}, rules=rules)


@case("rbac", "admin-binding", "k8s-rbac-no-admin-or-public-bindings")
def cluster_admin_for_the_model_service_account(secure: bool) -> None:
    k8s.rbac.v1.ClusterRoleBinding("admin-binding", metadata={"name": "server-admin"}, role_ref={
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "model-reader" if secure else "cluster-admin"},
        subjects=[{"kind": "ServiceAccount", "name": "server", "namespace": NS}])


@case("rbac", "anon-binding", "k8s-rbac-no-admin-or-public-bindings")
def binding_to_anonymous(secure: bool) -> None:
    k8s.rbac.v1.RoleBinding("anon-binding", metadata={"name": "anon", "namespace": NS}, role_ref={
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "status-reader"},
        subjects=[{"kind": "ServiceAccount", "name": "probe", "namespace": NS} if secure else {"kind": "Group", "name": "system:unauthenticated"}])


@case("rbac", "debugger", "k8s-rbac-no-dangerous-grants")
def role_grants_pod_exec(secure: bool) -> None:
    rule_role("debugger", "Role", [{"apiGroups": [""], "resources": ["pods/log"] if secure else ["pods/exec", "pods/log"],
                                    "verbs": ["get", "create"]}])


@case("rbac", "secret-reader", "k8s-rbac-no-dangerous-grants")
def cluster_role_reads_every_secret(secure: bool) -> None:
    rule_role("secret-reader", "ClusterRole", [{"apiGroups": [""], "resources": ["configmaps" if secure else "secrets"],
                                                "verbs": ["get", "list", "watch"]}])


@case("rbac", "ops-all", "k8s-rbac-no-dangerous-grants")
def cluster_role_wildcards(secure: bool) -> None:
    rule_role("ops-all", "ClusterRole", [{"apiGroups": ["apps"], "resources": ["deployments"] if secure else ["*"],
                                          "verbs": ["get", "list"] if secure else ["*"]}])


@case("rbac", "impersonator", "k8s-rbac-no-dangerous-grants")
def cluster_role_impersonates(secure: bool) -> None:
    rule_role("impersonator", "ClusterRole", [{"apiGroups": [""], "resources": ["serviceaccounts"],
                                               "verbs": ["get"] if secure else ["impersonate"]}])


# ------------------------------------------------------------------------------------------------ GPU env by ConfigMap
@case("gpu-env", "gpu-env-deploy", "k8s-gpu-device-allowlist")
def config_map_selects_gpus(secure: bool) -> None:
    managed_namespace()
    k8s.core.v1.ConfigMap("gpu-env", metadata={"name": "gpu-env", "namespace": NS},
                          data={"LOG_LEVEL": "info"} if secure else {"NVIDIA_VISIBLE_DEVICES": "all", "LOG_LEVEL": "info"})
    server = hardened_container()
    server["envFrom"] = [{"configMapRef": {"name": "gpu-env"}}]
    k8s.apps.v1.Deployment("gpu-env-deploy", metadata={"name": "gpu-env", "namespace": NS}, spec={
        "selector": {"matchLabels": {"app": "m"}}, "template": {"metadata": {"labels": {"app": "m"}}, "spec": hardened_pod(containers=[server])}})


@case("gpu-env", "gpu-prefix-job", "k8s-gpu-device-allowlist")
def config_map_keys_gain_the_prefix_through_env_from(secure: bool) -> None:
    managed_namespace()
    k8s.core.v1.ConfigMap("devices", metadata={"name": "devices", "namespace": NS}, data={"VISIBLE_DEVICES": "0,1"})
    server = hardened_container()
    server["envFrom"] = [{"configMapRef": {"name": "devices"}, "prefix": "CUSTOM_" if secure else "NVIDIA_"}]
    k8s.batch.v1.Job("gpu-prefix-job", metadata={"name": "gpu-prefix", "namespace": NS}, spec={
        "template": {"spec": {**hardened_pod(containers=[server]), "restartPolicy": "Never"}}})


# ------------------------------------------------------------------------------------------------ system namespace
def gpu_operator() -> None:
    managed_namespace(GPU_NS, labels={"pod-security.kubernetes.io/enforce": "privileged", "modelfort.io/system-namespace": GPU_NS})
    k8s.helm.v3.Release("gpu-operator", chart="gpu-operator", version="v25.10.1", namespace=GPU_NS, values={
        "cdi": {"enabled": True},
        "toolkit": {"enabled": True, "version": "v1.18.1", "env": [
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "value": "false"},
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", "value": "true"},
            {"name": "NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES", "value": "disable-cuda-compat-lib-hook"}]},
        "devicePlugin": {"env": [{"name": "DEVICE_LIST_STRATEGY", "value": "volume-mounts"}]}})


@case("system-namespace", "sneaky-server", "k8s-no-privileged-containers")
def model_server_as_daemonset_in_gpu_operator_namespace(secure: bool) -> None:
    gpu_operator()
    k8s.apps.v1.DaemonSet("sneaky-server", metadata={"name": "sneaky", "namespace": GPU_NS}, spec={
        "selector": {"matchLabels": {"app": "s"}}, "template": {"metadata": {"labels": {"app": "s"}}, "spec": hardened_pod(secure, privileged=True)}})


@case("system-namespace", "host-net-server", "k8s-no-host-namespaces")
def host_network_daemonset_in_gpu_operator_namespace(secure: bool) -> None:
    gpu_operator()
    k8s.apps.v1.DaemonSet("host-net-server", metadata={"name": "hostnet", "namespace": GPU_NS}, spec={
        "selector": {"matchLabels": {"app": "h"}}, "template": {"metadata": {"labels": {"app": "h"}},
                                                               "spec": hardened_pod(secure, insecure={"hostNetwork": True})}})


def run(name: str, secure: bool) -> None:
    CASES[name].build(secure)

