"""GpuCluster and GpuNodePool under mocks, as the production stack builds them."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from components.aws.gpu_node_pool import GpuNodePoolArgs
from modelfort.gate.engine import run_program_under_mocks
from modelfort.gate.stack_files import read_project, read_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def production() -> dict[str, dict]:
    project = read_project(str(REPO))
    result = run_program_under_mocks(project, read_stack(project, "production"))
    assert result["error"] is None, result["error"]
    return {r["name"]: r for r in result["resources"]}


@pytest.mark.control("NB-01", "RI-11", "SC-03")
def test_the_cluster_is_private_encrypted_logged_and_has_no_implicit_admin(production):
    cluster = production["production-gpu-cluster"]["properties"]
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False and cluster["vpcConfig"]["endpointPrivateAccess"] is True
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert {"api", "audit", "authenticator"} <= set(cluster["enabledClusterLogTypes"])
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    logs = production["production-gpu-control-plane-logs"]["properties"]
    assert logs["name"] == "/aws/eks/modelfort-production/cluster" and logs["retentionInDays"] == 365 and logs["kmsKeyId"]


@pytest.mark.control("NB-02")
def test_cluster_and_node_security_groups_stay_inside_the_zone(production):
    for name in ("production-gpu-control-plane-sg", "production-gpu-node-sg"):
        for rule in production[name]["properties"]["egress"]:
            assert rule["cidrBlocks"] == ["10.30.0.0/16"], name


@pytest.mark.control("RI-01", "RI-06", "RI-07", "RI-09", "RI-10", "RI-11")
def test_gpu_nodes_are_hardened(production):
    group = production["production-gpu-nodes-nodes"]["properties"]
    assert group["amiType"] == "BOTTLEROCKET_x86_64_NVIDIA"
    assert group["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]
    assert "remoteAccess" not in group
    template = production["production-gpu-nodes-launch-template"]["properties"]
    assert template["metadataOptions"]["httpTokens"] == "required" and template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (volume,) = template["blockDeviceMappings"]
    assert volume["ebs"]["encrypted"] == "true" and volume["ebs"]["kmsKeyId"].startswith("arn:aws:kms:")
    settings = base64.b64decode(template["userData"]).decode()
    for line in ('"init_on_alloc" = ["1"]', '"init_on_free" = ["1"]', '"kernel.yama.ptrace_scope" = "2"',
                 "visible-devices-envvar-when-unprivileged = false", "visible-devices-as-volume-mounts = true",
                 "[settings.host-containers.admin]\nenabled = false"):
        assert line in settings


def test_the_kubeconfig_uses_short_lived_tokens_not_static_credentials():
    from components.aws.gpu_cluster import _kubeconfig

    config = _kubeconfig("modelfort-production", "https://x.eks.amazonaws.com", "Q0E=", "us-east-1")
    user = config["users"][0]["user"]
    assert set(user) == {"exec"} and user["exec"]["args"][:2] == ["eks", "get-token"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"ami_type": "AL2_x86_64_GPU"}, "ami_type"),
        ({"instance_types": ["m6i.large"]}, "not GPU instance types"),
        ({"min_size": 3, "desired_size": 2}, "sizes"),
        ({"imds_hop_limit": 3}, "imds_hop_limit"),
    ],
)
def test_unsafe_node_pool_args_fail_at_construction(change, message):
    base = dict(zone="production", cluster_name="c", subnet_ids=["s"], node_security_group_id="sg", kms_key_arn="k")
    with pytest.raises(ValueError, match=message):
        GpuNodePoolArgs(**{**base, **change})
