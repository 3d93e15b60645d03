"""ModelReferenceStore (GCP): the tamper-resistant home of each model version's signature (WP-06, OB-04, ST-01).

Signatures (OpenSSF model-signing bundles) live in a bucket under a *locked* retention policy: no object can be
deleted or overwritten before it is `retention_days` old, and nobody, not even the project owner, can shorten or
remove the policy once locked. (Cloud Storage does not allow Object Versioning together with a retention policy; the
lock is the stronger guarantee, so signatures get it instead.) An asymmetric Cloud KMS key (EC_SIGN_P256_SHA256)
signs releases; its public key verifies them. Publishing and reading are separate service accounts: the pipeline that
signs cannot be the workload that trusts the signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import (
    DATA_CLASS_LABEL,
    SECONDS_PER_DAY,
    account_id,
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    zone_labels,
)
from components.gcp.weights import conditional_read, harden_bucket_args

SIGNATURES_CLASS = "model-signatures"
SIGNING_ALGORITHM = "EC_SIGN_P256_SHA256"
MAX_RETENTION_DAYS = 36_500
"""Cloud Storage caps a retention period at 3,155,760,000 seconds (about 100 years)."""
ACT_AS_ROLE = "roles/iam.workloadIdentityUser"
"""How workloads act as a service account: GKE Workload Identity (a Kubernetes service account) and Workload Identity
Federation (a CI pipeline's principal) both need this role on the account, and nothing broader."""


@dataclass(frozen=True, kw_only=True)
class ModelReferenceStoreArgs:
    zone: str
    project: str
    region: str
    key_ring_id: pulumi.Input[str]
    retention_days: int
    """Locked retention of every signature (the zone's tier sets it)."""
    key_rotation_days: int = 365
    """Rotation of the bucket's symmetric key. Defaults to 365. (The signing key is asymmetric; Cloud KMS never
    rotates those automatically: a new signing key is a new trust root, published deliberately.)"""
    hsm: bool = False
    """Keep the signing key in an HSM (protection level HSM). Defaults to False (SOFTWARE); the zone turns it on for
    the critical tier, where a policy requires it."""
    publisher_members: Sequence[pulumi.Input[str]] = ()
    """Workload principals that may act as the publisher service account (e.g. the release pipeline's Workload Identity
    Federation principal). Defaults to nobody until the platform team names them."""
    reader_members: Sequence[pulumi.Input[str]] = ()
    """Workload principals that may act as the reader service account (e.g. the verifier's Kubernetes service account,
    `serviceAccount:<project>.svc.id.goog[<namespace>/<ksa>]`). Defaults to nobody."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("ModelReferenceStoreArgs", self.zone, self.project)
        check_rotation_days("ModelReferenceStoreArgs", "key_rotation_days", self.key_rotation_days)
        if isinstance(self.retention_days, bool) or not 1 <= self.retention_days <= MAX_RETENTION_DAYS:
            raise ValueError(f"ModelReferenceStoreArgs.retention_days: {self.retention_days!r} must be 1 to {MAX_RETENTION_DAYS} (signatures are evidence)")


class ModelReferenceStore(pulumi.ComponentResource):
    CONTROLS = ("WP-06", "OB-04", "ST-01")
    bucket_name: pulumi.Output[str]
    signing_key_id: pulumi.Output[str]
    """The Cloud KMS key that signs releases (`modelfort sign` with a KMS signer): `projects/.../cryptoKeys/<k>`."""
    publisher_email: pulumi.Output[str]
    reader_email: pulumi.Output[str]

    def __init__(self, name: str, args: ModelReferenceStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:ModelReferenceStore", name, None, opts)
        child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels, **{DATA_CLASS_LABEL: SIGNATURES_CLASS})

        signing_key = gcp.kms.CryptoKey(
            f"{name}-signing-key",
            key_ring=args.key_ring_id,
            purpose="ASYMMETRIC_SIGN",
            version_template={"algorithm": SIGNING_ALGORITHM, "protection_level": "HSM" if args.hsm else "SOFTWARE"},
            destroy_scheduled_duration=f"{30 * SECONDS_PER_DAY}s",
            labels={**labels, "guards": "release-signatures"},
            opts=child,
        )
        bucket_key = customer_key(f"{name}-bucket-key", key_ring_id=args.key_ring_id, rotation_days=args.key_rotation_days,
                                  guards="model-signatures", labels=labels, opts=child)
        agent = gcp.storage.get_project_service_account_output(project=args.project, opts=pulumi.InvokeOutputOptions(parent=self))
        grants = grant_key_use(f"{name}-bucket-key-storage", bucket_key.id, [agent.member], child)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            location=args.region,
            labels=labels,
            retention_policy={"retention_period": str(args.retention_days * SECONDS_PER_DAY), "is_locked": True},
            **harden_bucket_args(kms_key_id=bucket_key.id),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )

        publisher = gcp.serviceaccount.Account(
            f"{name}-publisher", account_id=account_id(args.zone, "publisher"),
            display_name=f"ModelFort {args.zone}: signs and publishes releases", opts=child,
        )
        reader = gcp.serviceaccount.Account(
            f"{name}-reader", account_id=account_id(args.zone, "sig-reader"),
            display_name=f"ModelFort {args.zone}: reads and verifies release signatures", opts=child,
        )
        # Separation of duties: the publisher creates objects (the lock stops it from replacing them) and signs; the
        # reader reads and fetches the public key. Neither can do the other's job.
        gcp.storage.BucketIAMMember(f"{name}-publisher-writes", bucket=bucket.name, role="roles/storage.objectCreator",
                                    member=publisher.member, opts=child)
        gcp.kms.CryptoKeyIAMMember(f"{name}-publisher-signs", crypto_key_id=signing_key.id, role="roles/cloudkms.signer",
                                   member=publisher.member, opts=child)
        gcp.kms.CryptoKeyIAMMember(f"{name}-publisher-public-key", crypto_key_id=signing_key.id,
                                   role="roles/cloudkms.publicKeyViewer", member=publisher.member, opts=child)
        gcp.storage.BucketIAMMember(f"{name}-reader-reads", bucket=bucket.name, role="roles/storage.objectViewer",
                                    member=reader.member, opts=child)
        gcp.kms.CryptoKeyIAMMember(f"{name}-reader-public-key", crypto_key_id=signing_key.id,
                                   role="roles/cloudkms.publicKeyViewer", member=reader.member, opts=child)
        for role_name, account, members in (("publisher", publisher, args.publisher_members), ("reader", reader, args.reader_members)):
            for index, member in enumerate(members):
                gcp.serviceaccount.IAMMember(f"{name}-{role_name}-user-{index}", service_account_id=account.name,
                                             role=ACT_AS_ROLE, member=member, opts=child)

        self.bucket_name = bucket.name
        self._name, self._child, self._bucket = name, child, bucket
        self.signing_key_id = signing_key.id
        self.publisher_email = publisher.email
        self.reader_email = reader.email
        self.register_outputs({
            "bucket_name": self.bucket_name,
            "signing_key_id": self.signing_key_id,
            "publisher_email": self.publisher_email,
            "reader_email": self.reader_email,
        })


    def grant_verify(self, grant_name: str, member: pulumi.Input[str], model: str) -> gcp.storage.BucketIAMMember:
        """Let `member` (a model's weight verifier) read that model's signatures and the release public key, and
        nothing else: no listing, no other model's signatures, no writing (Cloud Storage decrypts with the bucket key
        on the reader's behalf, so no key permission is needed either)."""
        if not model or "/" in model or "*" in model or '"' in model:
            raise ValueError("ModelReferenceStore.grant_verify: model must be a model name, without '/', wildcards or quotes")
        return conditional_read(f"{self._name}-{grant_name}-verify", self._bucket, member, title=f"verify {model}",
                                description="The model's signatures and the release public key only",
                                expression=lambda bucket: verify_condition(bucket, model), opts=self._child)

def verify_condition(bucket: str, model: str) -> str:
    objects = f"projects/_/buckets/{bucket}/objects/"
    return f'resource.name.startsWith("{objects}signatures/{model}/") || resource.name.startsWith("{objects}keys/")'
