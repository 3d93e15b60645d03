"""GpuCluster: a private EKS control plane for model workloads (RI-11, NB-01..03, SC-03).

Private endpoint only; Kubernetes secrets envelope-encrypted with a rotated customer key; control-plane logs
(api, audit, authenticator) to an encrypted log group kept for the tier; access entries only — the identity that
creates the cluster gets no implicit admin; the control plane's network interfaces in the zone's isolated subnets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import account_root_statement, policy_document

CONTROL_PLANE_LOGS = ("api", "audit", "authenticator", "controllerManager", "scheduler")
REQUIRED_CONTROL_PLANE_LOGS = ("api", "audit", "authenticator")
KUBERNETES_VERSION = "1.33"


@dataclass(frozen=True, kw_only=True)
class GpuClusterArgs:
    zone: str
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    vpc_cidr: str
    """The zone's CIDR: the cluster security group admits the API (443) from it and nothing else."""
    log_retention_days: int
    key_rotation_days: int = 365
    kubernetes_version: str = KUBERNETES_VERSION
    admin_role_arns: Sequence[pulumi.Input[str]] = ()
    """Roles granted cluster admin through access entries (break-glass, audited). Defaults to none."""
    allow_public_endpoint: bool = False
    """Escape hatch (weakens NB-01, RI-11): expose the Kubernetes API publicly. Defaults to False."""
    grant_creator_admin: bool = False
    """Escape hatch (weakens RI-11): give whoever runs `pulumi up` implicit cluster admin. Defaults to False."""
    tags: Mapping[str, str] = field(default_factory=dict)


class GpuCluster(pulumi.ComponentResource):
    CONTROLS = ("NB-01", "NB-02", "RI-11", "SC-03", "OB-01")
    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    certificate_authority: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    node_security_group_id: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    """Encrypts Kubernetes secrets, the control-plane logs and the nodes' volumes."""
    kubeconfig: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    """The cluster's OIDC issuer without https:// (the prefix of IRSA trust-policy condition keys)."""

    def __init__(self, name: str, args: GpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:GpuCluster", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        cluster_name = f"modelfort-{args.zone}"

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts Kubernetes secrets, control-plane logs and node volumes of zone {args.zone}",
            enable_key_rotation=True,
            rotation_period_in_days=args.key_rotation_days,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(caller.account_id, partition.partition).apply(
                lambda v: json.dumps(policy_document([account_root_statement(v[0], v[1]), _logs_statement(v[0], v[1], args.region, cluster_name)]))
            ),
            tags=tags,
            opts=child,
        )
        # EKS writes control-plane logs to this exact group name; creating it first sets encryption and retention.
        aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            kms_key_id=key.arn,
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(policy_document([
                {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
            ])),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-role-policy", role=role.name,
            policy_arn=partition.partition.apply(lambda p: f"arn:{p}:iam::aws:policy/AmazonEKSClusterPolicy"), opts=child,
        )
        self._cluster_sg = aws.ec2.SecurityGroup(
            f"{name}-control-plane-sg",
            vpc_id=args.vpc_id,
            description=f"EKS control plane of zone {args.zone}: API from the zone only",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [args.vpc_cidr], "description": "Kubernetes API from the zone"}],
            egress=[{"protocol": "tcp", "from_port": 0, "to_port": 65535, "cidr_blocks": [args.vpc_cidr], "description": "kubelets and webhooks in the zone"}],
            tags={**tags, "Name": f"{name}-control-plane-sg"},
            opts=child,
        )
        self._node_sg = aws.ec2.SecurityGroup(
            f"{name}-node-sg",
            vpc_id=args.vpc_id,
            description=f"GPU nodes of zone {args.zone}: no internet egress",
            ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [args.vpc_cidr], "description": "the zone's nodes and control plane"}],
            egress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [args.vpc_cidr], "description": "the zone only: endpoints, control plane, nodes"}],
            tags={**tags, "Name": f"{name}-node-sg"},
            opts=child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=cluster_name,
            role_arn=role.arn,
            version=args.kubernetes_version,
            vpc_config={
                "subnet_ids": args.subnet_ids,
                "security_group_ids": [self._cluster_sg.id],
                "endpoint_private_access": True,
                "endpoint_public_access": args.allow_public_endpoint,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOGS),
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": args.grant_creator_admin,
            },
            deletion_protection=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key]),
        )
        for index, admin in enumerate(args.admin_role_arns):
            entry = aws.eks.AccessEntry(f"{name}-admin-{index}", cluster_name=cluster.name, principal_arn=admin, type="STANDARD", opts=child)
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}-policy",
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope={"type": "cluster"},
                opts=child,
            )
        # IRSA: each model's service account may assume only its own role (no node-wide credentials).
        issuer_url = cluster.identities.apply(_oidc_issuer)
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            # IAM validates EKS issuers against its trusted CAs; the API still requires a thumbprint.
            thumbprint_lists=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"],
            tags=tags,
            opts=child,
        )

        self._cluster = cluster
        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.certificate_authority = cluster.certificate_authority.apply(lambda ca: (ca or {}).get("data", "") if isinstance(ca, dict) else getattr(ca, "data", ""))
        self.cluster_security_group_id = self._cluster_sg.id
        self.node_security_group_id = self._node_sg.id
        self.kms_key_arn = key.arn
        self.oidc_provider_arn = oidc.arn
        self.oidc_issuer = issuer_url.apply(lambda url: url.removeprefix("https://"))
        self.kubeconfig = pulumi.Output.all(cluster.name, cluster.endpoint, self.certificate_authority).apply(
            lambda v: json.dumps(_kubeconfig(v[0], v[1], v[2], args.region))
        )
        self.register_outputs({"cluster_name": self.cluster_name, "endpoint": self.endpoint})


    def service_account_role(self, role_name: str, namespace: str, service_account: str, tags: Mapping[str, str]) -> aws.iam.Role:
        """A role only the named Kubernetes service account can assume (IRSA), for one model's verifier."""
        trust = irsa_trust_policy(self.oidc_provider_arn, self.oidc_issuer, namespace, service_account)
        return aws.iam.Role(role_name, assume_role_policy=trust, max_session_duration=3600, tags=dict(tags),
                            opts=pulumi.ResourceOptions(parent=self))


def irsa_trust_policy(oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], namespace: str,
                      service_account: str) -> pulumi.Output[str]:
    """A trust policy only one Kubernetes service account of the cluster can use (IRSA, audience STS)."""
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda v: json.dumps(policy_document([{
            "Effect": "Allow",
            "Principal": {"Federated": v[0]},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{v[1]}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{v[1]}:aud": "sts.amazonaws.com",
            }},
        }]))
    )


def _oidc_issuer(identities) -> str:
    first = identities[0]
    oidc = first["oidcs"][0] if isinstance(first, dict) else first.oidcs[0]
    return oidc["issuer"] if isinstance(oidc, dict) else oidc.issuer


def _logs_statement(account: str, partition: str, region: str, cluster_name: str) -> dict:
    return {
        "Sid": "ControlPlaneLogsOnly",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:log-group:/aws/eks/{cluster_name}/*"}},
    }


def _kubeconfig(name: str, endpoint: str, ca: str, region: str) -> dict:
    """A kubeconfig that authenticates with `aws eks get-token`: short-lived tokens, no static credentials."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
                                                  "args": ["eks", "get-token", "--cluster-name", name, "--region", region]}}}],
    }
