"""ImageTrust: where a zone's serving images live, and the key that vouches for them (ST-05, DP-01, DP-09).

Build → sign → scan → store hash (DP-01), with each step pinned down here:
- ECR repositories whose tags are immutable (a pushed tag can never point at other bytes), scanned on push, encrypted
  with a rotated customer key, and trimmed by lifecycle rules (untagged layers expire, the last N images stay);
- registry-wide ENHANCED scanning (Amazon Inspector), continuous, for every repository: CVEs published after the push
  still surface;
- an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY) that cosign signs with (`cosign sign --key awskms:///<arn>`); its
  private half never leaves KMS. Kyverno verifies with its public half at admission (components/k8s/image_admission.py),
  and the image digest pinned in the stack config is what runs.

cosign stores a signature as the tag `sha256-<digest>.sig` in the image's repository. With immutable tags an image is
signed once; re-signing the same digest is refused by ECR, which is what a release record wants. Lifecycle counts
those signature artifacts as images, so `keep_images` should be about twice the number of releases to keep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.aws.s3_hardening import account_root_statement, policy_document

REPOSITORY_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
AWSKMS_PREFIX = "awskms:///"
"""How cosign and Kyverno name a KMS key: awskms:///arn:aws:kms:<region>:<account>:key/<id>."""


@dataclass(frozen=True, kw_only=True)
class ImageTrustArgs:
    zone: str
    region: str
    repositories: Sequence[str]
    """Repository names (lowercase, e.g. 'model-server'); each becomes `<prefix>/<name>`."""
    repository_prefix: str | None = None
    """Namespace of the repositories. Defaults to modelfort/<zone>."""
    keep_images: int = 100
    """How many tagged images (signatures included) each repository keeps. Defaults to 100."""
    untagged_expiry_days: int = 7
    """Untagged images (layers of interrupted pushes, superseded manifests) expire after this. Defaults to 7."""
    key_rotation_days: int = 365
    """Rotation period of the encryption key this component creates. Defaults to 365. (The signing key is
    asymmetric and never rotates in place: a new key is a new trust root, published deliberately.)"""
    kms_key_arn: pulumi.Input[str] | None = None
    """Bring your own customer-managed encryption key; None (the default) creates a rotated one."""
    allow_mutable_tags: bool = False
    """Escape hatch (weakens ST-05, DP-09): let a tag be moved to other bytes. Defaults to False; a policy blocks it
    unless waived."""
    manage_registry_scanning: bool = True
    """Set the account's registry scanning to ENHANCED, continuous, for all repositories. It is one setting per
    account and region: turn this off only where another stack owns it, and waive the policy that then cannot see
    ENHANCED scanning in this stack. Defaults to True."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.repositories:
            raise ValueError("ImageTrustArgs.repositories: name at least one repository")
        for repository in self.repositories:
            if not isinstance(repository, str) or not REPOSITORY_NAME.match(repository):
                raise ValueError(f"ImageTrustArgs.repositories: {repository!r} is not a repository name (lowercase letters, digits, . _ -)")
        if len(set(self.repositories)) != len(self.repositories):
            raise ValueError("ImageTrustArgs.repositories: each repository once")
        prefix = self.repository_prefix
        if prefix is not None and not all(REPOSITORY_NAME.match(part) for part in prefix.split("/")):
            raise ValueError(f"ImageTrustArgs.repository_prefix: {prefix!r} is not a repository namespace (lowercase parts separated by '/')")
        if isinstance(self.keep_images, bool) or not isinstance(self.keep_images, int) or self.keep_images < 2:
            # Below 2 a release and its signature cannot both be kept: admission would refuse the running image.
            raise ValueError(f"ImageTrustArgs.keep_images: {self.keep_images!r} must be at least 2 (an image and its signature)")
        if isinstance(self.untagged_expiry_days, bool) or not isinstance(self.untagged_expiry_days, int) or self.untagged_expiry_days < 1:
            raise ValueError(f"ImageTrustArgs.untagged_expiry_days: {self.untagged_expiry_days!r} must be at least 1")
        for name in ("allow_mutable_tags", "manage_registry_scanning"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ImageTrustArgs.{name}: must be True or False (a plain value, not an Output)")


class ImageTrust(pulumi.ComponentResource):
    CONTROLS = ("ST-05", "DP-01", "DP-09")
    repository_urls: dict[str, pulumi.Output[str]]
    """By repository name (as given): `<account>.dkr.ecr.<region>.amazonaws.com/<prefix>/<name>`."""
    repository_arns: dict[str, pulumi.Output[str]]
    kms_key_arn: pulumi.Output[str]
    """Encrypts the images at rest."""
    signing_key_arn: pulumi.Output[str]
    """ECC_NIST_P256 SIGN_VERIFY key that signs images: `cosign sign --key awskms:///<arn>`."""
    cosign_key_ref: pulumi.Output[str]
    """The signing key as cosign and Kyverno name it (awskms:///<arn>)."""

    def __init__(self, name: str, args: ImageTrustArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelfort:aws:ImageTrust", name, None, opts)
        self._name = name
        child = pulumi.ResourceOptions(parent=self)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self))
        tags = {**args.tags, "modelfort:zone": args.zone}
        admin_only = pulumi.Output.all(caller.account_id, partition.partition).apply(
            lambda v: json.dumps(policy_document([account_root_statement(v[0], v[1])]))
        )

        if args.kms_key_arn is None:
            # ECR creates its own grants on the key when a repository is created, so pushers and pullers need no
            # KMS permission of their own; the account statement lets the deployer's IAM policy create those grants.
            self.kms_key_arn = aws.kms.Key(
                f"{name}-key",
                description=f"Encrypts container images of zone {args.zone}",
                enable_key_rotation=True,
                rotation_period_in_days=args.key_rotation_days,
                deletion_window_in_days=30,
                policy=admin_only,
                tags=tags,
                opts=child,
            ).arn
        else:
            self.kms_key_arn = pulumi.Output.from_input(args.kms_key_arn)

        signing_key = aws.kms.Key(
            f"{name}-signing-key",
            description=f"Signs container images for zone {args.zone} (cosign, awskms://)",
            customer_master_key_spec="ECC_NIST_P256",
            key_usage="SIGN_VERIFY",
            deletion_window_in_days=30,
            # Sign and verify are granted per role (grant_sign, grant_verify): signing is the release pipeline's
            # alone, verifying is admission's.
            policy=admin_only,
            tags=tags,
            opts=child,
        )

        prefix = args.repository_prefix or f"modelfort/{args.zone}"
        lifecycle = json.dumps(lifecycle_policy(args.keep_images, args.untagged_expiry_days))
        self._repositories: dict[str, aws.ecr.Repository] = {}
        for repository in args.repositories:
            repo = aws.ecr.Repository(
                f"{name}-{repository}",
                name=f"{prefix}/{repository}",
                image_tag_mutability="MUTABLE" if args.allow_mutable_tags else "IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": self.kms_key_arn}],
                # Never delete a repository that still holds images: they may be running releases.
                force_delete=False,
                tags=tags,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(f"{name}-{repository}-lifecycle", repository=repo.name, policy=lifecycle, opts=child)
            self._repositories[repository] = repo

        if args.manage_registry_scanning:
            aws.ecr.RegistryScanningConfiguration(
                f"{name}-registry-scanning",
                scan_type="ENHANCED",
                rules=[{"scan_frequency": "CONTINUOUS_SCAN", "repository_filters": [{"filter": "*", "filter_type": "WILDCARD"}]}],
                opts=child,
            )

        self.repository_urls = {r: repo.repository_url for r, repo in self._repositories.items()}
        self.repository_arns = {r: repo.arn for r, repo in self._repositories.items()}
        self.signing_key_arn = signing_key.arn
        self.cosign_key_ref = pulumi.Output.concat(AWSKMS_PREFIX, signing_key.arn)
        self.register_outputs(
            {
                "repository_urls": self.repository_urls,
                "kms_key_arn": self.kms_key_arn,
                "signing_key_arn": self.signing_key_arn,
                "cosign_key_ref": self.cosign_key_ref,
            }
        )

    # ------------------------------------------------------------------------------------------------ grants
    def grant_push(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """The build pipeline: push images and signatures to these repositories (cosign reads the manifest first)."""
        return self._grant(grant_name, role, "push", [
            ("PushImagesAndSignatures", [
                "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
                "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
            ], "repositories"),
        ])

    def grant_pull(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Nodes: pull images from these repositories, nothing else."""
        return self._grant(grant_name, role, "pull", [
            ("PullImages", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "repositories"),
        ])

    def grant_sign(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """The release pipeline: sign with the key (kms:Sign) and read its public half. Never give this to a workload."""
        return self._grant(grant_name, role, "sign", [("SignImages", ["kms:GetPublicKey", "kms:Sign"], "signing-key")])

    def grant_verify(self, grant_name: str, role: aws.iam.Role) -> aws.iam.RolePolicy:
        """Admission (Kyverno's service account): read signatures from the repositories and the key's public half."""
        return self._grant(grant_name, role, "verify", [
            ("ReadSignatures", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:DescribeImages"], "repositories"),
            ("VerifyWithThePublicKey", ["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"], "signing-key"),
        ])

    def _grant(self, grant_name: str, role: aws.iam.Role, kind: str, statements: list[tuple[str, list[str], str]]) -> aws.iam.RolePolicy:
        arns = list(self.repository_arns.values())

        def document(values: list) -> str:
            signing_key, *repositories = values
            body = [
                # GetAuthorizationToken is account-wide by design; what the token allows is decided per repository.
                {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
            ] if any(scope == "repositories" for _, _, scope in statements) else []
            for sid, actions, scope in statements:
                body.append({
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": sorted(actions),
                    "Resource": sorted(repositories) if scope == "repositories" else signing_key,
                })
            return json.dumps(policy_document(body))

        return aws.iam.RolePolicy(
            f"{self._name}-{grant_name}-{kind}",
            role=role.id,
            policy=pulumi.Output.all(self.signing_key_arn, *arns).apply(document),
            opts=pulumi.ResourceOptions(parent=self),
        )


def lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> dict:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {untagged_expiry_days} days",
                "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": untagged_expiry_days},
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the newest {keep_images} tagged images (releases and their signatures)",
                "selection": {"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": keep_images},
                "action": {"type": "expire"},
            },
        ]
    }
