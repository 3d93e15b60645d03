"""ImageAdmission: no pod starts in a model namespace unless every image in it is pinned by digest and signed with the
zone's image-signing key (ST-05, ST-07).

Kyverno is installed from its Helm chart at a pinned version, with its webhooks failing closed (if Kyverno cannot
answer, the API server refuses the pod) and policy exceptions off (nobody can exempt a pod by creating an exception
object). A ClusterPolicy then verifies images at admission:
- `verifyImages` with the KMS key as the only attestor (`keys.kms: awskms:///<arn>`), `required: true`,
  `verifyDigest: true`, in Enforce mode, for every image (`imageReferences: ["*"]`) of every Pod in the model
  namespaces; Kyverno's auto-generated rules extend it to Deployments, Jobs and the other pod controllers.
- `mutateDigest: false`, deliberately: with true, Kyverno would resolve a tag-only image to whatever digest the tag
  points at today and run that, so the bytes that run would be chosen at admission, not in the reviewed release
  record. With false, `verifyDigest` refuses a tag-only image outright; a second rule says so in plain words.
- Transparency-log and SCT checks are off because images are signed with a private KMS key and the model zone has no
  route to a public Rekor; the signature is checked against the key alone.
- Model namespaces are selected by `kubernetes.io/metadata.name`, which the API server sets and nobody can relabel:
  taking a custom label off a namespace must not be a way out of verification.

Kyverno deprecated ClusterPolicy in 1.17 in favour of ImageValidatingPolicy (removal planned for 1.20); the pinned
chart (3.8.2, Kyverno 1.18.2) serves it. Moving to ImageValidatingPolicy is a change to make with the next pin bump.

The admission controller reads the key's public half from KMS and signatures from ECR with its service account's
role: pass `service_account_role_arn` (IRSA) and grant it with `ImageTrust.grant_verify`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

KYVERNO_CHART = "kyverno"
KYVERNO_REPOSITORY = "https://kyverno.github.io/kyverno/"
KYVERNO_CHART_VERSION = "3.8.2"
"""Kyverno 1.18.2. Pinned: admission control must not change under us between two deployments of the same stack.
Anything older than chart 3.4 (Kyverno 1.14) is refused: GO-2025-3652 let pods bypass rules that match namespaces by
selector, which is exactly how this policy finds model namespaces."""
KYVERNO_NAMESPACE = "kyverno"
POLICY_NAME = "modelfort-verify-model-images"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MAX_WEBHOOK_TIMEOUT_SECONDS = 30
"""The Kubernetes API server's own limit for admission webhooks."""

_EXACT_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_MIN_CHART = (3, 4, 0)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_POD_IMAGE_FIELDS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True, kw_only=True)
class ImageAdmissionArgs:
    signing_key_arn: pulumi.Input[str]
    """The image-signing key (ImageTrust.signing_key_arn): the only key whose signatures admit an image."""
    model_namespaces: Sequence[str]
    """Names of the namespaces where models run; every image of every pod there must be signed."""
    chart_version: str = KYVERNO_CHART_VERSION
    """The Kyverno chart version, exact (no ranges). Defaults to 3.8.2; at least 3.4.0."""
    service_account_role_arn: pulumi.Input[str] | None = None
    """IAM role (IRSA) of Kyverno's admission controller, with ImageTrust.grant_verify. Defaults to none (then the
    node's credentials must allow kms:GetPublicKey and ECR reads, which is broader; prefer a role)."""
    image_registry: str | None = None
    """Registry that mirrors Kyverno's own images (an isolated cluster cannot reach ghcr.io), e.g. an ECR pull-through
    cache. Defaults to the chart's registry."""
    admission_replicas: int = 3
    """Admission controller replicas. Webhooks fail closed, so with one replica every eviction would block pod
    creation in the model namespaces. Defaults to 3 (Kyverno's recommendation)."""
    webhook_timeout_seconds: int = 30
    """How long the API server waits for a verification (KMS and ECR round trips). Defaults to 30, the maximum."""
    audit_only: bool = False
    """Escape hatch (weakens ST-05): report unsigned images instead of refusing them, e.g. while a cluster migrates.
    Defaults to False; a policy blocks it unless waived."""
    namespace: str = KYVERNO_NAMESPACE
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model_namespaces:
            raise ValueError("ImageAdmissionArgs.model_namespaces: name at least one namespace to protect")
        for name in (*self.model_namespaces, self.namespace):
            if not isinstance(name, str) or not _DNS_LABEL.match(name):
                raise ValueError(f"ImageAdmissionArgs: {name!r} is not a Kubernetes namespace name")
        if self.namespace in self.model_namespaces:
            raise ValueError(f"ImageAdmissionArgs.namespace: Kyverno cannot run in the model namespace {self.namespace!r}")
        version = _EXACT_VERSION.match(self.chart_version or "")
        if not version:
            raise ValueError(f"ImageAdmissionArgs.chart_version: {self.chart_version!r} must be an exact version such as {KYVERNO_CHART_VERSION}")
        if tuple(int(part) for part in version.groups()) < _MIN_CHART:
            raise ValueError(
                f"ImageAdmissionArgs.chart_version: {self.chart_version} is older than 3.4.0 (Kyverno 1.14), which "
                "lets pods bypass namespace-selector rules (GO-2025-3652)"
            )
        if isinstance(self.webhook_timeout_seconds, bool) or not isinstance(self.webhook_timeout_seconds, int) or not 1 <= self.webhook_timeout_seconds <= MAX_WEBHOOK_TIMEOUT_SECONDS:
            raise ValueError(f"ImageAdmissionArgs.webhook_timeout_seconds: {self.webhook_timeout_seconds!r} must be from 1 to {MAX_WEBHOOK_TIMEOUT_SECONDS}")
        if isinstance(self.admission_replicas, bool) or not isinstance(self.admission_replicas, int) or self.admission_replicas < 1:
            raise ValueError(f"ImageAdmissionArgs.admission_replicas: {self.admission_replicas!r} must be at least 1")
        if not isinstance(self.audit_only, bool):
            raise ValueError("ImageAdmissionArgs.audit_only: must be True or False (a plain value, not an Output)")


class ImageAdmission(pulumi.ComponentResource):
    CONTROLS = ("ST-05", "ST-07")
    policy_name: str
    release_status: pulumi.Output

    def __init__(self, name: str, args: ImageAdmissionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:k8s:ImageAdmission", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {**args.labels, "app.kubernetes.io/managed-by": "modelfort"}

        release = k8s.helm.v3.Release(
            f"{name}-kyverno",
            name="kyverno",
            chart=KYVERNO_CHART,
            version=args.chart_version,
            repository_opts={"repo": KYVERNO_REPOSITORY},
            namespace=args.namespace,
            create_namespace=True,
            # A failed upgrade rolls back instead of leaving a half-configured admission controller.
            atomic=True,
            cleanup_on_fail=True,
            values=kyverno_values(args),
            opts=child,
        )
        action = "Audit" if args.audit_only else "Enforce"
        key_ref = pulumi.Output.concat("awskms:///", args.signing_key_arn)
        policy = k8s.apiextensions.CustomResource(
            f"{name}-verify-images",
            api_version="kyverno.io/v1",
            kind="ClusterPolicy",
            metadata={
                "name": POLICY_NAME,
                "labels": labels,
                "annotations": {
                    "policies.kyverno.io/title": "Verify model images",
                    "policies.kyverno.io/description": "Every image in a model namespace is pinned by digest and signed "
                    "with the zone's image-signing key.",
                },
            },
            spec=key_ref.apply(lambda ref: verify_images_spec(ref, args.model_namespaces, action, args.webhook_timeout_seconds)),
            # The ClusterPolicy kind exists only once the chart has installed Kyverno's CRDs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
        )
        self.policy_name = POLICY_NAME
        self.release_status = release.status
        self._policy = policy
        self.register_outputs({"policy_name": POLICY_NAME, "release_status": self.release_status})


def kyverno_values(args: ImageAdmissionArgs) -> dict:
    admission: dict = {"replicas": args.admission_replicas}
    if args.service_account_role_arn is not None:
        admission["rbac"] = {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": args.service_account_role_arn}}}
    values: dict = {
        "admissionController": admission,
        "features": {
            # Fail closed: an unreachable Kyverno refuses pods rather than letting unverified ones through.
            "forceFailurePolicyIgnore": {"enabled": False},
            # A PolicyException object would let anyone allowed to create one exempt their pod from verification.
            "policyExceptions": {"enabled": False},
            # Signatures live in ECR; no other registry credentials are needed or looked up.
            "registryClient": {"credentialHelpers": ["amazon"]},
        },
    }
    if args.image_registry:
        values["global"] = {"image": {"registry": args.image_registry}}
    return values


def verify_images_spec(key_ref: str, namespaces: Sequence[str], action: str, timeout_seconds: int) -> dict:
    match = {
        "any": [
            {
                "resources": {
                    "kinds": ["Pod"],
                    "namespaceSelector": {
                        "matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(namespaces)}]
                    },
                }
            }
        ]
    }
    digest_only = {f"=({field})" if field != "containers" else field: [{"image": "*@sha256:*"}] for field in _POD_IMAGE_FIELDS}
    return {
        # Both spellings: the policy-level fields (deprecated since Kyverno 1.13) for older engines, and the
        # webhookConfiguration / per-rule failureAction that 1.13+ read first.
        "validationFailureAction": action,
        "failurePolicy": "Fail",
        "webhookTimeoutSeconds": timeout_seconds,
        "webhookConfiguration": {"failurePolicy": "Fail", "timeoutSeconds": timeout_seconds},
        # Signature checks are admission-time decisions; background scans would only re-pull every running image.
        "background": False,
        "rules": [
            {
                "name": "verify-image-signatures",
                "match": match,
                "verifyImages": [
                    {
                        "imageReferences": ["*"],
                        "failureAction": action,
                        "mutateDigest": False,
                        "verifyDigest": True,
                        "required": True,
                        "attestors": [
                            {
                                "count": 1,
                                "entries": [
                                    {
                                        "keys": {
                                            "kms": key_ref,
                                            "signatureAlgorithm": "sha256",
                                            "rekor": {"ignoreTlog": True},
                                            "ctlog": {"ignoreSCT": True},
                                        }
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            {
                "name": "require-image-digests",
                "match": match,
                "validate": {
                    "failureAction": action,
                    "message": "Images in model namespaces must be pinned by digest (image@sha256:...), never by tag alone.",
                    "pattern": {"spec": digest_only},
                },
            },
        ],
    }
