"""Mocks that answer like the clouds would: ids, ARNs and names in their real formats.

Realistic outputs matter: programs build policies and names from ARNs and ids, and the policy pack reads them.
Every value is derived from the resource's name, so two runs of the same program plan the same stack.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import pulumi

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

# EC2-style id prefixes (aws.ec2 and friends); other resources get a uuid-like or name-based id.
_ID_PREFIXES = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/defaultRouteTable:DefaultRouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
    "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl": "acl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/egressOnlyInternetGateway:EgressOnlyInternetGateway": "eigw",
    "aws:ec2/vpcPeeringConnection:VpcPeeringConnection": "pcx",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2transitgateway/transitGateway:TransitGateway": "tgw",
    "aws:ec2transitgateway/vpcAttachment:VpcAttachment": "tgw-attach",
    "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList": "rslvr-fdl",
    "aws:route53/resolverFirewallRuleGroup:ResolverFirewallRuleGroup": "rslvr-frg",
    "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation": "rslvr-frgassoc",
    "aws:route53/resolverFirewallConfig:ResolverFirewallConfig": "rslvr-fc",
}

# S3's published prefix list in us-east-1 (pl-63a5400a): the gateway endpoint's destinations.
_S3_PREFIX_LIST = {
    "id": "pl-63a5400a",
    "cidrs": ["3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"],
}


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class RealisticMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes with cloud-shaped values, and notes invokes it cannot answer."""

    def __init__(self, region: str | None = None) -> None:
        self.region = region or DEFAULT_REGION
        self.unanswered_invokes: list[str] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------- resources
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return None, {}
        state: dict[str, Any] = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return _uuid(args.name), state
        resource_id = self._resource_id(args.typ, args.name, state)
        state.update(self._computed(args.typ, args.name, resource_id, state))
        return resource_id, state

    def _resource_id(self, typ: str, name: str, state: dict) -> str:
        prefix = _ID_PREFIXES.get(typ)
        if prefix:
            return f"{prefix}-{_hex(typ + name, 17)}"
        if typ in ("aws:kms/key:Key",):
            return _uuid(name)
        physical = state.get("name") or state.get("bucket") or state.get("functionName")
        if isinstance(physical, str) and physical:
            return physical
        return f"{name}-{_hex(name, 7)}"

    def _computed(self, typ: str, name: str, resource_id: str, state: dict) -> dict[str, Any]:
        region, account = self.region, ACCOUNT_ID
        module = typ.split(":")[1].split("/")[0] if ":" in typ else ""
        out: dict[str, Any] = {"id": resource_id}
        if typ.startswith("aws:"):
            out["arn"] = f"arn:aws:{module}:{region}:{account}:{typ.split(':')[-1].lower()}/{resource_id}"
            out["tagsAll"] = dict(state.get("tags") or {})
        if "name" not in state and typ.startswith(("aws:iam/", "aws:cloudwatch/logGroup", "aws:lambda/", "aws:sns/", "aws:sqs/")):
            out["name"] = f"{name}-{_hex(name, 7)}"
        physical = state.get("name") or out.get("name") or resource_id
        if typ == "aws:ec2/vpc:Vpc":
            out.update(
                defaultNetworkAclId=f"acl-{_hex(name + 'acl', 17)}",
                defaultRouteTableId=f"rtb-{_hex(name + 'rtb', 17)}",
                defaultSecurityGroupId=f"sg-{_hex(name + 'sg', 17)}",
                mainRouteTableId=f"rtb-{_hex(name + 'rtb', 17)}",
                ownerId=account,
                arn=f"arn:aws:ec2:{region}:{account}:vpc/{resource_id}",
            )
        elif typ == "aws:kms/key:Key":
            out.update(keyId=resource_id, arn=f"arn:aws:kms:{region}:{account}:key/{resource_id}")
        elif typ == "aws:kms/alias:Alias":
            out.update(arn=f"arn:aws:kms:{region}:{account}:{physical}", targetKeyArn=f"arn:aws:kms:{region}:{account}:key/{state.get('targetKeyId')}")
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            out.update(arn=f"arn:aws:logs:{region}:{account}:log-group:{physical}")
        elif typ.startswith("aws:iam/"):
            kind = typ.split(":")[-1].lower()
            out.update(arn=f"arn:aws:iam::{account}:{kind}/{physical}", uniqueId=f"AROA{_hex(name, 17).upper()}")
        elif typ == "aws:s3/bucket:Bucket":
            bucket = state.get("bucket") or f"{name}-{_hex(name, 7)}"
            out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com")
        elif typ == "aws:lambda/function:Function":
            out.update(arn=f"arn:aws:lambda:{region}:{account}:function:{physical}", invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:{physical}/invocations")
        elif typ == "aws:sns/topic:Topic":
            out.update(arn=f"arn:aws:sns:{region}:{account}:{physical}")
        elif typ == "aws:eks/cluster:Cluster":
            out.update(
                arn=f"arn:aws:eks:{region}:{account}:cluster/{physical}",
                endpoint=f"https://{_hex(name, 32).upper()}.gr7.{region}.eks.amazonaws.com",
                certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{_hex(name, 32).upper()}"}]}],
                status="ACTIVE",
            )
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            out.update(latestVersion=1, defaultVersion=1, arn=f"arn:aws:ec2:{region}:{account}:launch-template/{resource_id}")
        elif typ == "aws:ec2/vpcEndpoint:VpcEndpoint":
            out.update(prefixListId=_S3_PREFIX_LIST["id"] if state.get("vpcEndpointType") == "Gateway" else "")
        return out

    # ------------------------------------------------------------------------------------------- invokes
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        answer = _INVOKES.get(args.token)
        if answer is None:
            with self._lock:
                self.unanswered_invokes.append(args.token)
            return {}
        return answer(self, dict(args.args))


def _caller_identity(_mocks: RealisticMocks, _args: dict) -> dict:
    return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/modelfort-deployer", "userId": "AROAMODELFORTDEPLOYER", "id": ACCOUNT_ID}


def _partition(_mocks: RealisticMocks, _args: dict) -> dict:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}


def _region(mocks: RealisticMocks, _args: dict) -> dict:
    return {"name": mocks.region, "region": mocks.region, "id": mocks.region, "endpoint": f"ec2.{mocks.region}.amazonaws.com"}


def _availability_zones(mocks: RealisticMocks, _args: dict) -> dict:
    letters = "abcdef"
    return {
        "names": [f"{mocks.region}{letter}" for letter in letters],
        "zoneIds": [f"use1-az{index + 1}" for index in range(len(letters))],
        "id": mocks.region,
    }


def _managed_prefix_list(mocks: RealisticMocks, args: dict) -> dict:
    name = args.get("name") or f"com.amazonaws.{mocks.region}.s3"
    return {
        "id": _S3_PREFIX_LIST["id"],
        "name": name,
        "addressFamily": "IPv4",
        "entries": [{"cidr": cidr, "description": ""} for cidr in _S3_PREFIX_LIST["cidrs"]],
        "maxEntries": len(_S3_PREFIX_LIST["cidrs"]),
        "ownerId": "AWS",
    }


_INVOKES = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getPartition:getPartition": _partition,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": _managed_prefix_list,
}
