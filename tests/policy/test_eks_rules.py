"""EKS and node rules with pass, fail and missing-property fixtures, through the analyzer service."""

from __future__ import annotations

import base64

import pytest
from fixtures import flagged, judge_all, res

from components.aws.node_settings import al2023_user_data, bottlerocket_user_data

CLUSTER = "aws:eks/cluster:Cluster"
GOOD_CLUSTER = {
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False, "subnetIds": ["subnet-1"]},
    "encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:us-east-1:1:key/k"}, "resources": ["secrets"]},
    "enabledClusterLogTypes": ["api", "audit", "authenticator"],
    "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
}
GOOD_TEMPLATE = {
    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1},
    "blockDeviceMappings": [{"deviceName": "/dev/xvdb", "ebs": {"encrypted": "true"}}],
    "userData": bottlerocket_user_data(),
}


def cluster(**changes):
    props = {**GOOD_CLUSTER, **changes}
    return res(CLUSTER, "c", {k: v for k, v in props.items() if v is not None})


@pytest.mark.control("NB-01", "SC-03", "OB-01", "RI-11")
@pytest.mark.parametrize(
    "policy,resource,expected",
    [
        ("eks-private-endpoint", cluster(), False),
        ("eks-private-endpoint", cluster(vpcConfig={"endpointPrivateAccess": True, "endpointPublicAccess": True}), True),
        ("eks-private-endpoint", cluster(vpcConfig={"endpointPrivateAccess": True}), True),  # AWS default is public
        ("eks-secrets-encrypted", cluster(), False),
        ("eks-secrets-encrypted", cluster(encryptionConfig=None), True),
        ("eks-secrets-encrypted", cluster(encryptionConfig={"provider": {"keyArn": "k"}, "resources": []}), True),
        ("eks-control-plane-logs", cluster(), False),
        ("eks-control-plane-logs", cluster(enabledClusterLogTypes=["api"]), True),
        ("eks-control-plane-logs", cluster(enabledClusterLogTypes=None), True),
        ("eks-no-implicit-admin", cluster(), False),
        ("eks-no-implicit-admin", cluster(accessConfig={"authenticationMode": "API"}), True),  # AWS default grants admin
        ("eks-no-implicit-admin", cluster(accessConfig={"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False}), True),
    ],
)
def test_cluster_rules(packs, policy, resource, expected):
    assert flagged(packs.get().analyze(resource), policy) == ({"c"} if expected else set())


@pytest.mark.control("RI-01", "RI-09", "RI-11", "WP-02")
@pytest.mark.parametrize(
    "policy,resource,expected",
    [
        ("eks-node-group-hardened", res("aws:eks/nodeGroup:NodeGroup", "ng", {"amiType": "BOTTLEROCKET_x86_64_NVIDIA", "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}]}), False),
        ("eks-node-group-hardened", res("aws:eks/nodeGroup:NodeGroup", "ng", {"amiType": "AL2_x86_64_GPU", "taints": [{"key": "nvidia.com/gpu", "effect": "NO_SCHEDULE"}]}), True),
        ("eks-node-group-hardened", res("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["p4d.24xlarge"]}), True),
        ("eks-node-group-hardened", res("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["m6i.large"]}), False),
        ("eks-node-group-hardened", res("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["m6i.large"], "remoteAccess": {"ec2SshKey": "k"}}), True),
        ("launch-template-hardened", res("aws:ec2/launchTemplate:LaunchTemplate", "ng", GOOD_TEMPLATE), False),
        ("launch-template-hardened", res("aws:ec2/launchTemplate:LaunchTemplate", "ng", {**GOOD_TEMPLATE, "metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 1}}), True),
        ("launch-template-hardened", res("aws:ec2/launchTemplate:LaunchTemplate", "ng", {**GOOD_TEMPLATE, "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}}), True),
        ("launch-template-hardened", res("aws:ec2/launchTemplate:LaunchTemplate", "ng", {**GOOD_TEMPLATE, "metadataOptions": None}), True),
        ("launch-template-hardened", res("aws:ec2/launchTemplate:LaunchTemplate", "ng", {**GOOD_TEMPLATE, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 100}}]}), True),
    ],
)
def test_node_rules(packs, policy, resource, expected):
    resource["properties"] = {k: v for k, v in resource["properties"].items() if v is not None}
    assert flagged(packs.get().analyze(resource), policy) == ({"ng"} if expected else set())


def _gpu_pool(user_data: str, ami: str = "BOTTLEROCKET_x86_64_NVIDIA"):
    template = res("aws:ec2/launchTemplate:LaunchTemplate", "lt", {**GOOD_TEMPLATE, "userData": user_data})
    group = res("aws:eks/nodeGroup:NodeGroup", "gpu", {"amiType": ami, "launchTemplate": {"id": "lt-1", "version": "1"}}, {"launchTemplate": [template]})
    return [template, group]


@pytest.mark.control("RI-06", "RI-07", "RI-09", "RI-10")
def test_gpu_node_settings_accept_both_supported_dialects(packs):
    assert flagged(judge_all(packs.get(), _gpu_pool(bottlerocket_user_data())), "gpu-node-settings") == set()
    assert flagged(judge_all(packs.get(), _gpu_pool(al2023_user_data(), "AL2023_x86_64_NVIDIA")), "gpu-node-settings") == set()


@pytest.mark.control("RI-06", "RI-07", "RI-09", "RI-10", "RI-11")
@pytest.mark.parametrize("line", ['"init_on_free" = ["1"]', '"kernel.yama.ptrace_scope" = "2"', "visible-devices-envvar-when-unprivileged = false"])
def test_gpu_nodes_missing_a_setting_are_flagged(packs, line):
    settings = base64.b64decode(bottlerocket_user_data()).decode().replace(line, "")
    diagnostics = judge_all(packs.get(), _gpu_pool(base64.b64encode(settings.encode()).decode()))
    assert flagged(diagnostics, "gpu-node-settings") == {"lt"}


def test_a_bottlerocket_admin_container_is_a_shell_on_the_node(packs):
    settings = base64.b64decode(bottlerocket_user_data()).decode().replace("[settings.host-containers.admin]\nenabled = false", "[settings.host-containers.admin]\nenabled = true")
    diagnostics = judge_all(packs.get(), _gpu_pool(base64.b64encode(settings.encode()).decode()))
    assert any("admin and control host containers" in d.message for d in diagnostics if d.policy == "gpu-node-settings")


def test_a_gpu_node_group_without_a_launch_template_is_flagged(packs):
    group = res("aws:eks/nodeGroup:NodeGroup", "gpu", {"amiType": "BOTTLEROCKET_x86_64_NVIDIA"})
    assert flagged(judge_all(packs.get(), [group]), "gpu-node-settings") == {"gpu"}


@pytest.mark.control("OB-02", "OB-03")
@pytest.mark.parametrize(
    "props,expected",
    [
        ({"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 365}, False),
        ({"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"}, False),
        ({"retentionInDays": 365}, True),
        ({"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k", "retentionInDays": 30}, True),
    ],
)
def test_log_groups_encrypted_and_retained(packs, props, expected):
    diagnostics = packs.get().analyze(res("aws:cloudwatch/logGroup:LogGroup", "lg", props))
    assert flagged(diagnostics, "log-group-encrypted-retained") == ({"lg"} if expected else set())
