"""Waivers: audited, expiring, narrow. Parsed by one function the pack and the gate share, honoured by the pack."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fixtures import flagged, res

from modelfort_policy.waivers import MAX_WAIVER_DAYS, parse_waivers

TODAY = dt.date(2026, 11, 26)
GOOD = {
    "policy": "sg-egress-open-internet",
    "resource": "urn:pulumi:test::fixture::*::lab-sg",
    "reason": "Lab harness reaches the public test range (SEC-1).",
    "owner": "redteam@example.com",
    "expires": "2027-01-31",
}
OPEN_SG = res("aws:ec2/securityGroup:SecurityGroup", "lab-sg", {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]})
OTHER_SG = res("aws:ec2/securityGroup:SecurityGroup", "other-sg", {"egress": [{"cidrBlocks": ["0.0.0.0/0"]}]})


def test_a_well_formed_waiver_parses():
    waivers, problems = parse_waivers([GOOD], TODAY)
    assert problems == [] and len(waivers) == 1
    assert waivers[0].matches("sg-egress-open-internet", OPEN_SG["urn"])
    assert not waivers[0].matches("sg-egress-open-internet", OTHER_SG["urn"])
    assert not waivers[0].matches("no-default-route", OPEN_SG["urn"])


@pytest.mark.control("DP-07")
@pytest.mark.parametrize(
    "change,expected",
    [
        ({"expires": "2026-11-25"}, "expired on 2026-11-25"),
        ({"expires": "31/01/2027"}, "'expires' must be a date YYYY-MM-DD"),
        ({"expires": (TODAY + dt.timedelta(days=MAX_WAIVER_DAYS + 1)).isoformat()}, f"within {MAX_WAIVER_DAYS} days"),
        ({"reason": "because"}, "at least 10 characters"),
        ({"owner": ""}, "'owner' is required"),
        ({"policy": None}, "'policy' is required"),
        ({"resource": "lab-sg"}, "must be a URN pattern"),
        ({"resource": "urn:pulumi:test::fixture::*::*"}, "bare wildcard"),
        ({"resource": "urn:pulumi:*"}, "bare wildcard"),
        ({"ticket": "SEC-1"}, "unknown key 'ticket'"),
    ],
)
def test_malformed_or_expired_waivers_are_refused_with_the_reason(change, expected):
    entry = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    waivers, problems = parse_waivers([GOOD, entry], TODAY)
    assert len(waivers) == 1, "the malformed waiver must not be in force"
    assert any(expected in str(p) and str(p).startswith("modelfort:waivers[1]") for p in problems), problems


def test_waivers_must_be_a_list_of_mappings():
    assert parse_waivers({"policy": "x"}, TODAY)[1]
    assert parse_waivers(["text"], TODAY)[1]
    assert parse_waivers(None, TODAY) == ([], [])


def _pack_config(waivers) -> dict[str, str]:
    return {"modelfort:zone": "production", "modelfort:waivers": json.dumps(waivers)}


@pytest.mark.control("DP-07")
def test_the_pack_suppresses_only_the_waived_resource_and_says_so(packs):
    pack = packs.get(_pack_config([GOOD]))
    # GOOD expires 2027-01-31: valid for the pack, which judges against today's date (2026-11-26 or later in CI).
    diagnostics = pack.analyze(OPEN_SG) + pack.analyze(OTHER_SG) + pack.analyze_stack([OPEN_SG, OTHER_SG])
    if dt.date.today() > dt.date(2027, 1, 31):
        pytest.fail("refresh GOOD['expires']: the fixture waiver has expired")
    assert flagged(diagnostics, "sg-egress-open-internet") == {"other-sg"}
    records = [d for d in diagnostics if d.policy == "modelfort-waivers-applied"]
    assert len(records) == 1 and records[0].urn == OPEN_SG["urn"]
    assert "WAIVED" in records[0].message and "redteam@example.com" in records[0].message
    assert records[0].enforcement == "advisory"


@pytest.mark.control("DP-07")
def test_an_expired_waiver_waives_nothing_and_blocks(packs):
    pack = packs.get(_pack_config([{**GOOD, "expires": "2020-01-01"}]))
    diagnostics = pack.analyze(OPEN_SG) + pack.analyze_stack([OPEN_SG])
    assert flagged(diagnostics, "sg-egress-open-internet") == {"lab-sg"}
    invalid = [d for d in diagnostics if d.policy == "modelfort-waivers-valid"]
    assert len(invalid) == 1 and invalid[0].enforcement == "mandatory" and "expired on 2020-01-01" in invalid[0].message


def test_a_waiver_that_matches_nothing_is_reported_for_clean_up(packs):
    pack = packs.get(_pack_config([{**GOOD, "resource": "urn:pulumi:test::fixture::*::gone-sg"}]))
    diagnostics = pack.analyze_stack([])
    assert any(d.policy == "modelfort-waivers-applied" and "UNUSED" in d.message for d in diagnostics)


def test_waivers_that_are_not_json_structures_block(packs):
    pack = packs.get({"modelfort:zone": "production", "modelfort:waivers": "not-a-list"})
    diagnostics = pack.analyze_stack([])
    assert any(d.policy == "modelfort-waivers-valid" and d.enforcement == "mandatory" for d in diagnostics)
