"""The components' zone defaults must satisfy the pack's tier minimums: secure by default, judged independently."""

from __future__ import annotations

import pytest

from components.zones import ZONE_PROFILES
from modelfort_policy.tiers import ZONE_TIERS


def test_both_sides_know_the_same_zones():
    assert set(ZONE_PROFILES) == set(ZONE_TIERS)


@pytest.mark.control("DP-08")
@pytest.mark.parametrize("zone", sorted(ZONE_PROFILES))
def test_component_defaults_meet_the_pack_minimums(zone):
    profile, tier = ZONE_PROFILES[zone], ZONE_TIERS[zone]
    assert profile.tier == tier.name
    assert profile.log_retention_days >= tier.min_log_retention_days
    assert profile.key_rotation_days <= tier.max_key_rotation_days
    assert profile.secret_rotation_days <= tier.max_secret_rotation_days
    assert profile.signature_retention_days >= tier.min_signature_retention_days
