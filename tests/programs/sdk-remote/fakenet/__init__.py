"""A stand-in for the awsx SDK (which this project does not install), shaped like the generated component SDKs: the component runs inside its provider
(remote=True), the SDK only declares its outputs as getters, and registers its module with the runtime."""

import json
from typing import Any

import pulumi


@pulumi.input_type
class VpcArgs:
    def __init__(__self__, *, cidr_block: pulumi.Input[str]) -> None:
        pulumi.set(__self__, "cidr_block", cidr_block)

    @property
    @pulumi.getter(name="cidrBlock")
    def cidr_block(self) -> pulumi.Input[str]:
        return pulumi.get(self, "cidr_block")


class Vpc(pulumi.ComponentResource):
    def __init__(self, resource_name: str, cidr_block: str, opts: pulumi.ResourceOptions | None = None) -> None:
        # As generated SDKs do: an input type carrying the inputs and each declared output as None, so the runtime
        # translates names through the getters below.
        props = VpcArgs.__new__(VpcArgs)
        props.__dict__.update(cidr_block=cidr_block, vpc_id=None, public_subnet_ids=None, private_subnet_ids=None,
                              kubeconfig=None)
        super().__init__("awsx:ec2:Vpc", resource_name, props, opts, remote=True)

    @property
    @pulumi.getter(name="vpcId")
    def vpc_id(self) -> pulumi.Output[str]:
        return pulumi.get(self, "vpc_id")

    @property
    @pulumi.getter(name="publicSubnetIds")
    def public_subnet_ids(self) -> pulumi.Output[list[str]]:
        return pulumi.get(self, "public_subnet_ids")

    @property
    @pulumi.getter(name="privateSubnetIds")
    def private_subnet_ids(self) -> pulumi.Output[list[str]]:
        return pulumi.get(self, "private_subnet_ids")

    @property
    @pulumi.getter
    def kubeconfig(self) -> pulumi.Output[Any]:
        return pulumi.get(self, "kubeconfig")


class _Module(pulumi.runtime.ResourceModule):
    mod_info = json.loads('{"fqn": "fakenet", "classes": {"awsx:ec2:Vpc": "Vpc"}}')

    def version(self):
        return None

    def construct(self, name: str, typ: str, urn: str) -> pulumi.Resource:
        raise RuntimeError("not used under mocks")


pulumi.runtime.register_resource_module("awsx", "ec2", _Module())
