"""The EKS log agent ships guard telemetry only, judged by the pack through the analyzer service: the config
TelemetryShipping generates passes, and each way of widening, misdirecting or hiding it is flagged, including a
config computed at deploy time (the gate cannot see it, so it never passes). A stack that runs the guard on EKS
without the add-on, or with an add-on that tails another namespace, is flagged too."""

from __future__ import annotations

import copy
import json

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from components.aws.telemetry_shipping import (
    ADDON_NAME,
    DIAGNOSTICS_FILE,
    TELEMETRY_FILE,
    TELEMETRY_MARKER,
    addon_configuration,
)

ADDON = "aws:eks/addon:Addon"
CLUSTER = "aws:eks/cluster:Cluster"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
TESTING = {"modelfort:zone": "testing"}
ROLE = "arn:aws:iam::123456789012:role/telemetry-shipping"
RULE, STACK_RULE = "eks-telemetry-shipped-guard-only", "eks-guard-telemetry-leaves-the-node"


def conforming(namespace: str = "models") -> dict:
    return addon_configuration(region="us-east-1", namespace=namespace, container="guard",
                               telemetry_group="/modelfort/testing/inference-telemetry",
                               diagnostics_group="/modelfort/testing/guard-diagnostics")


def edited(change) -> dict:
    values = copy.deepcopy(conforming())
    files = values["containerLogs"]["fluentBit"]["config"]["extraFiles"]
    change(files, values)
    return values


def replace_in(name: str, old: str, new: str):
    def change(files, _values):
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new)
    return change


def addon_props(values=None, role=ROLE, **extra) -> dict:
    props = {"addonName": ADDON_NAME, "clusterName": "modelfort-testing", "addonVersion": "v6.4.0-eksbuild.1", **extra}
    if role is not None:
        props["serviceAccountRoleArn"] = role
    if values is not None:
        props["configurationValues"] = values if isinstance(values, str) else json.dumps(values)
    return props


# name -> (props, flagged?)
ADDONS = {
    "conforming": (addon_props(conforming()), False),
    "role-unknown-at-preview": (addon_props(conforming(), role=UNKNOWN), False),
    "other-addon": ({"addonName": "vpc-cni", "clusterName": "modelfort-testing"}, False),
    "no-role": (addon_props(conforming(), role=None), True),
    "config-unknown": (addon_props(UNKNOWN), True),
    "chart-defaults": (addon_props(None), True),
    "not-json": (addon_props("containerLogs: {enabled: true}"), True),
    "logs-disabled": (addon_props({"containerLogs": {"enabled": False}}), True),
    "no-marker-filter": (addon_props(edited(replace_in(TELEMETRY_FILE, f"    Regex stream ^stdout$\n    Regex log {TELEMETRY_MARKER}\n",
                                                             "    Regex stream ^stdout$\n"))), True),
    "no-stream-filter": (addon_props(edited(replace_in(TELEMETRY_FILE, "    Regex stream ^stdout$\n", ""))), True),
    "marker-or-stream": (addon_props(edited(replace_in(TELEMETRY_FILE, "    Regex stream ^stdout$\n",
                                                             "    Regex stream ^stdout$\n    Logical_Op or\n"))), True),
    "every-container": (addon_props(edited(replace_in(TELEMETRY_FILE, "/var/log/containers/*_models_guard-*.log",
                                                            "/var/log/containers/*.log"))), True),
    "model-server-container": (addon_props(edited(replace_in(DIAGNOSTICS_FILE, "*_models_guard-*.log",
                                                                   "*_models_model-server-*.log"))), True),
    "chart-application-file-kept": (addon_props(edited(lambda files, _v: files.pop("application-log.conf"))), True),
    "wrong-group": (addon_props(edited(replace_in(TELEMETRY_FILE, "/modelfort/testing/inference-telemetry",
                                                        "/aws/containerinsights/modelfort-testing/application"))), True),
    "other-zones-group": (addon_props(edited(replace_in(TELEMETRY_FILE, "/modelfort/testing/", "/modelfort/production/"))), True),
    "creates-groups": (addon_props(edited(replace_in(TELEMETRY_FILE, "auto_create_group false", "auto_create_group On"))), True),
    "wrapped-records": (addon_props(edited(replace_in(TELEMETRY_FILE, "    log_key           log\n", ""))), True),
    "stdout-to-diagnostics": (addon_props(edited(replace_in(DIAGNOSTICS_FILE, "^stderr$", "^stdout$"))), True),
    "second-destination": (addon_props(edited(lambda files, _v: files.__setitem__(
        "extra.conf", "[OUTPUT]\n    Name s3\n    Match modelfort.*\n    bucket somewhere\n"))), True),
    "rewriting-filter": (addon_props(edited(lambda files, _v: files.__setitem__(
        "extra.conf", "[FILTER]\n    Name lua\n    Match modelfort.guard.*\n    script x.lua\n    call f\n"))), True),
    "unseen-include": (addon_props(edited(lambda files, _v: files.__setitem__("extra.conf", "@INCLUDE /fluent-bit/etc/more.conf\n"))), True),
    "no-telemetry-output": (addon_props(edited(lambda files, _v: files.__setitem__(TELEMETRY_FILE, "# nothing\n"))), True),
}


@pytest.fixture(scope="module")
def verdicts(packs):
    diagnostics = judge_all(packs.get(TESTING), [res(ADDON, name, props) for name, (props, _) in ADDONS.items()])
    return {"flagged": flagged(diagnostics, RULE),
            "mandatory": {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.enforcement == "mandatory" and d.policy == RULE},
            "messages": {d.urn.rsplit("::", 1)[-1]: d.message for d in diagnostics if d.policy == RULE}}


@pytest.mark.control("OB-01", "OB-04")
@pytest.mark.parametrize("name", sorted(ADDONS))
def test_the_agent_ships_guard_telemetry_only(verdicts, name):
    expected = ADDONS[name][1]
    assert (name in verdicts["flagged"]) is expected, verdicts["messages"].get(name)
    assert (name in verdicts["mandatory"]) is expected


@pytest.mark.control("OB-01")
def test_an_unknown_config_is_reported_as_unseeable(verdicts):
    assert "unknown at preview" in verdicts["messages"]["config-unknown"]
    assert "application-log.conf" in verdicts["messages"]["chart-application-file-kept"]


# ------------------------------------------------------------------------------------------------ whole stack
def _cluster():
    return res(CLUSTER, "gpu-cluster", {"name": "modelfort-testing"})


def _guard_pod(name: str, namespace: str, container: str = "guard"):
    spec = {"containers": [{"name": container, "image": "registry.example/guard@sha256:" + "a" * 64,
                            "command": ["modelfort", "guard", "--config", "/etc/modelfort/guard/guard.json"]}]}
    return res(DEPLOYMENT, name, {"metadata": {"name": name, "namespace": namespace},
                                  "spec": {"selector": {"matchLabels": {"app": name}},
                                           "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})


def _stack_flags(packs, resources) -> set[str]:
    return flagged(judge_all(packs.get(TESTING), resources), STACK_RULE)


@pytest.mark.control("OB-01")
def test_an_eks_stack_running_the_guard_has_the_agent_tailing_it(packs):
    cluster = _cluster()
    addon = res(ADDON, "shipping", addon_props(conforming()), deps={"clusterName": [cluster]})
    assert _stack_flags(packs, [cluster, _guard_pod("chat", "models"), addon]) == set()


@pytest.mark.control("OB-01")
def test_an_eks_stack_running_the_guard_without_the_agent_is_flagged(packs):
    assert _stack_flags(packs, [_cluster(), _guard_pod("chat", "models")]) == {"gpu-cluster"}


@pytest.mark.control("OB-01")
def test_an_agent_tailing_another_namespace_leaves_the_guard_unshipped(packs):
    cluster = _cluster()
    addon = res(ADDON, "shipping", addon_props(conforming("models")))  # matched by the literal cluster name
    assert _stack_flags(packs, [cluster, _guard_pod("chat", "serving"), addon]) == {"chat"}


@pytest.mark.control("OB-01")
def test_a_guard_pod_namespace_unknown_at_preview_is_not_a_pass(packs):
    cluster = _cluster()
    addon = res(ADDON, "shipping", addon_props(conforming()), deps={"clusterName": [cluster]})
    pod = _guard_pod("chat", "models")
    pod["properties"]["spec"]["template"]["spec"]["containers"][0]["name"] = UNKNOWN
    assert _stack_flags(packs, [cluster, pod, addon]) == {"chat"}


@pytest.mark.control("OB-01")
def test_a_stack_without_eks_is_not_judged(packs):
    assert _stack_flags(packs, [_guard_pod("chat", "models")]) == set()
