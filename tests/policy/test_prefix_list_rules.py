"""Security-group rules that use managed prefix lists, judged by the pack through the analyzer service on what the
lists hold: a list the stack declares is resolved (inline entries and separate entry resources) and fed to the one
address-set coverage helper; a list the stack does not declare cannot be seen, which blocks ingress; entries computed
at deploy time are never a pass."""

from __future__ import annotations

import pytest
from fixtures import UNKNOWN, flagged, judge_all, res

POLICY = "sg-prefix-list-closed"
TESTING = {"modelfort:zone": "testing"}
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
ENTRY = "aws:ec2/managedPrefixListEntry:ManagedPrefixListEntry"
VPC = res("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.30.0.0/16"})


def prefix_list(name: str, *cidrs: str) -> dict:
    return res(PREFIX_LIST, name, {"name": name, "addressFamily": "IPv4", "maxEntries": 8,
                                   "entries": [{"cidr": cidr} for cidr in cidrs]})


ZONE_LIST = prefix_list("zone-gateways", "10.30.8.0/24", "10.30.9.0/24")
HALVES = prefix_list("halves", "0.0.0.0/1", "128.0.0.0/1")
HALF = prefix_list("half", "0.0.0.0/1")
EMPTY_LIST = prefix_list("by-entries")
ENTRY_LOW = res(ENTRY, "by-entries-low", {"cidr": "0.0.0.0/1", "prefixListId": "pl-x"}, deps={"prefixListId": [EMPTY_LIST]})
ENTRY_HIGH = res(ENTRY, "by-entries-high", {"cidr": "128.0.0.0/1", "prefixListId": "pl-x"}, deps={"prefixListId": [EMPTY_LIST]})
COMPUTED_LIST = res(PREFIX_LIST, "computed", {"name": "computed", "addressFamily": "IPv4", "maxEntries": 4,
                                              "entries": [{"cidr": UNKNOWN}]})
LISTS = [VPC, ZONE_LIST, HALVES, HALF, EMPTY_LIST, ENTRY_LOW, ENTRY_HIGH, COMPUTED_LIST]


def sg(name: str, direction: str, entries: list[dict], uses: list[dict]) -> dict:
    return res(SG, name, {"vpcId": "vpc-1", direction: entries}, deps={direction: uses} if uses else None)


def https(**extra) -> dict:
    return {"protocol": "tcp", "fromPort": 443, "toPort": 443, **extra}


CASES = {
    # name: (resource, flagged by sg-prefix-list-closed?)
    "ingress-from-zone-list": (sg("zone-in", "ingress", [https(prefixListIds=["zone-gateways"])], [ZONE_LIST]), False),
    "egress-to-zone-list": (sg("zone-out", "egress", [https(prefixListIds=["zone-gateways"])], [ZONE_LIST]), False),
    "egress-to-undeclared-list": (sg("s3-out", "egress", [https(prefixListIds=["pl-63a5400a"])], []), False),
    "no-prefix-lists": (sg("plain", "ingress", [https(cidrBlocks=["10.30.1.0/24"])], []), False),
    "ingress-from-halves": (sg("halves-in", "ingress", [https(prefixListIds=["halves"])], [HALVES]), True),
    "egress-to-halves": (sg("halves-out", "egress", [https(prefixListIds=["halves"])], [HALVES]), True),
    "half-list-plus-half-cidr": (sg("mixed-out", "egress", [https(prefixListIds=["half"]), https(cidrBlocks=["128.0.0.0/1"])],
                                    [HALF]), True),
    "list-built-from-entry-resources": (res(SG_RULE, "entries-rule", {"type": "ingress", "securityGroupId": "sg-1", "protocol": "tcp",
                                                                      "fromPort": 22, "toPort": 22, "prefixListIds": ["by-entries"]},
                                            deps={"prefixListIds": [EMPTY_LIST]}), True),
    "ingress-from-undeclared-list": (sg("partner-in", "ingress", [https(prefixListIds=["pl-0123456789abcdef0"])], []), True),
    "ingress-from-declared-and-undeclared": (sg("two-in", "ingress", [https(prefixListIds=["zone-gateways", "pl-0fedcba987654321f"])],
                                                [ZONE_LIST]), True),
    "ingress-rule-undeclared": (res(INGRESS_RULE, "vpc-rule-in", {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443,
                                                                  "toPort": 443, "prefixListId": "pl-0123456789abcdef0"}), True),
    "ingress-rule-computed-id": (res(INGRESS_RULE, "vpc-rule-unseen", {"securityGroupId": "sg-1", "ipProtocol": "tcp",
                                                                       "prefixListId": UNKNOWN}), True),
    "ingress-rule-declared": (res(INGRESS_RULE, "vpc-rule-zone", {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443,
                                                                  "toPort": 443, "prefixListId": UNKNOWN},
                                  deps={"prefixListId": [ZONE_LIST]}), False),
    "egress-rule-to-halves": (res(EGRESS_RULE, "vpc-rule-out", {"securityGroupId": "sg-1", "ipProtocol": "-1", "prefixListId": "halves"},
                                  deps={"prefixListId": [HALVES]}), True),
    "computed-entries": (sg("unseen-out", "egress", [https(prefixListIds=["computed"])], [COMPUTED_LIST]), True),
}


@pytest.fixture(scope="module")
def diagnostics(packs):
    return judge_all(packs.get(TESTING), LISTS + [resource for resource, _ in CASES.values()])


@pytest.mark.control("NB-02", "NB-05", "NB-09")
@pytest.mark.parametrize("case", sorted(CASES))
def test_prefix_lists_are_read_as_the_addresses_they_hold(diagnostics, case):
    resource, expected = CASES[case]
    assert (resource["name"] in flagged(diagnostics, POLICY)) is expected
    mandatory = {d.urn.rsplit("::", 1)[-1] for d in diagnostics if d.policy == POLICY and d.enforcement == "mandatory"}
    assert (resource["name"] in mandatory) is expected


def test_the_rule_flags_security_group_resources_only(diagnostics):
    assert flagged(diagnostics, POLICY) == {r["name"] for r, expected in CASES.values() if expected}


def test_an_undeclared_list_is_named_and_the_fix_given(diagnostics):
    [message] = [d.message for d in diagnostics if d.policy == POLICY and d.urn.endswith("::partner-in")]
    assert "pl-0123456789abcdef0" in message and "does not declare" in message


@pytest.mark.control("NB-02", "NB-10")
def test_declared_entries_outside_the_zone_are_outside_the_zone(packs):
    office = prefix_list("office", "203.0.113.0/24")
    rule = sg("office-in", "ingress", [https(prefixListIds=["office"])], [office])
    inside = sg("zone-in", "ingress", [https(prefixListIds=["zone-gateways"])], [ZONE_LIST])
    found = judge_all(packs.get(TESTING), [VPC, office, ZONE_LIST, rule, inside])
    assert flagged(found, "sg-rule-outside-zone") == {"office-in"}
    assert any("prefix list 'office'" in d.message for d in found if d.policy == "sg-rule-outside-zone")
