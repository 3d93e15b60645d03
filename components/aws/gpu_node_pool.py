"""GpuNodePool: a managed node group of hardened NVIDIA GPU nodes (RI-01, RI-06, RI-07, RI-09, RI-10, RI-11)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.node_settings import al2023_user_data, bottlerocket_user_data
from components.aws.s3_hardening import policy_document

AMI_USER_DATA = {
    "BOTTLEROCKET_x86_64_NVIDIA": bottlerocket_user_data,
    "BOTTLEROCKET_ARM_64_NVIDIA": bottlerocket_user_data,
    "BOTTLEROCKET_x86_64_FIPS_NVIDIA": bottlerocket_user_data,
    "AL2023_x86_64_NVIDIA": al2023_user_data,
    "AL2023_ARM_64_NVIDIA": al2023_user_data,
}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")


@dataclass(frozen=True, kw_only=True)
class GpuNodePoolArgs:
    zone: str
    cluster_name: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    node_security_group_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """The zone key that encrypts the nodes' volumes."""
    instance_types: Sequence[str] = ("g5.2xlarge",)
    ami_type: str = "BOTTLEROCKET_x86_64_NVIDIA"
    """Bottlerocket NVIDIA (default) or AL2023 NVIDIA; other AMIs are refused (RI-01 minimal OS)."""
    min_size: int = 1
    desired_size: int = 2
    max_size: int = 4
    disk_gib: int = 200
    imds_hop_limit: int = 1
    """1 (the default) keeps pods from reaching the node's metadata service; 2 is an escape hatch that weakens it."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ami_type not in AMI_USER_DATA:
            raise ValueError(f"GpuNodePoolArgs.ami_type: {self.ami_type!r} is not allowed (one of: {', '.join(AMI_USER_DATA)})")
        if not 0 < self.min_size <= self.desired_size <= self.max_size:
            raise ValueError("GpuNodePoolArgs: sizes must satisfy 0 < min_size <= desired_size <= max_size")
        if self.imds_hop_limit not in (1, 2):
            raise ValueError("GpuNodePoolArgs.imds_hop_limit: 1 (default) or 2")
        bad = [t for t in self.instance_types if t.split(".")[0][:1] not in ("g", "p")]
        if bad or not self.instance_types:
            raise ValueError(f"GpuNodePoolArgs.instance_types: {bad or 'none'} are not GPU instance types (g*/p* families)")


class GpuNodePool(pulumi.ComponentResource):
    node_role: aws.iam.Role
    """The nodes' instance role (grant image pulls to it)."""
    CONTROLS = ("RI-01", "RI-06", "RI-07", "RI-09", "RI-10", "RI-11")
    node_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:GpuNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "modelfort:zone": args.zone}
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(policy_document([
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ])),
            tags=tags,
            opts=child,
        )
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}", role=role.name,
                policy_arn=partition.partition.apply(lambda p, policy=policy: f"arn:{p}:iam::aws:policy/{policy}"), opts=child,
            )
        template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            description=f"Hardened GPU nodes of zone {args.zone}",
            update_default_version=True,
            vpc_security_group_ids=[args.node_security_group_id],
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",  # IMDSv2 only
                "http_put_response_hop_limit": args.imds_hop_limit,
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[{
                # Bottlerocket's data volume; AL2023 has one root volume at /dev/xvda.
                "device_name": "/dev/xvdb" if args.ami_type.startswith("BOTTLEROCKET") else "/dev/xvda",
                "ebs": {"volume_size": args.disk_gib, "volume_type": "gp3", "encrypted": "true", "kms_key_id": args.kms_key_arn,
                        "delete_on_termination": "true"},
            }],
            user_data=AMI_USER_DATA[args.ami_type](),
            tag_specifications=[{"resource_type": "instance", "tags": tags}, {"resource_type": "volume", "tags": tags}],
            tags=tags,
            opts=child,
        )
        aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=args.cluster_name,
            node_role_arn=role.arn,
            subnet_ids=args.subnet_ids,
            ami_type=args.ami_type,
            instance_types=list(args.instance_types),
            capacity_type="ON_DEMAND",
            scaling_config={"min_size": args.min_size, "desired_size": args.desired_size, "max_size": args.max_size},
            update_config={"max_unavailable": 1},
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            taints=[GPU_TAINT],
            labels={"modelfort.io/zone": args.zone, "nvidia.com/gpu.present": "true"},
            # No remote_access block: no SSH keys, no source security groups (RI-11).
            tags=tags,
            opts=child,
        )
        self.node_role = role
        self.node_role_arn = role.arn
        self.register_outputs({"node_role_arn": self.node_role_arn})
