"""GcpZone: everything one zone needs on Google Cloud, composed from the library's components.

One zone per project is assumed: the project's Binary Authorization policy, Model Armor floor setting and VPC Service
Controls perimeter are project-wide, and a project boundary is the strongest line Google Cloud draws between zones.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.config import StackConfig
from components.gcp.common import label, project_number, zone_labels
from components.gcp.evidence import EvidenceLog, EvidenceLogArgs
from components.gcp.gke_cluster import GpuCluster, GpuClusterArgs
from components.gcp.gke_node_pool import GpuNodePool, GpuNodePoolArgs
from components.gcp.model_armor import ModelGuardrails, ModelGuardrailsArgs
from components.gcp.network import SegmentedNetwork, SegmentedNetworkArgs
from components.gcp.perimeter import ACCESS_POLICY_PLACEHOLDER, ModelPerimeter, ModelPerimeterArgs
from components.gcp.reference_store import ModelReferenceStore, ModelReferenceStoreArgs
from components.gcp.secrets import RotatedSecret, RotatedSecretArgs, SecretRotation, SecretRotationArgs
from components.gcp.supply_chain import ImageTrust, ImageTrustArgs
from components.gcp.telemetry_routing import GuardTelemetryLog, GuardTelemetryLogArgs
from components.gcp.telemetry_watch import TelemetryWatch, TelemetryWatchArgs
from components.gcp.weights import WeightsBucket, WeightsBucketArgs
from components.k8s.guard import GuardSettings, JwtIdentity, ModelArmorGuardrail
from components.k8s.namespace import HardenedNamespace, HardenedNamespaceArgs
from components.k8s.provider import cluster_options
from components.k8s.serving import GkePlatform, ModelServing, ModelServingArgs

REQUIRED_APIS = (
    "compute.googleapis.com",
    "dns.googleapis.com",
    "cloudkms.googleapis.com",
    "storage.googleapis.com",
    "logging.googleapis.com",
    "iam.googleapis.com",
    "artifactregistry.googleapis.com",
    "binaryauthorization.googleapis.com",
    "containeranalysis.googleapis.com",
    "modelarmor.googleapis.com",
    "accesscontextmanager.googleapis.com",
)
SERVING_APIS = (
    "container.googleapis.com",
    "secretmanager.googleapis.com",
    "pubsub.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudbuild.googleapis.com",
    "run.googleapis.com",
    "eventarc.googleapis.com",
    "monitoring.googleapis.com",
)
"""Turned on only in zones that serve models (`modelfort:models`)."""
CRITICAL_TIER = "critical"
MODELS_NAMESPACE = "models"
# GPU machines per tier: confidential GPU nodes (critical tier) exist only as Intel TDX A3 machines with H100s.
GPU_MACHINE = {"default": ("g2-standard-8", "nvidia-l4"), CRITICAL_TIER: ("a3-highgpu-1g", "nvidia-h100-80gb")}


class GcpZone(pulumi.ComponentResource):
    CONTROLS = ("NB-10", "DP-08")
    network: SegmentedNetwork
    evidence: EvidenceLog
    weights: WeightsBucket
    reference_store: ModelReferenceStore
    images: ImageTrust
    guardrails: ModelGuardrails
    perimeter: ModelPerimeter | None
    """The VPC Service Controls perimeter (critical tier only)."""
    cluster: GpuCluster | None
    """The GPU cluster, present when the stack serves models (modelfort:models)."""
    rotation: SecretRotation | None
    telemetry: GuardTelemetryLog | None
    """Where the inference guard's telemetry is kept, and its write-failure alert (when the stack serves models)."""
    exports: dict[str, pulumi.Output]
    """The stack outputs the program exports (every cloud's zone offers this)."""

    def __init__(
        self,
        config: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
        *,
        access_policy: str = ACCESS_POLICY_PLACEHOLDER,
    ) -> None:
        if config.cloud != "gcp" or not config.project:
            raise ValueError("GcpZone: needs a stack config with modelfort:cloud 'gcp' and gcp:project")
        name, profile, project = config.zone, config.profile, config.project
        super().__init__("modelfort:gcp:Zone", name, None, opts)
        critical = profile.tier == CRITICAL_TIER
        labels = zone_labels(config.zone, config.tags, **{"modelfort-tier": profile.tier})
        # One explicit provider per zone: every resource lands in the configured project and region with its labels.
        provider = gcp.Provider(f"{name}-gcp", project=project, region=config.region, default_labels=labels,
                                opts=pulumi.ResourceOptions(parent=self))
        base = pulumi.ResourceOptions(parent=self, providers={"gcp": provider})
        apis = [
            gcp.projects.Service(f"{name}-api-{api.split('.')[0]}", project=project, service=api,
                                 # Turning an API off on destroy would break whatever else the project runs.
                                 disable_on_destroy=False, opts=base)
            for api in (*REQUIRED_APIS, *(SERVING_APIS if config.models else ()))
        ]
        child = pulumi.ResourceOptions.merge(base, pulumi.ResourceOptions(depends_on=apis))

        zones = gcp.compute.get_zones(project=project, region=config.region, opts=pulumi.InvokeOptions(provider=provider))
        if len(zones.names) < config.network.availability_zone_count:
            raise ValueError(
                f"modelfort:network.availabilityZoneCount: {config.network.availability_zone_count} requested, "
                f"but region {config.region} offers {len(zones.names)}"
            )
        node_locations = sorted(zones.names)[: config.network.availability_zone_count]
        # Key rings cannot be deleted in Cloud KMS: the name is generated, so a rebuilt zone never collides with one.
        key_ring = gcp.kms.KeyRing(f"{name}-keys", location=config.region, opts=child)

        self.network = SegmentedNetwork(
            f"{name}-network",
            SegmentedNetworkArgs(zone=config.zone, project=project, region=config.region, cidr_block=config.network.cidr,
                                 egress_allowlist_cidrs=config.network.egress_allowlist_cidrs, labels=config.tags),
            opts=child,
        )
        self.evidence = EvidenceLog(
            f"{name}-evidence",
            EvidenceLogArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                            retention_days=profile.log_retention_days, key_rotation_days=profile.key_rotation_days,
                            labels=config.tags),
            opts=child,
        )
        self.weights = WeightsBucket(
            f"{name}-weights",
            WeightsBucketArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                              network_id=self.network.network_id, zone_cidr=config.network.cidr,
                              key_rotation_days=profile.key_rotation_days, labels=config.tags),
            opts=child,
        )
        self.reference_store = ModelReferenceStore(
            f"{name}-reference-store",
            ModelReferenceStoreArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                                    retention_days=profile.signature_retention_days,
                                    key_rotation_days=profile.key_rotation_days, hsm=critical, labels=config.tags),
            opts=child,
        )
        self.images = ImageTrust(
            f"{name}-images",
            ImageTrustArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                           key_rotation_days=profile.key_rotation_days, hsm=critical, labels=config.tags),
            opts=child,
        )
        self.guardrails = ModelGuardrails(
            f"{name}-guardrails",
            ModelGuardrailsArgs(zone=config.zone, project=project, region=config.region, labels=config.tags),
            opts=child,
        )
        self.perimeter = (
            ModelPerimeter(
                f"{name}-perimeter",
                ModelPerimeterArgs(zone=config.zone, project_number=project_number(project, self), access_policy=access_policy),
                opts=child,
            )
            if critical
            else None
        )
        self.cluster, self.rotation, self.telemetry = (None, None, None)
        if config.models:
            self.cluster, self.rotation = self._serving(config, key_ring, node_locations, critical, child)

        self.exports: dict[str, pulumi.Output] = {
            "network_id": self.network.network_id,
            "weights_bucket": self.weights.bucket_name,
            "reference_store_bucket": self.reference_store.bucket_name,
            "signing_key_id": self.reference_store.signing_key_id,
            "release_publisher_email": self.reference_store.publisher_email,
            "image_registry": self.images.registry_url,
            "attestor_id": self.images.attestor_id,
            "evidence_log_bucket": self.evidence.log_bucket_id,
            "guardrail_template": self.guardrails.template_name,
        }
        if self.cluster is not None and self.rotation is not None:
            self.exports.update(cluster_name=self.cluster.cluster_name, rotation_topic=self.rotation.topic_id)
        if self.telemetry is not None:
            self.exports["guard_telemetry_log_bucket"] = self.telemetry.log_bucket_id
        self.register_outputs(self.exports)

    def _serving(self, config: StackConfig, key_ring: gcp.kms.KeyRing, node_locations: list[str], critical: bool,
                 child: pulumi.ResourceOptions) -> tuple[GpuCluster, SecretRotation]:
        name, profile, project = config.zone, config.profile, config.project
        assert project is not None
        cluster = GpuCluster(
            f"{name}-gpu",
            GpuClusterArgs(zone=config.zone, project=project, region=config.region, network_id=self.network.network_id,
                           subnetwork_id=self.network.subnetwork_id, pods_range_name=self.network.pods_range_name,
                           services_range_name=self.network.services_range_name, zone_cidr=config.network.cidr,
                           node_locations=node_locations, key_ring_id=key_ring.id,
                           key_rotation_days=profile.key_rotation_days, confidential_nodes=critical, labels=config.tags),
            opts=child,
        )
        machine_type, accelerator = GPU_MACHINE[CRITICAL_TIER if critical else "default"]
        nodes = GpuNodePool(
            f"{name}-gpu-nodes",
            GpuNodePoolArgs(zone=config.zone, project=project, cluster_id=cluster.cluster_id, location=cluster.location,
                            node_locations=node_locations, service_account_email=cluster.node_service_account_email,
                            boot_disk_kms_key=cluster.kms_key_id, machine_type=machine_type, accelerator_type=accelerator,
                            max_nodes=max(4, sum(model.replicas * max(model.gpus, 1) for model in config.models)),
                            confidential_nodes=critical, labels=config.tags),
            opts=child,
        )
        self.images.grant_pull("gke-nodes", cluster.node_service_account_member)
        self._serve_models(config, cluster, nodes, key_ring, child)
        rotation = SecretRotation(
            f"{name}-rotation",
            SecretRotationArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                               network_id=self.network.network_id, subnetwork_id=self.network.subnetwork_id,
                               key_rotation_days=profile.key_rotation_days, labels=config.tags),
            opts=child,
        )
        # The token clients present to the model API (NB-05, NB-06), rotated at the tier's pace.
        RotatedSecret(
            f"{name}-client-token",
            RotatedSecretArgs(zone=config.zone, secret_id=f"modelfort-{label(config.zone)}-client-token", kind="client",
                              rotation=rotation, rotation_days=profile.secret_rotation_days, labels=config.tags),
            opts=child,
        )
        assert self.telemetry is not None  # _serve_models routes the guards' telemetry first
        # The guards' telemetry judged in two stages, each caller's state durable (issue 17; OB-05..OB-08, WP-04).
        self.detection = TelemetryWatch(
            f"{name}-detection",
            TelemetryWatchArgs(zone=config.zone, project=project, region=config.region, key_ring_id=key_ring.id,
                               network_id=self.network.network_id, subnetwork_id=self.network.subnetwork_id,
                               evidence_log_bucket_id=self.evidence.log_bucket_id,
                               telemetry_filter=self.telemetry.telemetry_filter,
                               notification_channels=self.telemetry.notification_channel_ids,
                               key_rotation_days=profile.key_rotation_days, labels=config.tags),
            opts=child,
        )
        return cluster, rotation

    def _serve_models(self, config: StackConfig, cluster: GpuCluster, nodes: GpuNodePool, key_ring: gcp.kms.KeyRing,
                      child: pulumi.ResourceOptions) -> None:
        """The Kubernetes layer on the private cluster, as on EKS: one hardened namespace and one ModelServing per
        pinned release, each verifier's identity able to read only its own release.

        What GKE provides itself is not installed again: GKE installs and patches the GPU driver and device plugin
        (no GPU Operator, no RuntimeClass), and Binary Authorization admits only attested images (no Kyverno)."""
        assert config.verifier_image is not None and config.project is not None  # the config refuses models without them
        name = config.zone
        # The guards' telemetry (prompts and responses) in a locked bucket of its own, never in _Default (OB-01, OB-03).
        self.telemetry = GuardTelemetryLog(
            f"{name}-guard-telemetry",
            GuardTelemetryLogArgs(zone=config.zone, project=config.project, region=config.region, key_ring_id=key_ring.id,
                                  cluster_name=cluster.cluster_name, evidence_log_bucket_id=self.evidence.log_bucket_id,
                                  namespace=MODELS_NAMESPACE, retention_days=config.profile.log_retention_days,
                                  key_rotation_days=config.profile.key_rotation_days, on_call=config.on_call,
                                  labels=config.tags),
            opts=child,
        )
        k8s_opts = cluster_options(name, cluster.kubeconfig, parent=self, after=[nodes])
        namespace = HardenedNamespace(
            f"{name}-models",
            HardenedNamespaceArgs(
                name=MODELS_NAMESPACE,
                # Cloud Storage through Private Google Access (the restricted VIP or the zone's PSC endpoint) only.
                https_egress_cidrs=list(self.network.google_apis_cidrs),
                allow_dns_to_kube_dns=True,
                # Workload Identity: the verifier's token comes from the GKE metadata server (GKE_METADATA on every
                # pool, which the policy pack checks before it accepts this allowance).
                allow_gke_metadata_server=True,
            ),
            opts=k8s_opts,
        )
        for release in config.models:
            # The Kubernetes service account is the principal: no IAM service account, no key, nothing to impersonate.
            principal = cluster.workload_principal(MODELS_NAMESPACE, release.name)
            versions = [release.version] + ([release.canary.version] if release.canary else [])
            for version in versions:
                self.weights.grant_read(f"{release.name}-{version}", principal, f"models/{release.name}/{version}")
            self.reference_store.grant_verify(release.name, principal, release.name)
            self.guardrails.grant_use(f"{name}-{release.name}", principal)
            ModelServing(
                f"{name}-{release.name}",
                ModelServingArgs.from_release(
                    release,
                    weights_bucket=self.weights.bucket_name,
                    reference_bucket=self.reference_store.bucket_name,
                    namespace=namespace.namespace_name,
                    verifier_image=config.verifier_image,
                    platform=GkePlatform(project=config.project),
                    # GKE's driver and device plugin serve GPUs to the default runtime.
                    runtime_class_name=None,
                    guard=GuardSettings(
                        tier=config.profile.tier,
                        guardrail=ModelArmorGuardrail(project=config.project, location=config.region,
                                                      template=self.guardrails.template_id),
                        identity=google_id_tokens(config.zone),
                    ),
                ),
                opts=k8s_opts,
            )


def google_id_tokens(zone: str) -> JwtIdentity:
    """Callers on Google Cloud present a Google-signed ID token (a service account's, from the metadata server or
    `gcloud auth print-identity-token --audiences=modelfort-<zone>`): no shared secret to issue or rotate, and the
    principal each telemetry line names is the caller's service account email. The audience is the zone, so a token
    minted for another service is refused."""
    return JwtIdentity(issuer="https://accounts.google.com", audience=f"modelfort-{zone}",
                       jwks_url="https://www.googleapis.com/oauth2/v3/certs", principal_claim="email")
