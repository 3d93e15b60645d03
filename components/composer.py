"""The zone composer: builds a whole zone for the cloud the stack names. Cloud-neutral by design."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from components.config import StackConfig


def _build_aws(config: StackConfig) -> pulumi.ComponentResource:
    from components.aws.zone import AwsZone

    return AwsZone(config)


def _build_gcp(config: StackConfig) -> pulumi.ComponentResource:
    from components.gcp.zone import GcpZone

    return GcpZone(config)


# Each cloud's builder is imported only when a stack asks for it, so an AWS stack never loads the GCP SDK.
CLOUD_BUILDERS: dict[str, Callable[[StackConfig], pulumi.ComponentResource]] = {
    "aws": _build_aws,
    "gcp": _build_gcp,
}


def compose_zone(config: StackConfig) -> pulumi.ComponentResource:
    return CLOUD_BUILDERS[config.cloud](config)
