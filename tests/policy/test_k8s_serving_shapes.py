"""Pod specs wherever they sit (custom resources, Helm values), RBAC, model-service exposure and GPU env from
ConfigMaps: pass, fail and missing-property fixtures judged by the pack through the analyzer service."""

from __future__ import annotations

import copy

import pytest
from fixtures import flagged, judge_all, res
from test_kubernetes_rules import DIGEST_IMAGE, container, namespace, pod_spec, with_security

from modelfort_policy.pod_specs import discover, pod_templates
from modelfort_policy.rules import k8s_exposure, k8s_rbac
from modelfort_policy.rules import kubernetes as rules

POLICIES = tuple(r.name for r in (*rules.RULES, *k8s_rbac.RULES, *k8s_exposure.RULES))


def violations(pack, resources: list[dict]) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, resources)
    return {p: flagged(diagnostics, p) for p in POLICIES if flagged(diagnostics, p)}


def meta(name: str, labels: dict | None = None) -> dict:
    return {"name": name, "namespace": "models", **({"labels": labels} if labels else {})}


# ------------------------------------------------------------------------------------------------ custom resources
def inference_service(spec: dict) -> dict:
    return res("kubernetes:serving.kserve.io/v1beta1:InferenceService", "isvc",
               {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta("isvc"),
                "spec": {"predictor": spec}})


def ray_cluster(head: dict, worker: dict) -> dict:
    return res("kubernetes:ray.io/v1:RayCluster", "ray", {"metadata": meta("ray"), "spec": {
        "headGroupSpec": {"rayStartParams": {}, "template": {"metadata": {"labels": {"app": "ray"}}, "spec": head}},
        "workerGroupSpecs": [{"groupName": "gpu", "replicas": 2, "template": {"spec": worker}}]}})


def argo_workflow(spec: dict, **workflow: object) -> dict:
    """An Argo Workflow whose one template runs the spec's first container (workflow-wide pod settings in `workflow`)."""
    (first, *_rest) = spec["containers"]
    template = {"name": "main", "container": first, **{k: v for k, v in spec.items() if k != "containers"}}
    return res("kubernetes:argoproj.io/v1alpha1:Workflow", "wf", {"metadata": meta("wf"), "spec": {
        "entrypoint": "main", "templates": [template], **workflow}})


PRIVILEGED = with_security(privileged=True)


@pytest.mark.control("RI-04", "RI-09")
@pytest.mark.parametrize("build", [
    lambda spec: inference_service(spec),
    lambda spec: ray_cluster(pod_spec(), spec),
    lambda spec: res("kubernetes:kubeflow.org/v1:PyTorchJob", "job", {"metadata": meta("job"), "spec": {"pytorchReplicaSpecs": {
        "Worker": {"replicas": 2, "template": {"spec": spec}}}}}),
    lambda spec: res("kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet", "lws", {"metadata": meta("lws"), "spec": {
        "leaderWorkerTemplate": {"size": 2, "workerTemplate": {"spec": spec}}}}),
    lambda spec: res("kubernetes:serving.knative.dev/v1:Service", "kn", {"metadata": meta("kn"), "spec": {"template": {"spec": spec}}}),
    # An unknown CRD is judged by shape alone.
    lambda spec: res("kubernetes:acme.example.com/v9:ModelRunner", "runner", {"metadata": meta("runner"), "spec": {"runner": {"pod": spec}}}),
], ids=["kserve", "ray", "pytorchjob", "lws", "knative", "unknown-crd"])
def test_a_pod_spec_inside_any_custom_resource_is_judged_like_a_deployment(packs, build):
    hardened = violations(packs.get(), [*namespace(), build(pod_spec())])
    assert hardened == {}
    found = violations(packs.get(), [*namespace(), build(pod_spec(hostNetwork=True, containers=PRIVILEGED["containers"]))])
    assert "k8s-no-privileged-containers" in found and "k8s-no-host-namespaces" in found


@pytest.mark.control("RI-03", "RI-04")
def test_a_custom_resource_that_leaves_out_the_hardening_fails_on_the_missing_settings(packs):
    bare = {"containers": [{"name": "server", "image": DIGEST_IMAGE}]}
    found = violations(packs.get(), [*namespace(), inference_service(bare)])
    assert {"k8s-run-as-non-root", "k8s-no-privilege-escalation", "k8s-drop-all-capabilities", "k8s-seccomp-profile",
            "k8s-no-service-account-token", "k8s-resource-limits"} <= set(found)


@pytest.mark.control("RI-04")
def test_kserve_framework_components_carry_their_container_fields_directly(packs):
    hardened = {**pod_spec(containers=[]), "model": {**container("kserve-container"), "modelFormat": {"name": "pytorch"}}}
    hardened.pop("containers")
    assert violations(packs.get(), [*namespace(), inference_service(hardened)]) == {}
    bad = copy.deepcopy(hardened)
    bad["model"]["securityContext"]["privileged"] = True
    assert violations(packs.get(), [*namespace(), inference_service(bad)]) == {"k8s-no-privileged-containers": {"isvc"}}


@pytest.mark.control("RI-04")
def test_a_kserve_model_container_beside_listed_sidecars_is_still_judged(packs):
    # KServe runs `containers` beside the framework key's container as its sidecars: listing one must not hide it.
    component = {**pod_spec(containers=[container("sidecar")]),
                 "model": {**container("kserve-container"), "modelFormat": {"name": "pytorch"}}}
    assert violations(packs.get(), [*namespace(), inference_service(component)]) == {}
    bad = copy.deepcopy(component)
    bad["model"]["securityContext"]["privileged"] = True
    assert violations(packs.get(), [*namespace(), inference_service(bad)]) == {"k8s-no-privileged-containers": {"isvc"}}


@pytest.mark.control("RI-04")
def test_every_template_of_a_multi_template_resource_is_found_and_named():
    head, worker = pod_spec(), pod_spec(containers=[container("worker")])
    found = pod_templates("kubernetes:ray.io/v1:RayCluster", ray_cluster(head, worker)["properties"])
    assert [t.where for t in found] == ["spec.headGroupSpec.template.spec", "spec.workerGroupSpecs.0.template.spec"]
    assert found[0].metadata == {"labels": {"app": "ray"}}
    # Argo templates run one container (no `containers` list) and inherit the workflow's pod settings.
    ((where, spec, _),) = discover({"spec": {"hostPID": True, "templates": [{"name": "t", "container": {"image": "x"}}]}})
    assert where == ("spec", "templates", "0") and spec["hostPID"] is True and spec["containers"] == [{"name": "t", "image": "x"}]
    assert discover({"spec": {"templates": [{"name": "steps", "steps": []}]}}) == []


@pytest.mark.control("RI-04")
def test_the_generic_custom_resource_type_and_argo_workflows_are_judged(packs):
    generic = res("kubernetes:argoproj.io/v1alpha1:WorkflowTemplate", "wft", {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
                  "metadata": meta("wft"), "spec": {"templates": [{"name": "t", "containerSet": {"containers": PRIVILEGED["containers"]}, **{
                      k: v for k, v in pod_spec().items() if k != "containers"}}]}})
    assert "wft" in violations(packs.get(), [*namespace(), generic]).get("k8s-no-privileged-containers", set())
    assert violations(packs.get(), [*namespace(), argo_workflow(pod_spec())]) == {}
    found = violations(packs.get(), [*namespace(), argo_workflow(pod_spec(), hostNetwork=True)])
    assert found == {"k8s-no-host-namespaces": {"wf"}}


@pytest.mark.control("RI-04")
@pytest.mark.parametrize("proc_mount,blocked", [("Unmasked", True), ("Default", False), (None, False)])
def test_proc_mount_unmasked_is_refused(packs, proc_mount, blocked):
    spec = with_security(procMount=proc_mount) if proc_mount else pod_spec()
    found = violations(packs.get(), [*namespace(), res(rules.DEPLOYMENT, "d", {"metadata": meta("d"), "spec": {"template": {"spec": spec}}})])
    assert found == ({"k8s-no-privileged-containers": {"d"}} if blocked else {})


# ------------------------------------------------------------------------------------------------ Helm values
@pytest.mark.control("RI-04", "RI-09")
@pytest.mark.parametrize("values,fragment", [
    ({"server": {"podSecurityContext": {}, "securityContext": {"privileged": True}}}, "values.server.securityContext.privileged"),
    ({"deployment": {"hostNetwork": True}}, "values.deployment.hostNetwork"),
    ({"workers": [{"spec": {"hostPID": True}}]}, "values.workers[0].spec.hostPID"),
    ({"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}, "grants SYS_ADMIN"),
    ({"securityContext": {"procMount": "Unmasked"}}, "procMount is Unmasked"),
    ({"securityContext": {"privileged": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}, None),
    ({}, None),
])
def test_helm_values_of_any_chart_are_read_for_pod_security(packs, values, fragment):
    release = res(rules.HELM_RELEASE, "vllm", {"chart": "vllm/vllm-stack", "namespace": "models", "values": values})
    diagnostics = judge_all(packs.get(), [*namespace(), release])
    messages = [d.message for d in diagnostics if d.policy == "k8s-helm-values-pod-security"]
    if fragment is None:
        assert messages == []
    else:
        assert len(messages) == 1 and fragment in messages[0], messages
    missing_values = res(rules.HELM_RELEASE, "bare", {"chart": "vllm/vllm-stack", "namespace": "models"})
    assert "k8s-helm-values-pod-security" not in violations(packs.get(), [*namespace(), missing_values])


# ------------------------------------------------------------------------------------------------ RBAC
def role(kind: str, rules_: list | None) -> dict:
    return res(f"kubernetes:rbac.authorization.k8s.io/v1:{kind}", "r", {"metadata": {"name": "r"}, **({"rules": rules_} if rules_ is not None else {})})


@pytest.mark.control("RI-04", "RI-11", "SC-02")
@pytest.mark.parametrize("kind,rule,blocked", [
    ("Role", {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, True),
    ("Role", {"apiGroups": [""], "resources": ["pods/*"], "verbs": ["get", "create"]}, True),
    ("ClusterRole", {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}, True),
    ("ClusterRole", {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, True),
    ("Role", {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"]}, True),
    ("ClusterRole", {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}, True),
    ("Role", {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["model-token"], "verbs": ["get"]}, False),
    ("ClusterRole", {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}, False),
])
def test_roles_grant_no_shell_no_secrets_cluster_wide_and_no_escalation(packs, kind, rule, blocked):
    found = violations(packs.get(), [role(kind, [rule])])
    assert found == ({"k8s-rbac-no-dangerous-grants": {"r"}} if blocked else {})


@pytest.mark.control("RI-04")
def test_a_role_without_rules_grants_nothing(packs):
    assert violations(packs.get(), [role("ClusterRole", None)]) == {}


@pytest.mark.control("RI-04", "NB-05", "NB-06")
@pytest.mark.parametrize("kind,ref,subjects,blocked", [
    ("ClusterRoleBinding", "cluster-admin", [{"kind": "ServiceAccount", "name": "server", "namespace": "models"}], True),
    ("RoleBinding", "edit", [{"kind": "ServiceAccount", "name": "server", "namespace": "models"}], True),
    ("RoleBinding", "reader", [{"kind": "Group", "name": "system:unauthenticated"}], True),
    ("ClusterRoleBinding", "reader", [{"kind": "User", "name": "system:anonymous"}], True),
    ("RoleBinding", "reader", [{"kind": "ServiceAccount", "name": "server", "namespace": "models"}], False),
    ("RoleBinding", None, None, False),
])
def test_bindings_never_grant_admin_roles_nor_the_public_groups(packs, kind, ref, subjects, blocked):
    props = {"metadata": {"name": "b"}, **({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ref}} if ref else {}),
             **({"subjects": subjects} if subjects is not None else {})}
    found = violations(packs.get(), [res(f"kubernetes:rbac.authorization.k8s.io/v1:{kind}", "b", props)])
    assert found == ({"k8s-rbac-no-admin-or-public-bindings": {"b"}} if blocked else {})


# ------------------------------------------------------------------------------------------------ exposure
MODEL_LABELS = {"modelfort.io/model": "llama"}


def model_stack() -> list[dict]:
    server = res(rules.DEPLOYMENT, "server", {"metadata": meta("server"), "spec": {"template": {
        "metadata": {"labels": {"app": "llama", **MODEL_LABELS}}, "spec": pod_spec()}}})
    service = res(rules.SERVICE, "svc", {"metadata": meta("llama"), "spec": {"selector": {"app": "llama"}, "ports": [{"port": 80}]}})
    other = res(rules.SERVICE, "docs", {"metadata": meta("docs"), "spec": {"selector": {"app": "docs"}, "ports": [{"port": 80}]}})
    return [server, service, other]


def ingress(backend: str | None) -> dict:
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": backend, "port": {"number": 80}}}}
    spec = {"rules": [{"host": "m.example.com", "http": {"paths": [path] if backend is not None else []}}]}
    return res("kubernetes:networking.k8s.io/v1:Ingress", "ing", {"metadata": meta("ing"), "spec": spec})


def route(kind: str, backend: str) -> dict:
    return res(f"kubernetes:gateway.networking.k8s.io/v1:{kind}", "route", {"metadata": meta("route"), "spec": {
        "parentRefs": [{"name": "public"}], "rules": [{"backendRefs": [{"name": backend, "port": 80}]}]}})


@pytest.mark.control("NB-05", "NB-09")
@pytest.mark.parametrize("exposure,blocked", [
    (lambda: ingress("llama"), True),
    (lambda: ingress("docs"), False),
    (lambda: ingress(None), False),  # no paths: routes nothing
    (lambda: route("HTTPRoute", "llama"), True),
    (lambda: route("GRPCRoute", "llama"), True),
    (lambda: route("TLSRoute", "docs"), False),
])
def test_an_ingress_or_route_never_reaches_a_model_service(packs, exposure, blocked):
    resource = exposure()
    found = violations(packs.get(), [*namespace(), *model_stack(), resource])
    # (the bare model pod trips the model-pod rules too; only exposure is under test here)
    assert found.get("k8s-model-service-not-exposed", set()) == ({resource["name"]} if blocked else set())


@pytest.mark.control("NB-05")
def test_a_service_selecting_the_model_label_is_a_model_service_whatever_its_pods():
    assert k8s_exposure.is_model_service(type("S", (), {"props": {"spec": {"selector": MODEL_LABELS}}})(), [])


# ------------------------------------------------------------------------------------------------ GPU env by ConfigMap
def gpu_env_stack(data: dict | None, prefix: str | None = None) -> list[dict]:
    source = {"configMapRef": {"name": "gpu-env"}, **({"prefix": prefix} if prefix else {})}
    cm = res(rules.CONFIG_MAP, "cm", {"metadata": meta("gpu-env"), **({"data": data} if data is not None else {})})
    spec = pod_spec(containers=[container(envFrom=[source])])
    return [*namespace(), cm, res(rules.DEPLOYMENT, "d", {"metadata": meta("d"), "spec": {"template": {"spec": spec}}})]


@pytest.mark.control("RI-06", "RI-07")
@pytest.mark.parametrize("data,prefix,blocked", [
    ({"NVIDIA_VISIBLE_DEVICES": "all"}, None, True),
    ({"VISIBLE_DEVICES": "0,1"}, "NVIDIA_", True),
    ({"LOG_LEVEL": "info"}, None, False),
    (None, None, False),
])
def test_gpu_selection_through_a_config_map_imported_by_env_from_is_seen(packs, data, prefix, blocked):
    found = violations(packs.get(), gpu_env_stack(data, prefix))
    assert found.get("k8s-gpu-device-allowlist", set()) == ({"d"} if blocked else set())


@pytest.mark.control("RI-04")
def test_admission_patterns_describe_pods_and_are_not_judged_but_generated_objects_are(packs):
    pattern = {"spec": {"containers": [{"image": "*@sha256:*"}]}}
    generated = {"kind": "Deployment", "spec": {"template": {"spec": PRIVILEGED}}}
    policy = res("kubernetes:kyverno.io/v1:ClusterPolicy", "kp", {"metadata": {"name": "kp"}, "spec": {"rules": [
        {"name": "digests", "validate": {"pattern": pattern}},
        {"name": "gen", "generate": {"kind": "Deployment", "name": "x", "namespace": "models", "data": generated}}]}})
    found = violations(packs.get(), [*namespace(), policy])
    assert found.get("k8s-no-privileged-containers") == {"kp"}
    messages = [d.message for d in judge_all(packs.get(), [*namespace(), policy]) if d.policy == "k8s-no-privileged-containers"]
    assert all("spec.rules.1.generate.data" in m for m in messages), messages


@pytest.mark.control("NB-05")
def test_a_route_to_a_service_whose_name_is_not_known_fails_closed(packs):
    from fixtures import UNKNOWN
    found = violations(packs.get(), [*namespace(), *model_stack(), ingress(UNKNOWN)])
    assert found.get("k8s-model-service-not-exposed") == {"ing"}
