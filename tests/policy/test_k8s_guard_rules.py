"""Model servers are reached only through the inference guard (k8s-model-served-through-guard) and, from the high
tier, the guard fails closed (k8s-guard-fails-closed): pass, fail and unknown-value fixtures judged by the pack
through the analyzer service.

`guarded_stack()` builds the pod the way ModelServing does (components/k8s/serving.py): a `modelfort guard` container
whose guard.json (rendered by components.k8s.guard.render_config) comes from a ConfigMap of the stack, a server on
127.0.0.1 without a container port, a Service to the guard's port and a NetworkPolicy admitting that port alone. It
passes every Kubernetes rule; each test changes one thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fixtures import UNKNOWN, judge_all, res
from test_kubernetes_rules import MODEL_LABELS, PRODUCTION, ROOT_DIGEST, TESTING, container, model_pod, namespace, workload

from components.k8s.guard import GuardSettings, JwtIdentity, ModelArmorGuardrail, render_config
from modelfort_policy.rules import k8s_exposure, k8s_guard, k8s_rbac
from modelfort_policy.rules import kubernetes as rules

THROUGH_GUARD = "k8s-model-served-through-guard"
FAILS_CLOSED = "k8s-guard-fails-closed"
POLICIES = tuple(r.name for r in (*rules.RULES, *k8s_rbac.RULES, *k8s_exposure.RULES, *k8s_guard.RULES))
HIGH_SENSITIVITY = {"modelfort:zone": "high-sensitivity"}
GUARD_PORT, HEALTH_PORT, SERVER_PORT = 8443, 8081, 8000
CONFIG_DIR = "/etc/modelfort/guard"
CONFIG_NAME = "m-guard"


def violations(pack, resources: list[dict]) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, resources)
    found: dict[str, set[str]] = {}
    for d in diagnostics:
        if d.policy in POLICIES:
            found.setdefault(d.policy, set()).add(d.urn.rsplit("::", 1)[-1])
    return found


def findings(pack, resources: list[dict], policy: str) -> list[tuple[str, str, str]]:
    """(urn, message, enforcement) of every diagnostic of one policy."""
    return [(d.urn, d.message, d.enforcement) for d in judge_all(pack, resources) if d.policy == policy]


def assert_flags(pack, resources: list[dict], policy: str, target: dict, fragment: str) -> None:
    """`policy` blocks `target` (by URN, mandatory) with a message containing `fragment`."""
    found = findings(pack, resources, policy)
    hits = [f for f in found if f[0] == target["urn"] and fragment in f[1]]
    assert hits, found
    assert all(enforcement == "mandatory" for _, _, enforcement in hits), hits


# ------------------------------------------------------------------------------------------------ builders
def guard_document(edit: Callable[[dict], Any] | None = None, *, tier: str = "high") -> dict:
    """guard.json as the component renders it (upstream http://127.0.0.1:8000, listen 8443, health 8081)."""
    settings = GuardSettings(
        tier=tier,
        guardrail=ModelArmorGuardrail(project="modelfort-production", location="us-central1", template="llm-floor"),
        identity=JwtIdentity(issuer="https://issuer.example.com", audience="models", jwks_url="https://issuer.example.com/jwks.json"),
    )
    document = json.loads(render_config(settings, model="m", version="1.0.0", root_digest=ROOT_DIGEST, max_tokens=4096,
                                        request_timeout_seconds=60, upstream_port=SERVER_PORT, health_path="/health"))
    if edit is not None:
        edit(document)
    return document


def guard_config_map(data: Any = None, *, name: Any = CONFIG_NAME, namespace_: str = "models") -> dict:
    data = {"guard.json": json.dumps(guard_document())} if data is None else data
    return res(rules.CONFIG_MAP, "m-guard-config", {"metadata": {"name": name, "namespace": namespace_}, "data": data})


def guard_container(**changes: Any) -> dict:
    fields = {
        "command": ["modelfort", "guard", "--config", f"{CONFIG_DIR}/guard.json"],
        "ports": [{"name": "guard", "containerPort": GUARD_PORT, "protocol": "TCP"},
                  {"name": "guard-health", "containerPort": HEALTH_PORT, "protocol": "TCP"}],
        "volumeMounts": [{"name": "guard-config", "mountPath": CONFIG_DIR, "readOnly": True}],
    }
    return container("guard", **{**fields, **changes})


def guarded_pod(*, server: dict | None = None, guard: dict | None = None, config_volume: dict | None = None,
                sidecar: bool = False) -> dict:
    """A model pod (verified weights, limits) with the guard beside the server, which listens on 127.0.0.1 only.
    `server` changes the server container; `sidecar` runs the guard as a native sidecar (init, restartPolicy Always)."""
    spec = model_pod()
    spec["containers"][0]["args"] = ["--host", "127.0.0.1", "--port", str(SERVER_PORT)]
    spec["containers"][0]["env"].append({"name": "MODELFORT_HOST", "value": "127.0.0.1"})
    spec["containers"][0].update(server or {})
    guard = guard_container() if guard is None else guard
    if sidecar:
        spec["initContainers"].append({**guard, "restartPolicy": "Always"})
    else:
        spec["containers"].append(guard)
    spec["volumes"].append(config_volume or {"name": "guard-config", "configMap": {"name": CONFIG_NAME}})
    return spec


def model_service(ports: list | None = None, selector: dict | None = None, name: str = "m-svc") -> dict:
    return res(rules.SERVICE, name, {"metadata": {"name": name, "namespace": "models"}, "spec": {
        "type": "ClusterIP", "selector": selector or {"modelfort.io/model": "m"},
        "ports": ports if ports is not None else [{"name": "guard", "port": GUARD_PORT, "targetPort": "guard", "protocol": "TCP"}]}})


def ingress_policy(rules_: list | None = None, pod_selector: dict | None = None, name: str = "m-ingress") -> dict:
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gateway"}},
              "podSelector": {"matchLabels": {"app": "gateway"}}}]
    return res(rules.NETWORK_POLICY, name, {"metadata": {"name": name, "namespace": "models"}, "spec": {
        "podSelector": pod_selector if pod_selector is not None else {"matchLabels": {"modelfort.io/model": "m"}},
        "policyTypes": ["Ingress"],
        "ingress": rules_ if rules_ is not None else [{"from": peers, "ports": [{"protocol": "TCP", "port": GUARD_PORT}]}]}})


def guarded_stack(spec: dict | None = None, *, config: dict | None = None, service: dict | None = None,
                  policy: dict | None = None, deps: dict | None = None) -> list[dict]:
    """Namespace, guard ConfigMap, model Deployment 'm', its Service and its ingress NetworkPolicy."""
    config_map = guard_config_map() if config is None else config
    deployment = workload(rules.DEPLOYMENT, "m", guarded_pod() if spec is None else spec, labels=MODEL_LABELS, deps=deps)
    return [*namespace(), config_map, deployment, service or model_service(), policy or ingress_policy()]


def stack_without(stack: list[dict], name: str) -> list[dict]:
    return [r for r in stack if r["name"] != name]


def deployment_of(stack: list[dict]) -> dict:
    return next(r for r in stack if r["name"] == "m")


def with_config(edit: Callable[[dict], Any], *, tier: str = "high") -> dict:
    return guard_config_map({"guard.json": json.dumps(guard_document(edit, tier=tier))})


# ------------------------------------------------------------------------------------------------ the conforming pod
@pytest.mark.control("RC-01", "RC-05", "RC-08", "RC-10", "RC-11", "GR-09", "WP-04", "OB-01")
@pytest.mark.parametrize("config", [PRODUCTION, TESTING], ids=["high", "standard"])
def test_a_model_pod_behind_its_guard_passes_every_kubernetes_rule(packs, config):
    assert violations(packs.get(config), guarded_stack()) == {}


@pytest.mark.control("RC-01", "OB-01")
def test_the_guard_as_a_native_sidecar_passes(packs):
    assert violations(packs.get(), guarded_stack(guarded_pod(sidecar=True))) == {}


@pytest.mark.control("RC-01", "OB-01")
def test_a_config_map_named_by_a_computed_value_is_found_through_the_pods_dependency(packs):
    """ModelServing names the ConfigMap after its content: at preview the name is unknown, the dependency is not."""
    config_map = guard_config_map(name=UNKNOWN)
    spec = guarded_pod(config_volume={"name": "guard-config", "configMap": {"name": UNKNOWN}})
    assert violations(packs.get(), guarded_stack(spec, config=config_map, deps={"spec": [config_map]})) == {}
    # Without the dependency the gate cannot tell which ConfigMap the pod mounts: not a guard it can see.
    stack = guarded_stack(spec, config=config_map)
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "ConfigMap's name is computed")


@pytest.mark.control("RC-01")
def test_a_pod_without_the_model_label_gpus_or_a_serving_kind_is_not_held_to_the_guard(packs):
    tool = workload(rules.DEPLOYMENT, "tool")
    served = model_service(selector={"app": "tool"}, ports=[{"port": 80, "targetPort": 8080}], name="tool-svc")
    assert violations(packs.get(), [*namespace(), tool, served]) == {}


# ------------------------------------------------------------------------------------------------ the guard and its config
@pytest.mark.control("RC-01", "RC-05", "RC-08", "RC-10", "RC-11", "GR-09", "WP-04", "OB-01")
def test_a_model_pod_without_a_guard_container_is_blocked(packs):
    spec = guarded_pod()
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "guard"]
    stack = guarded_stack(spec)
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "model pod has no inference guard container")
    # Below the high tier too: the guard is mandatory from the standard tier.
    assert_flags(packs.get(TESTING), stack, THROUGH_GUARD, deployment_of(stack), "model pod has no inference guard container")


@pytest.mark.control("RC-01", "OB-01")
@pytest.mark.parametrize("stack,fragment", [
    # The ConfigMap the guard's volume names is not in the stack (or not in the pod's namespace).
    (lambda: stack_without(guarded_stack(), "m-guard-config"), "ConfigMap 'm-guard' is not in this stack"),
    (lambda: guarded_stack(config=guard_config_map(namespace_="other")), "ConfigMap 'm-guard' is not in this stack"),
    # It is there, but the gate cannot read the guard's config from it.
    (lambda: guarded_stack(config=guard_config_map({"other.json": "{}"})), "has no known 'guard.json'"),
    (lambda: guarded_stack(config=guard_config_map({"guard.json": "listen: 8443"})), "is not JSON"),
    (lambda: guarded_stack(config=guard_config_map({"guard.json": "[]"})), "is not a JSON object"),
    # The guard names no config, or one that is not on a ConfigMap volume.
    (lambda: guarded_stack(guarded_pod(guard=guard_container(command=["modelfort", "guard"]))), "names no absolute --config path"),
    (lambda: guarded_stack(guarded_pod(guard=guard_container(command=["modelfort", "guard", "--config", "guard.json"]))),
     "names no absolute --config path"),
    (lambda: guarded_stack(guarded_pod(guard=guard_container(volumeMounts=[]))), "is on no volume"),
    (lambda: guarded_stack(guarded_pod(config_volume={"name": "guard-config", "emptyDir": {}})), "is not from a ConfigMap"),
], ids=["config-map-missing", "config-map-elsewhere", "key-missing", "not-json", "not-an-object", "no-config-flag",
        "relative-config", "config-on-no-volume", "config-not-from-a-config-map"])
def test_a_guard_whose_config_the_gate_cannot_find_or_read_is_blocked(packs, stack, fragment):
    resources = stack()
    assert violations(packs.get(), resources) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), resources, THROUGH_GUARD, deployment_of(resources), fragment)


@pytest.mark.control("RC-01", "OB-01")
@pytest.mark.parametrize("data", [{"guard.json": UNKNOWN}, UNKNOWN], ids=["key-unknown", "data-unknown"])
def test_a_guard_config_that_is_unknown_at_preview_never_passes(packs, data):
    """The upstream (and every decision) sits in guard.json: computed, it is a guard the gate cannot see."""
    stack = guarded_stack(config=guard_config_map(data))
    for config in (PRODUCTION, TESTING):
        assert violations(packs.get(config), stack) == {THROUGH_GUARD: {"m"}}
        assert_flags(packs.get(config), stack, THROUGH_GUARD, deployment_of(stack), "has no known 'guard.json'")
    # Nothing degrades to an advisory "can't run during preview".
    assert all("during preview" not in message for _, message, _ in findings(packs.get(), stack, THROUGH_GUARD))


@pytest.mark.control("RC-01", "OB-01")
def test_the_config_is_read_through_items_and_the_guard_config_env(packs):
    items = {"name": "guard-config", "configMap": {"name": CONFIG_NAME, "items": [{"key": "main", "path": "guard.json"}]}}
    moved = guard_config_map({"main": json.dumps(guard_document())})
    assert violations(packs.get(), guarded_stack(guarded_pod(config_volume=items), config=moved)) == {}
    by_env = guard_container(command=["modelfort", "guard"], env=[{"name": "MODELFORT_GUARD_CONFIG", "value": f"{CONFIG_DIR}/guard.json"}])
    assert violations(packs.get(), guarded_stack(guarded_pod(guard=by_env))) == {}
    # The items say which key is the file: the rule reads that key, not a same-named one.
    bad = guard_config_map({"main": json.dumps(guard_document(lambda d: d["upstream"].update(url="http://10.0.0.7:8000"))),
                            "guard.json": json.dumps(guard_document())})
    stack = guarded_stack(guarded_pod(config_volume=items), config=bad)
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "not a loopback address")


@pytest.mark.control("RC-01", "RC-08", "OB-01")
@pytest.mark.parametrize("url,fragment", [
    ("http://10.0.0.7:8000", "upstream http://10.0.0.7:8000 is not a loopback address"),
    ("http://m.models.svc.cluster.local:8000", "is not a loopback address"),
    ("http://0.0.0.0:8000", "is not a loopback address"),
    ("https://127.0.0.1:8000", "is not a loopback address"),
    (UNKNOWN, "is not a loopback address"),
    (None, "upstream.url is missing"),
], ids=["pod-address", "service-name", "any-address", "not-http", "unknown-sentinel", "missing"])
def test_the_guards_upstream_is_the_pods_loopback(packs, url, fragment):
    def edit(document: dict) -> None:
        if url is None:
            document["upstream"].pop("url")
        else:
            document["upstream"]["url"] = url

    stack = guarded_stack(config=with_config(edit))
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), fragment)


@pytest.mark.control("RC-01", "OB-01")
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://127.0.0.2:8000", "http://[::1]:8000"])
def test_any_loopback_upstream_is_accepted(packs, url):
    stack = guarded_stack(config=with_config(lambda d: d["upstream"].update(url=url)))
    assert violations(packs.get(), stack) == {}


@pytest.mark.control("RC-01", "OB-01")
def test_the_guard_listens_on_a_port_its_container_declares(packs):
    stack = guarded_stack(config=with_config(lambda d: d["listen"].update(port=9443)))
    # The Service and the NetworkPolicy point at 8443, which is no longer the guard's.
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m", "m-svc", "m-ingress"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "the guard listens on 9443, which its container does not declare")


# ------------------------------------------------------------------------------------------------ the server
@pytest.mark.control("RC-01", "NB-05", "OB-01")
@pytest.mark.parametrize("server,fragment", [
    ({"ports": [{"name": "http", "containerPort": SERVER_PORT}]}, "container 'server' declares port(s) 8000"),
    ({"args": ["--host", "0.0.0.0", "--port", str(SERVER_PORT)]}, "container 'server' binds --host 0.0.0.0"),
    ({"args": ["--host=0.0.0.0"]}, "binds --host 0.0.0.0"),
    ({"args": ["--bind", "10.0.0.7:8000"]}, "binds --bind 10.0.0.7:8000"),
    ({"command": ["text-generation-launcher", "--hostname", "::"], "args": []}, "binds --hostname ::"),
    ({"env": model_pod()["containers"][0]["env"] + [{"name": "MODELFORT_HOST", "value": "0.0.0.0"}]}, "sets MODELFORT_HOST='0.0.0.0'"),
], ids=["declares-port", "host-all", "host-equals", "bind-pod-address", "hostname-ipv6-any", "env-host"])
def test_the_server_declares_no_port_and_binds_the_loopback_only(packs, server, fragment):
    stack = guarded_stack(guarded_pod(server=server))
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), fragment)


@pytest.mark.control("RC-01", "OB-01")
@pytest.mark.parametrize("args", [["--host", "localhost"], ["--host", "::1"], ["--bind", "127.0.0.1:8000"], []])
def test_a_server_on_the_loopback_passes(packs, args):
    assert violations(packs.get(), guarded_stack(guarded_pod(server={"args": args}))) == {}


@pytest.mark.control("RC-01", "OB-01")
def test_a_second_server_container_is_held_to_the_same_contract(packs):
    spec = guarded_pod()
    spec["containers"].append(container("sidecar", args=["--host", "0.0.0.0"], ports=[{"containerPort": 9000}]))
    stack = guarded_stack(spec)
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "container 'sidecar' declares port(s) 9000")
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "container 'sidecar' binds --host 0.0.0.0")


# ------------------------------------------------------------------------------------------------ the paths in
@pytest.mark.control("RC-01", "NB-05", "OB-01")
@pytest.mark.parametrize("ports,fragment", [
    ([{"port": 80, "targetPort": SERVER_PORT}], "of Deployment 'm', not to the guard (8443, guard)"),
    ([{"port": SERVER_PORT}], "of Deployment 'm', not to the guard (8443, guard)"),
    ([{"name": "guard", "port": GUARD_PORT, "targetPort": "guard"}, {"name": "raw", "port": 80, "targetPort": SERVER_PORT}],
     "of Deployment 'm', not to the guard (8443, guard)"),
    ([{"port": HEALTH_PORT, "targetPort": "guard-health"}], "to guard-health of Deployment 'm', not to the guard"),
], ids=["server-port", "no-target-port", "one-port-of-two", "health-port"])
def test_services_selecting_the_model_pod_target_the_guard_port_only(packs, ports, fragment):
    service = model_service(ports)
    stack = guarded_stack(service=service)
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m-svc"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, service, fragment)


@pytest.mark.control("RC-01", "NB-05", "OB-01")
@pytest.mark.parametrize("ports", [[{"port": GUARD_PORT, "targetPort": GUARD_PORT}], [{"port": 443, "targetPort": "guard"}]])
def test_a_service_to_the_guard_by_number_or_name_passes(packs, ports):
    assert violations(packs.get(), guarded_stack(service=model_service(ports))) == {}


@pytest.mark.control("RC-01", "NB-05")
def test_a_service_that_selects_other_pods_is_not_the_model_pods(packs):
    docs = model_service([{"port": 80, "targetPort": SERVER_PORT}], selector={"app": "docs"}, name="docs")
    assert violations(packs.get(), [*guarded_stack(), docs]) == {}


@pytest.mark.control("RC-01", "NB-02", "NB-05")
@pytest.mark.parametrize("ingress,fragment", [
    ([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}]}], "ingress rule 0 admits every port of the model pod"),
    ([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"protocol": "TCP", "port": SERVER_PORT}]}],
     "ingress rule 0 admits port 8000"),
    ([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"protocol": "TCP"}]}], "admits every TCP port"),
    ([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"port": 8000, "endPort": 9000}]}],
     "admits ports 8000"),
    ([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"port": GUARD_PORT}]},
      {"from": [{"podSelector": {"matchLabels": {"app": "debug"}}}]}], "ingress rule 1 admits every port"),
], ids=["no-ports", "server-port", "protocol-only", "port-range", "second-rule"])
def test_network_policies_admit_the_guard_ports_only(packs, ingress, fragment):
    policy = ingress_policy(ingress)
    stack = guarded_stack(policy=policy)
    assert violations(packs.get(), stack)[THROUGH_GUARD] == {"m-ingress"}
    assert_flags(packs.get(), stack, THROUGH_GUARD, policy, fragment)


@pytest.mark.control("RC-01", "NB-02")
def test_a_namespace_wide_policy_applies_to_the_model_pod_and_one_for_other_pods_does_not(packs):
    wide = ingress_policy([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}]}], pod_selector={}, name="wide")
    stack = [*guarded_stack(), wide]
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"wide"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, wide, "admits every port of the model pod")
    docs = ingress_policy([{"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}]}],
                          pod_selector={"matchLabels": {"app": "docs"}}, name="docs")
    assert violations(packs.get(), [*guarded_stack(), docs]) == {}


@pytest.mark.control("RC-01", "NB-02")
@pytest.mark.parametrize("port", [GUARD_PORT, "guard", HEALTH_PORT])
def test_the_guard_ports_by_number_or_name_may_be_admitted(packs, port):
    rule = {"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"protocol": "TCP", "port": port}]}
    assert violations(packs.get(), guarded_stack(policy=ingress_policy([rule]))) == {}


# ------------------------------------------------------------------------------------------------ what a serving pod is
def inference_service(predictor: dict) -> dict:
    return res("kubernetes:serving.kserve.io/v1beta1:InferenceService", "isvc", {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "isvc", "namespace": "models"}, "spec": {"predictor": predictor}})


def bare_pod() -> dict:
    """A hardened pod with one server and no guard (no model label: a serving kind or GPUs make it a serving pod)."""
    spec = guarded_pod()
    spec.pop("initContainers")
    spec["containers"] = [c for c in spec["containers"] if c["name"] != "guard"]
    return spec


@pytest.mark.control("RC-01", "OB-01")
@pytest.mark.parametrize("build", [
    lambda spec: inference_service(spec),
    lambda spec: res("kubernetes:serving.knative.dev/v1:Service", "isvc", {"metadata": {"name": "isvc", "namespace": "models"},
                                                                         "spec": {"template": {"spec": spec}}}),
    lambda spec: res("kubernetes:ray.io/v1:RayService", "isvc", {"metadata": {"name": "isvc", "namespace": "models"}, "spec": {
        "rayClusterConfig": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": spec}}, "workerGroupSpecs": []}}}),
    # The generic CustomResource type, judged by its kind.
    lambda spec: res("kubernetes:apiextensions.k8s.io:CustomResource", "isvc", {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "isvc", "namespace": "models"}, "spec": {"predictor": spec}}),
], ids=["kserve", "knative", "ray-service", "generic-custom-resource"])
def test_a_serving_custom_resource_runs_the_guard(packs, build):
    unguarded = build(bare_pod())
    stack = [*namespace(), unguarded]
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"isvc"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, unguarded, "model pod has no inference guard container")
    guarded = bare_pod()
    guarded["containers"].append(guard_container())
    assert violations(packs.get(), [*namespace(), guard_config_map(), build(guarded)]) == {}


def gpu_pod(guard: bool) -> dict:
    spec = bare_pod()
    spec["containers"][0]["resources"] = {"requests": {"cpu": "1", "memory": "1Gi"},
                                          "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}
    if guard:
        spec["containers"].append(guard_container())
    return spec


@pytest.mark.control("RC-01", "OB-01")
def test_a_gpu_pod_a_service_selects_is_a_serving_pod_without_the_model_label(packs):
    server = workload(rules.DEPLOYMENT, "gpu", gpu_pod(guard=False), labels={"app": "gpu"})
    service = model_service([{"port": 80, "targetPort": SERVER_PORT}], selector={"app": "gpu"}, name="gpu-svc")
    stack = [*namespace(), server, service]
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"gpu"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, server, "model pod has no inference guard container")
    # The same pod with nothing selecting it (a batch job on a GPU) is not serving.
    assert violations(packs.get(), [*namespace(), server]) == {}
    # With the guard and a Service to its port it passes.
    guarded = workload(rules.DEPLOYMENT, "gpu", gpu_pod(guard=True), labels={"app": "gpu"})
    to_guard = model_service(selector={"app": "gpu"}, name="gpu-svc")
    assert violations(packs.get(), [*namespace(), guard_config_map(), guarded, to_guard]) == {}


# ------------------------------------------------------------------------------------------------ failing closed
@pytest.mark.control("RC-01", "RC-02", "RC-03", "RC-04")
@pytest.mark.parametrize("edit,fragment", [
    (lambda d: d["guardrail"].update(failOpen=True), "when its guardrail errors or times out (failOpen)"),
    (lambda d: d.update(guardrail={"provider": "none", "allowNoGuardrail": True, "failOpen": False}), "no cloud guardrail (provider 'none')"),
    (lambda d: d.pop("guardrail"), "no cloud guardrail (provider None)"),
    (lambda d: d.update(tier="standard"), "runs at tier 'standard', weaker than the zone's 'high'"),
    (lambda d: d.update(tier="elevated"), "runs at tier 'elevated', weaker than the zone's 'high'"),
    (lambda d: d.pop("tier"), "runs at tier None, weaker than the zone's 'high'"),
], ids=["fail-open", "provider-none", "no-guardrail", "tier-standard", "tier-elevated", "no-tier"])
def test_from_the_high_tier_the_guard_fails_closed(packs, edit, fragment):
    stack = guarded_stack(config=with_config(edit))
    assert violations(packs.get(PRODUCTION), stack) == {FAILS_CLOSED: {"m"}}
    assert_flags(packs.get(PRODUCTION), stack, FAILS_CLOSED, deployment_of(stack), fragment)


@pytest.mark.control("RC-01", "RC-02", "RC-03", "RC-04")
@pytest.mark.parametrize("edit", [
    lambda d: d["guardrail"].update(failOpen=True),
    lambda d: d.update(guardrail={"provider": "none", "allowNoGuardrail": True, "failOpen": False}),
], ids=["fail-open", "provider-none"])
def test_below_the_high_tier_failing_open_is_advisory(packs, edit):
    stack = guarded_stack(config=with_config(edit, tier="standard"))
    found = findings(packs.get(TESTING), stack, FAILS_CLOSED)
    assert found and all(urn == deployment_of(stack)["urn"] and enforcement == "advisory" for urn, _, enforcement in found), found
    assert THROUGH_GUARD not in violations(packs.get(TESTING), stack)


@pytest.mark.control("RC-01", "RC-02", "RC-03", "RC-04")
def test_the_guards_tier_is_no_weaker_than_the_zones(packs):
    stack = guarded_stack(config=with_config(lambda d: None, tier="high"))
    assert violations(packs.get(PRODUCTION), stack) == {}
    assert violations(packs.get(HIGH_SENSITIVITY), stack) == {FAILS_CLOSED: {"m"}}
    assert_flags(packs.get(HIGH_SENSITIVITY), stack, FAILS_CLOSED, deployment_of(stack), "runs at tier 'high', weaker than the zone's 'critical'")
    # A stricter guard than the zone asks for is fine.
    assert violations(packs.get(PRODUCTION), guarded_stack(config=with_config(lambda d: None, tier="critical"))) == {}


@pytest.mark.control("RC-01", "RC-02")
def test_an_unreadable_config_is_reported_once_by_the_guard_rule_not_by_fails_closed(packs):
    stack = guarded_stack(config=guard_config_map({"guard.json": UNKNOWN}))
    assert findings(packs.get(), stack, FAILS_CLOSED) == []
    assert [urn for urn, _, _ in findings(packs.get(), stack, THROUGH_GUARD)] == [deployment_of(stack)["urn"]]


# ------------------------------------------------------------------------------------------------ pack metadata
def test_the_guard_rules_name_controls_remediation_and_their_tiers():
    by_name = {rule.name: rule for rule in k8s_guard.RULES}
    assert set(by_name) == {THROUGH_GUARD, FAILS_CLOSED}
    assert by_name[THROUGH_GUARD].mandatory_from.name == "standard" and by_name[FAILS_CLOSED].mandatory_from.name == "high"
    for rule in by_name.values():
        assert rule.description and rule.remediation and all(len(c) == 5 for c in rule.controls)


def test_the_fixture_guard_config_is_the_components_own_rendering():
    document = guard_document()
    assert document["upstream"]["url"] == f"http://127.0.0.1:{SERVER_PORT}"
    assert document["listen"]["port"] == GUARD_PORT and document["listen"]["healthPort"] == HEALTH_PORT
    assert document["guardrail"] == {"provider": "model-armor", "failOpen": False, "modelArmor": {
        "project": "modelfort-production", "location": "us-central1", "template": "llm-floor"}}
    assert document["tier"] == "high"


# ------------------------------------------------------------------------------------------------ unseen values, shapes
@pytest.mark.control("RC-01", "OB-01")
def test_a_computed_config_map_name_and_content_is_a_finding_not_a_stopped_check(packs):
    """Auto-naming plus an Output.apply for guard.json: the gate sees neither, so the pod is blocked by name."""
    config_map = guard_config_map(UNKNOWN, name=UNKNOWN)
    spec = guarded_pod(config_volume={"name": "guard-config", "configMap": {"name": UNKNOWN}})
    stack = guarded_stack(spec, config=config_map, deps={"spec": [config_map]})
    assert violations(packs.get(), stack) == {THROUGH_GUARD: {"m"}}
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "has no known 'guard.json'")


@pytest.mark.control("RC-01", "NB-05")
@pytest.mark.parametrize("service", [
    model_service([{"port": 80, "targetPort": UNKNOWN}]),
    model_service(selector={"app": UNKNOWN}, name="unrelated"),
], ids=["target-port-unknown", "selector-unknown"])
def test_a_service_whose_ports_or_selector_are_unknown_is_blocked_on_its_own_urn(packs, service):
    # Even a Service that may select other pods: the gate cannot show it does not reach the server.
    stack = [*guarded_stack(), service]
    assert violations(packs.get(), stack)[THROUGH_GUARD] == {service["name"]}
    assert_flags(packs.get(), stack, THROUGH_GUARD, service, "is not known until deploy")


@pytest.mark.control("RC-01", "NB-02")
def test_a_network_policy_whose_ingress_is_unknown_is_blocked(packs):
    policy = ingress_policy(rules_=UNKNOWN)
    stack = guarded_stack(policy=policy)
    assert violations(packs.get(), stack)[THROUGH_GUARD] == {"m-ingress"}
    assert_flags(packs.get(), stack, THROUGH_GUARD, policy, "is not known until deploy")


@pytest.mark.control("RC-01")
def test_the_config_mounted_as_a_single_file_is_read(packs):
    guard = guard_container(volumeMounts=[{"name": "guard-config", "mountPath": f"{CONFIG_DIR}/guard.json",
                                           "subPath": "guard.json", "readOnly": True}])
    assert violations(packs.get(), guarded_stack(guarded_pod(guard=guard))) == {}


@pytest.mark.control("RC-01", "NB-05")
def test_the_words_modelfort_guard_in_a_servers_command_line_do_not_make_it_the_guard(packs):
    impostor = container("banner", args=["python", "serve.py", "--banner", "modelfort", "guard", "--host", "0.0.0.0"],
                         ports=[{"containerPort": 9000}])
    spec = guarded_pod()
    spec["containers"].append(impostor)
    stack = guarded_stack(spec)
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "container 'banner' declares port(s) 9000")
    assert_flags(packs.get(), stack, THROUGH_GUARD, deployment_of(stack), "binds --host 0.0.0.0")
