"""Transforms run as the engine runs them, so policies judge the transformed inputs: `hostPID: true` added only by
a transform is blocked, whichever kind of transform adds it."""

from __future__ import annotations

import pytest
from gate_child_support import by_name, program_copy, run_child

from modelfort.gate.engine import GateOptions, run_gate

HOST_NAMESPACES = "k8s-no-host-namespaces"
KINDS = ("none", "resource", "parent", "stack", "legacy", "legacy-stack")
GATED = ("none", "resource", "stack", "legacy")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    results = {}
    for kind in KINDS:
        result = run_child(tmp_path_factory.mktemp(kind), "sdk-transforms", config={"sdk-transforms:transform": kind})
        assert result["error"] is None, result["error"]["traceback"]
        results[kind] = result
    return results


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    reports = {}
    for kind in GATED:
        directory = program_copy(tmp_path_factory.mktemp(f"gate-{kind}"), "sdk-transforms",
                                 {"modelfort:zone": "testing", "sdk-transforms:transform": kind})
        reports[kind] = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    return reports


@pytest.mark.parametrize("kind", KINDS)
def test_each_transform_kind_reaches_the_recorded_inputs(runs, kind):
    spec = by_name(runs[kind], "agent")["properties"]["spec"]
    assert spec.get("hostPID") is (None if kind == "none" else True)


def test_an_invoke_transform_rewrites_the_arguments_the_mocks_answer(runs):
    annotations = by_name(runs["none"], "agent")["properties"]["metadata"]["annotations"]
    assert annotations == {"looked-up-vpc": "vpc-0123456789abcdef0"}


@pytest.mark.control("RI-09", "ST-07")
@pytest.mark.parametrize("kind", [k for k in GATED if k != "none"])
def test_host_pid_added_by_a_transform_is_blocked(gated, kind):
    report = gated[kind]
    assert report.error is None, report.error
    assert report.exit_code == 1
    assert {v.resource_name for v in report.verdict.blocking if v.policy == HOST_NAMESPACES} == {"agent"}


@pytest.mark.control("RI-09", "ST-07")
def test_without_a_transform_the_pod_shares_no_host_namespace(gated):
    report = gated["none"]
    assert report.error is None, report.error
    assert [v for v in report.verdict.violations if v.policy == HOST_NAMESPACES] == []
