"""Zones and the defaults their risk tier sets. Cloud-neutral: every cloud's composer reads these.

The policy pack keeps its own minimums (policy_packs/modelfort/modelfort_policy/tiers.py); a test checks that every
default here meets them, so the components are secure by default and the pack is an independent judge.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneProfile:
    zone: str
    tier: str
    log_retention_days: int
    """How long logs and flow logs are kept (a CloudWatch-allowed value)."""
    key_rotation_days: int
    """Rotation period of customer-managed keys."""
    secret_rotation_days: int
    """Longest life of a rotated secret (API keys of agents and tools)."""
    availability_zone_count: int
    """Default number of availability zones the isolated subnets span."""
    signature_retention_days: int
    """COMPLIANCE-lock retention of model signatures in the reference store."""


ZONE_PROFILES: dict[str, ZoneProfile] = {
    profile.zone: profile
    for profile in (
        ZoneProfile("testing", "standard", log_retention_days=90, key_rotation_days=365, secret_rotation_days=90,
                    availability_zone_count=2, signature_retention_days=90),
        ZoneProfile("redteam", "elevated", log_retention_days=180, key_rotation_days=365, secret_rotation_days=30,
                    availability_zone_count=2, signature_retention_days=180),
        ZoneProfile("production", "high", log_retention_days=365, key_rotation_days=365, secret_rotation_days=30,
                    availability_zone_count=3, signature_retention_days=365),
        ZoneProfile("high-sensitivity", "critical", log_retention_days=1096, key_rotation_days=180,
                    secret_rotation_days=7, availability_zone_count=3, signature_retention_days=1096),
    )
}

ZONE_NAMES = tuple(ZONE_PROFILES)
