"""Which AWS services a model zone reaches, and the DNS names each one needs.

Shared by the network (interface endpoints, DNS firewall allow-list) so the two can never drift apart: a service
gets an endpoint if and only if its names resolve.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_INTERFACE_SERVICES: tuple[str, ...] = (
    # A private EKS cluster's nodes cannot join or pull images without these (AWS EKS user guide, private clusters).
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "eks",
    "eks-auth",
    "elasticloadbalancing",
    "logs",
    # Weight decryption, signature verification and secret rotation stay inside the zone.
    "kms",
    "secretsmanager",
    # Findings alert on-call from inside the zone; clients reach the model API through the private endpoint.
    "sns",
    "execute-api",
)

GATEWAY_SERVICES: tuple[str, ...] = ("s3",)
"""Reached through a gateway endpoint on the isolated route table (ECR image layers live in S3)."""

# Services whose DNS names do not follow `<service>.<region>.amazonaws.com`.
_NAME_PATTERNS: dict[str, tuple[str, ...]] = {
    "ecr.api": ("api.ecr.{region}.amazonaws.com",),
    "ecr.dkr": ("dkr.ecr.{region}.amazonaws.com", "*.dkr.ecr.{region}.amazonaws.com"),
    "eks": ("eks.{region}.amazonaws.com", "*.{region}.eks.amazonaws.com"),
    "eks-auth": ("eks-auth.{region}.api.aws",),
    "s3": ("s3.{region}.amazonaws.com", "*.s3.{region}.amazonaws.com", "*.s3.amazonaws.com"),
}


def service_domains(service: str, region: str) -> tuple[str, ...]:
    patterns = _NAME_PATTERNS.get(service, ("{service}.{region}.amazonaws.com", "*.{service}.{region}.amazonaws.com"))
    return tuple(p.format(service=service, region=region) for p in patterns)


def required_domains(services: Iterable[str], region: str) -> list[str]:
    """Every name a zone with these services must resolve, plus the VPC's own internal host names."""
    domains: list[str] = []
    for service in (*services, *GATEWAY_SERVICES):
        domains.extend(service_domains(service, region))
    domains.extend([f"*.{region}.compute.internal", "*.ec2.internal"])
    return sorted(set(domains))


def service_name(service: str, region: str) -> str:
    return f"com.amazonaws.{region}.{service}"
