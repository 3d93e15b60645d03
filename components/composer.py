"""The zone composer: builds a whole zone for the cloud the stack names. Cloud-neutral by design."""

from __future__ import annotations

import os
from collections.abc import Callable

import pulumi

from components.config import StackConfig
from components.releases import SupplyChainPolicy, verify_releases


def _build_aws(config: StackConfig) -> pulumi.ComponentResource:
    from components.aws.zone import AwsZone

    return AwsZone(config)


def _build_gcp(config: StackConfig) -> pulumi.ComponentResource:
    from components.gcp.perimeter import ACCESS_POLICY_PLACEHOLDER
    from components.gcp.zone import GcpZone

    return GcpZone(config, access_policy=config.access_policy or ACCESS_POLICY_PLACEHOLDER)


# Each cloud's builder is imported only when a stack asks for it, so an AWS stack never loads the GCP SDK.
CLOUD_BUILDERS: dict[str, Callable[[StackConfig], pulumi.ComponentResource]] = {
    "aws": _build_aws,
    "gcp": _build_gcp,
}


def compose_zone(config: StackConfig, project_dir: str | None = None) -> pulumi.ComponentResource:
    """Build the zone. Model releases are verified first, before any resource is registered: a release whose
    artifacts do not match its pins stops the program (ST-01..ST-07), so nothing is ever half-deployed."""
    if config.models:
        verify_releases(
            config.models,
            # Pulumi runs a program from its project directory; artifact paths in stack config are relative to it.
            project_dir=project_dir or os.getcwd(),
            policy=SupplyChainPolicy(trusted_builders=config.trusted_builders, denied_packages=config.denied_packages),
        )
    return CLOUD_BUILDERS[config.cloud](config)
