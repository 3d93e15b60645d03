"""ModelServing: one model release served from a hardened Deployment whose weights are verified before it starts.

Controls: RI-02..RI-05 (read-only root, non-root, no capabilities or privilege escalation, seccomp and AppArmor),
RI-06 (GPUs only through `nvidia.com/gpu` limits on a GPU RuntimeClass), RI-08 (one model per Deployment, one server
per pod), RI-09 (no host namespaces, no shared process namespace), WP-02/WP-05/ST-01 (an init container verifies the
weights' signature and pinned root digest into an emptyDir the server mounts read-only; it reads S3 through IRSA on EKS
and Cloud Storage through Workload Identity on GKE, see `EksPlatform` and `GkePlatform`), SC-02 (secrets as files,
never environment variables), ST-05 (images pinned by digest), RC-09/RC-10/RC-11 (token and timeout limits passed to
the server; requests and limits on every container), DP-10 (PodDisruptionBudget, RollingUpdate maxUnavailable 0),
DP-11 (a canary Deployment behind the same Service), DP-12 (rollback: drop the canary, see docs/kubernetes.md).
RC-01..RC-11, GR-09, WP-04, WP-07, OB-01 (every request and response passes the inference guard, `components.k8s.guard`:
the server listens on 127.0.0.1 and the pod exposes the guard's port alone).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components.config import AWS_REGION, DNS_SUBDOMAIN, CanaryRelease, ModelRelease
from components.k8s.guard import (
    BEDROCK_FILE,
    GATEWAY_CA_DIR,
    GATEWAY_CA_FILE,
    GUARD_CONFIG_DIR,
    GUARD_CONFIG_FILE,
    GUARD_CONTAINER,
    GUARD_HEALTH_PORT,
    GUARD_PORT,
    GUARD_TLS_DIR,
    BedrockGuardrail,
    GatewayMtls,
    GuardSettings,
    render_bedrock,
    render_config,
)
from components.k8s.isolation import (
    COMPONENT_LABEL,
    GPU_RESOURCE,
    GPU_TAINT_KEY,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MODEL_LABEL,
    MODEL_SERVER_COMPONENT,
    TRACK_LABEL,
    check_dns_label,
    check_labels,
)
from components.k8s.namespace import QUANTITY, SERVING_PORT

DIGEST_IMAGE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")
HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
STORE_URI = {
    "s3": re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"),
    "gs": re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[^\s]*)?$"),
}
GCP_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
SECRET_FILE_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")

MODELS_DIR = "/models"
MODEL_DIR = f"{MODELS_DIR}/model"
"""The verifier downloads into this subdirectory, which must not exist yet: it creates it, so it is empty."""
SECRETS_DIR = "/var/run/secrets/modelfort"
SECRET_STORE_DIR = "/var/run/secrets/modelfort-store"
IRSA_TOKEN_DIR = "/var/run/secrets/eks.amazonaws.com/serviceaccount"
IRSA_AUDIENCE = "sts.amazonaws.com"
IRSA_VOLUME = "aws-iam-token"
"""The name EKS's pod-identity webhook uses: it leaves a pod alone that already has this volume."""
NONROOT_UID = 65532
"""The `nonroot` user of distroless images."""
SERVER_CONTAINER = "server"
VERIFIER_CONTAINER = "verify-weights"
STABLE, CANARY = "stable", "canary"


@dataclass(frozen=True, kw_only=True)
class SecretFile:
    """One key of a Kubernetes Secret, mounted read-only as a file under /var/run/secrets/modelfort (SC-02)."""

    secret_name: str
    key: str
    path: str
    """Path under /var/run/secrets/modelfort (relative, no '..')."""

    def __post_init__(self) -> None:
        if not DNS_SUBDOMAIN.match(self.secret_name):
            raise ValueError(f"SecretFile.secret_name: {self.secret_name!r} is not a Secret name")
        if not re.match(r"^[-._a-zA-Z0-9]+$", self.key):
            raise ValueError(f"SecretFile.key: {self.key!r} is not a Secret key")
        if not SECRET_FILE_PATH.match(self.path) or ".." in self.path.split("/"):
            raise ValueError(f"SecretFile.path: {self.path!r} must be a relative path without '..'")


@dataclass(frozen=True, kw_only=True)
class EksPlatform:
    """Serving on EKS: weights in S3, read by the verifier alone through IRSA, GPUs through GpuRuntime's RuntimeClass.

    The verifier container gets a projected token for `sts.amazonaws.com` and the role's ARN; the server container
    gets neither (and the pod-identity webhook is told to skip it), so the model server holds no AWS credentials.
    """

    verifier_role_arn: pulumi.Input[str]
    """The IAM role (IRSA) the verifier assumes to read its release's weights, signature and key, nothing else."""
    region: str
    """Region of the buckets and of the regional STS endpoint."""

    scheme = "s3"

    def __post_init__(self) -> None:
        if not isinstance(self.region, str) or not AWS_REGION.match(self.region):
            raise ValueError(f"EksPlatform.region: {self.region!r} is not an AWS region name")


@dataclass(frozen=True, kw_only=True)
class GkePlatform:
    """Serving on GKE: weights in Cloud Storage, read through Workload Identity; GKE installs and patches the GPU driver
    and device plugin, so no GPU Operator and no RuntimeClass are needed.

    The pod's Kubernetes service account is itself the IAM principal (Workload Identity Federation for GKE:
    `principal://.../subject/ns/<namespace>/sa/<model>`), granted read on its own release only, and the GKE metadata
    server hands out its tokens. The metadata server answers every container of the pod, so unlike on EKS the server
    container could obtain the same read-only token: the grant's narrowness (this release's objects, the signature and
    the public key) is what bounds it. The namespace must let the pods reach the metadata server
    (`HardenedNamespaceArgs.allow_gke_metadata_server`).
    """

    project: str
    """The project the buckets bill to and the verifier's client names (GOOGLE_CLOUD_PROJECT)."""
    service_account_email: pulumi.Input[str] | None = None
    """Act as this IAM service account instead of the Kubernetes service account's own principal (the
    `iam.gke.io/gcp-service-account` annotation; the account must grant the principal roles/iam.workloadIdentityUser).
    Defaults to None: the direct principal, which needs no service account at all."""

    scheme = "gs"

    def __post_init__(self) -> None:
        if not isinstance(self.project, str) or not GCP_PROJECT.match(self.project):
            raise ValueError(f"GkePlatform.project: {self.project!r} is not a Google Cloud project ID")


ServingPlatform = EksPlatform | GkePlatform


def split_replicas(replicas: int, canary_percent: int) -> tuple[int, int]:
    """(stable, canary) replica counts for a canary that should get `canary_percent` of the traffic.

    Both Deployments sit behind one Service, which spreads requests over ready pods, so the traffic share is the
    replica share. The canary always gets at least one pod and the stable track keeps at least one, so with few
    replicas the share is coarser than asked (2 replicas at 10% run 1 + 1): the percent is a ceiling only as far as
    whole pods allow.
    """
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    if not 1 <= canary_percent <= 50:
        raise ValueError("canary percent must be 1 to 50")
    canary = max(1, math.floor(replicas * canary_percent / 100))
    stable = max(1, replicas - canary)
    return stable, canary


@dataclass(frozen=True, kw_only=True)
class ModelServingArgs:
    release: ModelRelease
    """The release to serve (from stack config `modelfort:models`): name, version, digest-pinned image, the weights'
    pinned root digest, GPUs, CPU, memory, max tokens, request timeout, replicas, optional canary."""
    namespace: pulumi.Input[str]
    """A HardenedNamespace's `namespace_name`."""
    verifier_image: str
    """The image holding `modelfort verify-weights`, pinned by digest."""
    weights_uri: pulumi.Input[str]
    """s3://BUCKET/models/<name>/<version> (EKS) or gs://... (GKE): the release's weights prefix."""
    signature_uri: pulumi.Input[str]
    """s3:// or gs://BUCKET/signatures/<name>/<version>.sig in the reference store."""
    public_key_uri: pulumi.Input[str]
    """s3:// or gs://BUCKET/keys/release.pub.pem: the key releases are signed with."""
    platform: ServingPlatform
    """Where the pods run and how the verifier reads the store: EksPlatform (S3 through IRSA) or GkePlatform (Cloud
    Storage through Workload Identity). Every URI must use the platform's scheme."""
    guard: GuardSettings
    """The inference guard in front of the server: tier, cloud guardrail, caller identity, prompt limits. Its config
    is rendered from these and the release (model, version, root digest, max tokens, timeout)."""
    canary_weights_uri: pulumi.Input[str] | None = None
    """The canary release's weights prefix; required when the release has a canary."""
    canary_signature_uri: pulumi.Input[str] | None = None
    """The canary release's signature; required when the release has a canary."""
    runtime_class_name: pulumi.Input[str] | None = "modelfort-nvidia"
    """The pods' RuntimeClass when the release has GPUs: GpuRuntime's on EKS (required there). On GKE, None (GKE's own
    driver and device plugin) or 'gvisor' for GKE Sandbox. Defaults to 'modelfort-nvidia'."""
    secret_files: Sequence[SecretFile] = ()
    """Secrets the server reads, mounted read-only as files from a projected volume. Defaults to none."""
    secret_provider_class: str | None = None
    """A Secrets Store CSI SecretProviderClass (e.g. AWS Secrets Manager) mounted read-only at
    /var/run/secrets/modelfort-store. Defaults to none."""
    server_args: Sequence[str] = ()
    """Extra arguments for the server (its own flags for token and timeout limits, the model path). No secrets here:
    arguments are visible to anyone who can read the pod."""
    port: int = SERVING_PORT
    """The server's HTTP port on 127.0.0.1, inside the pod only (the guard's port is the pod's only exposed one).
    Pass the server its flag to bind there (vLLM `--host 127.0.0.1 --port 8000`); MODELFORT_HOST and MODELFORT_PORT
    carry both. Defaults to 8000."""
    health_path: str = "/health"
    """Liveness, readiness and startup probe path. Defaults to /health."""
    startup_timeout_seconds: int = 1800
    """How long loading may take before the pod is restarted. Defaults to 30 minutes (large models)."""
    weights_volume_size: str = "200Gi"
    """Size limit of the emptyDir the weights are downloaded into. Defaults to 200Gi."""
    verifier_cpu: str = "2"
    """CPU of the verifier (it hashes with one thread per CPU). Defaults to 2."""
    verifier_memory: str = "1Gi"
    """Memory of the verifier. Defaults to 1Gi."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    """Extra node selector (the RuntimeClass already selects GPU nodes). Defaults to none."""
    disable_apparmor: bool = False
    """Escape hatch (weakens RI-05): set no AppArmor profile, for SELinux nodes such as Bottlerocket where AppArmor
    does not exist (seccomp stays on, and SELinux confines the container there). Defaults to False; a policy blocks
    it unless the stack waives it for those nodes."""

    def __post_init__(self) -> None:
        release = self.release
        if not isinstance(release, ModelRelease):
            raise ValueError("ModelServingArgs.release: give a components.config.ModelRelease")
        check_dns_label(release.name, "ModelServingArgs.release.name")
        if len(release.name) > 40:
            # Leaves room for '-canary' and generated pod-name suffixes within Kubernetes' 63-character limit.
            raise ValueError("ModelServingArgs.release.name: at most 40 characters")
        for where, image in (("release.image", release.image), ("verifier_image", self.verifier_image)):
            if not isinstance(image, str) or not DIGEST_IMAGE.match(image):
                raise ValueError(f"ModelServingArgs.{where}: {image!r} must be pinned by digest (registry/repo@sha256:<64 hex>)")
        if not HEX_DIGEST.match(release.root_digest):
            raise ValueError("ModelServingArgs.release.root_digest: 64 lowercase hex characters")
        if release.canary is not None:
            canary = release.canary
            if not DIGEST_IMAGE.match(canary.image) or not HEX_DIGEST.match(canary.root_digest):
                raise ValueError("ModelServingArgs.release.canary: image pinned by digest and a 64-hex root digest")
            if self.canary_weights_uri is None or self.canary_signature_uri is None:
                raise ValueError(
                    "ModelServingArgs.canary_weights_uri/canary_signature_uri: required when the release has a canary "
                    "(each version has its own weights and signature)"
                )
            split_replicas(release.replicas, canary.percent)
        elif self.canary_weights_uri is not None or self.canary_signature_uri is not None:
            raise ValueError("ModelServingArgs.canary_weights_uri/canary_signature_uri: only with a canary release")
        if not isinstance(self.platform, (EksPlatform, GkePlatform)):
            raise ValueError("ModelServingArgs.platform: give an EksPlatform or a GkePlatform")
        scheme = self.platform.scheme
        for key in ("weights_uri", "signature_uri", "public_key_uri", "canary_weights_uri", "canary_signature_uri"):
            value = getattr(self, key)
            if isinstance(value, str) and not STORE_URI[scheme].match(value):
                raise ValueError(
                    f"ModelServingArgs.{key}: {value!r} is not a {scheme}://bucket/key location "
                    f"({type(self.platform).__name__} reads {scheme}:// only)"
                )
        if release.gpus > 0 and isinstance(self.platform, EksPlatform) and not self.runtime_class_name:
            raise ValueError("ModelServingArgs.runtime_class_name: on EKS a release with GPUs needs GpuRuntime's RuntimeClass")
        if not isinstance(self.guard, GuardSettings):
            raise ValueError("ModelServingArgs.guard: give a components.k8s.guard.GuardSettings")
        if isinstance(self.guard.identity, GatewayMtls) and not isinstance(self.platform, EksPlatform):
            raise ValueError("ModelServingArgs.guard.identity: GatewayMtls (API Gateway) is for EKS; use JwtIdentity on GKE")
        if isinstance(self.guard.guardrail, BedrockGuardrail) and not isinstance(self.platform, EksPlatform):
            raise ValueError("ModelServingArgs.guard.guardrail: Bedrock is for EKS; use ModelArmorGuardrail on GKE")
        if self.port in (GUARD_PORT, GUARD_HEALTH_PORT):
            raise ValueError(f"ModelServingArgs.port: {self.port} is the guard's; pick another port for the server")
        if isinstance(self.port, bool) or not 1024 <= self.port <= 65535:
            # Below 1024 a non-root server would need NET_BIND_SERVICE.
            raise ValueError(f"ModelServingArgs.port: {self.port!r} must be 1024-65535 (the server runs without capabilities)")
        if not self.health_path.startswith("/"):
            raise ValueError("ModelServingArgs.health_path: must start with '/'")
        if not 60 <= self.startup_timeout_seconds <= 7200:
            raise ValueError("ModelServingArgs.startup_timeout_seconds: 60 to 7200")
        for key in ("weights_volume_size", "verifier_cpu", "verifier_memory"):
            if not QUANTITY.match(getattr(self, key)):
                raise ValueError(f"ModelServingArgs.{key}: {getattr(self, key)!r} is not a Kubernetes quantity")
        check_labels(self.node_selector, "ModelServingArgs.node_selector")
        paths = [f.path for f in self.secret_files]
        if len(set(paths)) != len(paths):
            raise ValueError("ModelServingArgs.secret_files: each path once")
        if self.secret_provider_class is not None:
            check_dns_label(self.secret_provider_class, "ModelServingArgs.secret_provider_class")
        for arg in self.server_args:
            if not isinstance(arg, str):
                raise ValueError("ModelServingArgs.server_args: strings only")

    @classmethod
    def from_release(
        cls,
        release: ModelRelease,
        *,
        weights_bucket: pulumi.Input[str],
        reference_bucket: pulumi.Input[str],
        public_key_key: str = "keys/release.pub.pem",
        **kwargs,
    ) -> "ModelServingArgs":
        """Build the store locations the way docs/release-flow.md lays them out, so they cannot drift from the pin:
        weights under models/<name>/<version>/, the signature at signatures/<name>/<version>.sig. The scheme is the
        platform's (`platform=` is required): s3:// on EKS, gs:// on GKE."""
        platform = kwargs.get("platform")
        if not isinstance(platform, (EksPlatform, GkePlatform)):
            raise ValueError("ModelServingArgs.platform: give an EksPlatform or a GkePlatform")
        root = f"{platform.scheme}://"

        def weights(version: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(root, weights_bucket, f"/models/{release.name}/{version}")

        def signature(version: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(root, reference_bucket, f"/signatures/{release.name}/{version}.sig")

        canary = release.canary
        return cls(
            release=release,
            weights_uri=weights(release.version),
            signature_uri=signature(release.version),
            public_key_uri=pulumi.Output.concat(root, reference_bucket, f"/{public_key_key}"),
            canary_weights_uri=weights(canary.version) if canary else None,
            canary_signature_uri=signature(canary.version) if canary else None,
            **kwargs,
        )


@dataclass(frozen=True)
class _Track:
    """What differs between the stable and the canary Deployment."""

    track: str
    version: str
    image: str
    root_digest: str
    replicas: int
    weights_uri: pulumi.Input[str]
    signature_uri: pulumi.Input[str]


class ModelServing(pulumi.ComponentResource):
    CONTROLS = ("RI-02", "RI-03", "RI-04", "RI-05", "RI-06", "RI-08", "RI-09", "WP-02", "WP-04", "WP-05", "WP-07", "ST-01",
                "ST-05", "SC-02", "GR-09", "RC-01", "RC-02", "RC-03", "RC-04", "RC-05", "RC-06", "RC-07", "RC-08", "RC-09",
                "RC-10", "RC-11", "OB-01", "OB-04", "DP-10", "DP-11", "DP-12")
    service_name: pulumi.Output[str]
    """The ClusterIP Service in front of both tracks."""
    service_account_name: pulumi.Output[str]
    deployment_names: list[pulumi.Output[str]]
    """The stable Deployment, then the canary's when there is one."""

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:k8s:ModelServing", name, None, opts)
        self._args = args
        child = pulumi.ResourceOptions(parent=self)
        release = args.release
        model = release.name
        self._labels = {MANAGED_BY_LABEL: MANAGED_BY, "app.kubernetes.io/name": model, MODEL_LABEL: model}

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": model,
                "namespace": args.namespace,
                "labels": self._labels,
                "annotations": _identity_annotations(args.platform),
            },
            # No API token in any pod of this account, whatever a pod spec says (the pod spec also says false).
            automount_service_account_token=False,
            opts=child,
        )
        tracks = [_Track(STABLE, release.version, release.image, release.root_digest, release.replicas, args.weights_uri, args.signature_uri)]
        if release.canary is not None:
            stable_replicas, canary_replicas = split_replicas(release.replicas, release.canary.percent)
            tracks = [
                _Track(STABLE, release.version, release.image, release.root_digest, stable_replicas, args.weights_uri, args.signature_uri),
                self._canary_track(release.canary, canary_replicas),
            ]
        gateway_ca = self._gateway_ca(name, child)
        self.deployment_names = []
        for track in tracks:
            suffix = "" if track.track == STABLE else f"-{CANARY}"
            guard_config = self._guard_config(f"{name}{suffix}", f"{model}{suffix}-guard", track, child)
            deployment = k8s.apps.v1.Deployment(
                f"{name}{suffix}",
                metadata={"name": f"{model}{suffix}", "namespace": args.namespace, "labels": self._track_labels(track)},
                spec=self._deployment_spec(track, account.metadata.name, guard_config, gateway_ca),
                opts=child,
            )
            self.deployment_names.append(deployment.metadata.name)

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": model, "namespace": args.namespace, "labels": self._labels},
            spec={
                # Reachable inside the cluster only (and, through the namespace's NetworkPolicies, only from the
                # namespaces it admits); exposure to callers goes through an authenticated gateway.
                "type": "ClusterIP",
                # Both tracks: the canary's share of traffic is its share of ready pods.
                "selector": {MODEL_LABEL: model, COMPONENT_LABEL: MODEL_SERVER_COMPONENT},
                # The guard's port only: the server is on the pod's loopback.
                "ports": [{"name": "guard", "port": GUARD_PORT, "target_port": "guard", "protocol": "TCP"}],
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": model, "namespace": args.namespace, "labels": self._labels},
            spec={
                # Voluntary disruptions (node drains, upgrades) take at most one pod at a time; with one replica
                # none, until the rollout has a second (DP-10).
                "min_available": max(1, sum(t.replicas for t in tracks) - 1),
                "selector": {"match_labels": {MODEL_LABEL: model}},
                # A pod that never became healthy must not block a drain forever.
                "unhealthy_pod_eviction_policy": "AlwaysAllow",
            },
            opts=child,
        )
        self.service_name = service.metadata.name
        self.service_account_name = account.metadata.name
        self.register_outputs({"service_name": self.service_name, "deployment_names": self.deployment_names})

    def _canary_track(self, canary: CanaryRelease, replicas: int) -> _Track:
        assert self._args.canary_weights_uri is not None and self._args.canary_signature_uri is not None
        return _Track(CANARY, canary.version, canary.image, canary.root_digest, replicas,
                      self._args.canary_weights_uri, self._args.canary_signature_uri)

    def _track_labels(self, track: _Track) -> dict[str, str]:
        return {**self._labels, "app.kubernetes.io/version": track.version, TRACK_LABEL: track.track}

    def _deployment_spec(self, track: _Track, service_account: pulumi.Input[str], guard_config: pulumi.Output[str],
                         gateway_ca: pulumi.Output[str] | None) -> dict:
        args = self._args
        selector = {MODEL_LABEL: args.release.name, TRACK_LABEL: track.track}
        return {
            "replicas": track.replicas,
            "selector": {"match_labels": selector},
            "strategy": {
                # A new pod must be ready before an old one goes (DP-10). Surge needs one spare GPU node's worth.
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": 1},
            },
            "min_ready_seconds": 10,
            "progress_deadline_seconds": args.startup_timeout_seconds + 600,
            "revision_history_limit": 5,
            "template": {
                "metadata": {
                    "labels": {**self._track_labels(track), COMPONENT_LABEL: MODEL_SERVER_COMPONENT},
                    **self._pod_annotations(),
                },
                "spec": self._pod_spec(track, service_account, guard_config, gateway_ca),
            },
        }

    def _pod_annotations(self) -> dict:
        if isinstance(self._args.platform, EksPlatform):
            # The EKS pod-identity webhook must not hand the server container AWS credentials: only the verifier
            # reads S3.
            return {"annotations": {"eks.amazonaws.com/skip-containers": SERVER_CONTAINER}}
        return {}

    def _pod_spec(self, track: _Track, service_account: pulumi.Input[str], guard_config: pulumi.Output[str],
                  gateway_ca: pulumi.Output[str] | None) -> dict:
        args = self._args
        release = args.release
        spec: dict = {
            "service_account_name": service_account,
            "automount_service_account_token": False,
            # No service-discovery variables for every Service in the namespace in the server's environment.
            "enable_service_links": False,
            "host_network": False,
            "host_pid": False,
            "host_ipc": False,
            "share_process_namespace": False,
            "security_context": self._pod_security_context(),
            "init_containers": [self._verifier(track)],
            "containers": [self._server(track), self._guard(track)],
            "volumes": self._volumes(guard_config, gateway_ca),
            # In-flight requests may take the full timeout; the pod gets that long to finish them on shutdown.
            "termination_grace_period_seconds": release.request_timeout_seconds + 15,
            "topology_spread_constraints": [
                {
                    "max_skew": 1,
                    "topology_key": "topology.kubernetes.io/zone",
                    "when_unsatisfiable": "ScheduleAnyway",
                    "label_selector": {"match_labels": {MODEL_LABEL: release.name}},
                }
            ],
        }
        if release.gpus > 0:
            if args.runtime_class_name:
                spec["runtime_class_name"] = args.runtime_class_name
            # Any value of the GPU taint: GpuNodePool taints EKS nodes nvidia.com/gpu=true, GKE taints its GPU pools
            # nvidia.com/gpu=present.
            spec["tolerations"] = [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]
        if args.node_selector:
            spec["node_selector"] = dict(args.node_selector)
        return spec

    def _pod_security_context(self) -> dict:
        context: dict = {
            "run_as_non_root": True,
            "run_as_user": NONROOT_UID,
            "run_as_group": NONROOT_UID,
            # Projected secret files are group-readable by this group only.
            "fs_group": NONROOT_UID,
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
        if not self._args.disable_apparmor:
            context["app_armor_profile"] = {"type": "RuntimeDefault"}
        return context

    def _container_security_context(self) -> dict:
        context: dict = {
            "run_as_non_root": True,
            "run_as_user": NONROOT_UID,
            "run_as_group": NONROOT_UID,
            "read_only_root_filesystem": True,
            "allow_privilege_escalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        }
        if not self._args.disable_apparmor:
            context["app_armor_profile"] = {"type": "RuntimeDefault"}
        return context

    def _verifier(self, track: _Track) -> dict:
        args = self._args
        return {
            "name": VERIFIER_CONTAINER,
            "image": args.verifier_image,
            "image_pull_policy": "IfNotPresent",
            # Fails closed: any mismatch exits non-zero, the pod never starts, and the download directory is emptied.
            "command": [
                "modelfort", "verify-weights", track.weights_uri,
                "--signature", track.signature_uri,
                "--public-key", args.public_key_uri,
                "--root-digest", track.root_digest,
                "--model-version", track.version,
                "--download-dir", MODEL_DIR,
            ],
            "env": _verifier_environment(args.platform),
            "security_context": self._container_security_context(),
            "resources": {
                "requests": {"cpu": args.verifier_cpu, "memory": args.verifier_memory},
                "limits": {"cpu": args.verifier_cpu, "memory": args.verifier_memory},
            },
            "volume_mounts": [
                {"name": "models", "mount_path": MODELS_DIR},
                {"name": "verifier-tmp", "mount_path": "/tmp"},
                *([{"name": IRSA_VOLUME, "mount_path": IRSA_TOKEN_DIR, "read_only": True}]
                  if isinstance(args.platform, EksPlatform) else []),
            ],
        }

    def _server(self, track: _Track) -> dict:
        args = self._args
        release = args.release
        resources: dict = {
            # Requests equal limits: Guaranteed QoS, so the model is the last to be evicted under memory pressure.
            "requests": {"cpu": release.cpu, "memory": release.memory},
            "limits": {"cpu": release.cpu, "memory": release.memory},
        }
        if release.gpus > 0:
            # GPUs only as a limit of the extended resource (the request defaults to it): the device plugin picks
            # the devices, never the pod (RI-06).
            resources["limits"][GPU_RESOURCE] = str(release.gpus)
        mounts = [
            # Read-only: nothing in the pod can change the verified files between verification and load (RI-02).
            {"name": "models", "mount_path": MODELS_DIR, "read_only": True},
            {"name": "server-tmp", "mount_path": "/tmp"},
        ]
        if args.secret_files:
            mounts.append({"name": "secrets", "mount_path": SECRETS_DIR, "read_only": True})
        if args.secret_provider_class:
            mounts.append({"name": "secret-store", "mount_path": SECRET_STORE_DIR, "read_only": True})
        return {
            "name": SERVER_CONTAINER,
            "image": track.image,
            "image_pull_policy": "IfNotPresent",
            "args": list(args.server_args),
            # Limits, identity and paths only: never a secret in the environment (SC-02).
            "env": [
                {"name": "MODELFORT_MODEL_NAME", "value": release.name},
                {"name": "MODELFORT_MODEL_VERSION", "value": track.version},
                {"name": "MODELFORT_MODEL_ROOT_DIGEST", "value": track.root_digest},
                {"name": "MODELFORT_MODEL_DIR", "value": MODEL_DIR},
                {"name": "MODELFORT_MAX_TOKENS", "value": str(release.max_tokens)},
                {"name": "MODELFORT_REQUEST_TIMEOUT_SECONDS", "value": str(release.request_timeout_seconds)},
                # The loopback only: nothing outside the pod reaches the server except through the guard.
                {"name": "MODELFORT_HOST", "value": "127.0.0.1"},
                {"name": "MODELFORT_PORT", "value": str(args.port)},
                {"name": "HOME", "value": "/tmp"},
            ],
            # No container port: the server is not meant to be reached on the pod's address. The kubelet cannot
            # probe a loopback listener, so the server's probes ask the guard's health listener, whose /readyz asks
            # the server's health path: a hung server is restarted, a loading one gets its startup budget.
            **self._server_probes(),
            "security_context": self._container_security_context(),
            "resources": resources,
            "volume_mounts": mounts,
            # Let the endpoint removal reach every proxy before the server stops taking requests.
            "lifecycle": {"pre_stop": {"sleep": {"seconds": 5}}},
        }

    def _server_probes(self) -> dict:
        probe = {"timeout_seconds": 5, "http_get": {"path": "/readyz", "port": GUARD_HEALTH_PORT}}
        return {
            "startup_probe": {**probe, "period_seconds": 10,
                              "failure_threshold": max(1, self._args.startup_timeout_seconds // 10)},
            "readiness_probe": {**probe, "period_seconds": 5, "failure_threshold": 3},
            "liveness_probe": {**probe, "period_seconds": 10, "failure_threshold": 3},
        }

    def _guard(self, track: _Track) -> dict:
        """The guard: same image as the verifier, hardened like the server, the pod's only exposed port."""
        args = self._args
        guard = args.guard
        probe = {"timeout_seconds": 5}
        mounts = [
            {"name": "guard-config", "mount_path": GUARD_CONFIG_DIR, "read_only": True},
            {"name": "guard-tmp", "mount_path": "/tmp"},
        ]
        if isinstance(guard.identity, GatewayMtls):
            mounts += [{"name": "guard-tls", "mount_path": GUARD_TLS_DIR, "read_only": True},
                       {"name": "gateway-ca", "mount_path": GATEWAY_CA_DIR, "read_only": True}]
        env = [{"name": "HOME", "value": "/tmp"}]
        if isinstance(args.platform, EksPlatform) and isinstance(guard.guardrail, BedrockGuardrail):
            # bedrock:ApplyGuardrail through the pod's IRSA role, like the verifier; the server gets no credentials.
            env += [e for e in _verifier_environment(args.platform) if e["name"] != "AWS_ROLE_ARN"] + [
                {"name": "AWS_ROLE_ARN", "value": args.platform.verifier_role_arn}]
            mounts.append({"name": IRSA_VOLUME, "mount_path": IRSA_TOKEN_DIR, "read_only": True})
        elif isinstance(args.platform, GkePlatform):
            env += _verifier_environment(args.platform)
        return {
            "name": GUARD_CONTAINER,
            "image": args.verifier_image,
            "image_pull_policy": "IfNotPresent",
            "command": ["modelfort", "guard", "--config", f"{GUARD_CONFIG_DIR}/{GUARD_CONFIG_FILE}"],
            "env": env,
            "ports": [{"name": "guard", "container_port": GUARD_PORT, "protocol": "TCP"},
                      {"name": "guard-health", "container_port": GUARD_HEALTH_PORT, "protocol": "TCP"}],
            "security_context": self._container_security_context(),
            "resources": {"requests": {"cpu": guard.cpu, "memory": guard.memory},
                          "limits": {"cpu": guard.cpu, "memory": guard.memory}},
            "volume_mounts": mounts,
            # Plain HTTP health port, never proxied: the kubelet cannot present the gateway's client certificate.
            # Readiness asks the server's health path through the guard, so the pod is ready when both are.
            "startup_probe": {**probe, "http_get": {"path": "/readyz", "port": "guard-health"}, "period_seconds": 10,
                              "failure_threshold": max(1, args.startup_timeout_seconds // 10)},
            "readiness_probe": {**probe, "http_get": {"path": "/readyz", "port": "guard-health"}, "period_seconds": 5,
                                "failure_threshold": 3},
            "liveness_probe": {**probe, "http_get": {"path": "/healthz", "port": "guard-health"}, "period_seconds": 10,
                               "failure_threshold": 3},
            # The guard drains after the server's endpoint removal has spread, and before the server stops.
            "lifecycle": {"pre_stop": {"sleep": {"seconds": 5}}},
        }

    def _guard_config(self, name: str, prefix: str, track: _Track, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The track's guard config, in an immutable ConfigMap named after its content: a changed config (or a new
        guardrail version) is a new ConfigMap and a rollout, never an edit that running pods would not see."""
        args = self._args
        release = args.release
        data: dict = {GUARD_CONFIG_FILE: render_config(
            args.guard, model=release.name, version=track.version, root_digest=track.root_digest,
            max_tokens=release.max_tokens, request_timeout_seconds=release.request_timeout_seconds,
            upstream_port=args.port, health_path=args.health_path,
        )}
        if isinstance(args.guard.guardrail, BedrockGuardrail):
            data[BEDROCK_FILE] = render_bedrock(args.guard.guardrail)
        contents = pulumi.Output.all(*[pulumi.Output.concat(key, "\n", value) for key, value in sorted(data.items())])
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-guard-config",
            metadata={
                "name": contents.apply(lambda parts: f"{prefix}-{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:10]}"),
                "namespace": args.namespace,
                "labels": self._track_labels(track),
            },
            data=data,
            immutable=True,
            opts=child,
        )
        return config_map.metadata.name

    def _gateway_ca(self, name: str, child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
        identity = self._args.guard.identity
        if not isinstance(identity, GatewayMtls):
            return None
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-gateway-ca",
            metadata={"name": f"{self._args.release.name}-gateway-ca", "namespace": self._args.namespace, "labels": self._labels},
            data={GATEWAY_CA_FILE: identity.gateway_ca_pem},
            opts=child,
        )
        return config_map.metadata.name

    def _volumes(self, guard_config: pulumi.Output[str], gateway_ca: pulumi.Output[str] | None) -> list[dict]:
        args = self._args
        volumes: list[dict] = [
            {"name": "models", "empty_dir": {"size_limit": args.weights_volume_size}},
            {"name": "verifier-tmp", "empty_dir": {"size_limit": "256Mi"}},
            {"name": "server-tmp", "empty_dir": {"size_limit": "1Gi"}},
            {"name": "guard-tmp", "empty_dir": {"size_limit": "64Mi"}},
            {"name": "guard-config", "config_map": {"name": guard_config, "default_mode": 0o444}},
        ]
        identity = args.guard.identity
        if isinstance(identity, GatewayMtls):
            volumes += [
                {"name": "guard-tls", "secret": {"secret_name": identity.tls_secret_name, "default_mode": 0o440}},
                {"name": "gateway-ca", "config_map": {"name": gateway_ca, "default_mode": 0o444}},
            ]
        if isinstance(args.platform, EksPlatform):
            # The IRSA token, projected for the verifier and the guard (the server container does not mount it).
            volumes.append({
                "name": IRSA_VOLUME,
                "projected": {
                    "default_mode": 0o440,
                    "sources": [
                        {"service_account_token": {"audience": IRSA_AUDIENCE, "expiration_seconds": 86400, "path": "token"}}
                    ],
                },
            })
        if args.secret_files:
            volumes.append(
                {
                    "name": "secrets",
                    "projected": {
                        "default_mode": 0o440,
                        "sources": [
                            {"secret": {"name": f.secret_name, "items": [{"key": f.key, "path": f.path}]}}
                            for f in args.secret_files
                        ],
                    },
                }
            )
        if args.secret_provider_class:
            volumes.append(
                {
                    "name": "secret-store",
                    "csi": {
                        "driver": "secrets-store.csi.k8s.io",
                        "read_only": True,
                        "volume_attributes": {"secretProviderClass": args.secret_provider_class},
                    },
                }
            )
        return volumes


def _identity_annotations(platform: ServingPlatform) -> dict:
    """The service account's cloud identity: the IRSA role on EKS; on GKE the IAM service account it acts as, if any
    (without one, the Kubernetes service account is the principal itself)."""
    if isinstance(platform, EksPlatform):
        return {"eks.amazonaws.com/role-arn": platform.verifier_role_arn, "eks.amazonaws.com/sts-regional-endpoints": "true"}
    if platform.service_account_email is not None:
        return {"iam.gke.io/gcp-service-account": platform.service_account_email}
    return {}


def _verifier_environment(platform: ServingPlatform) -> list[dict]:
    if isinstance(platform, EksPlatform):
        # IRSA, wired explicitly rather than left to the mutating webhook, so the manifest says what runs.
        return [
            {"name": "AWS_ROLE_ARN", "value": platform.verifier_role_arn},
            {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": f"{IRSA_TOKEN_DIR}/token"},
            {"name": "AWS_REGION", "value": platform.region},
            {"name": "AWS_DEFAULT_REGION", "value": platform.region},
            {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        ]
    # Application Default Credentials come from the GKE metadata server; only the project needs naming.
    return [{"name": "GOOGLE_CLOUD_PROJECT", "value": platform.project}]
