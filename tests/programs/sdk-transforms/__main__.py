"""One pod, hardened as declared; `sdk-transforms:transform` picks the transform that adds `hostPID: true`:
none, resource (ResourceOptions.transforms), parent (transforms on the component holding the pod), stack
(register_resource_transform), legacy (ResourceOptions.transformations) or legacy-stack
(register_stack_transformation). An invoke transform rewrites a lookup's arguments, and the pod reports the result."""

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

kind = pulumi.Config().get("transform") or "none"


def share_host_pid(args: pulumi.ResourceTransformArgs):
    # Engine-side transforms see engine property names, as the provider would receive them.
    if args.type_ != "kubernetes:core/v1:Pod":
        return None
    props = dict(args.props)
    props["spec"] = {**props["spec"], "hostPID": True}
    return pulumi.ResourceTransformResult(props, args.opts)


def share_host_pid_legacy(args: pulumi.ResourceTransformationArgs):
    # Legacy transformations run in the SDK and see the constructor's (Python) arguments.
    if args.type_ != "kubernetes:core/v1:Pod":
        return None
    props = dict(args.props)
    props["spec"] = {**props["spec"], "host_pid": True}
    return pulumi.ResourceTransformationResult(props, args.opts)


def pin_vpc(args: pulumi.InvokeTransformArgs):
    if args.token != "aws:ec2/getVpc:getVpc":
        return None
    return pulumi.InvokeTransformResult({**args.args, "id": "vpc-0123456789abcdef0"}, args.opts)


pulumi.runtime.register_invoke_transform(pin_vpc)
if kind == "stack":
    pulumi.runtime.register_resource_transform(share_host_pid)
if kind == "legacy-stack":
    pulumi.runtime.register_stack_transformation(share_host_pid_legacy)

holder = pulumi.ComponentResource("sdk:test:Holder", "holder",
                                  opts=pulumi.ResourceOptions(transforms=[share_host_pid] if kind == "parent" else None))
options = pulumi.ResourceOptions(
    parent=holder,
    transforms=[share_host_pid] if kind == "resource" else None,
    transformations=[share_host_pid_legacy] if kind == "legacy" else None,
)
vpc = aws.ec2.get_vpc(id="vpc-given-by-the-program")
k8s.core.v1.Pod(
    "agent",
    metadata={"name": "agent", "namespace": "apps", "annotations": {"looked-up-vpc": vpc.id}},
    spec={"containers": [{"name": "main", "image": "registry.example.com/agent@sha256:" + "b" * 64}]},
    opts=options,
)
