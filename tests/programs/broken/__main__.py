"""A program that fails half-way: the gate must report an error (exit 3), never a pass."""

import pulumi_aws as aws

aws.ec2.Vpc("half-built", cidr_block="10.1.0.0/16")
raise RuntimeError("the program could not read its model catalogue")
