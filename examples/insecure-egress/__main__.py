"""A typical first draft of a model host: a VPC and a security group that may reach the whole internet.

`modelfort gate examples/insecure-egress --stack dev` exits 1 and names `model-host-sg`.
"""

import pulumi_aws as aws

vpc = aws.ec2.Vpc("model-vpc", cidr_block="10.99.0.0/16")
aws.ec2.SecurityGroup(
    "model-host-sg",
    vpc_id=vpc.id,
    description="model host",
    egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
)
