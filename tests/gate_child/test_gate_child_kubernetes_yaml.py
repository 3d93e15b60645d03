"""Kubernetes objects declared through YAML files, inline YAML and kustomize reach the policy pack; Helm charts,
which cannot be rendered offline, are reported as unexpandable, never silently empty."""

from __future__ import annotations

import pytest
from gate_child_support import by_name, program_copy, run_child

from modelfort.gate.child import kubernetes_expand as k8s
from modelfort.gate.engine import GateOptions, run_gate

TESTING = {"modelfort:zone": "testing"}
PRIVILEGED_POLICY = "k8s-no-privileged-containers"


@pytest.fixture(scope="module")
def expanded(tmp_path_factory):
    result = run_child(tmp_path_factory.mktemp("yaml"), "sdk-k8s-yaml", config={"sdk-k8s-yaml:privileged": "true"})
    assert result["error"] is None, result["error"]["traceback"]
    return result


@pytest.fixture(scope="module")
def gate_reports(tmp_path_factory):
    reports = {}
    for privileged in ("true", "false"):
        directory = program_copy(tmp_path_factory.mktemp(f"yaml-{privileged}"), "sdk-k8s-yaml",
                                 {**TESTING, "sdk-k8s-yaml:privileged": privileged})
        reports[privileged] = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    return reports


def test_v1_config_file_registers_every_document_skipping_empty_ones_and_flattening_lists(expanded):
    config_map, account = by_name(expanded, "apps/from-file"), by_name(expanded, "apps/listed-account")
    assert config_map["type"] == "kubernetes:core/v1:ConfigMap" and config_map["properties"]["data"] == {"mode": "strict"}
    assert account["type"] == "kubernetes:core/v1:ServiceAccount"
    assert config_map["parent"].endswith("kubernetes:yaml:ConfigFile::v1-file")


def test_v1_inline_config_group_and_local_kustomization_register_their_objects(expanded):
    pod = by_name(expanded, "apps/v1-pod")
    assert pod["type"] == "kubernetes:core/v1:Pod"
    assert pod["properties"]["spec"]["containers"][0]["securityContext"]["privileged"] is True
    assert by_name(expanded, "apps/kustomized-account")["parent"].endswith("kubernetes:kustomize:Directory::kustomized")


def test_v2_config_group_is_remote_and_expanded_from_inline_yaml_and_file_globs(expanded):
    group = by_name(expanded, "v2-group")
    assert group["remote"] is True and group["expanded"] is True
    pod, config_map = by_name(expanded, "v2-group:apps/v2-pod"), by_name(expanded, "v2-group:apps/v2-from-file")
    assert pod["type"] == "kubernetes:core/v1:Pod" and pod["custom"] is True and pod["parent"] == group["urn"]
    assert config_map["properties"]["data"] == {"source": "file"}


def test_helm_charts_v3_and_v4_are_unexpandable_not_empty(expanded):
    kinds = {entry["kind"]: entry for entry in expanded["unexpandable"]}
    assert set(kinds) == {"helm-template", "helm-chart"}
    assert "ingress-nginx" in kinds["helm-template"]["detail"]
    assert kinds["helm-chart"]["urn"].endswith("kubernetes:helm.sh/v4:Chart::v4-chart")
    assert by_name(expanded, "v4-chart")["expanded"] is False


@pytest.mark.control("RI-04", "ST-07")
def test_a_privileged_pod_in_inline_yaml_is_blocked_in_v1_and_v2_groups(gate_reports):
    report = gate_reports["true"]
    assert report.exit_code == 1
    names = {v.resource_name for v in report.verdict.blocking if v.policy == PRIVILEGED_POLICY}
    assert names == {"apps/v1-pod", "v2-group:apps/v2-pod"}


@pytest.mark.control("RI-04", "ST-07")
def test_without_privileged_the_pods_pass_the_privileged_policy_and_the_charts_still_block(gate_reports):
    report = gate_reports["false"]
    assert report.error is None, report.error
    assert [v for v in report.verdict.violations if v.policy == PRIVILEGED_POLICY] == []
    assert report.exit_code == 1, "an unexpandable Helm chart never passes silently"


def test_decode_rejects_a_document_that_is_not_an_object():
    with pytest.raises(ValueError, match="must be a mapping"):
        k8s.decode("- just\n- a list\n")


def test_a_kustomization_beyond_a_resources_list_is_unexpandable(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\nnamePrefix: prod-\n")
    with pytest.raises(k8s.Unexpandable, match="namePrefix"):
        k8s.kustomize_directory(str(tmp_path))
    with pytest.raises(k8s.Unexpandable, match="remote"):
        k8s.kustomize_directory("https://github.com/example/app//deploy")
