"""Rules on remote components' inputs (awsx, pulumi_eks), through the analyzer service.

For each component: empty inputs mean the documented defaults and are blocked; secure inputs pass; each insecure
knob alone is blocked; an input unknown at preview is blocked (fail closed).
"""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

from modelfort_policy.rules.remote_components import JUDGED_COMPONENT_TYPES, RULES

VPC = "awsx:ec2:Vpc"
CLUSTER = "eks:index:Cluster"
MNG = "eks:index:ManagedNodeGroup"
NG2 = "eks:index:NodeGroupV2"
NG = "eks:index:NodeGroup"
FARGATE = "awsx:ecs:FargateService"
EC2_SERVICE = "awsx:ecs:EC2Service"
FARGATE_TASK = "awsx:ecs:FargateTaskDefinition"
ALB = "awsx:lb:ApplicationLoadBalancer"
NLB = "awsx:lb:NetworkLoadBalancer"

SECURE_CONTAINER = {"name": "model", "image": "registry/model@sha256:ab", "readonlyRootFilesystem": True,
                    "environment": [{"name": "LOG_LEVEL", "value": "info"}]}
SECURE = {
    VPC: {"subnetSpecs": [{"type": "Isolated", "cidrMask": 24}], "natGateways": {"strategy": "None"}},
    CLUSTER: {"endpointPublicAccess": False, "endpointPrivateAccess": True,
              "encryptionConfigKeyArn": "arn:aws:kms:us-east-1:1:key/k",
              "enabledClusterLogTypes": ["api", "audit", "authenticator"], "skipDefaultNodeGroup": True},
    MNG: {"enableIMDSv2": True},
    NG2: {"nodeAssociatePublicIpAddress": False, "nodeRootVolumeEncrypted": True},
    NG: {"nodeAssociatePublicIpAddress": False, "encryptRootBlockDevice": True},
    FARGATE: {"networkConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": False},
              "taskDefinitionArgs": {"container": SECURE_CONTAINER}},
    EC2_SERVICE: {"taskDefinitionArgs": {"containers": {"model": SECURE_CONTAINER}}},
    FARGATE_TASK: {"container": SECURE_CONTAINER},
    ALB: {"internal": True, "listeners": [
        {"port": 443, "protocol": "HTTPS", "certificateArn": "arn:aws:acm:us-east-1:1:certificate/c"},
        {"port": 80, "protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443"}}]},
    ]},
    NLB: {"internal": True},
}


def component(kind: str, **changes) -> dict:
    props = {**SECURE[kind], **changes}
    return res(kind, "x", {k: v for k, v in props.items() if v is not None})


def policies_of(kind: str) -> set[str]:
    return {rule.name for rule in RULES if kind in rule.resource_types}


def blocking(pack, resource) -> set[str]:
    return {d.policy for d in judge_all(pack, [resource]) if d.urn == resource["urn"] and d.enforcement == "mandatory"}


@pytest.mark.control("NB-01", "NB-09", "NB-05", "RI-11", "SC-03", "OB-01", "RI-02", "RI-04")
@pytest.mark.parametrize("kind", sorted(SECURE))
def test_secure_inputs_pass(packs, kind):
    diagnostics = judge_all(packs.get(), [component(kind)])
    assert {d.policy for d in diagnostics if d.policy in policies_of(kind)} == set(), [d.message for d in diagnostics]


# What each component's documented defaults violate (empty inputs).
DEFAULTS_BLOCKED = {
    VPC: {"awsx-vpc-isolated-subnets", "awsx-vpc-no-nat-gateways"},
    CLUSTER: {"eks-component-private-endpoint", "eks-component-secrets-encrypted", "eks-component-control-plane-logs",
              "eks-component-no-default-node-group"},
    MNG: {"eks-component-node-group-hardened"},
    NG2: {"eks-component-node-group-private", "eks-component-node-group-hardened"},
    NG: {"eks-component-node-group-private", "eks-component-node-group-hardened"},
    ALB: {"awsx-lb-internal", "awsx-alb-listeners-tls"},
    NLB: {"awsx-lb-internal"},
    FARGATE: {"awsx-ecs-service-private"},
}


@pytest.mark.control("NB-01", "NB-09", "NB-05", "RI-11", "SC-03", "OB-01")
@pytest.mark.parametrize("kind", sorted(DEFAULTS_BLOCKED))
def test_documented_defaults_are_blocked(packs, kind):
    assert blocking(packs.get(), res(kind, "x", {})) & policies_of(kind) == DEFAULTS_BLOCKED[kind]


@pytest.mark.control("NB-01", "NB-02", "NB-09", "NB-05", "RI-11", "SC-03", "OB-01", "RI-02", "RI-04", "RI-09", "WP-02", "SC-02")
@pytest.mark.parametrize(
    "policy,resource",
    [
        # awsx Vpc
        ("awsx-vpc-isolated-subnets", component(VPC, subnetSpecs=[{"type": "Isolated"}, {"type": "Public"}])),
        ("awsx-vpc-isolated-subnets", component(VPC, subnetSpecs=[{"type": "Private"}])),
        ("awsx-vpc-isolated-subnets", component(VPC, subnetSpecs=[{"type": UNKNOWN}])),
        ("awsx-vpc-isolated-subnets", component(VPC, subnetSpecs=None)),
        ("awsx-vpc-no-nat-gateways", component(VPC, natGateways={"strategy": "Single"})),
        ("awsx-vpc-no-nat-gateways", component(VPC, natGateways={"strategy": UNKNOWN})),
        # missing strategy with public + private specs: awsx defaults to one NAT gateway per AZ
        ("awsx-vpc-no-nat-gateways", component(VPC, natGateways=None, subnetSpecs=[{"type": "Public"}, {"type": "Private"}])),
        # eks Cluster
        ("eks-component-private-endpoint", component(CLUSTER, endpointPublicAccess=None)),
        ("eks-component-private-endpoint", component(CLUSTER, endpointPublicAccess=True, publicAccessCidrs=["10.0.0.0/8"])),
        ("eks-component-private-endpoint", component(CLUSTER, endpointPrivateAccess=None)),
        ("eks-component-private-endpoint", component(CLUSTER, endpointPublicAccess=UNKNOWN)),
        ("eks-component-secrets-encrypted", component(CLUSTER, encryptionConfigKeyArn=None)),
        ("eks-component-control-plane-logs", component(CLUSTER, enabledClusterLogTypes=["api"])),
        ("eks-component-control-plane-logs", component(CLUSTER, enabledClusterLogTypes=None)),
        ("eks-component-no-default-node-group", component(CLUSTER, skipDefaultNodeGroup=None)),
        ("eks-component-no-default-node-group", component(CLUSTER, skipDefaultNodeGroup=False)),
        ("eks-component-no-default-node-group", component(CLUSTER, skipDefaultNodeGroup=UNKNOWN)),
        # node groups
        ("eks-component-node-group-no-ssh", component(MNG, remoteAccess={"ec2SshKey": "ops"})),
        ("eks-component-node-group-no-ssh", component(NG2, keyName="ops")),
        ("eks-component-node-group-no-ssh", component(NG, nodePublicKey="ssh-ed25519 AAAA")),
        ("eks-component-node-group-hardened", component(MNG, enableIMDSv2=False)),
        ("eks-component-node-group-hardened", component(NG2, nodeRootVolumeEncrypted=False)),
        ("eks-component-node-group-private", component(NG2, nodeAssociatePublicIpAddress=True)),
        ("eks-component-node-group-private", component(NG2, nodeAssociatePublicIpAddress=None)),
        ("eks-component-node-group-private", component(NG, nodeAssociatePublicIpAddress=UNKNOWN)),
        # ECS
        ("awsx-ecs-service-private", component(FARGATE, networkConfiguration={"subnets": ["s"], "assignPublicIp": True})),
        ("awsx-ecs-service-private", component(FARGATE, assignPublicIp=True)),
        ("awsx-ecs-service-private", component(FARGATE, networkConfiguration={"assignPublicIp": False})),
        ("awsx-ecs-service-private", component(FARGATE, networkConfiguration={"subnets": ["s"], "assignPublicIp": UNKNOWN})),
        ("awsx-ecs-service-private", component(EC2_SERVICE, enableExecuteCommand=True)),
        ("awsx-ecs-container-hardened", component(FARGATE, taskDefinitionArgs={"container": {**SECURE_CONTAINER, "privileged": True}})),
        ("awsx-ecs-container-hardened", component(EC2_SERVICE, taskDefinitionArgs={"containers": {"m": {"name": "m", "image": "i"}}})),
        ("awsx-ecs-container-hardened", component(FARGATE_TASK, container={**SECURE_CONTAINER, "readonlyRootFilesystem": False})),
        ("awsx-ecs-container-hardened", component(FARGATE, taskDefinitionArgs=UNKNOWN)),
        ("awsx-ecs-no-env-credentials", component(FARGATE_TASK, container={**SECURE_CONTAINER, "environment": [
            {"name": "OPENAI_API_KEY", "value": "sk-proj-" + "Q7x9Lm2Pz4Rt8Vw1Ks6Nd3Hf5Jb0Yc"}]})),
        # load balancers
        ("awsx-lb-internal", component(ALB, internal=False)),
        ("awsx-lb-internal", component(NLB, internal=UNKNOWN)),
        ("awsx-alb-listeners-tls", component(ALB, listeners=[{"port": 80, "protocol": "HTTP"}])),
        ("awsx-alb-listeners-tls", component(ALB, listeners=None, listener={"port": 8080})),
        ("awsx-alb-listeners-tls", component(ALB, listeners=None)),
    ],
)
def test_each_insecure_input_is_blocked(packs, policy, resource):
    assert policy in blocking(packs.get(), resource)


def test_credential_message_never_carries_the_value(packs):
    secret = "sk-proj-" + "Q7x9Lm2Pz4Rt8Vw1Ks6Nd3Hf5Jb0Yc"
    resource = component(FARGATE_TASK, container={**SECURE_CONTAINER, "environment": [{"name": "OPENAI_API_KEY", "value": secret}]})
    messages = [d.message for d in judge_all(packs.get(), [resource]) if d.policy == "awsx-ecs-no-env-credentials"]
    assert messages and not any(secret in m for m in messages)


def test_a_managed_node_group_with_its_own_launch_template_is_left_to_the_template_rule(packs):
    resource = component(MNG, enableIMDSv2=None, launchTemplate={"id": "lt-0123", "version": "1"})
    assert "eks-component-node-group-hardened" not in blocking(packs.get(), resource)


def test_findings_name_the_component_urn(packs):
    vpc = res(VPC, "v", {})
    diagnostics = [d for d in judge_all(packs.get(), [vpc]) if d.policy == "awsx-vpc-isolated-subnets"]
    assert {d.urn for d in diagnostics} == {vpc["urn"]}
    assert any("public" in d.message and "internet gateway" in d.message for d in diagnostics)


def test_every_judged_type_has_a_rule_and_the_required_types_are_judged():
    required = {VPC, FARGATE, EC2_SERVICE, ALB, CLUSTER, MNG, NG2}
    assert required <= JUDGED_COMPONENT_TYPES
    assert JUDGED_COMPONENT_TYPES == {t for rule in RULES for t in rule.resource_types}


# ------------------------------------------------------------------------------------------ whole gate, real SDKs
# The programs under tests/programs/remote-* build the components with the real awsx / pulumi_eks SDKs; the gate runs
# them under its mocks, so the engine-shaped inputs (camelCase names, enums as strings) are what the SDK really sends.
PRODUCTION = {"aws:region": "us-east-1", "modelfort:zone": "production"}

# program -> variant -> (policy that must block, or None for a pass)
GATE_CASES = {
    "remote-awsx-vpc": {
        "secure": None,
        "defaults": "awsx-vpc-isolated-subnets",
        "default-subnets": "awsx-vpc-isolated-subnets",
        "public-subnet": "awsx-vpc-isolated-subnets",
        "private-subnet": "awsx-vpc-isolated-subnets",
        "nat-single": "awsx-vpc-no-nat-gateways",
    },
    "remote-eks-cluster": {
        "secure": None,
        "defaults": "eks-component-private-endpoint",
        "public-endpoint": "eks-component-private-endpoint",
        "no-private-endpoint": "eks-component-private-endpoint",
        "no-secrets-key": "eks-component-secrets-encrypted",
        "no-control-plane-logs": "eks-component-control-plane-logs",
        "default-node-group": "eks-component-no-default-node-group",
    },
}


def _gate(program, name: str, variant: str):
    from modelfort.gate.engine import GateOptions, run_gate

    directory = program(name, config={**PRODUCTION, f"{name}:variant": variant})
    report = run_gate(GateOptions(program_dir=str(directory), stack="test"))
    assert report.error is None, report.error
    return report


@pytest.mark.control("NB-01", "NB-09", "NB-05", "SC-03", "OB-01", "RI-11")
@pytest.mark.parametrize("name,variant", [(n, v) for n, variants in GATE_CASES.items() for v in variants])
def test_gate_judges_remote_components_on_their_inputs(program, name, variant):
    report = _gate(program, name, variant)
    policy = GATE_CASES[name][variant]
    component = "v" if name == "remote-awsx-vpc" else "c"
    if policy is None:
        assert report.exit_code == 0, [v.message for v in report.verdict.blocking]
        return
    assert report.exit_code == 1
    found = {(v.policy, v.resource_name) for v in report.verdict.blocking}
    assert (policy, component) in found, found


def test_gate_names_the_default_vpc_urn(program):
    report = _gate(program, "remote-awsx-vpc", "defaults")
    urns = {v.urn for v in report.verdict.blocking if v.policy == "awsx-vpc-isolated-subnets"}
    # The qualified type ends with the component's own type (the mock monitor qualifies it by its parent, the stack).
    assert urns and all(urn.split("::")[2].split("$")[-1] == "awsx:ec2:Vpc" and urn.endswith("::v") for urn in urns), urns
