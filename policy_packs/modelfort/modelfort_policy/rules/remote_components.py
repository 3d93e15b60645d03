"""Rules on the INPUTS of widely used remote (multi-language) components: awsx and pulumi_eks.

A remote component builds its children inside its own provider. The offline gate does not run that provider, so
`awsx.ec2.Vpc("v")` registers one component and no children: without these rules it would pass, although its
defaults build public subnets, an internet gateway and NAT gateways. These rules judge each component on the inputs
it was given, reading a missing input as the component's documented default (each default is cited where used; the
citations are the docstrings of the SDKs pinned in pyproject.toml, pulumi-awsx 3.11.0 and pulumi-eks 4.4.0).

Under the real Pulumi CLI the children are registered too and the other rules judge them as well; a finding here is
about the component's inputs, so it names the component's URN and never claims to have seen a child.

Fail closed: an input the verdict depends on that is unknown at preview is a violation ("cannot be judged"), never
a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from modelfort_policy.props import as_mappings
from modelfort_policy.rule import Context, Resource, Rule
from modelfort_policy.credentials import credential_kind
from modelfort_policy.tiers import STANDARD

AWSX_VPC = "awsx:ec2:Vpc"
AWSX_FARGATE_SERVICE = "awsx:ecs:FargateService"
AWSX_EC2_SERVICE = "awsx:ecs:EC2Service"
AWSX_FARGATE_TASK = "awsx:ecs:FargateTaskDefinition"
AWSX_EC2_TASK = "awsx:ecs:EC2TaskDefinition"
AWSX_ALB = "awsx:lb:ApplicationLoadBalancer"
AWSX_NLB = "awsx:lb:NetworkLoadBalancer"
EKS_CLUSTER = "eks:index:Cluster"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
EKS_NODE_GROUP = "eks:index:NodeGroup"
EKS_NODE_GROUP_V2 = "eks:index:NodeGroupV2"

ECS_SERVICES = frozenset({AWSX_FARGATE_SERVICE, AWSX_EC2_SERVICE})
ECS_TASK_HOLDERS = ECS_SERVICES | {AWSX_FARGATE_TASK, AWSX_EC2_TASK}
LOAD_BALANCERS = frozenset({AWSX_ALB, AWSX_NLB})
SELF_MANAGED_NODE_GROUPS = frozenset({EKS_NODE_GROUP, EKS_NODE_GROUP_V2})
NODE_GROUPS = SELF_MANAGED_NODE_GROUPS | {EKS_MANAGED_NODE_GROUP}

# Subnet types a model zone may hold: Isolated has no route out; Unused only reserves a range (awsx SubnetType).
ISOLATED_SUBNET_TYPES = frozenset({"Isolated", "Unused"})
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")


class _Unknown:
    """An input that exists but is not known at preview (e.g. computed from a resource being created)."""

    def __repr__(self) -> str:
        return "<unknown at preview>"


UNKNOWN = _Unknown()


def _get(props: Any, *path: str) -> Any:
    """The value at `path`, None when any step is absent, UNKNOWN when any step is not known at preview."""
    value = props
    for key in path:
        if not isinstance(value, Mapping):
            return None
        try:
            value = value.get(key)
        except UnknownValueError:
            return UNKNOWN
    return value


def _items(value: Any) -> list[Any]:
    """The elements of a list input, reading each one so unknown elements surface as UNKNOWN."""
    if value is None or isinstance(value, (_Unknown, str)):
        return []
    try:
        return list(value)
    except UnknownValueError:
        return [UNKNOWN]


def _unknown(name: str, what: str) -> str:
    return f"'{name}': {what} is not known at preview, so it cannot be shown to be safe; set it to a literal value."


# ---------------------------------------------------------------------------------------------------- awsx Vpc
def _subnet_types(props: Any) -> list[Any] | None:
    """The types of the Vpc's subnet specs, or None when none are given (the default layout)."""
    specs = _get(props, "subnetSpecs")
    if specs is None:
        return None
    if isinstance(specs, _Unknown):
        return [UNKNOWN]
    return [_get(spec, "type") if isinstance(spec, Mapping) else UNKNOWN for spec in _items(specs)] or None


def check_vpc_isolated_subnets(resource: Resource, _ctx: Context) -> Iterable[str]:
    types = _subnet_types(resource.props)
    if types is None:
        # awsx Vpc subnetSpecs: "Defaults to a (smaller) public subnet and a (larger) private subnet" per AZ.
        yield (f"awsx Vpc '{resource.name}' has no subnetSpecs, so awsx builds its default layout: a public and a "
               "private subnet in each availability zone, with an internet gateway.")
        return
    for kind in types:
        if isinstance(kind, _Unknown):
            yield _unknown(resource.name, "a subnet spec's type")
        elif kind not in ISOLATED_SUBNET_TYPES:
            # Public subnets route to an internet gateway; Private ones exist to route out through NAT (SubnetType).
            yield (f"awsx Vpc '{resource.name}' has a subnet spec of type {kind!r}; model zones use only "
                   "'Isolated' subnets (no route to the internet).")


def _nat_strategy(props: Any) -> Any:
    """The NAT strategy awsx will apply, reading a missing one as its documented default."""
    strategy = _get(props, "natGateways", "strategy")
    if strategy is not None:
        return strategy
    types = _subnet_types(props)
    if types is None:
        return "OnePerAz"  # the default layout has public and private subnets: see the next comment
    if any(isinstance(kind, _Unknown) for kind in types):
        return UNKNOWN
    # awsx Vpc natGateways: "If private and public subnets are both specified, defaults to one gateway per
    # availability zone. Otherwise, no gateways will be created."
    return "OnePerAz" if {"Public", "Private"} <= set(types) else "None"


def check_vpc_no_nat_gateways(resource: Resource, _ctx: Context) -> Iterable[str]:
    strategy = _nat_strategy(resource.props)
    if isinstance(strategy, _Unknown):
        yield _unknown(resource.name, "the NAT gateway strategy (natGateways.strategy or a subnet type)")
    elif strategy != "None":
        yield (f"awsx Vpc '{resource.name}' creates NAT gateways (strategy {strategy!r}), a path from its subnets "
               "to the internet; set natGateways.strategy to 'None'.")


# ---------------------------------------------------------------------------------------------------- eks Cluster
def check_cluster_private_endpoint(resource: Resource, _ctx: Context) -> Iterable[str]:
    public = _get(resource.props, "endpointPublicAccess")
    private = _get(resource.props, "endpointPrivateAccess")
    if isinstance(public, _Unknown) or isinstance(private, _Unknown):
        yield _unknown(resource.name, "endpointPublicAccess or endpointPrivateAccess")
        return
    # pulumi_eks Cluster: endpointPublicAccess "Default is `true`"; endpointPrivateAccess "Default is `false`".
    if public is not False:
        cidrs = _items(_get(resource.props, "publicAccessCidrs")) or ["0.0.0.0/0 (the EKS default)"]
        yield (f"eks Cluster '{resource.name}' serves its API on a public endpoint (endpointPublicAccess defaults "
               f"to true), reachable from {', '.join(map(str, cidrs))}; restricting publicAccessCidrs does not make "
               "it private.")
    if private is not True:
        yield f"eks Cluster '{resource.name}' has no private API endpoint (endpointPrivateAccess defaults to false)."


def check_cluster_secrets_encrypted(resource: Resource, _ctx: Context) -> Iterable[str]:
    key = _get(resource.props, "encryptionConfigKeyArn")
    # Without encryptionConfigKeyArn pulumi_eks configures no envelope encryption of Kubernetes secrets.
    if isinstance(key, _Unknown):
        # A key created in the same program has an unknown ARN at preview; its presence is what matters here.
        return
    if not isinstance(key, str) or not key:
        yield f"eks Cluster '{resource.name}' does not envelope-encrypt Kubernetes secrets; set encryptionConfigKeyArn."


def check_cluster_logs(resource: Resource, _ctx: Context) -> Iterable[str]:
    value = _get(resource.props, "enabledClusterLogTypes")
    if isinstance(value, _Unknown):
        yield _unknown(resource.name, "enabledClusterLogTypes")
        return
    # pulumi_eks Cluster enabledClusterLogTypes: "By default it is off."
    enabled = {str(kind) for kind in _items(value)}
    missing = [kind for kind in REQUIRED_LOG_TYPES if kind not in enabled]
    if missing:
        yield f"eks Cluster '{resource.name}' does not send control-plane logs: {', '.join(missing)}."


def check_cluster_no_default_node_group(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    skip = _get(props, "skipDefaultNodeGroup")
    fargate = _get(props, "fargate")
    auto_mode = _get(props, "autoMode", "enabled")
    if any(isinstance(v, _Unknown) for v in (skip, fargate, auto_mode)):
        yield _unknown(resource.name, "skipDefaultNodeGroup, fargate or autoMode")
        return
    # pulumi_eks Cluster skipDefaultNodeGroup: "Defaults to false, unless `fargate` or `autoMode` is enabled."
    if skip is True or fargate not in (None, False) or auto_mode is True:
        return
    yield (f"eks Cluster '{resource.name}' creates its default node group (skipDefaultNodeGroup defaults to false): "
           "t3.medium instances from the cluster's node defaults, which this pack cannot judge; set "
           "skipDefaultNodeGroup=True and add hardened node groups.")


# ---------------------------------------------------------------------------------------------------- eks node groups
def check_node_group_no_ssh(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == EKS_MANAGED_NODE_GROUP:
        inputs = {"remoteAccess": _get(props, "remoteAccess")}
    else:
        inputs = {"keyName": _get(props, "keyName"), "nodePublicKey": _get(props, "nodePublicKey")}
    for key, value in inputs.items():
        if isinstance(value, _Unknown):
            yield _unknown(resource.name, key)
        elif value not in (None, "", {}):
            yield f"node group '{resource.name}' allows SSH to its nodes ({key}); production nodes offer no shell."


def check_node_group_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    value = _get(resource.props, "nodeAssociatePublicIpAddress")
    if isinstance(value, _Unknown):
        yield _unknown(resource.name, "nodeAssociatePublicIpAddress")
    elif value is not False:
        # pulumi_eks documents no default for nodeAssociatePublicIpAddress; a missing value leaves it to the subnet
        # and launch configuration, so only an explicit False shows the nodes get no public address.
        yield f"node group '{resource.name}' does not set nodeAssociatePublicIpAddress=False; its nodes may get public IPs."


def check_node_group_metadata_and_disk(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    if resource.resource_type == EKS_MANAGED_NODE_GROUP:
        imdsv2 = _get(props, "enableIMDSv2")
        template = _get(props, "launchTemplate")
        if isinstance(imdsv2, _Unknown) or isinstance(template, _Unknown):
            yield _unknown(resource.name, "enableIMDSv2 or launchTemplate")
        elif imdsv2 is not True and template is None:
            # With neither, EKS's own launch template leaves IMDSv1 available to pods. A given launch template is an
            # aws:ec2/launchTemplate:LaunchTemplate the program declares, judged by launch-template-hardened.
            yield f"managed node group '{resource.name}' does not require IMDSv2: set enableIMDSv2=True or a hardened launchTemplate."
        return
    # pulumi_eks NodeGroupV2 nodeRootVolumeEncrypted: "Defaults to false." (encryptRootBlockDevice is its alias.)
    encrypted = [_get(props, "nodeRootVolumeEncrypted"), _get(props, "encryptRootBlockDevice")]
    if any(isinstance(v, _Unknown) for v in encrypted):
        yield _unknown(resource.name, "nodeRootVolumeEncrypted")
    elif True not in encrypted:
        yield f"node group '{resource.name}' leaves node root volumes unencrypted (nodeRootVolumeEncrypted defaults to false)."


# ---------------------------------------------------------------------------------------------------- awsx ECS
def check_service_private(resource: Resource, _ctx: Context) -> Iterable[str]:
    props = resource.props
    # awsx FargateService assignPublicIp: "Default `false`"; it can be set at the top level or in networkConfiguration.
    for path in (("assignPublicIp",), ("networkConfiguration", "assignPublicIp")):
        value = _get(props, *path)
        if isinstance(value, _Unknown):
            yield _unknown(resource.name, ".".join(path))
        elif value is True:
            yield f"ECS service '{resource.name}' gives its tasks public IPs ({'.'.join(path)}=true)."
    subnets = _get(props, "networkConfiguration", "subnets")
    if resource.resource_type == AWSX_FARGATE_SERVICE and subnets is None:
        # Fargate tasks always get their own network interface (awsvpc); without networkConfiguration.subnets the
        # program does not say where, and awsx chooses subnets this pack cannot see, so isolation is not shown.
        yield f"Fargate service '{resource.name}' names no networkConfiguration.subnets; place it in the zone's isolated subnets."
    shell = _get(props, "enableExecuteCommand")
    if isinstance(shell, _Unknown):
        yield _unknown(resource.name, "enableExecuteCommand")
    elif shell is True:
        yield f"ECS service '{resource.name}' enables ECS Exec (enableExecuteCommand), an interactive shell into tasks."


def _containers(props: Any) -> list[tuple[str, Any]]:
    """(name, definition) of every container a service or task definition declares inline."""
    args = _get(props, "taskDefinitionArgs")
    if isinstance(args, _Unknown):
        return [("taskDefinitionArgs", UNKNOWN)]
    holder = props if args is None else args  # task definitions carry container(s) at the top level
    found: list[tuple[str, Any]] = []
    single = _get(holder, "container")
    if single is not None:
        found.append((str(_get(single, "name") or "container"), single))
    many = _get(holder, "containers")
    if isinstance(many, _Unknown):
        found.append(("containers", UNKNOWN))
    elif isinstance(many, Mapping):
        found.extend((str(name), _get(many, str(name))) for name in list(many.keys()))
    return found


def check_containers_hardened(resource: Resource, _ctx: Context) -> Iterable[str]:
    for name, container in _containers(resource.props):
        if not isinstance(container, Mapping):
            yield _unknown(resource.name, f"container '{name}'")
            continue
        privileged = _get(container, "privileged")
        read_only = _get(container, "readonlyRootFilesystem")
        if isinstance(privileged, _Unknown) or isinstance(read_only, _Unknown):
            yield _unknown(resource.name, f"container '{name}' privileged/readonlyRootFilesystem")
            continue
        if privileged is True:
            yield f"container '{name}' of '{resource.name}' runs privileged."
        # ECS containers get a writable root filesystem unless readonlyRootFilesystem is true.
        if read_only is not True:
            yield f"container '{name}' of '{resource.name}' has a writable root filesystem; set readonlyRootFilesystem=True."


def check_containers_no_env_credentials(resource: Resource, _ctx: Context) -> Iterable[str]:
    for name, container in _containers(resource.props):
        if not isinstance(container, Mapping):
            continue  # reported by awsx-ecs-container-hardened
        for entry in as_mappings(_items(_get(container, "environment"))):
            variable = _get(entry, "name")
            value = _get(entry, "value")
            kind = credential_kind(str(variable), value) if isinstance(variable, str) else None
            if kind:
                yield (f"container '{name}' of '{resource.name}' holds {kind} in environment variable {variable!r}; "
                       "reference a Secrets Manager secret through `secrets` instead.")


# ---------------------------------------------------------------------------------------------------- awsx LB
def check_load_balancer_internal(resource: Resource, _ctx: Context) -> Iterable[str]:
    internal = _get(resource.props, "internal")
    if isinstance(internal, _Unknown):
        yield _unknown(resource.name, "internal")
    elif internal is not True:
        # awsx ApplicationLoadBalancer / NetworkLoadBalancer internal: "Defaults to `false`" (internet-facing).
        yield f"load balancer '{resource.name}' is internet-facing (internal defaults to false); set internal=True."


def _listeners(props: Any) -> list[Any] | None:
    one = _get(props, "listener")
    many = _get(props, "listeners")
    if isinstance(many, _Unknown):
        return [UNKNOWN]
    found = ([one] if one is not None else []) + _items(many)
    return found or None


def _redirects_to_https(listener: Any) -> bool:
    return any(
        _get(action, "type") == "redirect" and str(_get(action, "redirect", "protocol")).upper() == "HTTPS"
        for action in as_mappings(_items(_get(listener, "defaultActions")))
    )


def check_alb_listeners_tls(resource: Resource, _ctx: Context) -> Iterable[str]:
    listeners = _listeners(resource.props)
    if listeners is None:
        # awsx ApplicationLoadBalancer: with no listener given it creates one on port 80 forwarding to the default
        # target group (defaultTargetGroupPort "Defaults to 80"), i.e. plain HTTP.
        yield f"load balancer '{resource.name}' has no listener, so awsx creates a plain-HTTP listener on port 80."
        return
    for listener in listeners:
        if not isinstance(listener, Mapping):
            yield _unknown(resource.name, "a listener")
            continue
        protocol = _get(listener, "protocol")
        if isinstance(protocol, _Unknown):
            yield _unknown(resource.name, "a listener's protocol")
        elif str(protocol).upper() != "HTTPS" and not _redirects_to_https(listener):
            port = _get(listener, "port")
            yield (f"load balancer '{resource.name}' has a {protocol or 'HTTP (default)'} listener on port {port} that "
                   "does not redirect to HTTPS.")


def _rule(name: str, description: str, severity: str, controls: tuple[str, ...], remediation: str,
          types: Iterable[str], check) -> Rule:
    return Rule(name=name, description=description, severity=severity, controls=controls, remediation=remediation,
                mandatory_from=STANDARD, resource_types=frozenset(types), resource_check=check)


RULES = (
    _rule("awsx-vpc-isolated-subnets", "awsx Vpcs hold only Isolated subnets (the default layout is public + private).",
          "critical", ("NB-01", "NB-09"), "Pass subnet_specs with only SubnetType.ISOLATED; reach AWS through VPC endpoints.",
          {AWSX_VPC}, check_vpc_isolated_subnets),
    _rule("awsx-vpc-no-nat-gateways", "awsx Vpcs create no NAT gateway (the default is one per availability zone).",
          "critical", ("NB-01", "NB-02"), "Set nat_gateways=NatGatewayConfigurationArgs(strategy=NatGatewayStrategy.NONE).",
          {AWSX_VPC}, check_vpc_no_nat_gateways),
    _rule("eks-component-private-endpoint", "pulumi_eks Clusters expose their API only privately (the default is public).",
          "critical", ("NB-01", "NB-05", "RI-11"), "Set endpoint_public_access=False and endpoint_private_access=True.",
          {EKS_CLUSTER}, check_cluster_private_endpoint),
    _rule("eks-component-secrets-encrypted", "pulumi_eks Clusters envelope-encrypt Kubernetes secrets with a customer key.",
          "high", ("SC-03",), "Set encryption_config_key_arn to a customer-managed KMS key.",
          {EKS_CLUSTER}, check_cluster_secrets_encrypted),
    _rule("eks-component-control-plane-logs", "pulumi_eks Clusters send api, audit and authenticator logs (off by default).",
          "medium", ("OB-01", "OB-03"), "Set enabled_cluster_log_types to include api, audit and authenticator.",
          {EKS_CLUSTER}, check_cluster_logs),
    _rule("eks-component-no-default-node-group", "pulumi_eks Clusters create no default node group.",
          "high", ("RI-01", "RI-09", "RI-11"), "Set skip_default_node_group=True and declare hardened node groups.",
          {EKS_CLUSTER}, check_cluster_no_default_node_group),
    _rule("eks-component-node-group-no-ssh", "pulumi_eks node groups allow no SSH to nodes.",
          "high", ("RI-11",), "Remove remote_access / key_name / node_public_key; use SSM-free, shell-free nodes.",
          NODE_GROUPS, check_node_group_no_ssh),
    _rule("eks-component-node-group-private", "Self-managed pulumi_eks node groups give nodes no public IP.",
          "high", ("NB-01", "NB-09"), "Set node_associate_public_ip_address=False and place nodes in isolated subnets.",
          SELF_MANAGED_NODE_GROUPS, check_node_group_private),
    _rule("eks-component-node-group-hardened", "pulumi_eks node groups require IMDSv2 (managed) or encrypt root volumes (self-managed).",
          "high", ("RI-09", "WP-02"), "Managed: enable_imd_sv2=True or a hardened launch_template; self-managed: node_root_volume_encrypted=True.",
          NODE_GROUPS, check_node_group_metadata_and_disk),
    _rule("awsx-ecs-service-private", "awsx ECS services give tasks no public IP and no ECS Exec shell.",
          "high", ("NB-01", "NB-09", "RI-11"), "Set assign_public_ip=False and leave enable_execute_command unset.",
          ECS_SERVICES, check_service_private),
    _rule("awsx-ecs-container-hardened", "awsx ECS containers are not privileged and have a read-only root filesystem.",
          "high", ("RI-02", "RI-04"), "Set privileged=False (or omit it) and readonly_root_filesystem=True on every container.",
          ECS_TASK_HOLDERS, check_containers_hardened),
    _rule("awsx-ecs-no-env-credentials", "awsx ECS containers hold no credentials in plain environment variables.",
          "critical", ("SC-02",), "Move the value to Secrets Manager and reference it through the container's `secrets`.",
          ECS_TASK_HOLDERS, check_containers_no_env_credentials),
    _rule("awsx-lb-internal", "awsx load balancers are internal (the default is internet-facing).",
          "critical", ("NB-05", "NB-09"), "Set internal=True; expose models only through a ModelEndpoint.",
          LOAD_BALANCERS, check_load_balancer_internal),
    _rule("awsx-alb-listeners-tls", "awsx application load balancers listen only on HTTPS or redirect HTTP to HTTPS.",
          "high", ("NB-05",), "Give an HTTPS listener with a certificate; any HTTP listener only redirects to HTTPS.",
          {AWSX_ALB}, check_alb_listeners_tls),
)

JUDGED_COMPONENT_TYPES: frozenset[str] = frozenset().union(*(rule.resource_types for rule in RULES))
"""The remote component types these rules judge; the gate blocks any other remote component it cannot expand."""

JUDGED_HELM_CHARTS: frozenset[str] = frozenset({"gpu-operator", "kyverno"})
"""Charts a `helm.v3.Release` may install without the gate calling it a blind spot. The provider renders a Release
at deploy time, so offline only its values are seen; for these two charts the pack knows what the values decide
(k8s-gpu-operator-hardened, kyverno-fail-closed). Any other chart's objects were never judged."""
