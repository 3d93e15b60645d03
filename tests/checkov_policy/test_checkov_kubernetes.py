"""checkov's kubernetes checks on the stack's Kubernetes objects: the manifest conversion as pure functions, and the
curated checks through the analyzer service (insecure object blocked by name at its tier, hardened twin passes, a
check ModelFort owns reported once, a value unknown until apply never a silent pass)."""

from __future__ import annotations

import pytest

from fixtures import UNKNOWN, flagged, judge_all, res

from modelfort.gate.verdict import judge

from modelfort_policy.checkov.convert import StackInput
from modelfort_policy.checkov.curated import load_table
from modelfort_policy.checkov.manifests import convert_manifests, to_manifest

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelfort/vllm@sha256:" + "a" * 64
PRODUCTION = {"modelfort:zone": "production"}
TESTING = {"modelfort:zone": "testing"}


def _input(resource_type: str, name: str, props: dict, unknown: tuple[str, ...] = ()) -> StackInput:
    return StackInput(resource_type, name, f"urn:pulumi:test::fixture::{resource_type}::{name}", props, {}, unknown)


def _container(**security) -> dict:
    context = {"runAsNonRoot": True, "runAsUser": 65532.0, "allowPrivilegeEscalation": False, "privileged": False,
               "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}, **security}
    return {"name": "server", "image": IMAGE, "securityContext": context,
            "resources": {"limits": {"cpu": "4", "memory": "16Gi"}, "requests": {"cpu": "4", "memory": "16Gi"}}}


def _deployment(name: str, container: dict, annotations: dict | None = None) -> dict:
    metadata = {"name": name, "namespace": "models", **({"annotations": annotations} if annotations else {})}
    return res(DEPLOYMENT, name, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
        "spec": {"replicas": 2.0, "selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"automountServiceAccountToken": False, "serviceAccountName": name, "containers": [container],
                     "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                                         "appArmorProfile": {"type": "RuntimeDefault"}}}}}})


def _binding(name: str, subject: dict) -> dict:
    return res(ROLE_BINDING, name, {"metadata": {"name": name, "namespace": "models"},
                                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                                    "subjects": [subject]})


# ------------------------------------------------------------------------------------------------ the conversion
@pytest.mark.control("ST-07")
def test_an_object_becomes_the_manifest_the_api_server_would_hold():
    manifest = to_manifest(_input(DEPLOYMENT, "llm", {"metadata": {"namespace": "models"},
                                                      "spec": {"replicas": 2.0, "template": {"spec": {"containers": [
                                                          {"name": "s", "securityContext": {"runAsUser": 65532.0}}]}}}}))
    assert manifest["apiVersion"] == "apps/v1" and manifest["kind"] == "Deployment"
    # Auto-named as the provider does: never the bare logical name, so never `default`.
    assert manifest["metadata"] == {"namespace": "models", "name": "llm-modelfort"}
    # Numbers cross the wire as doubles; Kubernetes (and checkov's comparisons) want integers.
    assert manifest["spec"]["replicas"] == 2 and isinstance(manifest["spec"]["replicas"], int)
    assert manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] == 65532
    core = to_manifest(_input("kubernetes:core/v1:ServiceAccount", "sa", {"metadata": {"name": "sa"}}))
    assert core["apiVersion"] == "v1"


@pytest.mark.control("DP-07")
def test_checkov_skip_annotations_are_removed_so_only_a_waiver_waives():
    manifest = to_manifest(_input(DEPLOYMENT, "llm", {
        "metadata": {"name": "llm", "annotations": {"checkov.io/skip1": "CKV_K8S_40=legacy", "team": "ml"}},
        "spec": {"template": {"metadata": {"annotations": {"bridgecrew.io/skip2": "CKV_K8S_16"}}, "spec": {}}}}))
    assert manifest["metadata"]["annotations"] == {"team": "ml"}
    assert "annotations" not in manifest["spec"]["template"]["metadata"]


def test_secret_values_never_reach_checkov():
    manifest = to_manifest(_input("kubernetes:core/v1:Secret", "db", {"metadata": {"name": "db"},
                                                                      "stringData": {"password": "hunter2"}}))
    assert manifest["stringData"] == {"password": "<secret>"}


def test_rendered_and_partial_objects_are_not_converted_and_unknowns_are_recorded():
    conversion = convert_manifests([
        _input("kubernetes:helm.sh/v3:Release", "operator", {"chart": "gpu-operator"}),
        _input("kubernetes:apps/v1:DeploymentPatch", "loosen", {"metadata": {"name": "x"}}),
        _input(DEPLOYMENT, "llm", {"metadata": {"name": "llm"}}, unknown=("spec.template.spec.containers[0].image",)),
        _input("aws:s3/bucket:Bucket", "weights", {}),
    ])
    assert [urn.rsplit("::", 1)[-1] for urn in conversion.urns] == ["llm"]
    assert sorted(urn.rsplit("::", 1)[-1] for urn in conversion.not_converted) == ["loosen", "operator"]
    assert list(conversion.unknown.values()) == [("spec.template.spec.containers[0].image",)]


def test_the_curated_kubernetes_checks_leave_modelforts_own_concerns_to_its_rules():
    table = load_table()
    kubernetes = {check.check_id: check for check in table.checks if "_K8S_" in check.check_id}
    # ModelFort's pod rules own these: one finding, not two.
    assert kubernetes["CKV_K8S_16"].duplicates == "k8s-no-privileged-containers"
    assert kubernetes["CKV_K8S_43"].duplicates == "k8s-image-pinned-by-digest"
    # checkov owns these.
    assert {"CKV_K8S_40", "CKV_K8S_42", "CKV_K8S_153", "CKV_K8S_155", "CKV_K8S_156"} <= {
        check_id for check_id, check in kubernetes.items() if check.duplicates is None}
    assert "CKV_K8S_25" in table.declined and "CKV_K8S_2" in table.declined


# ------------------------------------------------------------------------------------------------ through the pack
INSECURE = [
    _deployment("low-uid", _container(runAsUser=1000.0)),  # CKV_K8S_40: a UID that may be a node user
    # A checkov skip annotation is not a waiver: still blocked.
    _deployment("annotated", _container(runAsUser=1000.0), annotations={"checkov.io/skip1": "CKV_K8S_40=legacy image"}),
    _binding("default-reader", {"kind": "ServiceAccount", "name": "default", "namespace": "models"}),  # CKV_K8S_42
    res(CLUSTER_ROLE, "csr-approver", {"metadata": {"name": "csr-approver"}, "rules": [  # CKV_K8S_156: both halves
        {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]},
        {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}]}),
    res(INGRESS, "docs", {"metadata": {"name": "docs", "namespace": "models", "annotations": {  # CKV_K8S_153
        "nginx.ingress.kubernetes.io/configuration-snippet": "more_set_headers 'X: y';"}},
        "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                 "backend": {"service": {"name": "docs", "port": {"number": 80.0}}}}]}}]}}),
]
SECURE = [
    _deployment("low-uid", _container()),
    _deployment("annotated", _container()),
    _binding("default-reader", {"kind": "ServiceAccount", "name": "llm", "namespace": "models"}),
    res(CLUSTER_ROLE, "csr-approver", {"metadata": {"name": "csr-approver"}, "rules": [
        {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["get", "list"]}]}),
    res(INGRESS, "docs", {"metadata": {"name": "docs", "namespace": "models"},
                          "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                                                   "backend": {"service": {"name": "docs", "port": {"number": 80.0}}}}]}}]}}),
]
EXPECTED = {"low-uid": "CKV_K8S_40", "annotated": "CKV_K8S_40", "default-reader": "CKV_K8S_42",
            "csr-approver": "CKV_K8S_156", "docs": "CKV_K8S_153"}


@pytest.fixture(scope="module")
def judged(packs):
    pack = packs.get(PRODUCTION)
    return judge_all(pack, INSECURE), judge_all(pack, SECURE)


@pytest.mark.control("RI-03", "RI-04", "NB-05", "NB-06")
@pytest.mark.parametrize("name,check", sorted(EXPECTED.items()))
def test_an_insecure_object_is_blocked_by_name_and_its_hardened_twin_passes(judged, name, check):
    insecure, secure = judged
    hits = [d for d in insecure if d.policy == f"checkov:{check}" and d.urn.endswith(f"::{name}")]
    assert hits, f"{check} did not flag '{name}'"
    assert all(d.enforcement == "mandatory" for d in hits), "curated at or below the production tier"
    assert check in hits[0].message and name in hits[0].message
    assert name not in flagged(secure, f"checkov:{check}")


def test_the_hardened_objects_pass_every_curated_kubernetes_check(judged):
    _, secure = judged
    assert not [(d.policy, d.urn) for d in secure if d.policy.startswith("checkov:CKV_K8S_")]


@pytest.mark.control("RI-03")
def test_a_check_is_advisory_below_its_tier(packs):
    # CKV_K8S_40 is mandatory from the high tier (production); in the testing zone it only advises.
    diagnostics = judge_all(packs.get(TESTING), [_deployment("low-uid", _container(runAsUser=1000.0))])
    hits = [d for d in diagnostics if d.policy == "checkov:CKV_K8S_40"]
    assert hits and all(d.enforcement == "advisory" for d in hits)


@pytest.mark.control("RI-04")
def test_a_check_modelfort_owns_reports_one_finding_not_two(packs):
    diagnostics = judge_all(packs.get(PRODUCTION), [_deployment("priv", _container(privileged=True))])
    assert "priv" in flagged(diagnostics, "k8s-no-privileged-containers")
    assert "priv" not in flagged(diagnostics, "checkov:CKV_K8S_16")


@pytest.mark.control("RI-04", "ST-07")
def test_a_value_unknown_until_apply_is_never_a_silent_pass(packs):
    """A binding whose subject is unknown at preview: left out, CKV_K8S_42 would pass it (and checkov's own check
    raises on a subject without a name). The policy says it cannot judge, which the gate blocks on when mandatory."""
    pack = packs.get(PRODUCTION)
    binding = _binding("maybe-default", {"kind": "ServiceAccount", "name": UNKNOWN, "namespace": "models"})
    diagnostics = judge_all(pack, [binding])
    cannot = [d for d in diagnostics if d.policy == "checkov:CKV_K8S_42"]
    assert len(cannot) == 1
    assert cannot[0].message.startswith("can't run policy 'checkov:CKV_K8S_42'")
    assert "'maybe-default'" in cannot[0].message and "subjects[0].name" in cannot[0].message
    verdict = judge(diagnostics, pack.analyzer_info(), {binding["urn"]: binding})
    assert any(v.policy == "checkov:CKV_K8S_42" and v.blocking and v.reason == "unknown-value" for v in verdict.violations)


def test_an_unknown_a_failing_check_does_not_need_is_not_reported(packs):
    """The same unknown on a deployment that fails CKV_K8S_40 anyway: the failure is reported, not 'cannot judge'."""
    deployment = _deployment("unknown-image", _container(runAsUser=1000.0, readOnlyRootFilesystem=True))
    deployment["properties"]["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN
    diagnostics = judge_all(packs.get(PRODUCTION), [deployment])
    on_40 = [d for d in diagnostics if d.policy == "checkov:CKV_K8S_40"]
    assert len(on_40) == 1 and on_40[0].urn.endswith("::unknown-image")
    assert not on_40[0].message.startswith("can't run policy")
