"""awsx.ec2.Vpc judged on its inputs. Config `remote-awsx-vpc:variant`:

- "defaults": `awsx.ec2.Vpc("v")` exactly: awsx builds public + private subnets, an internet gateway and NAT gateways.
- "secure": Isolated subnets only and no NAT gateway.
- any other value: the secure Vpc with that one input flipped back towards awsx's default.
"""

import pulumi
import pulumi_awsx as awsx

variant = pulumi.Config().require("variant")

ISOLATED = awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.ISOLATED, cidr_mask=24)
NO_NAT = awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.NONE)

FLIPS = {
    "secure": {},
    "default-subnets": {"subnet_specs": None},
    "public-subnet": {"subnet_specs": [ISOLATED, awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PUBLIC, cidr_mask=26)]},
    "private-subnet": {"subnet_specs": [awsx.ec2.SubnetSpecArgs(type=awsx.ec2.SubnetType.PRIVATE, cidr_mask=24)]},
    "nat-single": {"nat_gateways": awsx.ec2.NatGatewayConfigurationArgs(strategy=awsx.ec2.NatGatewayStrategy.SINGLE)},
}

if variant == "defaults":
    awsx.ec2.Vpc("v")
elif variant in FLIPS:
    args = {"cidr_block": "10.20.0.0/16", "subnet_specs": [ISOLATED], "nat_gateways": NO_NAT, **FLIPS[variant]}
    awsx.ec2.Vpc("v", **{key: value for key, value in args.items() if value is not None})
else:
    raise ValueError(f"remote-awsx-vpc:variant must be 'defaults' or one of {sorted(FLIPS)}, got {variant!r}")
