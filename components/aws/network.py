"""SegmentedNetwork: one isolated VPC per zone, with no way out but private AWS service endpoints.

Controls: NB-01 (no internet route), NB-02 (egress denied by default), NB-03 (explicit endpoint allow-list),
NB-04 (DNS firewall, default deny, fail closed), NB-09 (isolated subnets), NB-10 (no path between zones).
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config import is_private_range
from components.aws.service_endpoints import DEFAULT_INTERFACE_SERVICES, required_domains, service_name

CONTROLS = ("NB-01", "NB-02", "NB-03", "NB-04", "NB-09", "NB-10")
HTTPS = 443
EPHEMERAL_PORTS = (1024, 65535)
# Allowed priorities leave room between the allow and block rules for a platform team's own rules.
DNS_ALLOW_PRIORITY, DNS_BLOCK_PRIORITY = 100, 900


@dataclass(frozen=True, kw_only=True)
class SegmentedNetworkArgs:
    zone: str
    """The zone this network isolates (redteam, testing, production, high-sensitivity); tagged on every resource."""
    region: str
    """The AWS region; endpoint service names and DNS names are built from it."""
    cidr_block: str
    """The VPC's private IPv4 CIDR, distinct from every other zone's."""
    availability_zones: Sequence[str]
    """At least two; one isolated subnet is created in each."""
    log_retention_days: int
    """How long flow logs are kept (the zone's tier sets it)."""
    key_rotation_days: int = 365
    """Rotation period of the key this component creates for its logs. Defaults to 365."""
    interface_services: Sequence[str] = DEFAULT_INTERFACE_SERVICES
    """AWS services reached through interface endpoints. Defaults to what a private EKS model cluster needs."""
    endpoint_allowed_cidrs: Sequence[str] = ()
    """Extra CIDRs the endpoint security group admits beyond the zone's subnets. Defaults to none."""
    dns_allowed_domains: Sequence[str] = ()
    """Escape hatch (weakens NB-04): non-AWS domains the DNS firewall allows. Defaults to none; a policy blocks any
    unless the stack waives it."""
    egress_allowlist_cidrs: Sequence[str] = ()
    """Escape hatch (weakens NB-02): outside CIDRs workloads may reach on HTTPS, e.g. red-team targets. Defaults to
    none; a policy blocks any unless the stack waives it."""
    allow_dns_firewall_fail_open: bool = False
    """Escape hatch (weakens NB-04): let DNS through when the firewall is impaired. Defaults to False (fail closed)."""
    enable_flow_logs: bool = True
    """Record ALL VPC traffic to an encrypted log group. Defaults to True; turning it off is blocked by a policy."""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own KMS key for the flow logs; None (the default) creates a rotated customer-managed key."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.availability_zones) < 2:
            raise ValueError("SegmentedNetworkArgs.availability_zones: give at least two availability zones")
        if len(set(self.availability_zones)) != len(self.availability_zones):
            raise ValueError("SegmentedNetworkArgs.availability_zones: each availability zone once")
        network = ipaddress.ip_network(self.cidr_block)  # raises with the offending value
        if not is_private_range(network):
            raise ValueError(f"SegmentedNetworkArgs.cidr_block: {self.cidr_block} must be a private IPv4 CIDR")
        for cidr in (*self.endpoint_allowed_cidrs, *self.egress_allowlist_cidrs):
            if ipaddress.ip_network(cidr).prefixlen == 0:
                raise ValueError(f"SegmentedNetworkArgs: {cidr} would open the zone to every address; never allowed")
        if self.log_retention_days <= 0:
            raise ValueError("SegmentedNetworkArgs.log_retention_days: must be positive (logs are evidence)")


def plan_subnets(cidr_block: str, count: int) -> list[str]:
    """Split the VPC CIDR into `count` equal subnets, leaving the rest free for later growth.

    At least a quarter of the space per subnet is never used, so four subnets is the smallest split.
    """
    network = ipaddress.ip_network(cidr_block)
    bits = max(2, math.ceil(math.log2(count)))
    subnets = list(network.subnets(prefixlen_diff=bits))
    if network.prefixlen + bits > 28:
        raise ValueError(f"{cidr_block} is too small for {count} subnets of at least /28")
    return [str(s) for s in subnets[:count]]


class SegmentedNetwork(pulumi.ComponentResource):
    CONTROLS = CONTROLS
    vpc_id: pulumi.Output[str]
    """The zone's VPC."""
    subnet_ids: pulumi.Output[list[str]]
    """The isolated private subnets, one per availability zone."""
    subnet_cidrs: list[str]
    """Their CIDRs (planned, so known without waiting on AWS)."""
    route_table_id: pulumi.Output[str]
    """The isolated route table: local routes and the S3 gateway endpoint only."""
    workload_security_group_id: pulumi.Output[str]
    """For model nodes and functions: egress only to the endpoints and S3 (plus any allow-listed target)."""
    endpoint_security_group_id: pulumi.Output[str]
    """Guards the interface endpoints: HTTPS from the zone's subnets only."""
    kms_key_arn: pulumi.Output[str]
    """The key that encrypts the flow logs."""
    flow_log_group_name: pulumi.Output[str] | None
    """Where VPC flow logs go (None if flow logs were turned off)."""
    dns_firewall_rule_group_id: pulumi.Output[str]
    s3_endpoint_id: pulumi.Output[str]
    """The S3 gateway endpoint: buckets of the zone admit requests only through it."""
    interface_endpoint_ids: dict[str, pulumi.Output[str]]
    """Each interface endpoint by service name (the model API's private endpoint is `execute-api`)."""
    s3_prefix_cidrs: list[str]
    """The public ranges S3's gateway endpoint routes to (Kubernetes network policies must allow them on 443)."""

    def __init__(self, name: str, args: SegmentedNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:SegmentedNetwork", name, None, opts)
        self._name = name
        self._args = args
        self._tags = {**args.tags, "modelfort:zone": args.zone}
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
            # Private DNS for interface endpoints needs both.
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags=self._named(f"{name}-vpc"),
            opts=child,
        )
        self._lock_down_defaults(child)
        self.subnet_cidrs = plan_subnets(args.cidr_block, len(args.availability_zones))
        self.subnets = [
            aws.ec2.Subnet(
                f"{name}-isolated-{az}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=az,
                map_public_ip_on_launch=False,
                assign_ipv6_address_on_creation=False,
                tags=self._named(f"{name}-isolated-{az}", {"modelfort:tier": "isolated"}),
                opts=child,
            )
            for az, cidr in zip(args.availability_zones, self.subnet_cidrs)
        ]
        # `routes=[]` makes Pulumi own the table's routes: anything added out of band is removed on the next update.
        self.route_table = aws.ec2.RouteTable(
            f"{name}-isolated-rt", vpc_id=self.vpc.id, routes=[], tags=self._named(f"{name}-isolated-rt"), opts=child
        )
        for az, subnet in zip(args.availability_zones, self.subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-isolated-rt-{az}", subnet_id=subnet.id, route_table_id=self.route_table.id, opts=child
            )

        s3_prefix_list = aws.ec2.get_managed_prefix_list(
            name=service_name("s3", args.region), opts=pulumi.InvokeOptions(parent=self)
        )
        s3_cidrs = sorted(entry.cidr for entry in s3_prefix_list.entries)
        self.s3_prefix_cidrs = s3_cidrs
        self._network_acl(child, s3_cidrs)
        self.endpoint_security_group = self._endpoint_security_group(child)
        self.workload_security_group = self._workload_security_group(child, s3_prefix_list.id)
        self.s3_endpoint_id = self._endpoints(child, caller, partition).id
        self.dns_firewall_rule_group = self._dns_firewall(child)

        self.kms_key_arn = (
            pulumi.Output.from_input(args.kms_key_arn)
            if args.kms_key_arn is not None
            else self._log_key(child, caller, partition).arn
        )
        self.flow_log_group_name = self._flow_logs(child, caller, partition) if args.enable_flow_logs else None

        self.vpc_id = self.vpc.id
        self.subnet_ids = pulumi.Output.all(*[s.id for s in self.subnets])
        self.route_table_id = self.route_table.id
        self.workload_security_group_id = self.workload_security_group.id
        self.endpoint_security_group_id = self.endpoint_security_group.id
        self.dns_firewall_rule_group_id = self.dns_firewall_rule_group.id
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "subnet_ids": self.subnet_ids,
                "workload_security_group_id": self.workload_security_group_id,
                "endpoint_security_group_id": self.endpoint_security_group_id,
                "kms_key_arn": self.kms_key_arn,
            }
        )

    def _named(self, name: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self._tags, "Name": name, **(extra or {})}

    def _lock_down_defaults(self, child: pulumi.ResourceOptions) -> None:
        """AWS gives every VPC a default security group and network ACL that allow all traffic: empty them."""
        aws.ec2.DefaultSecurityGroup(
            f"{self._name}-default-sg", vpc_id=self.vpc.id, ingress=[], egress=[], tags=self._named(f"{self._name}-default-sg"), opts=child
        )
        aws.ec2.DefaultNetworkAcl(
            f"{self._name}-default-nacl",
            default_network_acl_id=self.vpc.default_network_acl_id,
            ingress=[],
            egress=[],
            tags=self._named(f"{self._name}-default-nacl"),
            opts=child,
        )
        aws.ec2.DefaultRouteTable(
            f"{self._name}-default-rt",
            default_route_table_id=self.vpc.default_route_table_id,
            routes=[],
            tags=self._named(f"{self._name}-default-rt"),
            opts=child,
        )

    def _network_acl(self, child: pulumi.ResourceOptions, s3_cidrs: Sequence[str]) -> aws.ec2.NetworkAcl:
        """Stateless second layer: HTTPS within the zone and to S3 (gateway endpoint), replies back; nothing else."""
        args = self._args
        peers = [args.cidr_block, *args.endpoint_allowed_cidrs]
        egress: list[dict] = []
        ingress: list[dict] = []
        rule_no = 100
        for cidr in peers:
            egress += [_nacl(rule_no, cidr, HTTPS, HTTPS), _nacl(rule_no + 1, cidr, *EPHEMERAL_PORTS)]
            ingress += [_nacl(rule_no, cidr, HTTPS, HTTPS), _nacl(rule_no + 1, cidr, *EPHEMERAL_PORTS)]
            rule_no += 10
        for cidr in (*s3_cidrs, *args.egress_allowlist_cidrs):
            # Outbound HTTPS only; inbound only the replies.
            egress.append(_nacl(rule_no, cidr, HTTPS, HTTPS))
            ingress.append(_nacl(rule_no, cidr, *EPHEMERAL_PORTS))
            rule_no += 10
        return aws.ec2.NetworkAcl(
            f"{self._name}-isolated-nacl",
            vpc_id=self.vpc.id,
            subnet_ids=[s.id for s in self.subnets],
            egress=egress,
            ingress=ingress,
            tags=self._named(f"{self._name}-isolated-nacl"),
            opts=child,
        )

    def _endpoint_security_group(self, child: pulumi.ResourceOptions) -> aws.ec2.SecurityGroup:
        admitted = [*self.subnet_cidrs, *self._args.endpoint_allowed_cidrs]
        return aws.ec2.SecurityGroup(
            f"{self._name}-endpoint-sg",
            vpc_id=self.vpc.id,
            description=f"Interface endpoints of zone {self._args.zone}: HTTPS from the zone's subnets only",
            ingress=[{"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS, "cidr_blocks": admitted,
                      "description": "HTTPS from the zone's subnets"}],
            # An explicit empty list removes the allow-all egress rule AWS adds to every new security group.
            egress=[],
            tags=self._named(f"{self._name}-endpoint-sg"),
            opts=child,
        )

    def _workload_security_group(self, child: pulumi.ResourceOptions, s3_prefix_list_id: str) -> aws.ec2.SecurityGroup:
        egress = [
            {"protocol": "-1", "from_port": 0, "to_port": 0, "self": True, "description": "within the workload group"},
            {"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS,
             "security_groups": [self.endpoint_security_group.id], "description": "AWS APIs via interface endpoints"},
            {"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS,
             "prefix_list_ids": [s3_prefix_list_id], "description": "S3 via the gateway endpoint"},
        ]
        if self._args.egress_allowlist_cidrs:
            egress.append({"protocol": "tcp", "from_port": HTTPS, "to_port": HTTPS,
                           "cidr_blocks": list(self._args.egress_allowlist_cidrs),
                           "description": "ESCAPE HATCH: allow-listed outside targets"})
        return aws.ec2.SecurityGroup(
            f"{self._name}-workload-sg",
            vpc_id=self.vpc.id,
            description=f"Model workloads of zone {self._args.zone}: no internet egress",
            ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True,
                      "description": "within the workload group"}],
            egress=egress,
            tags=self._named(f"{self._name}-workload-sg"),
            opts=child,
        )

    def _endpoints(self, child: pulumi.ResourceOptions, caller, partition) -> aws.ec2.VpcEndpoint:
        args = self._args
        self.interface_endpoint_ids = {}
        for service in args.interface_services:
            self.interface_endpoint_ids[service] = aws.ec2.VpcEndpoint(
                f"{self._name}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=service_name(service, args.region),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.subnets],
                security_group_ids=[self.endpoint_security_group.id],
                tags=self._named(f"{self._name}-{service}"),
                opts=child,
            ).id
        return aws.ec2.VpcEndpoint(
            f"{self._name}-s3-gateway-endpoint",
            vpc_id=self.vpc.id,
            service_name=service_name("s3", args.region),
            vpc_endpoint_type="Gateway",
            route_table_ids=[self.route_table.id],
            # Without a policy a gateway endpoint admits every bucket of every account: an open path out of the zone.
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                lambda values: json.dumps(s3_endpoint_policy(values[0], values[1], args.region))),
            tags=self._named(f"{self._name}-s3"),
            opts=child,
        )

    def _dns_firewall(self, child: pulumi.ResourceOptions) -> aws.route53.ResolverFirewallRuleGroup:
        """Allow the service names the endpoints serve, then block every other name; fail closed."""
        args = self._args
        name = self._name
        allowed = aws.route53.ResolverFirewallDomainList(
            f"{name}-dns-allowed",
            domains=[*required_domains(args.interface_services, args.region), *args.dns_allowed_domains],
            tags=self._named(f"{name}-dns-allowed"),
            opts=child,
        )
        everything = aws.route53.ResolverFirewallDomainList(
            f"{name}-dns-everything", domains=["*"], tags=self._named(f"{name}-dns-everything"), opts=child
        )
        group = aws.route53.ResolverFirewallRuleGroup(f"{name}-dns-firewall", tags=self._named(f"{name}-dns-firewall"), opts=child)
        aws.route53.ResolverFirewallRule(
            f"{name}-dns-allow-services",
            firewall_rule_group_id=group.id,
            firewall_domain_list_id=allowed.id,
            action="ALLOW",
            priority=DNS_ALLOW_PRIORITY,
            opts=child,
        )
        aws.route53.ResolverFirewallRule(
            f"{name}-dns-block-everything-else",
            firewall_rule_group_id=group.id,
            firewall_domain_list_id=everything.id,
            action="BLOCK",
            block_response="NXDOMAIN",
            priority=DNS_BLOCK_PRIORITY,
            opts=child,
        )
        aws.route53.ResolverFirewallRuleGroupAssociation(
            f"{name}-dns-firewall-association",
            name=f"{name}-dns-firewall",
            firewall_rule_group_id=group.id,
            vpc_id=self.vpc.id,
            priority=101,
            # Nobody can disassociate the firewall without first lifting this through the stack.
            mutation_protection="ENABLED",
            tags=self._named(f"{name}-dns-firewall-association"),
            opts=child,
        )
        aws.route53.ResolverFirewallConfig(
            f"{name}-dns-firewall-config",
            resource_id=self.vpc.id,
            firewall_fail_open="ENABLED" if args.allow_dns_firewall_fail_open else "DISABLED",
            opts=child,
        )
        return group

    def _log_key(self, child: pulumi.ResourceOptions, caller, partition) -> aws.kms.Key:
        args = self._args
        policy = pulumi.Output.all(caller.account_id, partition.partition).apply(
            lambda values: json.dumps(_log_key_policy(values[0], values[1], args.region, args.zone))
        )
        key = aws.kms.Key(
            f"{self._name}-logs-key",
            description=f"Encrypts the network logs of zone {args.zone}",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=policy,
            tags=self._named(f"{self._name}-logs-key"),
            opts=child,
        )
        aws.kms.Alias(f"{self._name}-logs-key-alias", name=f"alias/modelfort/{args.zone}/network-logs", target_key_id=key.key_id, opts=child)
        return key

    def _flow_logs(self, child: pulumi.ResourceOptions, caller, partition) -> pulumi.Output[str]:
        args = self._args
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=f"/modelfort/{args.zone}/vpc-flow-logs",
            kms_key_id=self.kms_key_arn,
            retention_in_days=args.log_retention_days,
            tags=self._named(f"{self._name}-flow-logs"),
            opts=child,
        )
        trust = caller.account_id.apply(
            lambda account: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            # Confused-deputy guard: only flow logs of this account may use the role.
                            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                        }
                    ],
                }
            )
        )
        role = aws.iam.Role(f"{self._name}-flow-logs-role", assume_role_policy=trust, tags=self._named(f"{self._name}-flow-logs-role"), opts=child)
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs-write",
            role=role.id,
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=self._named(f"{self._name}-flow-log"),
            opts=child,
        )
        return group.name


def _nacl(rule_no: int, cidr: str, from_port: int, to_port: int) -> dict:
    return {"rule_no": rule_no, "protocol": "tcp", "action": "allow", "cidr_block": cidr, "from_port": from_port, "to_port": to_port}


S3_ENDPOINT_ACTIONS = (
    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation",
    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
)
"""What the zone's workloads do with S3: read weights and signatures, write evidence and findings."""


def s3_endpoint_policy(account: str, partition: str, region: str) -> dict:
    """The S3 gateway endpoint's policy: the zone account's own buckets, and the bucket ECR keeps image layers in.

    Principal "*" is how endpoint policies are written (they bound what passes the endpoint; each caller's own IAM
    policy still applies); the condition on the resource's account is what closes the path to other accounts'
    buckets. ECR serves image layers from an AWS-owned bucket, so pulls need that one bucket, read-only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ZoneAccountBucketsOnly", "Effect": "Allow", "Principal": "*", "Action": list(S3_ENDPOINT_ACTIONS),
             "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceAccount": account}}},
            {"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:{partition}:s3:::prod-{region}-starport-layer-bucket/*"},
        ],
    }


def _log_key_policy(account: str, partition: str, region: str, zone: str) -> dict:
    root = f"arn:{partition}:iam::{account}:root"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Keeps the key manageable through IAM (without it a key can be locked out for good).
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsOfThisZoneOnly",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:log-group:/modelfort/{zone}/*"
                    }
                },
            },
        ],
    }
