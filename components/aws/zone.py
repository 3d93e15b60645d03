"""AwsZone: everything one zone needs on AWS, composed from the library's components."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.aws.alerts import AlertSubscription, SecurityAlerts, SecurityAlertsArgs
from components.aws.credential_janitor import CredentialJanitor, CredentialJanitorArgs
from components.aws.evidence_store import EvidenceStore, EvidenceStoreArgs, telemetry_log_group_name
from components.aws.guardrails import Guardrails, GuardrailsArgs, guardrail_defaults_for_tier
from components.aws.image_trust import ImageTrust, ImageTrustArgs
from components.aws.model_endpoint import OPENAI_REQUEST_SCHEMA, ClientLimits, ModelEndpoint, ModelEndpointArgs
from components.aws.secrets import RotatedSecret, RotatedSecretArgs
from components.aws.telemetry_shipping import TelemetryShipping, TelemetryShippingArgs
from components.aws.telemetry_watch import TelemetryWatch, TelemetryWatchArgs
from components.aws.gpu_cluster import GpuCluster, GpuClusterArgs
from components.aws.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs
from components.aws.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.aws.service_endpoints import DEFAULT_INTERFACE_SERVICES
from components.aws.weights import WeightsBucket, WeightsBucketArgs
from components.config import StackConfig
from components.k8s.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.k8s.image_admission import ImageAdmission, ImageAdmissionArgs
from components.k8s.guard import GUARD_PORT, PRINCIPAL_HEADER, BedrockGuardrail, GatewayMtls, GuardSettings
from components.k8s.namespace import HardenedNamespace, HardenedNamespaceArgs
from components.k8s.provider import cluster_options
from components.k8s.serving import EksPlatform, ModelServing, ModelServingArgs

MODELS_NAMESPACE = "models"
# The API's paths and where each goes on the inference guard (the OpenAI-compatible API it serves).
GUARD_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}


class AwsZone(pulumi.ComponentResource):
    CONTROLS = ("NB-10", "DP-08")
    network: SegmentedNetwork
    access_logs: AccessLogBucket
    weights: WeightsBucket
    reference_store: ModelReferenceStore
    cluster: GpuCluster | None
    """The GPU cluster, present when the stack serves models (modelfort:models)."""
    exports: dict[str, pulumi.Output]
    """The stack outputs the program exports (every cloud's zone offers this)."""

    def __init__(self, config: StackConfig, opts: pulumi.ResourceOptions | None = None, name: str | None = None) -> None:
        """`name` prefixes every resource; it defaults to the zone's name (one zone per stack)."""
        name = name or config.zone
        self._zone_name = name
        super().__init__("modelfort:aws:Zone", name, None, opts)
        tags = {**config.tags, "modelfort:zone": config.zone, "modelfort:tier": config.profile.tier}
        # One explicit provider per zone, so every resource lands in the configured region with the zone's tags.
        provider = aws.Provider(f"{name}-aws", region=config.region, default_tags={"tags": tags}, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, providers={"aws": provider})

        zones = aws.get_availability_zones(state="available", opts=pulumi.InvokeOptions(provider=provider))
        if len(zones.names) < config.network.availability_zone_count:
            raise ValueError(
                f"modelfort:network.availabilityZoneCount: {config.network.availability_zone_count} requested, "
                f"but region {config.region} offers {len(zones.names)}"
            )
        network = config.network
        self.network = SegmentedNetwork(
            f"{name}-network",
            SegmentedNetworkArgs(
                zone=config.zone,
                region=config.region,
                cidr_block=network.cidr,
                availability_zones=sorted(zones.names)[: network.availability_zone_count],
                log_retention_days=config.profile.log_retention_days,
                key_rotation_days=config.profile.key_rotation_days,
                interface_services=_interface_services(network.interface_endpoints),
                endpoint_allowed_cidrs=network.endpoint_allowed_cidrs,
                dns_allowed_domains=network.dns_allowed_domains,
                egress_allowlist_cidrs=network.egress_allowlist_cidrs,
                tags=tags,
            ),
            opts=child,
        )
        profile = config.profile
        self.access_logs = AccessLogBucket(
            f"{name}-access-logs",
            AccessLogBucketArgs(zone=config.zone, retention_days=profile.log_retention_days, tags=tags),
            opts=child,
        )
        self.weights = WeightsBucket(
            f"{name}-weights",
            WeightsBucketArgs(
                zone=config.zone,
                region=config.region,
                s3_endpoint_id=self.network.s3_endpoint_id,
                access_log_bucket=self.access_logs.bucket_name,
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        self.reference_store = ModelReferenceStore(
            f"{name}-reference-store",
            ModelReferenceStoreArgs(
                zone=config.zone,
                region=config.region,
                retention_days=profile.signature_retention_days,
                access_log_bucket=self.access_logs.bucket_name,
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        self.evidence = EvidenceStore(
            f"{name}-evidence",
            EvidenceStoreArgs(
                zone=config.zone,
                region=config.region,
                vpc_id=self.network.vpc_id,
                retention_days=profile.log_retention_days,
                log_retention_days=profile.log_retention_days,
                access_log_bucket=self.access_logs.bucket_name,
                watched_bucket_names=[self.weights.bucket_name, self.reference_store.bucket_name],
                flow_log_group_name=self.network.flow_log_group_name,
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        self.alerts = SecurityAlerts(
            f"{name}-alerts",
            SecurityAlertsArgs(
                zone=config.zone,
                region=config.region,
                telemetry_log_group_name=self.evidence.telemetry_log_group_name,
                findings_log_group_name=self.evidence.findings_log_group_name,
                subscriptions=[AlertSubscription(protocol=p, endpoint=e) for p, e in config.on_call],
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        on_call = [self.alerts.topic_arn]
        self.telemetry_watch = TelemetryWatch(
            f"{name}-telemetry-watch",
            TelemetryWatchArgs(
                zone=config.zone,
                region=config.region,
                telemetry_log_group_name=self.evidence.telemetry_log_group_name,
                telemetry_log_group_arn=self.evidence.telemetry_log_group_arn,
                evidence_bucket_name=self.evidence.bucket_name,
                evidence_bucket_arn=self.evidence.bucket_arn,
                evidence_kms_key_arn=self.evidence.kms_key_arn,
                alert_topic_arn=self.alerts.topic_arn,
                alert_kms_key_arn=self.alerts.kms_key_arn,
                subnet_ids=self.network.subnet_ids,
                security_group_ids=[self.network.workload_security_group_id],
                log_retention_days=profile.log_retention_days,
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        self.guardrails = Guardrails(
            f"{name}-guardrails",
            GuardrailsArgs(zone=config.zone, key_rotation_days=profile.key_rotation_days, tags=tags,
                           **guardrail_defaults_for_tier(profile.tier)),
            opts=child,
        )
        self.images = ImageTrust(
            f"{name}-images",
            ImageTrustArgs(zone=config.zone, region=config.region, repositories=["model-server", "verifier"],
                           key_rotation_days=profile.key_rotation_days, tags=tags),
            opts=child,
        )
        CredentialJanitor(
            f"{name}-credential-janitor",
            CredentialJanitorArgs(zone=config.zone, region=config.region, log_retention_days=profile.log_retention_days,
                                  alarm_actions=on_call, key_rotation_days=profile.key_rotation_days, tags=tags),
            opts=child,
        )
        self.cluster = self._compute(config, tags, child) if config.models else None
        self.exports: dict[str, pulumi.Output] = {
            "vpc_id": self.network.vpc_id,
            "weights_bucket": self.weights.bucket_name,
            "reference_store_bucket": self.reference_store.bucket_name,
            "signing_key_arn": self.reference_store.signing_key_arn,
            "release_publisher_role_arn": self.reference_store.publisher_role_arn,
        }
        self.exports.update({
            "evidence_bucket": self.evidence.bucket_name,
            "trail_arn": self.evidence.trail_arn,
            "on_call_topic_arn": self.alerts.topic_arn,
            "image_signing_key_arn": self.images.signing_key_arn,
        })
        if self.cluster is not None:
            self.exports["cluster_name"] = self.cluster.cluster_name
            self.exports["model_api_url"] = self.endpoint.invoke_url
        self.register_outputs(self.exports)

    def _compute(self, config: StackConfig, tags: dict, child: pulumi.ResourceOptions) -> GpuCluster:
        name, profile = self._zone_name, config.profile
        cluster = GpuCluster(
            f"{name}-gpu",
            GpuClusterArgs(
                zone=config.zone,
                region=config.region,
                vpc_id=self.network.vpc_id,
                subnet_ids=self.network.subnet_ids,
                vpc_cidr=config.network.cidr,
                log_retention_days=profile.log_retention_days,
                key_rotation_days=profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )
        nodes = GpuNodePool(
            f"{name}-gpu-nodes",
            GpuNodePoolArgs(
                zone=config.zone,
                cluster_name=cluster.cluster_name,
                subnet_ids=self.network.subnet_ids,
                node_security_group_id=cluster.node_security_group_id,
                kms_key_arn=cluster.kms_key_arn,
                tags=tags,
            ),
            opts=child,
        )
        self._serve_models(config, cluster, nodes, tags, child)
        return cluster

    def _serve_models(self, config: StackConfig, cluster: GpuCluster, nodes: GpuNodePool, tags: dict,
                      child: pulumi.ResourceOptions) -> None:
        """The Kubernetes layer on the private cluster: the GPU runtime, one hardened namespace, and one
        ModelServing per pinned release, each verifier with a role that can read only its own release."""
        name = self._zone_name
        k8s_opts = cluster_options(name, cluster.kubeconfig, parent=self, after=[nodes])
        GpuRuntime(f"{name}-gpu-runtime", GpuRuntimeArgs(api_server_cidrs=[config.network.cidr]), opts=k8s_opts)
        self.images.grant_pull("nodes", nodes.node_role)
        # Signed images only, in the model namespace: Kyverno verifies every image against the zone's signing key.
        kyverno_role = cluster.service_account_role(f"{name}-kyverno", "kyverno", "kyverno-admission-controller", tags)
        self.images.grant_verify("kyverno", kyverno_role)
        admission = ImageAdmission(
            f"{name}-image-admission",
            ImageAdmissionArgs(signing_key_arn=self.images.signing_key_arn, model_namespaces=[MODELS_NAMESPACE],
                               service_account_role_arn=kyverno_role.arn),
            opts=k8s_opts,
        )
        balancer, target_group = self._load_balancer(config, tags, child)
        namespace = HardenedNamespace(
            f"{name}-models",
            HardenedNamespaceArgs(
                name=MODELS_NAMESPACE,
                # Interface endpoints (STS, KMS) live in the VPC; S3 is reached through the gateway's public ranges.
                https_egress_cidrs=[config.network.cidr, *self.network.s3_prefix_cidrs],
                allow_dns_to_kube_dns=True,
                # The internal load balancer sends traffic straight to model-server pod IPs.
                load_balancer_cidrs=self.network.subnet_cidrs,
            ),
            opts=k8s_opts,
        )
        # The API comes first: each model pod's guard trusts its client certificate.
        self._api(config, balancer, tags, child)
        # The guards' telemetry lines leave the nodes for the zone's telemetry group, and nothing else is shipped.
        TelemetryShipping(
            f"{name}-telemetry-shipping",
            TelemetryShippingArgs(
                zone=config.zone, region=config.region, cluster_name=cluster.cluster_name,
                oidc_provider_arn=cluster.oidc_provider_arn, oidc_issuer=cluster.oidc_issuer,
                telemetry_log_group_name=telemetry_log_group_name(config.zone),
                telemetry_log_group_arn=self.evidence.telemetry_log_group_arn, kms_key_arn=self.evidence.kms_key_arn,
                alarm_topic_arn=self.alerts.topic_arn, log_retention_days=config.profile.log_retention_days,
                namespace=MODELS_NAMESPACE, api_name=self.endpoint.api_name, api_stage=self.endpoint.stage_name, tags=tags,
            ),
            # The add-on's DaemonSets need nodes to become active.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[nodes])),
        )
        for release in config.models:
            role = cluster.service_account_role(f"{name}-{release.name}-verifier", MODELS_NAMESPACE, release.name, tags)
            versions = [release.version] + ([release.canary.version] if release.canary else [])
            for version in versions:
                self.weights.grant_read(f"{release.name}-{version}", role, f"models/{release.name}/{version}")
            self.reference_store.grant_verify(release.name, role)
            # The pod's role also serves its guard: bedrock:ApplyGuardrail on the zone's pinned version only.
            self.guardrails.grant_apply(release.name, role)
            serving = ModelServing(
                f"{name}-{release.name}",
                ModelServingArgs.from_release(
                    release,
                    weights_bucket=self.weights.bucket_name,
                    reference_bucket=self.reference_store.bucket_name,
                    namespace=namespace.namespace_name,
                    verifier_image=config.verifier_image,
                    platform=EksPlatform(verifier_role_arn=role.arn, region=config.region),
                    guard=GuardSettings(
                        tier=config.profile.tier,
                        guardrail=BedrockGuardrail(guardrail_id=self.guardrails.guardrail_id,
                                                   guardrail_version=self.guardrails.version, region=config.region),
                        identity=GatewayMtls(tls_secret_name=config.endpoint.guard_certificate,
                                             gateway_ca_pem=self.endpoint.client_certificate_pem,
                                             principal_header=PRINCIPAL_HEADER),
                    ),
                    # Bottlerocket confines containers with SELinux and has no AppArmor: the stack waives the
                    # AppArmor rule for these pods with that reason, and seccomp stays on.
                    disable_apparmor=True,
                ),
                # No model pod may be admitted before the signature policy exists.
                opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[admission])),
            )
            self._bind_to_load_balancer(f"{name}-{release.name}", release.name, serving, target_group, k8s_opts)
        # The API key agents and tools present to internal services, rotated by the zone's tier (SC-04). Readers are
        # granted per consumer with `agent_token.grant_read`; until then only the rotation function can read it.
        self.agent_token = RotatedSecret(
            f"{name}-agent-token",
            RotatedSecretArgs(
                zone=config.zone,
                region=config.region,
                token_kind="agent",
                rotation_days=config.profile.secret_rotation_days,
                subnet_ids=self.network.subnet_ids,
                security_group_ids=[self.network.workload_security_group_id],
                log_retention_days=config.profile.log_retention_days,
                key_rotation_days=config.profile.key_rotation_days,
                alarm_actions=[self.alerts.topic_arn],
                description="API key of the zone's agents and tools",
                tags=tags,
            ),
            opts=child,
        )

    def _load_balancer(self, config: StackConfig, tags: dict, child: pulumi.ResourceOptions):
        """An internal NLB in the isolated subnets passing TLS through to the model pods' guards, where it ends (the
        guard verifies API Gateway's client certificate). Only the private API (through its VPC link) sends it traffic."""
        name = self._zone_name
        group = aws.ec2.SecurityGroup(
            f"{name}-model-nlb-sg",
            vpc_id=self.network.vpc_id,
            description=f"Model API load balancer of zone {config.zone}: TLS from the zone, passed through to the guards",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [config.network.cidr],
                      "description": "the private API's VPC link, inside the zone"}],
            egress=[{"protocol": "tcp", "from_port": GUARD_PORT, "to_port": GUARD_PORT, "cidr_blocks": self.network.subnet_cidrs,
                     "description": "model pods' inference guards"}],
            tags={**tags, "Name": f"{name}-model-nlb-sg"},
            opts=child,
        )
        balancer = aws.lb.LoadBalancer(
            f"{name}-model-nlb",
            internal=True,
            load_balancer_type="network",
            subnets=self.network.subnet_ids,
            security_groups=[group.id],
            enable_deletion_protection=True,
            tags=tags,
            opts=child,
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-model-targets",
            port=GUARD_PORT,
            protocol="TCP",
            target_type="ip",
            vpc_id=self.network.vpc_id,
            # The guard's port requires the gateway's client certificate, which a health check cannot present: the
            # check is a TCP connect, and the load balancer controller registers only pods whose guard is ready.
            health_check={"protocol": "TCP", "port": "traffic-port"},
            tags=tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-model-tls",
            load_balancer_arn=balancer.arn,
            port=443,
            # TLS passes through: it ends at each pod's guard, which must see API Gateway's client certificate.
            protocol="TCP",
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=child,
        )
        return balancer, target_group

    @staticmethod
    def _bind_to_load_balancer(resource_name: str, model: str, serving: ModelServing, target_group, k8s_opts: pulumi.ResourceOptions) -> None:
        """Register the model's pods in the target group (the AWS Load Balancer Controller, an EKS add-on the
        platform team installs, keeps the registrations current as pods come and go)."""
        k8s.apiextensions.CustomResource(
            f"{resource_name}-target-group-binding",
            api_version="elbv2.k8s.aws/v1beta1",
            kind="TargetGroupBinding",
            metadata={"name": f"{model}-api", "namespace": MODELS_NAMESPACE},
            spec={"serviceRef": {"name": serving.service_name, "port": GUARD_PORT},
                  "targetGroupARN": target_group.arn, "targetType": "ip"},
            opts=k8s_opts,
        )

    def _api(self, config: StackConfig, balancer, tags: dict, child: pulumi.ResourceOptions) -> None:
        endpoint = config.endpoint
        self.endpoint = ModelEndpoint(
            f"{self._zone_name}-model-api",
            ModelEndpointArgs(
                zone=config.zone,
                region=config.region,
                target_nlb_arn=balancer.arn,
                target_url=f"https://{endpoint.hostname}",
                paths=tuple(GUARD_PATHS),
                upstream_paths=GUARD_PATHS,
                principal_header=PRINCIPAL_HEADER,
                request_schema=OPENAI_REQUEST_SCHEMA,
                vpc_endpoint_ids=[self.network.interface_endpoint_ids["execute-api"]],
                alarm_topic_arn=self.alerts.topic_arn,
                clients={name: ClientLimits(rate_limit=c.rate_limit, burst_limit=c.burst_limit, daily_quota=c.daily_quota)
                         for name, c in endpoint.clients.items()},
                log_retention_days=config.profile.log_retention_days,
                key_rotation_days=config.profile.key_rotation_days,
                tags=tags,
            ),
            opts=child,
        )


def _interface_services(extra: tuple[str, ...]) -> tuple[str, ...]:
    return (*DEFAULT_INTERFACE_SERVICES, *(s for s in extra if s not in DEFAULT_INTERFACE_SERVICES))
