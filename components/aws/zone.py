"""AwsZone: everything one zone needs on AWS, composed from the library's components."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws.access_logs import AccessLogBucket, AccessLogBucketArgs
from components.aws.gpu_cluster import GpuCluster, GpuClusterArgs
from components.aws.gpu_node_pool import GpuNodePool, GpuNodePoolArgs
from components.aws.network import SegmentedNetwork, SegmentedNetworkArgs
from components.aws.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.aws.service_endpoints import DEFAULT_INTERFACE_SERVICES
from components.aws.weights import WeightsBucket, WeightsBucketArgs
from components.config import StackConfig
from components.k8s.gpu_runtime import GpuRuntime, GpuRuntimeArgs
from components.k8s.namespace import HardenedNamespace, HardenedNamespaceArgs
from components.k8s.serving import ModelServing, ModelServingArgs

MODELS_NAMESPACE = "models"


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

    def __init__(self, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        name = config.zone
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
        self.cluster = self._compute(config, tags, child) if config.models else None
        self.exports: dict[str, pulumi.Output] = {
            "vpc_id": self.network.vpc_id,
            "weights_bucket": self.weights.bucket_name,
            "reference_store_bucket": self.reference_store.bucket_name,
            "signing_key_arn": self.reference_store.signing_key_arn,
            "release_publisher_role_arn": self.reference_store.publisher_role_arn,
        }
        if self.cluster is not None:
            self.exports["cluster_name"] = self.cluster.cluster_name
        self.register_outputs(self.exports)

    def _compute(self, config: StackConfig, tags: dict, child: pulumi.ResourceOptions) -> GpuCluster:
        name, profile = config.zone, config.profile
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
        name = config.zone
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes]),
        )
        k8s_opts = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})
        GpuRuntime(f"{name}-gpu-runtime", GpuRuntimeArgs(api_server_cidrs=[config.network.cidr]), opts=k8s_opts)
        namespace = HardenedNamespace(
            f"{name}-models",
            HardenedNamespaceArgs(
                name=MODELS_NAMESPACE,
                # Interface endpoints (STS, KMS) live in the VPC; S3 is reached through the gateway's public ranges.
                https_egress_cidrs=[config.network.cidr, *self.network.s3_prefix_cidrs],
                allow_dns_to_kube_dns=True,
            ),
            opts=k8s_opts,
        )
        for release in config.models:
            role = cluster.service_account_role(f"{name}-{release.name}-verifier", MODELS_NAMESPACE, release.name, tags)
            versions = [release.version] + ([release.canary.version] if release.canary else [])
            for version in versions:
                self.weights.grant_read(f"{release.name}-{version}", role, f"models/{release.name}/{version}")
            self.reference_store.grant_verify(release.name, role)
            ModelServing(
                f"{name}-{release.name}",
                ModelServingArgs.from_release(
                    release,
                    weights_bucket=self.weights.bucket_name,
                    reference_bucket=self.reference_store.bucket_name,
                    namespace=namespace.namespace_name,
                    verifier_image=config.verifier_image,
                    irsa_role_arn=role.arn,
                    aws_region=config.region,
                    # Bottlerocket confines containers with SELinux and has no AppArmor: the stack waives the
                    # AppArmor rule for these pods with that reason, and seccomp stays on.
                    disable_apparmor=True,
                ),
                opts=k8s_opts,
            )


def _interface_services(extra: tuple[str, ...]) -> tuple[str, ...]:
    return (*DEFAULT_INTERFACE_SERVICES, *(s for s in extra if s not in DEFAULT_INTERFACE_SERVICES))
