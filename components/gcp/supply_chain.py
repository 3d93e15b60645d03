"""ImageTrust: only signed images run in the zone (ST-05, ST-07, DP-01).

- An Artifact Registry repository encrypted with a rotated customer key, with immutable tags: a tag, once pushed,
  always names the same digest.
- A Binary Authorization attestor backed by an asymmetric Cloud KMS key (EC_SIGN_P256_SHA256) and a Container
  Analysis note that holds its attestations. The release pipeline signs an image digest with the key
  (`gcloud container binauthz attestations sign-and-create --keyversion=...`).
- The project's Binary Authorization policy: every image needs our attestation (REQUIRE_ATTESTATION), and a missing
  one blocks the pod and is audited (ENFORCED_BLOCK_AND_AUDIT_LOG). Google's own system images are judged by Google's
  global policy (`global_policy_evaluation_mode=ENABLE`), so GKE's add-ons keep running.

The Binary Authorization policy is a singleton per project: one zone per project is assumed (docs/gcp.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from components.gcp.common import (
    SECONDS_PER_DAY,
    check_rotation_days,
    check_zone_and_project,
    child_options,
    customer_key,
    grant_key_use,
    project_number,
    service_agent,
    zone_labels,
)

ATTESTATION_ALGORITHM = "EC_SIGN_P256_SHA256"
PKIX_ALGORITHM = "ECDSA_P256_SHA256"
ENFORCED = "ENFORCED_BLOCK_AND_AUDIT_LOG"
DRY_RUN = "DRYRUN_AUDIT_LOG_ONLY"


@dataclass(frozen=True, kw_only=True)
class ImageTrustArgs:
    zone: str
    project: str
    region: str
    """Where the repository (and its key) live."""
    key_ring_id: pulumi.Input[str]
    key_rotation_days: int = 365
    """Rotation period of the repository's key. Defaults to 365."""
    kms_key_id: pulumi.Input[str] | None = None
    """Bring your own repository key (in `region`); None (the default) creates a rotated one."""
    attestation_signers: Sequence[pulumi.Input[str]] = ()
    """Principals that sign images (the release pipeline): they get sign on the attestor key and attach on the note.
    Defaults to nobody until the platform team names them."""
    audit_only: bool = False
    """Escape hatch (weakens ST-05, ST-07): log unattested images but let them run (DRYRUN_AUDIT_LOG_ONLY). Defaults
    to False; a policy blocks it unless waived."""
    unattested_image_patterns: Sequence[str] = ()
    """Escape hatch (weakens ST-05): image name patterns admitted without attestation. Defaults to none; a policy
    blocks any unless waived."""
    hsm: bool = False
    """Keep the attestor key in an HSM (protection level HSM). Defaults to False (SOFTWARE); the zone turns it on for
    the critical tier, where a policy requires it."""
    allow_mutable_tags: bool = False
    """Escape hatch (weakens ST-05, DP-09): let a pushed tag be moved to another digest. Defaults to False; a policy
    blocks it unless waived."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels (stack tags); lowered and sanitized to GCP label rules. Defaults to none."""

    def __post_init__(self) -> None:
        check_zone_and_project("ImageTrustArgs", self.zone, self.project)
        check_rotation_days("ImageTrustArgs", "key_rotation_days", self.key_rotation_days)
        for pattern in self.unattested_image_patterns:
            if not pattern or pattern.strip("*/") == "":
                raise ValueError(f"ImageTrustArgs.unattested_image_patterns: {pattern!r} would admit every image")


class ImageTrust(pulumi.ComponentResource):
    CONTROLS = ("ST-05", "ST-07", "DP-01")
    repository_id: pulumi.Output[str]
    registry_url: pulumi.Output[str]
    """`<region>-docker.pkg.dev/<project>/<repository>`: push images here, by digest."""
    attestor_id: pulumi.Output[str]
    attestor_key_id: pulumi.Output[str]
    """The Cloud KMS key that signs attestations (`.../cryptoKeys/<k>`; sign with its version 1)."""

    def __init__(self, name: str, args: ImageTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:gcp:ImageTrust", name, None, opts)
        self._name = name
        self._child = child = child_options(self, opts)
        labels = zone_labels(args.zone, args.labels)
        number = project_number(args.project, self)

        if args.kms_key_id is None:
            repository_key = customer_key(f"{name}-repository-key", key_ring_id=args.key_ring_id,
                                          rotation_days=args.key_rotation_days, guards="container-images", labels=labels, opts=child).id
        else:
            repository_key = pulumi.Output.from_input(args.kms_key_id)
        registry_agent = gcp.projects.ServiceIdentity(f"{name}-registry-agent", project=args.project,
                                                      service="artifactregistry.googleapis.com", opts=child)
        grants = grant_key_use(f"{name}-repository-key-registry", repository_key, [registry_agent.member], child)
        repository = gcp.artifactregistry.Repository(
            f"{name}-repository",
            repository_id=f"modelfort-{args.zone}",
            location=args.region,
            format="DOCKER",
            description=f"Signed model-serving images of zone {args.zone}",
            kms_key_name=repository_key,
            docker_config={"immutable_tags": not args.allow_mutable_tags},
            labels=labels,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=grants)),
        )

        attestor_key = gcp.kms.CryptoKey(
            f"{name}-attestor-key",
            key_ring=args.key_ring_id,
            purpose="ASYMMETRIC_SIGN",
            version_template={"algorithm": ATTESTATION_ALGORITHM, "protection_level": "HSM" if args.hsm else "SOFTWARE"},
            destroy_scheduled_duration=f"{30 * SECONDS_PER_DAY}s",
            labels={**labels, "guards": "image-attestations"},
            opts=child,
        )
        note = gcp.containeranalysis.Note(
            f"{name}-note",
            name=f"modelfort-{args.zone}-release",
            attestation_authority={"hint": {"human_readable_name": f"ModelFort {args.zone} release pipeline"}},
            opts=child,
        )
        version = gcp.kms.get_kms_crypto_key_version_output(crypto_key=attestor_key.id, opts=pulumi.InvokeOutputOptions(parent=self))
        attestor = gcp.binaryauthorization.Attestor(
            f"{name}-attestor",
            name=f"modelfort-{args.zone}-release",
            description=f"Images released by the ModelFort pipeline for zone {args.zone}",
            attestation_authority_note={
                "note_reference": note.name,
                "public_keys": [{
                    "id": version.name.apply(lambda v: f"//cloudkms.googleapis.com/v1/{v}"),
                    "pkix_public_key": {
                        "public_key_pem": version.public_keys.apply(lambda keys: keys[0].pem if keys else ""),
                        "signature_algorithm": PKIX_ALGORITHM,
                    },
                }],
            },
            opts=child,
        )
        # Binary Authorization reads attestations through its service agent.
        gcp.containeranalysis.NoteIamMember(
            f"{name}-note-binauthz-reader", note=note.name, role="roles/containeranalysis.notes.occurrences.viewer",
            member=service_agent(number, "gcp-sa-binaryauthorization"), opts=child,
        )
        for index, signer in enumerate(args.attestation_signers):
            gcp.kms.CryptoKeyIAMMember(f"{name}-signer-{index}-signs", crypto_key_id=attestor_key.id,
                                       role="roles/cloudkms.signerVerifier", member=signer, opts=child)
            gcp.containeranalysis.NoteIamMember(f"{name}-signer-{index}-attaches", note=note.name,
                                                role="roles/containeranalysis.notes.attacher", member=signer, opts=child)
        gcp.binaryauthorization.Policy(
            f"{name}-policy",
            project=args.project,
            description=f"ModelFort zone {args.zone}: every image attested by the release pipeline",
            global_policy_evaluation_mode="ENABLE",
            default_admission_rule={
                "evaluation_mode": "REQUIRE_ATTESTATION",
                "enforcement_mode": DRY_RUN if args.audit_only else ENFORCED,
                "require_attestations_bies": [attestor.id],
            },
            admission_whitelist_patterns=[{"name_pattern": p} for p in args.unattested_image_patterns] or None,
            opts=child,
        )
        self._repository = repository
        self.repository_id = repository.id
        self.registry_url = repository.registry_uri
        self.attestor_id = attestor.id
        self.attestor_key_id = attestor_key.id
        self.register_outputs({"repository_id": self.repository_id, "attestor_id": self.attestor_id})

    def grant_pull(self, grant_name: str, member: pulumi.Input[str]) -> gcp.artifactregistry.RepositoryIamMember:
        """Let `member` (e.g. the GKE node service account) pull from this repository only."""
        return gcp.artifactregistry.RepositoryIamMember(
            f"{self._name}-{grant_name}-pull",
            repository=self._repository.name,
            location=self._repository.location,
            role="roles/artifactregistry.reader",
            member=member,
            opts=self._child,
        )
