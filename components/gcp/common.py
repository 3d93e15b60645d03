"""What every ModelFort GCP component shares: labels, customer keys, service agents, child options.

Kept here so each component states only what differs (which key guards what, and who may use it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp

SECONDS_PER_DAY = 86_400
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
DATA_CLASS_LABEL = "modelfort-data-class"
"""GCP label keys may not hold ':', so the AWS tag `modelfort:data-class` is spelled with a dash here; the policy pack
reads this label to know which buckets hold weights or signatures."""
ZONE_LABEL = "modelfort-zone"
_LABEL_INVALID = re.compile(r"[^a-z0-9_-]")
_ZONE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def check_zone_and_project(args_name: str, zone: str, project: str) -> None:
    """Names and service-account ids are built from these; a bad value must fail here, not halfway through a deploy."""
    if not _ZONE.match(zone):
        raise ValueError(f"{args_name}.zone: {zone!r} must be a lowercase name (letters, digits, '-')")
    if not _PROJECT.match(project):
        raise ValueError(f"{args_name}.project: {project!r} is not a Google Cloud project id")


def check_rotation_days(args_name: str, field_name: str, days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"{args_name}.{field_name}: {days!r} must be a positive number of days")


def label(value: str) -> str:
    """A GCP label value: lowercase letters, digits, '_' and '-', at most 63 characters. Stack tags are free text,
    so they are lowered and every other character becomes '_' (labels describe resources; they guard nothing)."""
    return _LABEL_INVALID.sub("_", value.lower())[:63]


def zone_labels(zone: str, tags: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    labels = {label(key) if label(key)[:1].isalpha() else f"tag_{label(key)}"[:63]: label(value) for key, value in (tags or {}).items()}
    labels[ZONE_LABEL] = label(zone)
    labels.update({key: label(value) for key, value in extra.items()})
    return labels


def rotation_period(days: int) -> str:
    """KMS and Secret Manager take durations as seconds with an 's' suffix."""
    return f"{days * SECONDS_PER_DAY}s"


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options for a component's children. Pulumi does not pass a component's `depends_on` down to its children, and
    the zone makes every component wait for the project's APIs: without this, a child could be created before the API
    that serves it is on."""
    depends_on = opts.depends_on if opts is not None else None
    if depends_on is not None and not isinstance(depends_on, Sequence):
        depends_on = [depends_on]
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on) if depends_on else None)


def customer_key(
    name: str,
    *,
    key_ring_id: pulumi.Input[str],
    rotation_days: int,
    guards: str,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> gcp.kms.CryptoKey:
    """A symmetric customer-managed key that rotates every `rotation_days`. `prevent_destroy` stays off on purpose: a
    Cloud KMS key is never deleted, only its versions are scheduled for destruction (30 days), which is the recovery
    window a deleted stack gets."""
    return gcp.kms.CryptoKey(
        name,
        key_ring=key_ring_id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=rotation_period(rotation_days),
        destroy_scheduled_duration=f"{30 * SECONDS_PER_DAY}s",
        labels={**labels, "guards": label(guards)},
        opts=opts,
    )


def grant_key_use(
    name: str, key_id: pulumi.Input[str], members: Sequence[pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> list[gcp.kms.CryptoKeyIAMMember]:
    """Let Google service agents use one key, and nothing else: encrypt/decrypt on this key only."""
    return [
        gcp.kms.CryptoKeyIAMMember(f"{name}-{index}", crypto_key_id=key_id, role=ENCRYPTER_DECRYPTER, member=member, opts=opts)
        for index, member in enumerate(members)
    ]


def service_agent(project_number: pulumi.Input[str], domain: str) -> pulumi.Output[str]:
    """The IAM member of a Google-managed service agent, e.g. `container-engine-robot` for GKE."""
    return pulumi.Output.concat("serviceAccount:service-", project_number, f"@{domain}.iam.gserviceaccount.com")


def project_number(project: str, parent: pulumi.Resource) -> pulumi.Output[str]:
    return gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOutputOptions(parent=parent)).number


def account_id(zone: str, role: str) -> str:
    """A service-account id (6-30 characters, lowercase): `mf-<zone>-<role>`, with the zone shortened to fit."""
    room = 30 - len("mf--") - len(role)
    if room < 3:
        raise ValueError(f"service account role {role!r} is too long for an account id")
    return f"mf-{zone[:room].rstrip('-')}-{role}"
