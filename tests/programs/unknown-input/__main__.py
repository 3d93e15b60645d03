"""A subnet whose public-IP flag is unknown until apply: a mandatory policy cannot judge it, so the gate must block."""

import asyncio

import pulumi
import pulumi_aws as aws


def unknown() -> pulumi.Output:
    loop = asyncio.get_event_loop()
    value, known, secret = loop.create_future(), loop.create_future(), loop.create_future()
    value.set_result(None)
    known.set_result(False)
    secret.set_result(False)
    return pulumi.Output(set(), value, known, secret)


aws.ec2.Subnet("maybe-public", vpc_id="vpc-0123456789abcdef0", cidr_block="10.0.1.0/24", map_public_ip_on_launch=unknown())
