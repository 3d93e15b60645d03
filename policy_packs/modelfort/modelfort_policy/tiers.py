"""Zones, their risk tiers, and the minimums the pack demands at each tier.

The pack owns its own copy of these numbers on purpose: it is an independent judge of the components, and a
test (tests/policy/test_tier_consistency.py) checks that every component default meets the pack's minimum.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    name: str
    rank: int
    """Higher is stricter; rules name the lowest rank at which they become mandatory."""
    min_log_retention_days: int
    max_key_rotation_days: int
    max_secret_rotation_days: int
    min_signature_retention_days: int
    """How long model signatures stay under COMPLIANCE lock in the reference store."""


STANDARD = Tier("standard", 1, min_log_retention_days=90, max_key_rotation_days=365, max_secret_rotation_days=90,
                min_signature_retention_days=90)
ELEVATED = Tier("elevated", 2, min_log_retention_days=180, max_key_rotation_days=365, max_secret_rotation_days=30,
                min_signature_retention_days=180)
HIGH = Tier("high", 3, min_log_retention_days=365, max_key_rotation_days=365, max_secret_rotation_days=30,
            min_signature_retention_days=365)
CRITICAL = Tier("critical", 4, min_log_retention_days=1096, max_key_rotation_days=180, max_secret_rotation_days=7,
                min_signature_retention_days=1096)

ZONE_TIERS: dict[str, Tier] = {
    "testing": STANDARD,
    # The red-team zone handles adversarial prompts and attack tooling: stricter than testing.
    "redteam": ELEVATED,
    "production": HIGH,
    "high-sensitivity": CRITICAL,
}

STRICTEST = max(ZONE_TIERS.values(), key=lambda tier: tier.rank)


def tier_for_zone(zone: str | None) -> Tier:
    """The tier of a zone. No zone, or a zone the pack does not know, is judged at the strictest tier (fail closed)."""
    if zone is None:
        return STRICTEST
    return ZONE_TIERS.get(zone, STRICTEST)
