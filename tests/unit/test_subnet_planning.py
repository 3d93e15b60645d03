"""CIDR planning for the isolated subnets."""

from __future__ import annotations

import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.aws.network import plan_subnets


def test_three_zones_get_three_non_overlapping_quarters():
    assert plan_subnets("10.30.0.0/16", 3) == ["10.30.0.0/18", "10.30.64.0/18", "10.30.128.0/18"]


@given(prefix=st.integers(16, 24), count=st.integers(2, 6))
def test_subnets_fit_inside_the_vpc_and_never_overlap(prefix, count):
    vpc = ipaddress.ip_network(f"10.0.0.0/{prefix}")
    subnets = [ipaddress.ip_network(s) for s in plan_subnets(str(vpc), count)]
    assert len(subnets) == count
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(subnets, 2))


def test_a_vpc_too_small_for_the_subnets_is_refused():
    with pytest.raises(ValueError, match="too small"):
        plan_subnets("10.0.0.0/27", 2)
