"""Indexes awsx.ec2.Vpc's subnet lists by position: two zones, one public and two isolated specs, so four isolated
subnets, the last of them `isolated_subnet_ids[3]`. A mock answering one subnet per list would crash this program."""

import pulumi
import pulumi_awsx as awsx
import pulumi_kubernetes as k8s

vpc = awsx.ec2.Vpc(
    "hub",
    cidr_block="10.50.0.0/16",
    number_of_availability_zones=2,
    subnet_specs=[
        awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=26),
        awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, name="inspection", cidr_mask=26),
        awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, name="endpoints", cidr_mask=26),
    ],
    nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.NONE),
)
defaults = awsx.ec2.Vpc("defaults")
k8s.core.v1.ConfigMap("observed", metadata={"name": "observed", "namespace": "default"}, data={
    "last_isolated": vpc.isolated_subnet_ids.apply(lambda ids: ids[3]),
    "counts": pulumi.Output.all(vpc.public_subnet_ids, vpc.private_subnet_ids, vpc.isolated_subnet_ids).apply(
        lambda lists: ",".join(str(len(ids)) for ids in lists)),
    "distinct": vpc.isolated_subnet_ids.apply(lambda ids: str(len(set(ids)))),
    "default_counts": pulumi.Output.all(defaults.public_subnet_ids, defaults.private_subnet_ids,
                                        defaults.isolated_subnet_ids).apply(
        lambda lists: ",".join(str(len(ids)) for ids in lists)),
})
