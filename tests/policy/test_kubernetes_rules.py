"""Kubernetes rules with pass, fail and missing-property fixtures, judged by the pack through the analyzer service.

Fixtures are raw objects in engine form (camelCase), as any program's would be: the pack does not know ModelFort's
components. `hardened_*` builds an object that passes every rule; each test changes one thing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from modelfort_policy.rules import kubernetes as rules

K8S_POLICIES = tuple(rule.name for rule in rules.RULES)
DIGEST_IMAGE = "registry.example.com/team/server@sha256:" + "a" * 64
PRODUCTION = {"modelfort:zone": "production"}
TESTING = {"modelfort:zone": "testing"}
ROOT_DIGEST = "5c1e" + "0" * 60


def violations(pack, resources: list[dict]) -> dict[str, set[str]]:
    diagnostics = judge_all(pack, resources)
    return {policy: flagged(diagnostics, policy) for policy in K8S_POLICIES if flagged(diagnostics, policy)}


# ------------------------------------------------------------------------------------------------ builders
def container(name: str = "app", **changes: Any) -> dict:
    base = {
        "name": name,
        "image": DIGEST_IMAGE,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    }
    base.update(changes)
    return base


def pod_spec(**changes: Any) -> dict:
    spec = {
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "RuntimeDefault"}},
        "containers": [container()],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    spec.update(changes)
    return spec


def workload(kind: str, name: str, spec: dict | None = None, *, namespace: str | None = "models",
             labels: dict | None = None, annotations: dict | None = None, deps: dict | None = None) -> dict:
    """Any workload kind, with `spec` as its pod spec (placed where that kind keeps it)."""
    spec = pod_spec() if spec is None else spec
    pod_meta = {"labels": labels or {"app": name}, **({"annotations": annotations} if annotations else {})}
    metadata = {"name": name, **({"namespace": namespace} if namespace is not None else {})}
    template = {"metadata": pod_meta, "spec": spec}
    selector = {"matchLabels": pod_meta["labels"]}
    base = kind.removesuffix("Patch")
    if base == rules.POD:
        props = {"metadata": {**metadata, **pod_meta}, "spec": spec}
    elif base == rules.POD_TEMPLATE:
        props = {"metadata": metadata, "template": template}
    elif base == rules.CRON_JOB:
        props = {"metadata": metadata, "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    elif base == rules.JOB:
        props = {"metadata": metadata, "spec": {"template": template}}
    else:
        props = {"metadata": {**metadata, "labels": pod_meta["labels"]}, "spec": {"selector": selector, "template": template}}
    return res(kind, name, props, deps)


def namespace(name: str = "models", *, labels: dict | None = None, quota: bool = True, deny: bool = True,
              exec_deny: bool = True) -> list[dict]:
    """A namespace with everything the namespace rules ask for (each part can be left out)."""
    psa = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    ns = res(rules.NAMESPACE, f"{name}-ns", {"metadata": {"name": name, "labels": {**psa, **(labels or {})}}})
    resources = [ns]
    if deny:
        resources.append(res(rules.NETWORK_POLICY, f"{name}-deny", {"metadata": {"name": "default-deny", "namespace": name},
                                                                     "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}))
    if quota:
        resources += [
            res(rules.RESOURCE_QUOTA, f"{name}-quota", {"metadata": {"name": "q", "namespace": name}, "spec": {"hard": {
                "limits.cpu": "8", "limits.memory": "64Gi", "requests.nvidia.com/gpu": "2"}}}),
            res(rules.LIMIT_RANGE, f"{name}-limits", {"metadata": {"name": "l", "namespace": name}, "spec": {"limits": [
                {"type": "Container", "default": {"cpu": "1", "memory": "1Gi"}, "max": {"cpu": "8", "memory": "64Gi"}}]}}),
        ]
    if exec_deny:
        resources += exec_deny_objects(name)
    return resources


def exec_deny_objects(name: str, *, policy_changes: dict | None = None, binding_changes: dict | None = None,
                      selector: dict | None = None) -> list[dict]:
    policy_spec = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
                                                "resources": ["pods/exec", "pods/attach", "pods/portforward"]}]},
        "validations": [{"expression": "false"}],
        **(policy_changes or {}),
    }
    policy = res(rules.ADMISSION_POLICY, f"{name}-vap", {"metadata": {"name": f"deny-{name}"}, "spec": policy_spec})
    binding_spec = {
        "policyName": f"deny-{name}",
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": selector if selector is not None else {"matchLabels": {"kubernetes.io/metadata.name": name}}},
        **(binding_changes or {}),
    }
    return [policy, res(rules.ADMISSION_BINDING, f"{name}-vapb", {"metadata": {"name": f"deny-{name}"}, "spec": binding_spec})]


def gpu_operator_stack(values_changes: dict | None = None, *, version: str = "v25.10.1", labelled: bool = True) -> list[dict]:
    labels = {"pod-security.kubernetes.io/enforce": "privileged"}
    if labelled:
        labels["modelfort.io/system-namespace"] = "gpu-operator"
    ns = res(rules.NAMESPACE, "gpu-ns", {"metadata": {"name": "gpu-operator", "labels": labels}})
    values = {
        "cdi": {"enabled": True},
        "toolkit": {"enabled": True, "version": "v1.18.1", "env": [
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "value": "false"},
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", "value": "true"},
            {"name": "NVIDIA_CONTAINER_TOOLKIT_OPT_IN_FEATURES", "value": "disable-cuda-compat-lib-hook"},
        ]},
        "devicePlugin": {"env": [{"name": "DEVICE_LIST_STRATEGY", "value": "volume-mounts"}]},
    }
    values.update(values_changes or {})
    release = res(rules.HELM_RELEASE, "gpu-operator", {"chart": "gpu-operator", "version": version, "namespace": "gpu-operator",
                                                       "values": values}, {"namespace": [ns]})
    deny = res(rules.NETWORK_POLICY, "gpu-deny", {"metadata": {"name": "default-deny", "namespace": "gpu-operator"},
                                                   "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    return [ns, release, deny, *exec_deny_objects("gpu-operator")]


def with_container(**changes: Any) -> dict:
    return pod_spec(containers=[container(**changes)])


def with_security(**changes: Any) -> dict:
    context = {**container()["securityContext"], **changes}
    return with_container(securityContext=context)


def without(mapping: dict, *keys: str) -> dict:
    copied = copy.deepcopy(mapping)
    for key in keys:
        copied.pop(key, None)
    return copied


# ------------------------------------------------------------------------------------------------ pod templates
@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RI-09", "ST-05", "RC-11")
@pytest.mark.parametrize("kind", sorted(rules.POD_SPEC_PATHS))
def test_a_hardened_workload_of_every_kind_passes(packs, kind):
    assert violations(packs.get(), [*namespace(), workload(kind, "w")]) == {}


@pytest.mark.control("RI-04", "RI-03", "RI-02", "RI-09")
@pytest.mark.parametrize("kind", sorted(rules.POD_SPEC_PATHS))
def test_every_kind_goes_through_the_same_pod_template_extractor(packs, kind):
    spec = pod_spec(hostPID=True, containers=[container(securityContext={**container()["securityContext"], "privileged": True})])
    found = violations(packs.get(), [*namespace(), workload(kind, "w", spec)])
    assert found == {"k8s-no-privileged-containers": {"w"}, "k8s-no-host-namespaces": {"w"}}


@pytest.mark.parametrize(
    "spec,expected",
    [
        # RI-04
        (with_security(privileged=True), "k8s-no-privileged-containers"),
        (with_security(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}), "k8s-drop-all-capabilities"),
        (with_security(capabilities={"drop": ["NET_RAW"]}), "k8s-drop-all-capabilities"),
        (with_security(allowPrivilegeEscalation=True), "k8s-no-privilege-escalation"),
        # RI-03
        (with_security(runAsNonRoot=False), "k8s-run-as-non-root"),
        (with_security(runAsUser=0), "k8s-run-as-non-root"),
        (pod_spec(securityContext={**pod_spec()["securityContext"], "runAsUser": 0},
                  containers=[container(securityContext=without(container()["securityContext"], "runAsUser"))]), "k8s-run-as-non-root"),
        # RI-02
        (with_security(readOnlyRootFilesystem=False), "k8s-read-only-root-filesystem"),
        # RI-09
        (pod_spec(hostPID=True), "k8s-no-host-namespaces"),
        (pod_spec(hostIPC=True), "k8s-no-host-namespaces"),
        (pod_spec(hostNetwork=True), "k8s-no-host-namespaces"),
        (pod_spec(shareProcessNamespace=True), "k8s-no-host-namespaces"),
        (pod_spec(volumes=[{"name": "root", "hostPath": {"path": "/"}}]), "k8s-restricted-volumes"),
        (pod_spec(volumes=[{"name": "share", "nfs": {"server": "10.0.0.1", "path": "/"}}]), "k8s-restricted-volumes"),
        (with_container(ports=[{"containerPort": 8000, "hostPort": 8000}]), "k8s-no-host-ports"),
        # RI-05
        (pod_spec(securityContext={"seccompProfile": {"type": "Unconfined"}, "appArmorProfile": {"type": "RuntimeDefault"}}), "k8s-seccomp-profile"),
        (with_security(seccompProfile={"type": "Unconfined"}), "k8s-seccomp-profile"),
        (pod_spec(securityContext={"seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Unconfined"}}), "k8s-apparmor-profile"),
        # RI-06
        (with_container(env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]), "k8s-gpu-device-allowlist"),
        (with_container(env=[{"name": "nvidia_driver_capabilities", "value": "all"}]), "k8s-gpu-device-allowlist"),
        (with_container(envFrom=[{"prefix": "NVIDIA_", "configMapRef": {"name": "gpus"}}]), "k8s-gpu-device-allowlist"),
        (with_container(resources={"requests": {"nvidia.com/gpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}}), "k8s-gpus-through-limits"),
        (with_container(resources={"requests": {"nvidia.com/gpu": "2"}, "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1}}),
         "k8s-gpus-through-limits"),
        # ST-05
        (with_container(image="registry.example.com/team/server:1.0"), "k8s-image-pinned-by-digest"),
        (with_container(image="registry.example.com/team/server@sha256:abc"), "k8s-image-pinned-by-digest"),
        # RC-11
        (with_container(resources={"limits": {"cpu": "1"}}), "k8s-resource-limits"),
        # NB-06
        (pod_spec(automountServiceAccountToken=True), "k8s-no-service-account-token"),
        # SC-02
        (with_container(env=[{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]), "k8s-no-secrets-in-env"),
        (with_container(envFrom=[{"secretRef": {"name": "db"}}]), "k8s-no-secrets-in-env"),
    ],
)
def test_each_unsafe_pod_setting_is_flagged_by_its_rule(packs, spec, expected):
    assert violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "w", spec)]) == {expected: {"w"}}


def test_unsafe_settings_in_init_and_ephemeral_containers_count_too(packs):
    spec = pod_spec(
        initContainers=[container("init", securityContext={**container()["securityContext"], "privileged": True})],
        ephemeralContainers=[{"name": "debug", "image": "busybox:latest", "securityContext": container()["securityContext"]}],
    )
    assert violations(packs.get(), [*namespace(), workload(rules.POD, "p", spec)]) == {
        "k8s-no-privileged-containers": {"p"}, "k8s-image-pinned-by-digest": {"p"},
    }


@pytest.mark.control("RI-05", "RI-06")
def test_legacy_annotations_and_cdi_annotations_are_judged(packs):
    unconfined = workload(rules.DEPLOYMENT, "legacy", pod_spec(securityContext={}),
                          annotations={"container.apparmor.security.beta.kubernetes.io/app": "unconfined",
                                       "seccomp.security.alpha.kubernetes.io/pod": "runtime/default"})
    cdi = workload(rules.DEPLOYMENT, "cdi", annotations={"cdi.k8s.io/gpu": "nvidia.com/gpu=all"})
    assert violations(packs.get(), [*namespace(), unconfined, cdi]) == {
        "k8s-apparmor-profile": {"legacy"}, "k8s-gpu-device-allowlist": {"cdi"},
    }


@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RC-11", "ST-05")
def test_missing_settings_are_flagged_never_assumed_safe(packs):
    bare = {"containers": [{"name": "app"}]}
    assert violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "bare", bare)]) == {
        policy: {"bare"}
        for policy in (
            "k8s-run-as-non-root", "k8s-read-only-root-filesystem", "k8s-drop-all-capabilities", "k8s-no-privilege-escalation",
            "k8s-seccomp-profile", "k8s-apparmor-profile", "k8s-resource-limits", "k8s-no-service-account-token",
            "k8s-image-pinned-by-digest",
        )
    }


def test_pod_level_settings_are_inherited_by_containers(packs):
    inherited = pod_spec(
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "model.json"},
                         "appArmorProfile": {"type": "RuntimeDefault"}},
        containers=[container(securityContext=without(container()["securityContext"], "runAsNonRoot"))],
    )
    assert violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "w", inherited)]) == {}


@pytest.mark.control("RI-04")
def test_patches_are_judged_on_what_they_set_not_what_they_leave_out(packs):
    loosen = workload(rules.DEPLOYMENT + "Patch", "loosen", {"containers": [{"name": "app", "securityContext": {"privileged": True}}]},
                      namespace="elsewhere")
    retag = workload(rules.DEPLOYMENT + "Patch", "retag", {"containers": [{"name": "app", "image": "registry.example.com/app:2"}]},
                     namespace="elsewhere")
    benign = workload(rules.DEPLOYMENT + "Patch", "scale", {"containers": [{"name": "app"}]}, namespace="elsewhere")
    assert violations(packs.get(), [loosen, retag, benign]) == {
        "k8s-no-privileged-containers": {"loosen"}, "k8s-image-pinned-by-digest": {"retag"},
    }


# ------------------------------------------------------------------------------------------------ SC-02 literal values
@pytest.mark.control("SC-02", "SC-01")
@pytest.mark.parametrize(
    "name,value,flagged_",
    [
        ("AWS_ACCESS_KEY_ID", "AKIA" + "Z" * 16, True),
        ("ANYTHING", "-----BEGIN RSA PRIVATE KEY-----\nMIIE...", True),
        ("OPENAI", "sk-proj-" + "Ab3" * 10, True),
        ("GH", "ghp_" + "a1B2" * 9, True),
        ("HF", "hf_" + "Qx7" * 11, True),
        ("DATABASE_URL", "postgres://admin:hunter22@db.internal:5432/app", True),
        ("SERVICE_API_KEY", "q8ZrT1vX4mN7pL2sW9eY6uJ3", True),
        ("SIGNING_SECRET", "9f86d081884c7d659a2feaa0c55ad015", True),
        ("MODELFORT_MAX_TOKENS", "4096", False),
        ("CACHE_KEY", "models-cache", False),
        ("PUBLIC_KEY", "s3://reference/keys/release.pub.pem", False),
        ("KMS_KEY", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", False),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token", False),
        ("TOKEN_LIMIT", "aaaaaaaaaaaaaaaaaaaaaaaa", False),
    ],
)
def test_literal_credentials_in_env_are_flagged(packs, name, value, flagged_):
    found = violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "w", with_container(env=[{"name": name, "value": value}]))])
    assert found == ({"k8s-no-literal-credentials": {"w"}} if flagged_ else {})


def test_a_flagged_credential_is_never_echoed_in_the_message(packs):
    secret = "AKIA" + "Y" * 16
    diagnostics = judge_all(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "w", with_container(env=[{"name": "K", "value": secret}]))])
    messages = [d.message for d in diagnostics if d.policy == "k8s-no-literal-credentials"]
    assert messages and not any(secret in m for m in messages)


# ------------------------------------------------------------------------------------------------ model pods
MODEL_LABELS = {"app": "m", "modelfort.io/model": "m"}


def model_pod(verifier: dict | None = None, server_mount: dict | None = None, env: list | None = None) -> dict:
    verifier = verifier if verifier is not None else container(
        "verify", command=["modelfort", "verify-weights", "s3://w/models/m/1", "--root-digest", ROOT_DIGEST, "--download-dir", "/models/model"],
        volumeMounts=[{"name": "models", "mountPath": "/models"}])
    server = container("server", volumeMounts=[server_mount or {"name": "models", "mountPath": "/models", "readOnly": True}],
                       env=env if env is not None else [{"name": "MODELFORT_MAX_TOKENS", "value": "4096"},
                                                        {"name": "MODELFORT_REQUEST_TIMEOUT_SECONDS", "value": "60"}])
    return pod_spec(initContainers=[verifier], containers=[server], volumes=[{"name": "models", "emptyDir": {}}])


@pytest.mark.control("WP-05", "ST-01", "WP-02", "RC-09", "RC-10")
@pytest.mark.parametrize(
    "spec,expected",
    [
        (model_pod(), {}),
        (pod_spec(), {"k8s-model-weights-verified": {"m"}, "k8s-model-server-limits": {"m"}}),
        (model_pod(server_mount={"name": "models", "mountPath": "/models"}), {"k8s-model-weights-verified": {"m"}}),
        (model_pod(verifier=container("verify", command=["modelfort", "verify-weights", "s3://w/m", "--download-dir", "/models/m"],
                                      volumeMounts=[{"name": "models", "mountPath": "/models"}])), {"k8s-model-weights-verified": {"m"}}),
        (model_pod(env=[{"name": "MODELFORT_MAX_TOKENS", "value": "4096"}]), {"k8s-model-server-limits": {"m"}}),
        (model_pod(env=[{"name": "MODELFORT_MAX_TOKENS", "value": "0"}, {"name": "MODELFORT_REQUEST_TIMEOUT_SECONDS", "value": "601"}]),
         {"k8s-model-server-limits": {"m"}}),
    ],
)
def test_model_pods_verify_weights_read_only_and_receive_limits(packs, spec, expected):
    assert violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "m", spec, labels=MODEL_LABELS)]) == expected


def test_pods_without_the_model_label_are_not_held_to_the_model_contract(packs):
    assert violations(packs.get(), [*namespace(), workload(rules.DEPLOYMENT, "tool", pod_spec())]) == {}


# ------------------------------------------------------------------------------------------------ namespaces
@pytest.mark.control("NB-02", "RI-11")
def test_workloads_must_land_in_a_namespace_the_stack_creates(packs):
    stray = workload(rules.DEPLOYMENT, "stray", namespace=None)
    elsewhere = workload(rules.DEPLOYMENT, "elsewhere", namespace="team-a")
    assert violations(packs.get(), [*namespace(), stray, elsewhere]) == {"k8s-workload-namespace-managed": {"stray", "elsewhere"}}


def test_a_namespace_is_matched_by_dependency_while_its_name_is_unknown(packs):
    objects = namespace()
    ns = objects[0]
    ns["properties"]["metadata"]["name"] = UNKNOWN
    for obj in objects[1:]:
        if obj["properties"].get("metadata", {}).get("namespace"):
            obj["properties"]["metadata"]["namespace"] = UNKNOWN
            obj["propertyDependencies"] = {"metadata": [ns["urn"]]}
            obj["dependencies"] = [ns["urn"]]
    deployment = workload(rules.DEPLOYMENT, "w", namespace=UNKNOWN, deps={"metadata": [ns]})
    # The exec-deny binding selects the namespace by name, which is unknown here: only that rule cannot tell.
    assert set(violations(packs.get(), [*objects, deployment])) <= {"k8s-namespace-denies-interactive"}


@pytest.mark.control("RI-02", "RI-03", "RI-04", "RI-05", "RI-09")
@pytest.mark.parametrize(
    "labels,expected",
    [
        ({"pod-security.kubernetes.io/enforce": "restricted"}, {}),
        ({"pod-security.kubernetes.io/enforce": "baseline"}, {"k8s-namespace-pod-security": {"models-ns"}}),
        ({"pod-security.kubernetes.io/enforce": "privileged"}, {"k8s-namespace-pod-security": {"models-ns"}}),
        ({}, {"k8s-namespace-pod-security": {"models-ns"}}),
    ],
)
def test_namespaces_enforce_restricted_pod_security(packs, labels, expected):
    objects = namespace()
    objects[0]["properties"]["metadata"]["labels"] = labels
    assert violations(packs.get(), objects) == expected


@pytest.mark.control("NB-02")
@pytest.mark.parametrize(
    "spec,missing",
    [
        ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, None),
        ({"podSelector": {}, "policyTypes": ["Ingress"]}, "egress"),
        ({"podSelector": {}}, "egress"),
        ({"podSelector": {}, "policyTypes": ["Egress"]}, "ingress"),
        ({"podSelector": {"matchLabels": {"app": "x"}}, "policyTypes": ["Ingress", "Egress"]}, "both"),
        ({"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}, "egress"),
        ({}, "both"),
    ],
)
def test_namespaces_need_default_deny_ingress_and_egress(packs, spec, missing):
    objects = namespace()
    deny = next(o for o in objects if o["name"] == "models-deny")
    deny["properties"]["spec"] = spec
    diagnostics = judge_all(packs.get(), objects)
    messages = [d.message for d in diagnostics if d.policy == "k8s-namespace-default-deny"]
    expected = {None: set(), "ingress": {"ingress"}, "egress": {"egress"}, "both": {"ingress", "egress"}}[missing]
    assert {direction for direction in ("ingress", "egress") for m in messages if f"has no default-deny {direction}" in m} == expected


def test_separate_ingress_and_egress_default_deny_policies_count(packs):
    objects = [o for o in namespace() if o["name"] != "models-deny"] + [
        res(rules.NETWORK_POLICY, "deny-in", {"metadata": {"namespace": "models"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        res(rules.NETWORK_POLICY, "deny-out", {"metadata": {"namespace": "models"}, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
    ]
    assert violations(packs.get(), objects) == {}
    other_namespace = [o for o in namespace() if o["name"] != "models-deny"] + [
        res(rules.NETWORK_POLICY, "deny", {"metadata": {"namespace": "other"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    ]
    assert violations(packs.get(), other_namespace) == {"k8s-namespace-default-deny": {"models-ns"}}


@pytest.mark.control("NB-02", "NB-03")
@pytest.mark.parametrize(
    "spec,is_open",
    [
        ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "10.30.0.0/16"}}], "ports": [{"port": 443}]}]}, False),
        ({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "gw"}}}]}]}, False),
        ({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"a": "b"}}}]}]}, False),
        ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 443}]}]}, True),
        ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}, True),
        ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}, True),
        ({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "::/0"}}]}]}, True),
        ({"podSelector": {}, "ingress": [{}]}, True),
        ({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}, True),
        ({"podSelector": {}}, False),
    ],
)
def test_no_network_policy_rule_allows_everyone(packs, spec, is_open):
    policy = res(rules.NETWORK_POLICY, "np", {"metadata": {"namespace": "models"}, "spec": spec})
    assert flagged(packs.get().analyze(policy), "k8s-network-policy-not-open") == ({"np"} if is_open else set())


GKE_METADATA_EGRESS = [
    {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"protocol": "TCP", "port": 80}]},
    {"to": [{"ipBlock": {"cidr": "169.254.169.252/32"}}], "ports": [{"protocol": "TCP", "port": 988}]},
]


def _gke(pool_mode: str = "GKE_METADATA", *, keep_default_pool: bool = False) -> list[dict]:
    cluster = {"removeDefaultNodePool": not keep_default_pool}
    if keep_default_pool:
        cluster["nodeConfig"] = {"workloadMetadataConfig": {"mode": "GCE_METADATA"}}
    return [res(rules.GKE_CLUSTER, "gke", cluster),
            res(rules.GKE_NODE_POOL, "gpu", {"nodeConfig": {"workloadMetadataConfig": {"mode": pool_mode}}})]


def _egress(*rules_: dict) -> dict:
    return res(rules.NETWORK_POLICY, "np", {"metadata": {"namespace": "models"},
                                             "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": list(rules_)}})


@pytest.mark.control("NB-03", "NB-06")
@pytest.mark.parametrize(
    "objects,blocked",
    [
        # The GKE metadata server, on GKE whose every pool runs it: Workload Identity, never the node's credentials.
        (lambda: [*_gke(), _egress(*GKE_METADATA_EGRESS)], False),
        # The same addresses where they are the node's instance metadata.
        (lambda: [_egress(*GKE_METADATA_EGRESS)], True),
        (lambda: [*_gke(pool_mode="GCE_METADATA"), _egress(*GKE_METADATA_EGRESS)], True),
        (lambda: [*_gke(keep_default_pool=True), _egress(*GKE_METADATA_EGRESS)], True),
        (lambda: [*_gke(), res("aws:eks/cluster:Cluster", "eks", {}), _egress(*GKE_METADATA_EGRESS)], True),
        # The right address on any other port, or on every port, is not the metadata server's allowance.
        (lambda: [*_gke(), _egress({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 443}]})], True),
        (lambda: [*_gke(), _egress({"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}]})], True),
        (lambda: [*_gke(), _egress({"to": [{"ipBlock": {"cidr": "169.254.0.0/16"}}], "ports": [{"port": 80}]})], True),
        # A wide range covers link-local unless it excepts it.
        (lambda: [_egress({"to": [{"ipBlock": {"cidr": "160.0.0.0/4"}}], "ports": [{"port": 443}]})], True),
        (lambda: [_egress({"to": [{"ipBlock": {"cidr": "160.0.0.0/4", "except": ["169.254.0.0/16"]}}], "ports": [{"port": 443}]})], False),
        (lambda: [_egress({"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 443}]})], False),
    ],
)
def test_egress_to_link_local_is_blocked_except_the_gke_metadata_server_on_gke(packs, objects, blocked):
    assert flagged(judge_all(packs.get(), objects()), "k8s-egress-no-link-local") == ({"np"} if blocked else set())


@pytest.mark.control("RC-11")
def test_namespaces_cap_cpu_memory_and_gpus(packs):
    assert violations(packs.get(), namespace()) == {}
    assert violations(packs.get(), namespace(quota=False)) == {"k8s-namespace-quota": {"models-ns"}}
    no_gpu = namespace()
    next(o for o in no_gpu if o["name"] == "models-quota")["properties"]["spec"]["hard"].pop("requests.nvidia.com/gpu")
    assert violations(packs.get(), no_gpu) == {"k8s-namespace-quota": {"models-ns"}}
    scoped = namespace()
    next(o for o in scoped if o["name"] == "models-quota")["properties"]["spec"]["scopes"] = ["BestEffort"]
    assert violations(packs.get(), scoped) == {"k8s-namespace-quota": {"models-ns"}}
    no_defaults = namespace()
    next(o for o in no_defaults if o["name"] == "models-limits")["properties"]["spec"]["limits"][0].pop("default")
    assert violations(packs.get(), no_defaults) == {"k8s-namespace-quota": {"models-ns"}}


# ------------------------------------------------------------------------------------------------ RI-11
@pytest.mark.control("RI-11")
@pytest.mark.parametrize(
    "objects,blocked",
    [
        (exec_deny_objects("models"), False),
        ([], True),
        (exec_deny_objects("models")[:1], True),
        (exec_deny_objects("models")[1:], True),
        (exec_deny_objects("models", policy_changes={"failurePolicy": "Ignore"}), True),
        (exec_deny_objects("models", policy_changes={"validations": [{"expression": "request.userInfo.username != 'admin'"}]}), True),
        (exec_deny_objects("models", policy_changes={"matchConditions": [{"name": "not-admins", "expression": "true"}]}), True),
        (exec_deny_objects("models", policy_changes={"matchConstraints": {"resourceRules": [
            {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"], "resources": ["pods/exec"]}]}}), True),
        (exec_deny_objects("models", policy_changes={"matchConstraints": {"resourceRules": [
            {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["pods/*"]}]}}), False),
        (exec_deny_objects("models", policy_changes={"matchConstraints": {
            "resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
                               "resources": ["pods/exec", "pods/attach", "pods/portforward"]}],
            "namespaceSelector": {"matchLabels": {"exec-denied": "true"}}}}), True),
        (exec_deny_objects("models", binding_changes={"matchResources": {
            "namespaceSelector": {}, "objectSelector": {"matchExpressions": [{"key": "debug", "operator": "DoesNotExist"}]}}}), True),
        (exec_deny_objects("models", binding_changes={"validationActions": ["Warn", "Audit"]}), True),
        (exec_deny_objects("models", selector={"matchLabels": {"kubernetes.io/metadata.name": "other"}}), True),
        (exec_deny_objects("models", selector={}), False),
        (exec_deny_objects("models", selector={"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["models", "x"]}]}), False),
        (exec_deny_objects("models", selector={"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["x"]}]}), True),
    ],
)
def test_from_the_high_tier_namespaces_refuse_exec_attach_and_port_forward(packs, objects, blocked):
    resources = [*namespace(exec_deny=False), *objects]
    expected = {"k8s-namespace-denies-interactive": {"models-ns"}} if blocked else {}
    assert violations(packs.get(PRODUCTION), resources) == expected
    assert violations(packs.get({"modelfort:zone": "high-sensitivity"}), resources) == expected
    # Below the high tier interactive debugging is allowed.
    assert violations(packs.get(TESTING), resources) == {}


# ------------------------------------------------------------------------------------------------ system namespace
NODE_AGENT = pod_spec(hostPID=True, automountServiceAccountToken=True, securityContext={},
                      containers=[{"name": "agent", "image": DIGEST_IMAGE, "securityContext": {"privileged": True},
                                   "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
                                   "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}],
                      volumes=[{"name": "dev", "hostPath": {"path": "/dev"}}])


def chart_agent(spec: dict = NODE_AGENT, *, chart: str = "nvidia/gpu-operator", **kwargs: Any) -> list[dict]:
    """A DaemonSet rendered by a Helm Chart component (its parent), as the chart's operands are."""
    parent = res("kubernetes:helm.sh/v4:Chart", f"chart-{chart.rsplit('/', 1)[-1]}", {"chart": chart, "namespace": "gpu-operator"})
    agent = workload(rules.DAEMON_SET, "agent", spec, namespace=kwargs.pop("namespace", "gpu-operator"), **kwargs)
    return [parent, {**agent, "parent": parent["urn"]}]


@pytest.mark.control("RI-04", "RI-06", "RI-07")
def test_a_node_agent_daemonset_is_exempt_only_in_the_verified_gpu_operator_namespace(packs):
    stack = gpu_operator_stack()
    assert violations(packs.get(), [*stack, *chart_agent()]) == {}
    # Declared by the program itself (not rendered by the operator's chart), or by another chart: judged like any pod.
    for agent in ([workload(rules.DAEMON_SET, "agent", NODE_AGENT, namespace="gpu-operator")], chart_agent(chart="acme/model-server")):
        assert "agent" in violations(packs.get(), [*stack, *agent])["k8s-no-privileged-containers"]
    # The same DaemonSet in a model namespace is judged like any pod.
    elsewhere = violations(packs.get(), [*stack, *namespace(), workload(rules.DAEMON_SET, "agent", NODE_AGENT)])
    assert {"k8s-no-privileged-containers", "k8s-no-host-namespaces", "k8s-restricted-volumes", "k8s-gpu-device-allowlist"} <= set(elsewhere)


@pytest.mark.control("RI-04", "RI-08")
@pytest.mark.parametrize(
    "extra,expected",
    [
        # A model workload in the system namespace: the namespace loses its standing and everything is judged.
        (lambda: [workload(rules.DEPLOYMENT, "model", namespace="gpu-operator")],
         {"k8s-system-namespace": {"gpu-ns"}, "k8s-namespace-pod-security": {"gpu-ns"}, "k8s-namespace-quota": {"gpu-ns"},
          "k8s-gpu-operator-hardened": {"gpu-operator"}}),
        # Another chart in the system namespace.
        (lambda: [res(rules.HELM_RELEASE, "miner", {"chart": "crypto/miner", "namespace": "gpu-operator", "values": {}})],
         {"k8s-system-namespace": {"gpu-ns"}, "k8s-namespace-pod-security": {"gpu-ns"}, "k8s-namespace-quota": {"gpu-ns"},
          "k8s-gpu-operator-hardened": {"gpu-operator"}}),
    ],
)
def test_the_system_namespace_holds_nothing_but_its_agents(packs, extra, expected):
    found = violations(packs.get(), [*gpu_operator_stack(), *chart_agent(), *extra()])
    assert {k: v for k, v in found.items() if "agent" not in v} == expected
    # ...and the agent is no longer exempt either.
    assert "agent" in found["k8s-no-privileged-containers"]


@pytest.mark.control("RI-04")
@pytest.mark.parametrize(
    "labels,limits",
    [({"app": "agent", "modelfort.io/model": "m"}, {"cpu": "1", "memory": "1Gi"}),
     ({"app": "agent"}, {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})],
)
def test_daemonsets_with_gpus_or_a_model_label_are_never_exempt(packs, labels, limits):
    spec = copy.deepcopy(NODE_AGENT)
    spec["containers"][0]["resources"] = {"limits": limits}
    found = violations(packs.get(), [*gpu_operator_stack(), *chart_agent(spec, labels=labels)])
    assert found.get("k8s-no-privileged-containers") == {"agent"}


def test_a_self_labelled_namespace_without_the_operator_is_not_a_system_namespace(packs):
    sneaky = namespace("sneaky", labels={"modelfort.io/system-namespace": "gpu-operator", "pod-security.kubernetes.io/enforce": "privileged"})
    agent = workload(rules.DAEMON_SET, "agent", NODE_AGENT, namespace="sneaky")
    found = violations(packs.get(), [*sneaky, agent])
    assert found["k8s-system-namespace"] == {"sneaky-ns"} and found["k8s-namespace-pod-security"] == {"sneaky-ns"}
    assert found["k8s-no-privileged-containers"] == {"agent"}
    unknown = namespace("odd", labels={"modelfort.io/system-namespace": "storage-driver"})
    assert violations(packs.get(), unknown) == {"k8s-system-namespace": {"odd-ns"}}


# ------------------------------------------------------------------------------------------------ GPU operator
@pytest.mark.control("RI-06", "RI-07")
@pytest.mark.parametrize(
    "changes,version,fragment",
    [
        ({}, "v25.10.1", None),
        ({}, "25.3.1", None),
        ({}, "v25.3.0", "older than 25.3.1"),
        ({}, "latest", "not pinned"),
        ({"cdi": {"enabled": False}}, "v25.10.1", "cdi.enabled"),
        ({"cdi": {}}, "v25.10.1", "cdi.enabled"),
        ({"toolkit": {"enabled": True, "version": "v1.17.7-ubuntu20.04"}}, "v25.10.1", "older than 1.17.8"),
        ({"toolkit": {"enabled": False}}, "v25.10.1", "toolkit.enabled is false"),
        ({"toolkit": {"version": "v1.18.1", "env": []}}, "v25.10.1", "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED"),
        ({"toolkit": {"version": "v1.18.1", "env": [
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "value": "false"},
            {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", "value": "true"}]}}, "v25.10.1", "disable-cuda-compat-lib-hook"),
        ({"devicePlugin": {"env": [{"name": "DEVICE_LIST_STRATEGY", "value": "envvar"}]}}, "v25.10.1", "DEVICE_LIST_STRATEGY"),
        ({"devicePlugin": {}}, "v25.10.1", "DEVICE_LIST_STRATEGY"),
    ],
)
def test_the_gpu_operator_release_is_patched_and_hardened(packs, changes, version, fragment):
    diagnostics = judge_all(packs.get(), gpu_operator_stack(changes, version=version))
    messages = [d.message for d in diagnostics if d.policy == "k8s-gpu-operator-hardened"]
    if fragment is None:
        assert messages == []
    else:
        assert messages and all("GPU Operator release 'gpu-operator'" in m for m in messages)
        assert any(fragment in m for m in messages), messages


def test_a_gpu_operator_release_with_no_values_fails_every_check(packs):
    stack = gpu_operator_stack()
    stack[1]["properties"] = {"chart": "oci://nvcr.io/nvidia/gpu-operator", "namespace": "gpu-operator"}
    messages = [d.message for d in judge_all(packs.get(), stack) if d.policy == "k8s-gpu-operator-hardened"]
    assert len(messages) >= 6


def test_the_gpu_operator_must_run_in_a_verified_system_namespace(packs):
    found = violations(packs.get(), gpu_operator_stack(labelled=False))
    assert found["k8s-gpu-operator-hardened"] == {"gpu-operator"}
    in_models = res(rules.HELM_RELEASE, "copy", {**gpu_operator_stack()[1]["properties"], "namespace": "models"})
    assert violations(packs.get(), [*namespace(), in_models])["k8s-gpu-operator-hardened"] == {"copy"}


@pytest.mark.parametrize("chart,name", [("gpu-operator", "gpu-operator"), ("nvidia/gpu-operator", "gpu-operator"),
                                        ("oci://nvcr.io/nvidia/gpu-operator", "gpu-operator"), ("gpu-operator-v25.3.1.tgz", "gpu-operator"),
                                        ("ingress-nginx", "ingress-nginx")])
def test_chart_names_are_recognised_however_they_are_spelled(chart, name):
    assert rules.chart_name(chart) == name


# ------------------------------------------------------------------------------------------------ services
@pytest.mark.control("NB-05", "NB-09")
@pytest.mark.parametrize(
    "spec,exposed",
    [({"type": "ClusterIP"}, False), ({}, False), ({"type": "NodePort"}, True), ({"type": "LoadBalancer"}, True),
     ({"type": "ClusterIP", "externalIPs": ["203.0.113.7"]}, True)],
)
def test_services_stay_inside_the_cluster(packs, spec, exposed):
    service = res(rules.SERVICE, "svc", {"metadata": {"namespace": "models"}, "spec": {"selector": {"app": "m"}, **spec}})
    assert flagged(packs.get().analyze(service), "k8s-service-cluster-ip") == ({"svc"} if exposed else set())


# ------------------------------------------------------------------------------------------------ pack metadata
def test_every_kubernetes_rule_names_controls_remediation_and_a_tier():
    for rule in rules.RULES:
        assert rule.name.startswith("k8s-") and rule.description and rule.remediation
        assert rule.controls and all(len(c) == 5 for c in rule.controls)
    assert next(r for r in rules.RULES if r.name == "k8s-namespace-denies-interactive").mandatory_from.name == "high"
